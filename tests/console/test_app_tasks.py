"""The Tasks view (6): the person's tasks oldest first with who has each and how late; S switches the scope, c
claims or releases (the engine's refusals as they are), d marks done, Enter opens the instance with the task's
execution selected, / and :tasks filter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from app_pilot import SIZE, RecordingApp, run_async, settle, wait_until
from textual import events
from textual.widgets._footer import FooterKey

from console.formatting import ConsoleClock
from console.screens.instance_detail_screen import InstanceDetailScreen
from console.screens.mark_done_modal import MarkDoneModal
from console.screens.tasks_screen import TasksScreen
from console.widgets.executions_table import ExecutionsTable
from console.widgets.tasks_table import TasksTable
from engine import WorkflowManager
from engine.actions import READ_ONLY_REFUSAL
from store import open_store

START = {"id": "start", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "START"}
END = {"id": "end", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "END"}
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
REVIEW = {"workflow_id": "review", "nodes": [
    START, {"id": "fork", "type": "INTERNAL", "internal_type": "GATEWAY", "gateway_type": "PARALLEL_SPLIT"},
    {"id": "check", "type": "TASK", "task_id": "check"},
    {"id": "review", "type": "TASK", "task_id": "review_claim", "name": "Review the claim",
     "candidate_group": "claims", "deadline": "PT1H", "output_mapping": {"ok": "ok"}},
    {"id": "join", "type": "INTERNAL", "internal_type": "GATEWAY", "gateway_type": "PARALLEL_JOIN"}, END,
], "edges": [{"id": "e1", "source_id": "start", "target_id": "fork"},
             {"id": "e2", "source_id": "fork", "target_id": "check"},
             {"id": "e3", "source_id": "fork", "target_id": "review"},
             {"id": "e4", "source_id": "check", "target_id": "join"},
             {"id": "e5", "source_id": "review", "target_id": "join"},
             {"id": "e6", "source_id": "join", "target_id": "end"}]}


class Clock:
    def __init__(self) -> None:
        self.now = NOW - timedelta(hours=2)

    def __call__(self) -> datetime:
        return self.now


def world(tmp_path: Path) -> tuple[WorkflowManager, list[str]]:
    """Two review instances, started two hours ago and a minute apart (both reviews an hour or so late), each with
    a plain check task too; bob holds the second review."""
    clock = Clock()
    manager = WorkflowManager(open_store(tmp_path / "console.db"), clock=clock)
    manager.add_workflow(REVIEW)
    first = manager.start_workflow("review")
    clock.now += timedelta(minutes=1)
    second = manager.start_workflow("review")
    manager.claim_task(review_of(manager, second), actor="bob")
    return manager, [first, second]


def review_of(manager: WorkflowManager, instance_id: str) -> str:
    return next(e.id for e in manager.get_status(instance_id).executions if e.node_id == "review")


def make_app(tmp_path: Path, manager: WorkflowManager, **options) -> RecordingApp:
    return RecordingApp(db_path=str(tmp_path / "console.db"), manager=manager, clock=ConsoleClock.fixed(NOW),
                        actor="alice", poll_seconds=0, start_mode="overview", **options)


def rows(app: RecordingApp) -> list[str]:
    table = app.screen.query_one(TasksTable)
    return [" | ".join(str(cell) for cell in table.get_row_at(index)) for index in range(table.row_count)]


def select(app: RecordingApp, execution_id: str) -> None:
    table = app.screen.query_one(TasksTable)
    table.move_cursor(row=[task.execution.id for task in table._rows].index(execution_id), animate=False)


@run_async
async def test_6_lists_the_tasks_oldest_first_and_c_claims_one_from_the_list(tmp_path: Path) -> None:
    manager, (first, second) = world(tmp_path)
    app = make_app(tmp_path, manager)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("6")
        await settle(pilot)
        assert isinstance(app.screen, TasksScreen)
        listed = rows(app)
        assert len(listed) == 4  # each instance's check and review, oldest first
        assert app.runtime_status.counts.waiting == 4  # the header's "waiting for a person": the same tasks
        assert listed[0].startswith("check") and "Review the claim" in listed[1] and "late 1h00m" in listed[1]
        assert f"{first[:8]}:review" in listed[1] and "claims" in listed[1] and "bob" in listed[3]
        select(app, review_of(manager, first))
        await pilot.press("c")
        await settle(pilot)
        assert manager.get_status(first).executions[-1].assignee == "alice"
        assert "alice (you)" in rows(app)[1]
        await pilot.press("S")  # mine
        await settle(pilot)
        assert [task.execution.id for task in app.screen.query_one(TasksTable)._rows] == [review_of(manager, first)]
        await pilot.press("c")  # yours: c gives it back
        await settle(pilot)
        assert manager.get_status(first).executions[-1].assignee is None
        assert app.screen.query_one("#empty").display  # nothing is assigned to alice now
        await pilot.press("S")  # claimable: nobody holds it
        await settle(pilot)
        assert len(rows(app)) == 3 and not any("bob" in row for row in rows(app))
    manager.store.close()


@run_async
async def test_c_on_someone_elses_task_says_the_engines_words_and_changes_nothing(tmp_path: Path) -> None:
    manager, (first, second) = world(tmp_path)
    app = make_app(tmp_path, manager)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("6")
        await settle(pilot)
        select(app, review_of(manager, first))
        assert app.screen.check_action("claim", ()) is True and app.screen.check_action("mark_done", ()) is True
        select(app, review_of(manager, second))
        # bob's: the footer shows c and d dimmed (the engine refuses both), and each says why when pressed
        assert app.screen.check_action("claim", ()) is None and app.screen.check_action("mark_done", ()) is None
        await pilot.press("c")
        await settle(pilot)
        assert ("warning", f"execution review of instance {second[:8]} is claimed by bob: they release it, or take "
                "it over with force (recorded; on the command line: wfconsole claim --force)") in app.notes
        assert manager.get_status(second).executions[-1].assignee == "bob"
        await pilot.press("d")  # completing bob's task needs force too
        await settle(pilot)
        assert any("claimed by bob: completing it as alice needs force" in note for _, note in app.notes)
        assert not isinstance(app.screen, MarkDoneModal)
    manager.store.close()


@run_async
async def test_enter_opens_the_instance_with_the_tasks_execution_selected_and_d_the_form(tmp_path: Path) -> None:
    manager, (first, _) = world(tmp_path)
    app = make_app(tmp_path, manager)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("6")
        await settle(pilot)
        check = next(e.id for e in manager.get_status(first).executions if e.node_id == "check")
        select(app, check)  # the instance screen would pick the review (its first open execution) by itself
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, InstanceDetailScreen) and app.screen.instance_id == first
        assert app.screen.query_one(ExecutionsTable).selected_execution.id == check
        await pilot.press("escape")
        await settle(pilot)
        select(app, review_of(manager, first))
        await pilot.press("d")
        assert await wait_until(pilot, lambda: isinstance(app.screen, MarkDoneModal))
    manager.store.close()


@run_async
async def test_the_command_line_and_the_filter_line_narrow_the_tasks(tmp_path: Path) -> None:
    manager, (first, second) = world(tmp_path)
    app = make_app(tmp_path, manager)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await app.run_command("tasks scope=claimable group=claims")
        await settle(pilot)
        assert isinstance(app.screen, TasksScreen)
        assert [task.execution.id for task in app.screen.query_one(TasksTable)._rows] == [review_of(manager, first)]
        assert app.current_view().command() == "tasks scope=claimable group=claims"
        await pilot.press("slash", "end", *" overdue=yes")  # the line holds the : line's terms
        await settle(pilot)
        assert await wait_until(pilot, lambda: app.screen._terms.get("overdue") == "yes")
        assert [task.execution.id for task in app.screen.query_one(TasksTable)._rows] == [review_of(manager, first)]
        await pilot.press("escape")  # clears the / line, which holds the scope too: every open task again
        await settle(pilot)
        assert app.screen.scope == "all" and len(rows(app)) == 4
        await app.run_command("tasks bob")  # words: the tasks whose assignee, name, id... hold them
        await settle(pilot)
        assert [task.execution.id for task in app.screen.query_one(TasksTable)._rows] == [review_of(manager, second)]
        await app.run_command("tasks scope=theirs")
        await settle(pilot)
        assert any("scope='theirs' is not one of all, mine, claimable" in note for _, note in app.notes)
    manager.store.close()


@run_async
async def test_a_read_only_console_lists_the_tasks_and_refuses_to_claim(tmp_path: Path) -> None:
    manager, (first, _) = world(tmp_path)
    app = make_app(tmp_path, manager, readonly=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("6")
        await settle(pilot)
        select(app, review_of(manager, first))
        await pilot.press("c")
        await settle(pilot)
        assert ("warning", READ_ONLY_REFUSAL) in app.notes
        assert manager.get_status(first).executions[-1].assignee is None
    manager.store.close()


@run_async
async def test_j_k_g_and_shift_g_move_in_the_task_list(tmp_path: Path) -> None:
    manager, _ = world(tmp_path)
    app = make_app(tmp_path, manager)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("6")
        await settle(pilot)
        table = app.screen.query_one(TasksTable)
        await pilot.press("j", "j")
        assert table.cursor_row == 2
        await pilot.press("k")
        assert table.cursor_row == 1
        await pilot.press("G")
        assert table.cursor_row == table.row_count - 1 == 3
        await pilot.press("g")
        assert table.cursor_row == 0
    manager.store.close()


@run_async
async def test_at_80_columns_a_row_keeps_its_lateness_and_shows_the_group_where_nobody_holds_it(tmp_path: Path) -> None:
    manager, (first, _) = world(tmp_path)
    app = make_app(tmp_path, manager)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("6")
        await settle(pilot)
        review = rows(app)[1]
        assert review.split(" | ") == ["Review the claim", first[:8], "(claims)", "late 1h00m", "2h00m"]
        assert "bob" in rows(app)[3]
        table = app.screen.query_one(TasksTable)
        assert sum(column.get_render_width(table) for column in table.columns.values()) <= 80
    manager.store.close()


@run_async
async def test_the_line_over_the_list_says_when_only_the_oldest_are_listed(tmp_path: Path, monkeypatch) -> None:
    import console.screens.tasks_screen as tasks_screen

    monkeypatch.setattr(tasks_screen, "LIMIT", 2)
    manager, _ = world(tmp_path)
    app = make_app(tmp_path, manager)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("6")
        await settle(pilot)
        summary = str(app.screen.query_one("#tasks-summary").render())
        assert "2 of 4 open task(s), the oldest · 1 late" in summary and len(rows(app)) == 2
        await app.run_command("tasks claim")  # words filter the listed ones only: it says so
        await settle(pilot)
        assert "1 of the 2 oldest match" in str(app.screen.query_one("#tasks-summary").render())
    manager.store.close()


def press_back_to_back(app: RecordingApp, *keys: str) -> None:
    """Queue ``keys`` as a terminal sends them typed fast (one write): no pause for the app between them, so the
    table's RowHighlighted of a move is still queued when the next key's action runs."""
    for key in keys:
        app.post_message(events.Key(key, key if len(key) == 1 else None))


def footer_keys(app: RecordingApp) -> dict[str, tuple[str, bool]]:
    """The footer's keys: {key: (its words, dimmed)}."""
    return {key.key: (key.description, key.has_class("-disabled")) for key in app.screen.query(FooterKey)}


