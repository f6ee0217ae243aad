"""Pilots of the console's repairs (issue 17): move tokens, migrate, the form of a stopped split, a variable's
history, strict completion and batches on the Instances view, each action and each refusal, checked in the
database afterwards."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from app_pilot import SIZE, RecordingApp, paste, run_async, settle, wait_until
from app_scenarios import NOW, Scenario, build_scenario, order_fulfilment
from textual.pilot import Pilot
from textual.widgets import Checkbox, Input, RadioButton, Select, SelectionList, Static, TextArea

from console.formatting import ConsoleClock
from console.messages import OpenInstance
from console.screens.batch_modal import BatchModal
from console.screens.batch_progress_modal import BatchProgressModal, RefusalsTable
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
from console.widgets.instances_table import InstancesTable
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


# -- batches on the Instances view ---------------------------------------------------------------------


async def pick_action(pilot: Pilot, action: str) -> None:
    pilot.app.screen.query_one(f"#action-{action}", RadioButton).value = True
    await settle(pilot)


async def mark_rows(pilot: Pilot, instance_ids: list[str]) -> None:
    """Put the cursor on each instance in turn and press space."""
    table = pilot.app.screen.query_one(InstancesTable)
    for instance_id in instance_ids:
        table.move_cursor(row=[row.id for row in table._rows].index(instance_id))
        await pilot.pause()
        await pilot.press("space")
    await settle(pilot)


async def run_to_the_end(pilot: Pilot) -> BatchProgressModal:
    await settle(pilot)
    modal = pilot.app.screen
    assert isinstance(modal, BatchProgressModal)
    assert await wait_until(pilot, lambda: not modal.running, 30)
    await settle(pilot)
    return modal


@run_async
async def test_batch_cancel_of_marked_rows_records_the_batch_in_each_history(scenario: Scenario) -> None:
    chosen = [scenario.ids["at_approval"], scenario.ids["claim_waiting"]]
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await mark_rows(pilot, chosen)
        assert "2 marked" in str(app.screen.query_one("#instances-marks", Static).render())
        await pilot.press("b")
        await settle(pilot)
        assert isinstance(app.screen, BatchModal)
        assert app.screen.scope == "marked"
        await pilot.press("ctrl+s")  # no reason: refused in the dialog
        await settle(pilot)
        assert "a reason is needed" in str(app.screen.query_one("#batch-error", Static).render())
        app.screen.query_one("#reason", Input).focus()
        await paste(pilot, "duplicate")
        await pilot.press("enter")
        assert await wait_until(pilot, lambda: isinstance(app.screen, ConfirmModal), 10)
        body = str(app.screen.query_one("#confirm-body", Static).render())
        assert "2 instance(s): the marked rows" in body and chosen[0][:8] in body
        await pilot.press("y")
        modal = await run_to_the_end(pilot)
        assert modal.result is not None and sorted(modal.result.done) == sorted(chosen)
        await pilot.press("escape")
        await settle(pilot)
        assert not app.screen.query_one(InstancesTable).marked
    batch_id = modal.result.batch_id
    for instance_id in chosen:
        view = scenario.manager.get_status(instance_id)
        assert view.status == "CANCELLED"
        [item] = [h for h in view.history if h.kind == HistoryKind.BATCH_ITEM]
        assert item.details["batch_id"] == batch_id and item.actor == "operator"
    assert scenario.manager.get_status(scenario.ids["half_done"]).status == "ACTIVE"  # not marked: untouched


@run_async
async def test_batch_on_every_instance_the_filter_matches_lists_each_refusal(scenario: Scenario) -> None:
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.screen.apply_filters(None, "order_fulfilment")
        await settle(pilot)
        await pilot.press("b")
        await settle(pilot)
        modal = app.screen
        assert isinstance(modal, BatchModal) and modal.scope == "filter"
        assert "all 5 matching workflow=order_fulfilment" in str(
            modal.query_one("#scope-filter", RadioButton).label)
        await pick_action(pilot, "set")
        modal.query_one("#set-key", Input).value = "priority"
        modal.query_one("#set-value", Input).value = "high"
        await pilot.press("ctrl+s")
        assert await wait_until(pilot, lambda: isinstance(app.screen, ConfirmModal), 10)
        assert "5 instance(s): every instance matching workflow=order_fulfilment" in str(
            app.screen.query_one("#confirm-body", Static).render())
        await pilot.press("y")
        progress = await run_to_the_end(pilot)
        result = progress.result
        assert result is not None and len(result.done) == 3 and len(result.refused) == 2
        table = progress.query_one(RefusalsTable)
        assert table.display and table.row_count == 2
        reasons = [str(table.get_row_at(i)[1]) for i in range(2)]
        assert any("COMPLETED" in r for r in reasons) and any("CANCELLED" in r for r in reasons)
        await pilot.press("escape")
        await settle(pilot)
    for key in ("at_approval", "half_done", "incident"):
        assert scenario.manager.get_status(scenario.ids[key]).context["priority"] == "high"
    assert "priority" not in scenario.manager.get_status(scenario.ids["completed"]).context
    assert any("2 refused" in note for _, note in app.notes)


@run_async
async def test_batch_move_names_an_unknown_node_before_anything_runs(scenario: Scenario) -> None:
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await mark_rows(pilot, [scenario.ids["at_approval"]])
        await pilot.press("b")
        await settle(pilot)
        await pick_action(pilot, "move")
        app.screen.query_one("#move-from", Input).value = "approve"
        app.screen.query_one("#move-to", Input).value = "shipp"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "the workflow has no node 'shipp'; did you mean 'ship'?" in str(
            app.screen.query_one("#batch-error", Static).render())
        app.screen.query_one("#move-to", Input).value = "ship"
        await pilot.press("ctrl+s")
        assert await wait_until(pilot, lambda: isinstance(app.screen, ConfirmModal), 10)
        await pilot.press("y")
        await run_to_the_end(pilot)
    assert tokens_of(scenario, "at_approval") == ["ship"]


@run_async
async def test_batch_migrate_maps_the_removed_node_and_refuses_the_finished_instances(scenario: Scenario) -> None:
    scenario.manager.add_workflow(order_fulfilment_v2())
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.screen.apply_filters(None, "order_fulfilment", version=1)
        await settle(pilot)
        await pilot.press("b")
        await settle(pilot)
        await pick_action(pilot, "migrate")
        await pilot.press("ctrl+s")
        await settle(pilot)
        migrate = app.screen
        assert isinstance(migrate, MigrateModal)
        assert await wait_until(pilot, lambda: migrate.target is not None, 10)
        await settle(pilot)
        assert list(migrate._row_nodes.values()) == ["approve"]  # the one node version 2 lacks
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "choose a node in version 2 for 'approve'" in str(migrate.query_one("#migrate-error", Static).render())
        await choose(pilot, "map-0", "sign_off")
        await pilot.press("ctrl+s")
        assert await wait_until(pilot, lambda: isinstance(app.screen, ConfirmModal), 10)
        await pilot.press("y")
        progress = await run_to_the_end(pilot)
        assert progress.result is not None and len(progress.result.done) == 3
        assert len(progress.result.refused) == 2  # the completed and the cancelled one
    view = scenario.manager.get_status(scenario.ids["at_approval"])
    assert view.version == 2 and [t.node_id for t in view.tokens] == ["sign_off"]
    assert scenario.manager.get_status(scenario.ids["half_done"]).version == 2


@run_async
async def test_a_batch_stopped_half_way_resumes_without_doing_anything_twice(scenario: Scenario) -> None:
    manager = scenario.manager
    ids = [manager.start_workflow("expense_claim", {"amount": n}) for n in range(6)]
    gate, reached = threading.Event(), threading.Event()
    ops = None

    def act(instance_id: str):
        if instance_id == ids[2]:
            reached.set()
            gate.wait(10)  # the operator presses Esc while the third one is in hand
        return ops.cancel(instance_id, "batch test")

    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        ops = app.backend.ops
        modal = BatchProgressModal("Cancel: 6 instance(s)", ids, lambda chosen, batch_id, stop, progress: ops.batch(
            chosen, act, batch_id=batch_id, should_stop=stop, progress=progress))
        app.push_screen(modal)
        assert await wait_until(pilot, reached.is_set, 10)
        await pilot.press("escape")  # stop: after the instance in hand
        gate.set()
        assert await wait_until(pilot, lambda: not modal.running, 10)
        first = modal.result
        assert first is not None and first.stopped and len(first.done) == 3
        assert modal.query_one("#resume").display
        await pilot.press("R")
        assert await wait_until(pilot, lambda: not modal.running and modal.result is not first, 10)
        second = modal.result
        assert second.batch_id == first.batch_id and sorted(second.skipped) == sorted(first.done)
        assert sorted(second.done) == sorted(set(ids) - set(first.done)) and not second.stopped
    for instance_id in ids:
        items = [h for h in manager.get_status(instance_id).history if h.kind == HistoryKind.BATCH_ITEM]
        assert len(items) == 1 and items[0].details["batch_id"] == first.batch_id  # each done once
