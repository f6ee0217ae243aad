"""Pilots that drive the real console app and check the database afterwards."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from app_pilot import SIZE, RecordingApp, paste, run_async, settle, wait_until
from app_scenarios import NOW, Scenario, build_scenario
from rich.console import Console
from textual.containers import VerticalScroll
from textual.pilot import Pilot
from textual.widgets import Input, Static

from console.formatting import ConsoleClock
from console.messages import OpenInstance
from console.screens import instances_screen
from console.screens.execution_modal import ExecutionModal, execution_details
from console.screens.help_screen import HelpScreen
from console.screens.instance_detail_screen import InstanceDetailScreen
from console.screens.instances_screen import InstancesScreen
from console.screens.mark_done_modal import MarkDoneModal
from console.widgets.executions_table import ExecutionsTable
from console.widgets.instances_table import InstancesTable
from console.widgets.token_graph import TokenGraph
from engine import WorkflowManager
from engine.values import json_size
from store import open_store


@pytest.fixture
def scenario(tmp_path: Path) -> Iterator[Scenario]:
    built = build_scenario(str(tmp_path / "console.db"))
    yield built
    built.manager.store.close()


def make_app(scenario: Scenario, poll_seconds: float = 0, start_mode: str = "instances") -> RecordingApp:
    """The console on the scenario, opened on the instances view (these tests are about it)."""
    return RecordingApp(db_path=scenario.path, manager=scenario.manager, clock=ConsoleClock.fixed(NOW),
                        actor="operator", poll_seconds=poll_seconds, start_mode=start_mode)


async def open_detail(pilot: Pilot, instance_id: str) -> InstanceDetailScreen:
    await settle(pilot)
    pilot.app.post_message(OpenInstance(instance_id))
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, InstanceDetailScreen)
    return screen


async def select_execution(pilot: Pilot, node_id: str) -> None:
    """Put the executions table's cursor on the newest execution of ``node_id``."""
    table = pilot.app.screen.query_one(ExecutionsTable)
    rows = [index for index, execution in enumerate(table._executions) if execution.node_id == node_id]
    table.move_cursor(row=rows[-1])
    await pilot.pause()


def executions_of(manager: WorkflowManager, instance_id: str, node_id: str):
    return [e for e in manager.get_status(instance_id).executions if e.node_id == node_id]


@run_async
async def test_mark_done_sends_the_typed_outputs_as_the_operator(scenario: Scenario) -> None:
    instance_id = scenario.ids["at_approval"]
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        await open_detail(pilot, instance_id)
        await select_execution(pilot, "approve")
        await pilot.press("d")
        await settle(pilot)
        assert isinstance(app.screen, MarkDoneModal)
        await pilot.press(*"true", "tab", *"ok by me", "ctrl+s")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
    [approval] = executions_of(scenario.manager, instance_id, "approve")
    assert approval.status == "COMPLETED"
    assert approval.outputs == {"approved": True, "comment": "ok by me"}
    view = scenario.manager.get_status(instance_id)
    assert view.context["approved"] is True and view.context["review_comment"] == "ok by me"
    assert [t.node_id for t in view.tokens] == ["ship"]  # the split took the approved == true edge
    done = [h for h in view.history if h.kind == "EXECUTION_COMPLETED" and h.node_id == "approve"]
    assert done[-1].actor == "operator"
    assert ("information", f"approve of instance {instance_id[:8]} marked done by operator") in app.notes


@run_async
async def test_bad_json_in_the_form_sends_nothing(scenario: Scenario) -> None:
    instance_id = scenario.ids["at_approval"]
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        await open_detail(pilot, instance_id)
        await select_execution(pilot, "approve")
        await pilot.press("d")
        await settle(pilot)
        await paste(pilot, "{\"x\": ")
        await pilot.press("ctrl+s")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, MarkDoneModal)  # still open
        assert "bad JSON" in str(form.query_one("#field-0-error", Static).render())
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, InstanceDetailScreen)
    [approval] = executions_of(scenario.manager, instance_id, "approve")
    assert approval.status == "ACTIVE"


@run_async
async def test_no_at_the_confirmation_goes_back_to_the_filled_form(scenario: Scenario) -> None:
    instance_id = scenario.ids["at_approval"]
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        await open_detail(pilot, instance_id)
        await select_execution(pilot, "approve")
        await pilot.press("d")
        await settle(pilot)
        await pilot.press(*"false", "tab", *"not now", "ctrl+s")
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, MarkDoneModal)
        assert [form.query_one(f"#field-{i}", Input).value for i in (0, 1)] == ["false", "not now"]
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, InstanceDetailScreen)
    [approval] = executions_of(scenario.manager, instance_id, "approve")
    assert approval.status == "ACTIVE"


