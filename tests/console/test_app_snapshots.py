"""Snapshots of the console's screens on fixed data and a fixed clock (pytest-textual-snapshot).

Update them after an intended change of the look with ``pytest tests/console --snapshot-update`` and
look at the report before committing.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from app_pilot import settle
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


def make_app(scenario: Scenario, start_mode: str = "instances", now: datetime = NOW) -> WfConsoleApp:
    """The console on the scenario's database, its clock fixed, no live polling (nothing else writes)."""
    return WfConsoleApp(db_path=scenario.path, manager=scenario.manager, clock=ConsoleClock.fixed(now),
                        actor="operator", poll_seconds=0, start_mode=start_mode)


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


# -- the operations views (issue 6) ----------------------------------------------------------------


def add_operations_incidents(scenario: Scenario) -> None:
    """On top of the scenario's failed pack and failed split: a stuck review and a blueprint with a warning."""
    scenario.manager.mark_stuck(scenario.open_execution("claim_waiting", "review"),
                                "the lease of worker host wh-03:4711 expired and no runtime took it over",
                                actor="stuck-check")
    scenario.manager.add_workflow(FAN_IN)


FAN_IN = {  # an END on one branch of a parallel split: loaded with a warning
    "workflow_id": "fan_in", "name": "Fan-in with a choice", "version": 1,
    "nodes": [{"id": "start", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "START"},
              {"id": "fork", "type": "INTERNAL", "internal_type": "GATEWAY", "gateway_type": "PARALLEL_SPLIT"},
              {"id": "a", "type": "TASK", "task_id": "a", "name": "Do A"},
              {"id": "choose", "type": "INTERNAL", "internal_type": "GATEWAY", "gateway_type": "EXCLUSIVE_SPLIT"},
              {"id": "b", "type": "TASK", "task_id": "b", "name": "Do B"},
              {"id": "join", "type": "INTERNAL", "internal_type": "GATEWAY", "gateway_type": "PARALLEL_JOIN"},
              {"id": "end", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "END"}],
    "edges": [{"id": "e1", "source_id": "start", "target_id": "fork"},
              {"id": "e2", "source_id": "fork", "target_id": "a"},
              {"id": "e3", "source_id": "fork", "target_id": "choose"},
              {"id": "e4", "source_id": "a", "target_id": "join"},
              {"id": "e5", "source_id": "choose", "target_id": "join", "condition": "c == 1"},
              {"id": "e6", "source_id": "choose", "target_id": "b"},
              {"id": "e7", "source_id": "b", "target_id": "end"},
              {"id": "e8", "source_id": "join", "target_id": "end"}],
}


def test_overview_screen(snap_compare, scenario: Scenario) -> None:
    """The first screen: the scenario's hour per minute, counts by workflow and status, open tasks."""
    add_operations_incidents(scenario)
    just_after = scenario.clock.now.replace(second=0, microsecond=0) + timedelta(minutes=2)
    assert snap_compare(make_app(scenario, "overview", now=just_after), terminal_size=SIZE, run_before=settle)


def test_incidents_screen(snap_compare, scenario: Scenario) -> None:
    """Failed, stuck and stopped-at-a-split incidents oldest first, two of them marked for a bulk action."""
    add_operations_incidents(scenario)

    async def run_before(pilot: Pilot) -> None:
        await settle(pilot)
        await pilot.press("space", "down")  # mark the oldest, skip the second, the cursor on the third
        await settle(pilot)

    assert snap_compare(make_app(scenario, "incidents"), terminal_size=SIZE, run_before=run_before)


def test_blueprints_screen(snap_compare, scenario: Scenario) -> None:
    """Workflows and versions with instances per status; the graph and the warning of the selected one."""
    add_operations_incidents(scenario)

    async def run_before(pilot: Pilot) -> None:
        await settle(pilot)
        await pilot.press("down")  # expense_claim, fan_in, order_fulfilment: the one with a warning
        await settle(pilot)

    assert snap_compare(make_app(scenario, "blueprints"), terminal_size=SIZE, run_before=run_before)