@run_async
async def test_a_key_typed_right_after_a_move_acts_on_the_row_moved_to(tmp_path: Path) -> None:
    manager, (first, second) = world(tmp_path)
    app = make_app(tmp_path, manager)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("6")
        await settle(pilot)
        table = app.screen.query_one(TasksTable)
        checks = [next(e.id for e in manager.get_status(i).executions if e.node_id == "check") for i in (first, second)]
        assert [task.execution.id for task in table._rows] == [checks[0], review_of(manager, first), checks[1],
                                                               review_of(manager, second)]
        await pilot.press("c")  # the first check: claimed, and the list reloads
        press_back_to_back(app, "j", "c")  # at once: the first review is claimed, not the check again
        await settle(pilot)
        assert [e.assignee for e in manager.get_status(first).executions if e.node_id in ("check", "review")] == [
            "alice", "alice"]
        assert table.cursor_row == 1
        press_back_to_back(app, "j", "c")  # the second check
        await settle(pilot)
        assert next(e for e in manager.get_status(second).executions if e.node_id == "check").assignee == "alice"
        press_back_to_back(app, "escape", "g", "j", "d")  # the first review's form
        assert await wait_until(pilot, lambda: isinstance(app.screen, MarkDoneModal))
        assert app.screen.execution.id == review_of(manager, first)
    manager.store.close()