@run_async
async def test_fail_then_retry_an_execution(scenario: Scenario) -> None:
    instance_id = scenario.ids["half_done"]
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        await open_detail(pilot, instance_id)
        await select_execution(pilot, "pack")
        await pilot.press("f")
        await settle(pilot)
        await paste(pilot, "printer jammed")
        await pilot.press("enter")
        await settle(pilot)
        [failed] = executions_of(scenario.manager, instance_id, "pack")
        assert failed.status == "FAILED" and failed.error == "printer jammed"

        await select_execution(pilot, "pack")
        await pilot.press("r")
        await settle(pilot)
    old, new = executions_of(scenario.manager, instance_id, "pack")
    assert (old.status, new.status, new.attempt) == ("RETRIED", "ACTIVE", 2)
    view = scenario.manager.get_status(instance_id)
    actors = {h.kind: h.actor for h in view.history if h.kind in ("EXECUTION_FAILED", "EXECUTION_RETRIED")}
    assert actors == {"EXECUTION_FAILED": "operator", "EXECUTION_RETRIED": "operator"}
    assert not view.incidents


@run_async
async def test_cancel_an_instance_with_a_reason(scenario: Scenario) -> None:
    instance_id = scenario.ids["half_done"]
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        await open_detail(pilot, instance_id)
        await pilot.press("x")
        await settle(pilot)
        await pilot.press("enter")  # an empty reason is refused, the modal stays
        await settle(pilot)
        await paste(pilot, "customer withdrew")
        await pilot.press("enter")
        await settle(pilot)
    view = scenario.manager.get_status(instance_id)
    assert view.status == "CANCELLED" and not view.tokens
    [cancelled] = [h for h in view.history if h.kind == "INSTANCE_CANCELLED"]
    assert cancelled.actor == "operator" and cancelled.details["reason"] == "customer withdrew"


@run_async
async def test_edit_a_variable(scenario: Scenario) -> None:
    instance_id = scenario.ids["claim_failed"]
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        await open_detail(pilot, instance_id)
        await pilot.press("e")  # stopped at a split: the form of what it tests, "maybe" in its field
        await settle(pilot)
        await pilot.press("ctrl+u", *"approve", "enter")
        await settle(pilot)
        assert scenario.manager.get_status(instance_id).context["decision"] == "approve"
        await pilot.press("R")  # resume the instance at its exclusive split
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
    view = scenario.manager.get_status(instance_id)
    assert view.status == "ACTIVE" and [t.node_id for t in view.tokens] == ["pay"]


@run_async
async def test_a_refused_action_is_a_notification_not_a_crash(scenario: Scenario) -> None:
    instance_id = scenario.ids["at_approval"]
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        await open_detail(pilot, instance_id)
        await select_execution(pilot, "approve")
        # Someone else completes it while the operator types (the screen does not know yet).
        scenario.manager.task_done(scenario.open_execution("at_approval", "approve"), {"approved": False})
        await pilot.press("d")
        await settle(pilot)
        await pilot.press(*"true", "ctrl+s")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert app.is_running
        # Told by the completion's own transaction: it changed nothing (a warning, not a success).
        warnings = [message for severity, message in app.notes if severity == "warning"]
        assert warnings and "is already COMPLETED: nothing changed" in warnings[-1]
        assert not any("marked done" in message for _, message in app.notes)
        assert isinstance(app.screen, InstanceDetailScreen)


@run_async
async def test_status_filters_are_terms_of_the_filter_line(scenario: Scenario) -> None:
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one(InstancesTable)
        assert table.row_count == 7
        for status, expected in (("cancelled", 1), ("FAILED", 1), ("active", 4)):
            await pilot.press("slash", "ctrl+u", *f"status={status}")
            assert await wait_until(pilot, lambda wanted=expected: table.row_count == wanted), status  # as you type
        await pilot.press("enter", "escape")  # to the table, then every filter cleared
        await settle(pilot)
        assert table.row_count == 7


