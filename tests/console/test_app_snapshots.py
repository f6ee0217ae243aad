"""Snapshots of the console's screens on fixed data and a fixed clock (pytest-textual-snapshot).

Update them after an intended change of the look with ``pytest tests/console --snapshot-update`` and
look at the report before committing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from app_scenarios import NOW, Scenario, build_scenario
from textual.pilot import Pilot

from console.app import WfConsoleApp
from console.formatting import ConsoleClock
from console.messages import OpenInstance

SIZE = (160, 48)


@pytest.fixture
def scenario(tmp_path: Path) -> Iterator[Scenario]:
    built = build_scenario(str(tmp_path / "console.db"))
    yield built
    built.manager.store.close()


def make_app(scenario: Scenario) -> WfConsoleApp:
    """The console on the scenario's database, its clock fixed, no live polling (nothing else writes)."""
    return WfConsoleApp(db_path=scenario.path, manager=scenario.manager, clock=ConsoleClock.fixed(NOW),
                        actor="operator", poll_seconds=0)


async def settle(pilot: Pilot) -> None:
    """Wait until no loading worker runs (dialog workers wait for the operator and are left alone)."""
    for _ in range(200):
        await pilot.pause()
        if all(worker.is_finished or worker.group == "dialog" for worker in pilot.app.workers):
            break
        await asyncio.sleep(0.01)
    await pilot.pause()


def open_instance(instance_id: str):
    """A ``run_before`` that opens the detail screen of ``instance_id`` and waits for it to load."""

    async def run_before(pilot: Pilot) -> None:
        await settle(pilot)
        pilot.app.post_message(OpenInstance(instance_id))
        await settle(pilot)

    return run_before


def test_instances_screen(snap_compare, scenario: Scenario) -> None:
    """Newest first, counts by status in the header line, tokens' places, times relative to the clock."""
    assert snap_compare(make_app(scenario), terminal_size=SIZE, run_before=settle)


def test_detail_of_a_parallel_flow_half_done(snap_compare, scenario: Scenario) -> None:
    """Invoice done and waiting at the join, pack still ACTIVE: graph, executions, context, history."""
    assert snap_compare(make_app(scenario), terminal_size=SIZE, run_before=open_instance(scenario.ids["half_done"]))


def test_mark_done_form_shows_a_json_error(snap_compare, scenario: Scenario) -> None:
    """Bad JSON in a field is shown beside it and the form stays open."""
    opened = open_instance(scenario.ids["at_approval"])

    async def run_before(pilot: Pilot) -> None:
        await opened(pilot)
        await pilot.press("d")
        await settle(pilot)
        await pilot.press(*"[true,", "tab", *"looks fine", "ctrl+s")
        await settle(pilot)

    assert snap_compare(make_app(scenario), terminal_size=SIZE, run_before=run_before)
