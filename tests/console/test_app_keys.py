"""One meaning per key, and the habits of k9s and lazygit: j k g G in every list, / filters as you type."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from app_pilot import SIZE, RecordingApp, run_async, settle, wait_until
from app_scenarios import NOW, Scenario, build_scenario
from textual.binding import Binding
from textual.widgets import DataTable

from console import keymap
from console.formatting import ConsoleClock
from console.messages import OpenInstance
from console.screens.incidents_screen import IncidentsScreen
from console.screens.instance_detail_screen import InstanceDetailScreen
from console.screens.instances_screen import InstancesScreen
from console.widgets.executions_table import ExecutionsTable
from console.widgets.filter_line import FilterLine
from console.widgets.incidents_table import IncidentsTable
from console.widgets.instances_table import InstancesTable
from engine.actions import READ_ONLY_REFUSAL

BACK_AND_CHOOSE = {"escape", "enter"}  # "back or clear" and "open what is selected" in every view


@pytest.fixture
def scenario(tmp_path: Path) -> Iterator[Scenario]:
    built = build_scenario(str(tmp_path / "console.db"))
    yield built
    built.manager.store.close()


def make_app(scenario: Scenario, start_mode: str = "instances") -> RecordingApp:
    return RecordingApp(db_path=scenario.path, manager=scenario.manager, clock=ConsoleClock.fixed(NOW),
                        actor="operator", poll_seconds=0, start_mode=start_mode)


def test_every_key_means_one_thing_in_every_view() -> None:
    meanings: dict[str, set[str]] = {}
    for table in (keymap.APP, *keymap.VIEWS.values()):
        for binding in Binding.make_bindings(table):
            if binding.key not in BACK_AND_CHOOSE:
                meanings.setdefault(binding.key, set()).add(binding.description)
    twice = {key: sorted(described) for key, described in meanings.items() if len(described) > 1}
    assert not twice, f"keys with more than one meaning: {twice}"


def test_no_view_key_filters_and_the_list_moves_are_kept_free() -> None:
    """Filters are on the / and : lines: no single key sets a status or a workflow; j k g G are the lists'."""
    for name, table in keymap.VIEWS.items():
        for binding in Binding.make_bindings(table):
            assert not binding.action.startswith(("status(", "workflow")), (name, binding.key)
            assert binding.key not in ("j", "k", "g", "G", "h", "l"), (name, binding.key)


@run_async
async def test_j_k_g_and_shift_g_move_in_the_lists(scenario: Scenario) -> None:
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one(InstancesTable)
        await pilot.press("j", "j")
        assert table.cursor_row == 2
        await pilot.press("k")
        assert table.cursor_row == 1
        await pilot.press("G")
        assert table.cursor_row == table.row_count - 1
        await pilot.press("g")
        assert table.cursor_row == 0
        await pilot.press("3")
        await settle(pilot)
        incidents = app.screen.query_one(IncidentsTable)
        assert incidents.row_count >= 2
        await pilot.press("j")
        assert incidents.cursor_row == 1
        await pilot.press("g")
        assert incidents.cursor_row == 0


@run_async
async def test_slash_filters_the_instances_as_you_type_and_escape_clears(scenario: Scenario) -> None:
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one(InstancesTable)
        assert table.row_count == 7
        await pilot.press("slash", *"Liskov")  # no Enter: the list follows the typing
        assert await wait_until(pilot, lambda: [row.id for row in table._rows] == [scenario.ids["at_approval"]])
        assert app.screen.query_one(FilterLine).has_focus
        await pilot.press("escape")
        assert await wait_until(pilot, lambda: table.row_count == 7)
        assert not app.screen.query_one(FilterLine).display


@run_async
async def test_a_filter_with_one_match_opens_it_at_once(scenario: Scenario) -> None:
    """As the README says: `/`, `Liskov`, Enter opens the one instance that matches."""
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"Liskov", "enter")
        assert await wait_until(pilot, lambda: isinstance(app.screen, InstanceDetailScreen))
        assert app.screen.instance_id == scenario.ids["at_approval"]


@run_async
async def test_a_filter_with_several_matches_stays_on_the_list(scenario: Scenario) -> None:
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"status=active", "enter")
        await settle(pilot)
        assert isinstance(app.screen, InstancesScreen)
        assert app.screen.query_one(InstancesTable).row_count == 4