@run_async
async def test_search_matches_a_node_and_a_variable_value(scenario: Scenario) -> None:
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one(InstancesTable)
        await pilot.press("slash", *"Liskov")
        assert await wait_until(pilot, lambda: [row.id for row in table._rows] == [scenario.ids["at_approval"]])
        await pilot.press("ctrl+u", *"review")
        assert await wait_until(pilot, lambda: {row.id for row in table._rows} == {scenario.ids["claim_waiting"]})
        await pilot.press("enter")  # one match: it opens
        await settle(pilot)
        assert isinstance(app.screen, InstanceDetailScreen)
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("escape")  # clears every filter
        await settle(pilot)
        assert table.row_count == 7


@run_async
async def test_pages_through_the_listing(scenario: Scenario, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(instances_screen, "PAGE_SIZE", 3)
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, InstancesScreen)
        seen: list[str] = []
        for _ in range(3):
            seen += [row.id for row in screen.query_one(InstancesTable)._rows]
            await pilot.press("n")
            await settle(pilot)
        assert len(seen) == 7 and len(set(seen)) == 7  # 3 + 3 + 1, nothing twice
        assert screen.page_index == 2  # "n" on the last page stays there
        await pilot.press("p")
        await settle(pilot)
        assert screen.page_index == 1


@run_async
async def test_enter_opens_the_instance_and_escape_comes_back(scenario: Scenario) -> None:
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, InstanceDetailScreen)
        assert app.screen.instance_id == scenario.ids["half_done"]  # the newest
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, InstancesScreen)


@run_async
async def test_question_mark_lists_the_keys(scenario: Scenario) -> None:
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        titles = [title for title, _ in app.screen.sections]
        assert titles[0] == "Instances screen" and "Instance screen" in titles


@run_async
async def test_command_palette_runs_a_screen_action(scenario: Scenario) -> None:
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await settle(pilot)
        await paste(pilot, "Instances: Sort")
        await asyncio.sleep(0.3)  # the palette searches in the background
        await pilot.press("enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, InstancesScreen) and screen.order == "started"


@run_async
async def test_changes_by_another_process_show_up(scenario: Scenario) -> None:
    app = make_app(scenario, poll_seconds=0.05)
    other = WorkflowManager(open_store(scenario.path))  # another connection, as another process would be
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            table = app.screen.query_one(InstancesTable)
            assert table.row_count == 7
            started = other.start_workflow("expense_claim", {"amount": 5})
            for _ in range(100):
                await asyncio.sleep(0.02)
                await settle(pilot)
                if table.row_count == 8:
                    break
            assert table._rows[0].id == started or started in {row.id for row in table._rows}
    finally:
        other.store.close()


@run_async
async def test_changes_still_show_up_after_reloads_in_one_tick(scenario: Scenario) -> None:
    """Two reloads at once (keys typed fast: f then a): the first load is cancelled before its thread runs;
    the screen must still follow the database afterwards."""
    app = make_app(scenario, poll_seconds=0.05)
    other = WorkflowManager(open_store(scenario.path))
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            screen = app.screen
            screen.reload()
            screen.reload()
            await settle(pilot)
            table = screen.query_one(InstancesTable)
            assert table.row_count == 7
            other.start_workflow("expense_claim", {"amount": 5})
            assert await wait_until(pilot, lambda: table.row_count == 8, timeout=10)
    finally:
        other.store.close()


@run_async
async def test_enter_on_an_execution_shows_all_of_it(scenario: Scenario) -> None:
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        await open_detail(pilot, scenario.ids["incident"])
        await select_execution(pilot, "pack")
        pilot.app.screen.query_one(ExecutionsTable).focus()
        [pack] = executions_of(scenario.manager, scenario.ids["incident"], "pack")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ExecutionModal) and app.screen.execution.id == pack.id
        console = Console(width=106, file=io.StringIO(), color_system=None)
        console.print(execution_details(pack, "Pack the parcel", ConsoleClock.fixed(NOW)))
        text = " ".join(console.file.getvalue().split())
        assert pack.error in text and "task pack" in text and "attempt 1" in text
        assert "".join(console.file.getvalue().split()).count(pack.id) == 1  # whole, folded if need be
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, InstanceDetailScreen)


@run_async
async def test_the_footer_offers_only_what_applies(scenario: Scenario) -> None:
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_detail(pilot, scenario.ids["incident"])
        await select_execution(pilot, "pack")  # FAILED: retry or mark done, not fail
        assert [screen.check_action(a, ()) for a in ("mark_done", "fail", "retry", "retry_instance")] == [
            True, None, True, False]
        await pilot.press("escape")
        screen = await open_detail(pilot, scenario.ids["completed"])
        assert screen.check_action("cancel_instance", ()) is None
        assert screen.check_action("mark_done", ()) is None


