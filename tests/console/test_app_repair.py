"""Pilots of the console's repairs (issue 17): move tokens, migrate, the form of a stopped split, a variable's
history, strict completion and batches on the Instances view, each action and each refusal, checked in the
database afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from app_pilot import SIZE, RecordingApp, run_async, settle, wait_until
from app_scenarios import NOW, Scenario, build_scenario, order_fulfilment
from textual.pilot import Pilot
from textual.widgets import Checkbox, Input, Select, SelectionList, Static, TextArea

from console.formatting import ConsoleClock
from console.messages import OpenInstance
from console.screens.confirm_modal import ConfirmModal
from console.screens.instance_detail_screen import InstanceDetailScreen
from console.screens.mark_done_modal import MarkDoneModal
from console.screens.migrate_modal import MigrateModal
from console.screens.move_tokens_modal import MoveTokensModal
from console.screens.split_variables_modal import SplitVariablesModal
from console.screens.variable_history_modal import VariableChangesTable, VariableHistoryModal
from console.widgets.context_tree import ContextTree
from console.widgets.executions_table import ExecutionsTable
from console.widgets.incidents_table import IncidentsTable
from console.widgets.repair_preview import RepairPreviewPane
from engine.model import HistoryKind


@pytest.fixture
def scenario(tmp_path: Path) -> Iterator[Scenario]:
    built = build_scenario(str(tmp_path / "console.db"))
    yield built
    built.manager.store.close()


def make_app(scenario: Scenario, start_mode: str = "instances") -> RecordingApp:
    return RecordingApp(db_path=scenario.path, manager=scenario.manager, clock=ConsoleClock.fixed(NOW),
                        actor="operator", poll_seconds=0, start_mode=start_mode)


async def open_detail(pilot: Pilot, instance_id: str) -> InstanceDetailScreen:
    await settle(pilot)
    pilot.app.post_message(OpenInstance(instance_id))
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, InstanceDetailScreen)
    return screen


async def tick(pilot: Pilot, list_id: str, node_id: str) -> None:
    """Move the highlight of a node list to ``node_id`` with the arrow keys and tick it with space."""
    selection = pilot.app.screen.query_one(f"#{list_id}", SelectionList)
    selection.focus()
    await pilot.pause()
    values = [selection.get_option_at_index(i).value for i in range(selection.option_count)]
    assert node_id in values, values
    if selection.highlighted is None:
        await pilot.press("down")
    while selection.get_option_at_index(selection.highlighted).value != node_id:
        await pilot.press("down" if values.index(node_id) > selection.highlighted else "up")
    await pilot.press("space")
    await settle(pilot)


def preview_of(pilot: Pilot) -> str:
    return str(pilot.app.screen.query_one(RepairPreviewPane).render())


def tokens_of(scenario: Scenario, key: str) -> list[str]:
    return sorted(t.node_id for t in scenario.manager.get_status(scenario.ids[key]).tokens)


def history_of(scenario: Scenario, key: str, kind: HistoryKind) -> list:
    return [h for h in scenario.manager.get_status(scenario.ids[key]).history if h.kind == kind]


# -- move tokens ---------------------------------------------------------------------------------------


@run_async
async def test_skip_ahead_shows_the_preview_then_moves_the_token(scenario: Scenario) -> None:
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        await open_detail(pilot, scenario.ids["claim_waiting"])
        await pilot.press("m")
        await settle(pilot)
        assert isinstance(app.screen, MoveTokensModal)
        await tick(pilot, "remove", "review")
        await tick(pilot, "add", "pay")
        assert "Skip ahead from 'review' to 'pay'" in str(app.screen.query_one("#move-summary", Static).render())
        preview = preview_of(pilot)
        assert "tokens at pay (ACTIVE)" in preview and "new executions at  pay" in preview
        assert "cancelled executions at  review" in preview and "no problems" in preview
        assert tokens_of(scenario, "claim_waiting") == ["review"]  # a preview changes nothing
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, InstanceDetailScreen)
    assert tokens_of(scenario, "claim_waiting") == ["pay"]
    [marker] = history_of(scenario, "claim_waiting", HistoryKind.INSTANCE_MODIFIED)
    assert marker.actor == "operator" and marker.details["removed"] == ["review"] and marker.details["added"] == ["pay"]
    assert marker.details["forced"] is False
    assert any("placed a token on pay" in note for _, note in app.notes)


@run_async
async def test_a_move_the_engine_refuses_needs_force_and_is_recorded_as_forced(scenario: Scenario) -> None:
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        await open_detail(pilot, scenario.ids["at_approval"])
        await pilot.press("m")
        await settle(pilot)
        await tick(pilot, "remove", "approve")
        await tick(pilot, "add", "pack")  # back into one branch of the parallel block: the join can never fire
        assert "Go back from 'approve' to 'pack'" in str(app.screen.query_one("#move-summary", Static).render())
        preview = preview_of(pilot)
        assert "refused: no token could reach an END" in preview and "without its siblings" in preview
        force = app.screen.query_one("#force", Checkbox)
        assert not force.disabled and not force.value
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, MoveTokensModal)  # refused: the dialog stays, saying why
        assert "tick Force" in str(app.screen.query_one("#move-error", Static).render())
        assert tokens_of(scenario, "at_approval") == ["approve"]
        force.focus()
        await pilot.press("space")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, InstanceDetailScreen)
    assert tokens_of(scenario, "at_approval") == ["pack"]
    [marker] = history_of(scenario, "at_approval", HistoryKind.INSTANCE_MODIFIED)
    assert marker.details["forced"] is True and any("could never finish" in p for p in marker.details["problems"])
    assert any("(forced)" in note for _, note in app.notes)


@run_async
async def test_removing_the_last_token_cannot_even_be_forced(scenario: Scenario) -> None:
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        await open_detail(pilot, scenario.ids["claim_waiting"])
        await pilot.press("m")
        await settle(pilot)
        await tick(pilot, "remove", "review")
        assert "Remove the token at 'review'" in str(app.screen.query_one("#move-summary", Static).render())
        assert "no token would be left" in preview_of(pilot)
        assert app.screen.query_one("#force", Checkbox).disabled
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "cancel the instance instead" in str(app.screen.query_one("#move-error", Static).render())
        await pilot.press("escape")
        await settle(pilot)
    assert tokens_of(scenario, "claim_waiting") == ["review"]
    assert history_of(scenario, "claim_waiting", HistoryKind.INSTANCE_MODIFIED) == []


@run_async
async def test_moving_tokens_of_a_finished_instance_is_refused_with_the_engines_reason(scenario: Scenario) -> None:
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        await open_detail(pilot, scenario.ids["completed"])
        await pilot.press("m")
        await settle(pilot)
        assert isinstance(app.screen, InstanceDetailScreen)
        await pilot.press("M")
        await settle(pilot)
    assert ("warning", f"instance {scenario.ids['completed'][:8]} is COMPLETED: tokens can be moved only in an "
                       "ACTIVE or FAILED instance") in app.notes
    assert any("only an ACTIVE or FAILED instance can be migrated" in note for _, note in app.notes)


# -- migrate -------------------------------------------------------------------------------------------


def order_fulfilment_v2() -> dict:
    """Version 2: ``approve`` renamed ``sign_off`` (same task)."""
    blueprint = order_fulfilment()
    blueprint["version"] = 2
    for node in blueprint["nodes"]:
        if node["id"] == "approve":
            node["id"] = "sign_off"
    for edge in blueprint["edges"]:
        for end in ("source_id", "target_id"):
            if edge[end] == "approve":
                edge[end] = "sign_off"
    return blueprint


async def choose(pilot: Pilot, select_id: str, value: object) -> None:
    """Open a Select and pick ``value`` with the arrow keys and Enter."""
    select = pilot.app.screen.query_one(f"#{select_id}", Select)
    select.focus()
    await pilot.press("enter")
    await pilot.pause()
    for _ in range(30):
        if select.value == value:
            break
        await pilot.press("down", "enter")
        await pilot.pause()
        if select.value != value:
            await pilot.press("enter")
            await pilot.pause()
    assert select.value == value
    await settle(pilot)


@run_async
async def test_migrate_names_the_token_without_a_target_then_maps_it(scenario: Scenario) -> None:
    scenario.manager.add_workflow(order_fulfilment_v2())
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        await open_detail(pilot, scenario.ids["at_approval"])
        await pilot.press("M")
        await settle(pilot)
        assert isinstance(app.screen, MigrateModal)
        await wait_until(pilot, lambda: "has no node in version 2" in preview_of(pilot), 10)
        assert "the token at 'approve' has no node in version 2" in preview_of(pilot)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, MigrateModal)  # refused, naming the token
        assert "'approve'" in str(app.screen.query_one("#migrate-error", Static).render())
        await choose(pilot, "map-0", "sign_off")
        await wait_until(pilot, lambda: "tokens at sign_off" in preview_of(pilot), 10)
        assert "version 2" in preview_of(pilot)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, InstanceDetailScreen)
    view = scenario.manager.get_status(scenario.ids["at_approval"])
    assert view.version == 2 and [t.node_id for t in view.tokens] == ["sign_off"]
    [marker] = history_of(scenario, "at_approval", HistoryKind.INSTANCE_MIGRATED)
    assert marker.details["mapping"] == {"approve": "sign_off"} and marker.actor == "operator"


@run_async
async def test_migrate_without_another_version_says_how_to_get_one(scenario: Scenario) -> None:
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        await open_detail(pilot, scenario.ids["at_approval"])
        await pilot.press("M")
        await settle(pilot)
        assert isinstance(app.screen, InstanceDetailScreen)
    assert any("only version 1 of order_fulfilment is stored" in note for _, note in app.notes)


# -- completing by hand is strict ----------------------------------------------------------------------


async def select_execution(pilot: Pilot, node_id: str) -> None:
    table = pilot.app.screen.query_one(ExecutionsTable)
    rows = [index for index, execution in enumerate(table._executions) if execution.node_id == node_id]
    table.move_cursor(row=rows[-1])
    await pilot.pause()


@run_async
async def test_mark_done_refuses_an_unmapped_key_naming_the_nearest_unless_allowed(scenario: Scenario) -> None:
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        await open_detail(pilot, scenario.ids["at_approval"])
        await select_execution(pilot, "approve")
        await pilot.press("d")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, MarkDoneModal)
        form.query_one("#raw", TextArea).text = '{"aproved": true}'
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is form  # refused in the form
        error = str(form.query_one("#raw-error", Static).render())
        assert "aproved: not an output of approve; did you mean approved?" in error and "pass unmapped keys" in error
        form.query_one("#allow-unmapped", Checkbox).value = True
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmModal)
        assert "keys the output mapping does not map are dropped" in str(
            app.screen.query_one("#confirm-body", Static).render())
        await pilot.press("y")
        await settle(pilot)
    view = scenario.manager.get_status(scenario.ids["at_approval"])
    assert "aproved" not in view.context and [t.node_id for t in view.tokens] == ["decide"]  # approved unset
    assert any(e.node_id == "approve" and e.status == "COMPLETED" for e in view.executions)


@run_async
async def test_mark_done_warns_before_confirming_when_the_next_split_reads_an_unset_variable(
        scenario: Scenario) -> None:
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        await open_detail(pilot, scenario.ids["claim_waiting"])
        await select_execution(pilot, "review")
        await pilot.press("d")
        await settle(pilot)
        await pilot.press("ctrl+s")  # nothing typed: the split 'route' will test an unset decision
        await settle(pilot)
        assert isinstance(app.screen, ConfirmModal)
        body = str(app.screen.query_one("#confirm-body", Static).render())
        assert "warning: split 'route' tests 'decision'" in body and "it will be null there" in body
        await pilot.press("n")  # back to the form, then out
        await settle(pilot)
        assert isinstance(app.screen, MarkDoneModal)
        await pilot.press("escape")
        await settle(pilot)
    assert [t.node_id for t in scenario.manager.get_status(scenario.ids["claim_waiting"]).tokens] == ["review"]


# -- what a stopped split reads, a variable's history -------------------------------------------------


@run_async
async def test_an_incident_at_a_split_opens_the_form_of_what_it_tests_then_resumes(scenario: Scenario) -> None:
    app = make_app(scenario, start_mode="incidents")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one(IncidentsTable)
        table.move_cursor(row=[i.instance_id for i in table._incidents].index(scenario.ids["claim_failed"]))
        await pilot.press("e")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, SplitVariablesModal)
        assert form.names == ["decision"] and form.query_one("#var-0", Input).value == '"maybe"'
        assert any("decision == 'approve' → pay" in str(s.render()) for s in form.query(Static))
        await pilot.press("ctrl+u", *"approve", "ctrl+r")  # set it and resume
        await settle(pilot)
    view = scenario.manager.get_status(scenario.ids["claim_failed"])
    assert view.status == "ACTIVE" and view.context["decision"] == "approve"
    assert [t.node_id for t in view.tokens] == ["pay"]
    assert any("decision set" in note and "resumed" in note for _, note in app.notes)


@run_async
async def test_e_on_another_incident_says_what_it_is_for(scenario: Scenario) -> None:
    app = make_app(scenario, start_mode="incidents")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one(IncidentsTable)
        table.move_cursor(row=[i.instance_id for i in table._incidents].index(scenario.ids["incident"]))
        await pilot.press("e")
        await settle(pilot)
        assert not isinstance(app.screen, SplitVariablesModal)
    assert any("e is for an instance stopped at a split" in note for _, note in app.notes)


@run_async
async def test_variable_history_from_the_context_pane_and_unset(scenario: Scenario) -> None:
    instance_id = scenario.ids["claim_failed"]
    scenario.manager.set_variables(instance_id, {"decision": "later"}, actor="erin")
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        await open_detail(pilot, instance_id)
        tree = app.screen.query_one(ContextTree)
        tree.focus()
        await pilot.pause()
        for _ in range(10):
            if tree.selected_key == "decision":
                break
            await pilot.press("down")
        await pilot.press("v")
        await settle(pilot)
        modal = app.screen
        assert isinstance(modal, VariableHistoryModal)
        table = modal.query_one(VariableChangesTable)
        rows = [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
        assert [(r[1], r[2], r[3]) for r in rows] == [("task output", "carol", '"maybe"'),
                                                       ("set by hand", "erin", '"later"')]
        await pilot.press("u")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
    view = scenario.manager.get_status(instance_id)
    assert "decision" not in view.context
    assert [c.how for c in app.backend.ops.variable_history(instance_id, "decision")] == ["output", "set", "unset"]


@run_async
async def test_variable_history_outside_the_context_pane_goes_there_first(scenario: Scenario) -> None:
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        await open_detail(pilot, scenario.ids["claim_waiting"])
        await pilot.press("v")  # the executions have focus: v takes the operator to the variables
        await settle(pilot)
        assert app.screen.query_one(ContextTree).has_focus and isinstance(app.screen, InstanceDetailScreen)
        await pilot.press("v")
        await settle(pilot)
        assert isinstance(app.screen, VariableHistoryModal) and app.screen.name_shown == "amount"
    assert any("pick a variable in the context pane" in note for _, note in app.notes)