@run_async
async def test_on_the_instance_screen_a_key_right_after_a_move_acts_on_the_execution_moved_to(tmp_path: Path) -> None:
    manager, (first, _) = world(tmp_path)
    app = make_app(tmp_path, manager)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await app.run_command(f"instance {first}")
        await settle(pilot)
        table = app.screen.query_one(ExecutionsTable)
        nodes = [execution.node_id for execution in table._executions]
        check, review = nodes.index("check"), nodes.index("review")
        table.move_cursor(row=check, animate=False)
        press_back_to_back(app, *(["j"] if review == check + 1 else ["k"]) * abs(review - check), "c")
        await settle(pilot)
        status = {e.node_id: e.assignee for e in manager.get_status(first).executions}
        assert status["review"] == "alice" and status["check"] is None
    manager.store.close()


@run_async
async def test_the_footer_says_what_c_does_claim_or_release_and_the_instance_screen_shows_it(tmp_path: Path) -> None:
    manager, (first, second) = world(tmp_path)
    app = make_app(tmp_path, manager)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("6")
        await settle(pilot)
        select(app, review_of(manager, first))
        await settle(pilot)
        assert footer_keys(app)["c"] == ("Claim", False)
        await pilot.press("c")
        await settle(pilot)
        assert footer_keys(app)["c"] == ("Release", False)  # yours: c gives it back
        select(app, review_of(manager, second))
        await settle(pilot)
        assert footer_keys(app)["c"] == ("Claim", True)  # bob's: dimmed
        select(app, review_of(manager, first))
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, InstanceDetailScreen)
        assert app.screen.query_one(ExecutionsTable).selected_execution.id == review_of(manager, first)
        assert footer_keys(app)["c"] == ("Release", False)
        await pilot.press("c")
        await settle(pilot)
        assert manager.get_status(first).executions[-1].assignee is None
        assert footer_keys(app)["c"] == ("Claim", False)
        check = next(e.id for e in manager.get_status(first).executions if e.node_id == "check")
        app.backend.ops.complete(check, {})
        await pilot.press("ctrl+r")
        await settle(pilot)
        app.screen.query_one(ExecutionsTable).select(check)
        await settle(pilot)
        assert "c" not in footer_keys(app)  # not a person's open task: no c
        await pilot.press("c")
        await settle(pilot)
        assert app.notes[-1][0] == "warning" and "person's open task" in app.notes[-1][1]
        await app.run_command(f"instance {second}")
        await settle(pilot)
        app.screen.query_one(ExecutionsTable).select(review_of(manager, second))
        await settle(pilot)
        assert footer_keys(app)["c"] == ("Claim", True)  # bob's
    manager.store.close()