@run_async
async def test_a_key_that_does_not_apply_says_why(scenario: Scenario) -> None:
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        await open_detail(pilot, scenario.ids["incident"])
        await select_execution(pilot, "pack")  # FAILED
        await pilot.press("f")
        await settle(pilot)
        assert app.notes[-1] == ("warning", f"execution pack of instance {scenario.ids['incident'][:8]} is FAILED: "
                                            "only an ACTIVE or STUCK execution can be failed")
        await pilot.press("R")  # the instance is ACTIVE
        assert "only an instance that stopped FAILED at an exclusive split can be resumed" in app.notes[-1][1]
        await pilot.press("escape")
        await open_detail(pilot, scenario.ids["completed"])
        await pilot.press("x")
        assert app.notes[-1] == ("warning", f"instance {scenario.ids['completed'][:8]} is COMPLETED: only an ACTIVE "
                                            "or FAILED instance can be cancelled")


@run_async
async def test_the_graph_can_be_hidden_and_shows_in_a_small_terminal(scenario: Scenario) -> None:
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_detail(pilot, scenario.ids["incident"])
        graph = screen.query_one(TokenGraph)
        assert graph.display
        await pilot.press("t")
        assert not graph.display and screen.query_one(ExecutionsTable).size.height > 20
    app = make_app(scenario)
    async with app.run_test(size=(80, 24)) as pilot:
        # 80x24: the graph shows (without its legend), the failed node selected, and the executions keep rows.
        screen = await open_detail(pilot, scenario.ids["incident"])
        graph = screen.query_one(TokenGraph)
        assert graph.display and not graph.query_one("#graph-legend").display
        assert graph.selected == "pack" and "pack" in str(graph.query_one("#graph-selection").render())
        assert screen.query_one(ExecutionsTable).size.height >= 4
        await pilot.press("t")
        assert not graph.display


@run_async
async def test_the_palette_lists_keys_and_quit_once(scenario: Scenario) -> None:
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        titles = [command.title for command in app.get_system_commands(app.screen)]
        assert "Keys" not in titles and "Quit" not in titles and "Theme" in titles  # the console's own remain


TOO_LARGE = "x" * (1024 * 1024)  # with its key and quotes past the limit of outputs and variables (1 MiB of JSON)


@run_async
async def test_outputs_over_the_size_limit_are_refused_in_the_form_with_their_size(scenario: Scenario) -> None:
    instance_id = scenario.ids["at_approval"]
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        await open_detail(pilot, instance_id)
        await select_execution(pilot, "approve")
        await pilot.press("d")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, MarkDoneModal)
        assert list(form.output_mapping)[1] == "comment"
        form.query_one("#field-1", Input).value = TOO_LARGE
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is form  # still open, nothing sent
        shown = str(form.query_one("#raw-error", Static).render())
        size = json_size({"comment": TOO_LARGE})  # the second field: the task's output "comment"
        assert f"outputs: {size:,} bytes of JSON; the limit is 1,048,576" in shown
    [approval] = executions_of(scenario.manager, instance_id, "approve")
    assert approval.status == "ACTIVE"


@run_async
async def test_a_variable_over_the_size_limit_is_refused_in_the_form_with_its_size(scenario: Scenario) -> None:
    instance_id = scenario.ids["claim_waiting"]  # not stopped at a split: e opens the one-key form
    before = scenario.manager.get_status(instance_id)
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        await open_detail(pilot, instance_id)
        await pilot.press("e")
        await settle(pilot)
        form = app.screen
        form.query_one("#key", Input).value = "decision"
        form.query_one("#value", Input).value = TOO_LARGE
        form.query_one("#value", Input).focus()
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is form
        shown = str(form.query_one("#value-error", Static).render())
        assert f"variables: {json_size({'decision': TOO_LARGE}):,} bytes of JSON; the limit is 1,048,576" in shown
    assert scenario.manager.get_status(instance_id).context == before.context


@run_async
async def test_at_80x24_the_help_fits_the_terminal_and_scrolls(scenario: Scenario) -> None:
    app = make_app(scenario)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        box = app.screen.query_one(VerticalScroll)
        assert box.region.x >= 0 and box.region.right <= 80 and box.region.bottom <= 24  # its border in view
        assert box.max_scroll_y > 0  # more keys than rows: it scrolls
        await pilot.press("pagedown")
        assert box.scroll_target_y > 0
