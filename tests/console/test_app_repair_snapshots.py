"""Snapshots of the repair dialogs (issue 17) at 80x24 and 160x48, on the fixed scenario and clock.

Update them after an intended change of the look with ``pytest tests/console/test_app_repair_snapshots.py
--snapshot-update`` and look at the report before committing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from app_pilot import settle, wait_until
from app_scenarios import NOW, Scenario, build_scenario, seeded_ids
from test_app_repair import order_fulfilment_v2, select_execution, tick
from textual.pilot import Pilot
from textual.widgets import RadioButton, TextArea

from console.app import WfConsoleApp
from console.formatting import ConsoleClock
from console.messages import OpenInstance
from console.screens.batch_progress_modal import BatchProgressModal
from console.screens.migrate_modal import MigrateModal
from console.widgets.context_tree import ContextTree
from console.widgets.incidents_table import IncidentsTable
from console.widgets.repair_preview import RepairPreviewPane

SIZES = {"80x24": (80, 24), "160x48": (160, 48)}


@pytest.fixture
def scenario(tmp_path: Path) -> Iterator[Scenario]:
    built = build_scenario(str(tmp_path / "console.db"))
    built.manager.add_workflow(order_fulfilment_v2())
    yield built
    built.manager.store.close()


def make_app(scenario: Scenario, start_mode: str = "instances") -> WfConsoleApp:
    return WfConsoleApp(db_path=scenario.path, manager=scenario.manager, clock=ConsoleClock.fixed(NOW),
                        actor="operator", poll_seconds=0, start_mode=start_mode)


async def open_instance(pilot: Pilot, instance_id: str) -> None:
    await settle(pilot)
    pilot.app.post_message(OpenInstance(instance_id))
    await settle(pilot)


def previewed(pilot: Pilot, words: str) -> bool:
    return words in str(pilot.app.screen.query_one(RepairPreviewPane).render())


@pytest.mark.parametrize("size", SIZES)
def test_move_tokens_dialog_refusing_a_move(snap_compare, scenario: Scenario, size: str) -> None:
    """Going back into one branch of a parallel block: the preview refuses it and the Force box is offered."""

    async def run_before(pilot: Pilot) -> None:
        await open_instance(pilot, scenario.ids["at_approval"])
        await pilot.press("m")
        await settle(pilot)
        await tick(pilot, "remove", "approve")
        await tick(pilot, "add", "pack")
        await wait_until(pilot, lambda: previewed(pilot, "refused"), 10)
        await settle(pilot)

    assert snap_compare(make_app(scenario), terminal_size=SIZES[size], run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_migrate_dialog_naming_the_token_without_a_target(snap_compare, scenario: Scenario, size: str) -> None:
    """Version 2 renamed approve: its token has no target until it is mapped."""

    async def run_before(pilot: Pilot) -> None:
        await open_instance(pilot, scenario.ids["at_approval"])
        await pilot.press("M")
        await settle(pilot)
        assert isinstance(pilot.app.screen, MigrateModal)
        await wait_until(pilot, lambda: previewed(pilot, "has no node"), 10)
        await settle(pilot)

    assert snap_compare(make_app(scenario), terminal_size=SIZES[size], run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_batch_dialog_on_marked_rows(snap_compare, scenario: Scenario, size: str) -> None:
    """Two rows marked, the action "set a variable" chosen."""

    async def run_before(pilot: Pilot) -> None:
        await settle(pilot)
        await pilot.press("space", "space")
        await settle(pilot)
        await pilot.press("b")
        await settle(pilot)
        pilot.app.screen.query_one("#action-set", RadioButton).value = True
        await settle(pilot)

    assert snap_compare(make_app(scenario), terminal_size=SIZES[size], run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_batch_finished_with_refusals(snap_compare, scenario: Scenario, size: str) -> None:
    """Resume on every order: the running ones are refused, each named with the engine's reason."""

    async def run_before(pilot: Pilot) -> None:
        await settle(pilot)
        pilot.app.screen.apply_filters(None, "order_fulfilment", version=1)
        await settle(pilot)
        await pilot.press("b")
        await settle(pilot)
        pilot.app.screen.query_one("#action-resume", RadioButton).value = True
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: pilot.app.screen.__class__.__name__ == "ConfirmModal", 10)
        await pilot.press("y")
        await settle(pilot)
        modal = pilot.app.screen
        assert isinstance(modal, BatchProgressModal)
        await wait_until(pilot, lambda: not modal.running, 20)
        await settle(pilot)

    with seeded_ids(11):  # the batch id too
        assert snap_compare(make_app(scenario), terminal_size=SIZES[size], run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_split_variables_form_of_an_incident(snap_compare, scenario: Scenario, size: str) -> None:
    """The claim stopped at its split: the form opens on `decision`, "maybe" in it, and the split's tests."""

    async def run_before(pilot: Pilot) -> None:
        await settle(pilot)
        table = pilot.app.screen.query_one(IncidentsTable)
        table.move_cursor(row=[i.instance_id for i in table._incidents].index(scenario.ids["claim_failed"]))
        await pilot.press("e")
        await settle(pilot)

    assert snap_compare(make_app(scenario, "incidents"), terminal_size=SIZES[size], run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_variable_history(snap_compare, scenario: Scenario, size: str) -> None:
    """The decision of the stopped claim: the task's output, then a value set by hand."""
    scenario.manager.set_variables(scenario.ids["claim_failed"], {"decision": "later"}, actor="erin")

    async def run_before(pilot: Pilot) -> None:
        await open_instance(pilot, scenario.ids["claim_failed"])
        tree = pilot.app.screen.query_one(ContextTree)
        tree.focus()
        await pilot.pause()
        for _ in range(10):
            if tree.selected_key == "decision":
                break
            await pilot.press("down")
        await pilot.press("v")
        await settle(pilot)

    assert snap_compare(make_app(scenario), terminal_size=SIZES[size], run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_mark_done_refusing_an_unmapped_key(snap_compare, scenario: Scenario, size: str) -> None:
    """A misspelt output key in the raw JSON: refused in the form, naming the mapped key it is nearest to."""

    async def run_before(pilot: Pilot) -> None:
        await open_instance(pilot, scenario.ids["at_approval"])
        await select_execution(pilot, "approve")
        await pilot.press("d")
        await settle(pilot)
        pilot.app.screen.query_one("#raw", TextArea).text = '{"aproved": true}'
        await pilot.press("ctrl+s")
        await settle(pilot)

    assert snap_compare(make_app(scenario), terminal_size=SIZES[size], run_before=run_before)