@run_async
async def test_a_resize_across_120_columns_keeps_the_cursor_on_its_row(tmp_path: Path) -> None:
    """The narrow columns replace the wide ones (the rows go with them): the cursor went back to the first row,
    so the next c acted on another task than the one the operator had chosen."""
    manager, (first, _) = world(tmp_path)
    app = make_app(tmp_path, manager)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("6")
        await settle(pilot)
        select(app, review_of(manager, first))
        await pilot.resize_terminal(80, 24)
        await settle(pilot)
        assert app.screen.query_one(TasksTable).selected.execution.id == review_of(manager, first)
        await pilot.press("c")
        await settle(pilot)
        assert manager.get_status(first).executions[-1].assignee == "alice"
        await pilot.press("enter")
        await settle(pilot)
        table = app.screen.query_one(ExecutionsTable)
        check = next(e.id for e in manager.get_status(first).executions if e.node_id == "check")
        table.select(check)
        await pilot.resize_terminal(*SIZE)
        await settle(pilot)
        assert table.selected_execution.id == check
    manager.store.close()


@run_async
async def test_keys_typed_right_after_esc_clears_the_filter_act_on_the_rows_it_shows(tmp_path: Path) -> None:
    """Esc g j d at once: d opened the form of the second row of the filtered list, the one about to go."""
    manager, (first, second) = world(tmp_path)
    app = make_app(tmp_path, manager)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("6")
        await settle(pilot)
        app.screen.apply_view({}, "check")
        await settle(pilot)
        assert [task.execution.node_id for task in app.screen.query_one(TasksTable)._rows] == ["check", "check"]
        press_back_to_back(app, "escape", "g", "j", "d")  # the second row of every task: the first review
        assert await wait_until(pilot, lambda: isinstance(app.screen, MarkDoneModal))
        assert app.screen.execution.id == review_of(manager, first)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, TasksScreen) and isinstance(app.focused, TasksTable), app.focused
        press_back_to_back(app, "S", "c")  # mine, still being read: c does not act on the row about to go
        await settle(pilot)
        assert ("warning", "the list is being read for the new scope or filter: press it again once it shows") in (
            app.notes)
        assert all(e.assignee in (None, "bob") for i in (first, second) for e in manager.get_status(i).executions)
    manager.store.close()


