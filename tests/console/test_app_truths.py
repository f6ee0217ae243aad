"""Small truths: what the console says is so, and every claim the README makes about it holds when tried.

The README's console section, claim by claim, and the pilot that tries it:

- a filter with one match opens it at once: test_app_keys.py::test_a_filter_with_one_match_opens_it_at_once
- / filters as you type, Esc clears: test_app_keys.py::test_slash_filters_the_instances_as_you_type_and_escape_clears,
  ::test_slash_filters_the_incidents_as_you_type; the blueprints' and history's here
- j k g G move in every list: test_app_keys.py::test_j_k_g_and_shift_g_move_in_the_lists
- w lists only the instances waiting for a person:
  test_app_keys.py::test_waiting_for_a_person_lists_only_those_instances
- o sorts by the start either way, sort= elsewhere says there is no index: test_app_keys.py::test_o_sorts_...,
  ::test_a_mistyped_filter_names_the_nearest_key
- : jumps to filtered views, completes, names the nearest: test_app_command_line.py; :instance ID here
- saved views, from : and the palette, corrupt file ignored: test_app_command_line.py
- read-only shows writes disabled and says why: test_app_keys.py::test_a_read_only_console_...
- the graph shows at 80x24, t hides it: test_app_actions.py::test_the_graph_can_be_hidden_and_shows_in_a_small_terminal
- Enter on a count / an open task / a version lists those instances, Enter on an event opens its instance,
  H searches an instance's history: test_app_operations.py
- z zooms, the arrows and h j k l move node to node, Enter selects the node's execution: test_app_graph.py
- every screen at 80x24 keeps its keys and a form its send button: test_app_sizes.py (snapshots)
- 6 lists the person's tasks; S, c, d, Enter, / and :tasks do what the README says: test_app_tasks.py
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from app_pilot import SIZE, RecordingApp, run_async, settle, wait_until
from app_scenarios import NOW, Scenario, build_scenario
from rich.console import Console

from console.formatting import ConsoleClock
from console.messages import OpenInstance
from console.screens.blueprints_screen import BlueprintsScreen
from console.screens.execution_modal import ExecutionModal
from console.screens.history_search_screen import HistorySearchScreen
from console.screens.instance_detail_screen import InstanceDetailScreen
from console.widgets.blueprints_table import BlueprintsTable
from console.widgets.executions_table import ExecutionsTable
from console.widgets.history_results_table import HistoryResultsTable


@pytest.fixture
def scenario(tmp_path: Path) -> Iterator[Scenario]:
    built = build_scenario(str(tmp_path / "console.db"))
    yield built
    built.manager.store.close()


def make_app(scenario: Scenario, start_mode: str = "instances") -> RecordingApp:
    return RecordingApp(db_path=scenario.path, manager=scenario.manager, clock=ConsoleClock.fixed(NOW),
                        actor="operator", poll_seconds=0, start_mode=start_mode)


def cell_text(table: ExecutionsTable, node_id: str) -> str:
    row = next(i for i, e in enumerate(table._executions) if e.node_id == node_id)
    return str(table.get_row_at(row)[-1])


@run_async
async def test_a_completed_executions_earlier_error_is_that_attempts(scenario: Scenario) -> None:
    """A worker's first attempt failed, the second succeeded: the error shown is attempt 1's, not the
    COMPLETED execution's own."""
    manager = scenario.manager
    pack = scenario.open_execution("half_done", "pack")
    manager.fail_attempt(pack, "label printer offline", NOW + timedelta(seconds=5), actor="worker")
    manager.task_done(pack, {"parcel_id": "P-5"}, actor="worker")
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.post_message(OpenInstance(scenario.ids["half_done"]))
        await settle(pilot)
        table = app.screen.query_one(ExecutionsTable)
        assert cell_text(table, "pack") == "attempt 1 failed: label printer offline"
        table.move_cursor(row=next(i for i, e in enumerate(table._executions) if e.node_id == "pack"))
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ExecutionModal)
        out = Console(width=100, record=True, file=io.StringIO())
        out.print(app.screen.query_one("#execution-body").content)
        assert "error of an earlier attempt: attempt 1 failed" in out.export_text()


@run_async
async def test_a_failed_execution_marked_done_keeps_its_error_as_its_failure(scenario: Scenario) -> None:
    manager = scenario.manager
    pack = scenario.open_execution("incident", "pack")  # FAILED by dave: label printer offline
    manager.task_done(pack, {"parcel_id": "P-3"}, actor="operator")
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.post_message(OpenInstance(scenario.ids["incident"]))
        await settle(pilot)
        table = app.screen.query_one(ExecutionsTable)
        assert cell_text(table, "pack") == "attempt 1 failed, then it was marked done: label printer offline"


@run_async
async def test_a_failed_execution_shows_its_own_error(scenario: Scenario) -> None:
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.post_message(OpenInstance(scenario.ids["incident"]))
        await settle(pilot)
        assert cell_text(app.screen.query_one(ExecutionsTable), "pack") == "label printer offline"


@run_async
async def test_colon_instance_opens_one_by_a_prefix_of_its_id(scenario: Scenario, tmp_path: Path) -> None:
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("colon", *f"instance {scenario.ids['claim_waiting'][:8]}", "enter")
        assert await wait_until(pilot, lambda: isinstance(app.screen, InstanceDetailScreen))
        assert app.screen.instance_id == scenario.ids["claim_waiting"]


@run_async
async def test_slash_filters_the_blueprints_by_id_or_name(scenario: Scenario) -> None:
    app = make_app(scenario, "blueprints")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, BlueprintsScreen)
        table = app.screen.query_one(BlueprintsTable)
        assert {row.workflow_id for row in table._rows} == {"expense_claim", "order_fulfilment"}
        await pilot.press("slash", *"order")
        assert await wait_until(pilot, lambda: {row.workflow_id for row in table._rows} == {"order_fulfilment"})
        await pilot.press("escape")
        assert await wait_until(pilot, lambda: len({row.workflow_id for row in table._rows}) == 2)


@run_async
async def test_the_history_is_searched_as_you_type(scenario: Scenario) -> None:
    app = make_app(scenario, "history")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, HistorySearchScreen)
        table = app.screen.query_one(HistoryResultsTable)
        await pilot.press("slash", "tab", "tab", *"approve")  # the node field; no Enter
        assert await wait_until(pilot, lambda: table._hits and all(h.entry.node_id == "approve" for h in table._hits))