@run_async
async def test_a_mistyped_filter_names_the_nearest_key(scenario: Scenario) -> None:
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"stauts=failed", "enter")
        await settle(pilot)
        assert any("unknown filter 'stauts'" in note and "'status'" in note for _, note in app.notes)
        await pilot.press("slash", "ctrl+u", *"sort=status", "enter")
        await settle(pilot)
        assert any("cannot be sorted by 'status' fast: no index" in note for _, note in app.notes)


@run_async
async def test_slash_filters_the_incidents_as_you_type(scenario: Scenario) -> None:
    app = make_app(scenario, "incidents")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, IncidentsScreen)
        table = app.screen.query_one(IncidentsTable)
        everything = table.row_count
        assert everything == 2  # the failed pack, the split with no match
        await pilot.press("slash", *"printer")
        assert await wait_until(pilot, lambda: table.row_count == 1 and table.current.node_id == "pack")
        await pilot.press("ctrl+u", *"kind=no_match")
        assert await wait_until(pilot, lambda: table.row_count == 1 and table.current.kind == "NO_MATCH")
        await pilot.press("escape")
        assert await wait_until(pilot, lambda: table.row_count == everything)


@run_async
async def test_o_sorts_the_instances_oldest_first_and_back(scenario: Scenario) -> None:
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one(InstancesTable)
        newest = [row.id for row in table._rows]
        await pilot.press("o")
        await settle(pilot)
        assert [row.id for row in table._rows] == list(reversed(newest))
        assert "▲" in str(table.columns[next(k for k in table.columns if k.value == "STARTED")].label)
        await pilot.press("o")
        await settle(pilot)
        assert [row.id for row in table._rows] == newest


@run_async
async def test_waiting_for_a_person_lists_only_those_instances(scenario: Scenario) -> None:
    """The overview's "waiting for a person" (w) leads to the instances waiting for one, not every running one:
    an instance whose only open task a runtime holds is running, not waiting."""
    store = scenario.manager.store
    pack = scenario.open_execution("half_done", "pack")
    assert store.claim_execution(pack, "rt-1", NOW, NOW + timedelta(minutes=5))
    app = make_app(scenario, "overview")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("w")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, InstancesScreen)
        listed = {row.id for row in screen.query_one(InstancesTable)._rows}
        assert listed == {scenario.ids[key] for key in ("at_approval", "claim_waiting", "incident")}
        assert "waiting=person" in screen.query_one(FilterLine).value


def test_every_table_has_the_list_moves() -> None:
    from console.widgets.columned_table import ColumnedTable
    from console.widgets.open_tasks_table import OpenTasksTable

    for table_class in (ColumnedTable, OpenTasksTable):
        keys = {binding.key for binding in Binding.make_bindings(table_class.BINDINGS)}
        assert {"j", "k", "g", "G"} <= keys, table_class
    assert issubclass(InstancesTable, ColumnedTable) and issubclass(IncidentsTable, DataTable)


@run_async
async def test_a_read_only_console_shows_every_write_disabled_and_says_why(scenario: Scenario) -> None:
    app = RecordingApp(db_path=scenario.path, manager=scenario.manager, clock=ConsoleClock.fixed(NOW),
                       actor="viewer", poll_seconds=0, start_mode="instances", readonly=True)
    incident = scenario.ids["incident"]
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "read-only" in app.title
        pilot.app.post_message(OpenInstance(incident))
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, InstanceDetailScreen)
        table = screen.query_one(ExecutionsTable)
        table.move_cursor(row=next(i for i, e in enumerate(table._executions) if e.status == "FAILED"))
        await pilot.pause()
        for action in ("mark_done", "retry", "cancel_instance", "edit_variable"):
            assert screen.check_action(action, ()) is None, action  # shown, dimmed
        await pilot.press("r")
        await settle(pilot)
        assert app.notes[-1] == ("warning", READ_ONLY_REFUSAL)
        await pilot.press("3")
        await settle(pilot)
        assert app.screen.check_action("retry", ()) is None
        await pilot.press("r")
        assert app.notes[-1] == ("warning", READ_ONLY_REFUSAL)
        await pilot.press("4")
        await settle(pilot)
        await pilot.press("s")
        assert app.notes[-1] == ("warning", READ_ONLY_REFUSAL)
    failed = [e for e in scenario.manager.get_status(incident).executions if e.status == "FAILED"]
    assert [e.node_id for e in failed] == ["pack"]  # nothing was retried