@run_async
async def test_c_typed_right_after_moving_off_someone_elses_task_claims_the_row_moved_to(tmp_path: Path) -> None:
    """``k c`` at once from bob's task: c said bob's refusal (the row it left) and claimed nothing, because its
    check ran before k's binding had moved the cursor."""
    manager, (first, second) = world(tmp_path)
    app = make_app(tmp_path, manager)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("6")
        await settle(pilot)
        select(app, review_of(manager, second))  # bob's, the last row; the row above is the second check
        press_back_to_back(app, "k", "c")
        await settle(pilot)
        assert not any("claimed by bob" in note for _, note in app.notes)
        assert next(e for e in manager.get_status(second).executions if e.node_id == "check").assignee == "alice"
        press_back_to_back(app, "j", "c")  # and back on bob's: his refusal, said once c's turn comes
        await settle(pilot)
        assert any("claimed by bob" in note for _, note in app.notes)
        await app.run_command(f"instance {second}")
        await settle(pilot)
        table = app.screen.query_one(ExecutionsTable)
        nodes = [execution.node_id for execution in table._executions]
        check, review = nodes.index("check"), nodes.index("review")
        table.move_cursor(row=review, animate=False)
        app.notes.clear()
        # from bob's review to the check (alice's now): c releases it, rather than saying bob's refusal
        press_back_to_back(app, *(["k"] if check == review - 1 else ["j"]) * abs(review - check), "c")
        await settle(pilot)
        assert not any("claimed by bob" in note for _, note in app.notes)
        assert next(e for e in manager.get_status(second).executions if e.node_id == "check").assignee is None
    manager.store.close()
