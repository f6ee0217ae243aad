"""Pilots of the operations views (issue 6): overview, incidents, blueprints, history search, the runtime.

Each drives the real app on the scenario database of ``app_scenarios`` and checks the database afterwards.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from app_pilot import SIZE, RecordingApp, paste, run_async, settle, wait_until
from app_scenarios import NOW, Scenario, build_scenario, expense_claim
from rich.console import Console
from textual.widgets import Input, Static, TextArea

from console.formatting import ConsoleClock
from console.screens.blueprints_screen import BlueprintsScreen
from console.screens.confirm_modal import ConfirmModal
from console.screens.history_search_screen import HistorySearchScreen
from console.screens.incidents_screen import IncidentsScreen
from console.screens.instance_detail_screen import InstanceDetailScreen
from console.screens.instances_screen import InstancesScreen
from console.screens.load_blueprint_modal import LoadBlueprintModal
from console.screens.overview_screen import OverviewScreen
from console.screens.reason_modal import ReasonModal
from console.screens.start_instance_modal import StartInstanceModal
from console.widgets.blueprints_table import BlueprintsTable
from console.widgets.counts_bar import CountsBar
from console.widgets.history_results_table import HistoryResultsTable
from console.widgets.incidents_table import IncidentsTable
from console.widgets.nav_bar import NavBar
from console.widgets.open_tasks_table import OpenTasksTable
from console.widgets.runtime_bar import RuntimeBar
from engine import WorkflowManager
from engine.reports import ExecutionCounts
from engine.validate import validate
from engine.values import json_size
from engine.workers import WorkerRegistry
from store import open_store

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def scenario(tmp_path: Path) -> Iterator[Scenario]:
    built = build_scenario(str(tmp_path / "console.db"))
    yield built
    built.manager.store.close()


def make_app(scenario: Scenario, start_mode: str = "overview", **options) -> RecordingApp:
    options.setdefault("clock", ConsoleClock.fixed(NOW))
    options.setdefault("poll_seconds", 0)
    return RecordingApp(db_path=scenario.path, manager=scenario.manager, actor="operator", start_mode=start_mode,
                        **options)


def plain(renderable: object, width: int = 140) -> str:
    """What a Rich renderable reads as, without styles."""
    console = Console(width=width, file=io.StringIO(), color_system=None)
    console.print(renderable)
    return console.file.getvalue()


def instance_ids(manager: WorkflowManager) -> set[str]:
    with manager.store.read() as cursor:
        return {row[0] for row in cursor.execute("SELECT id FROM instances")}


# -- overview and navigation --------------------------------------------------------------------------


@run_async
async def test_the_overview_comes_first_and_the_instances_are_one_key_away(scenario: Scenario) -> None:
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, OverviewScreen)
        await pilot.press("2")
        await settle(pilot)
        assert isinstance(app.screen, InstancesScreen)
        await pilot.press("1")
        await settle(pilot)
        assert isinstance(app.screen, OverviewScreen)
        # Enter on a count lists those instances: order_fulfilment's ACTIVE ones (the cell right of its name).
        await pilot.press("down", "right", "enter")
        await settle(pilot)
        listing = app.screen
        assert isinstance(listing, InstancesScreen)
        assert (listing.workflow_id, listing.status) == ("order_fulfilment", "ACTIVE")
        assert listing.page is not None and listing.page.total == 3


@run_async
async def test_enter_on_an_open_task_lists_the_instances_waiting_for_it(scenario: Scenario) -> None:
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        tasks = app.screen.query_one(OpenTasksTable)
        row = [key.value for key in tasks.rows].index("pack")
        tasks.focus()
        tasks.move_cursor(row=row)
        await pilot.press("enter")
        await settle(pilot)
        listing = app.screen
        assert isinstance(listing, InstancesScreen) and listing.task_id == "pack"
        expected = {e.instance_id for e in scenario.manager.store.list_executions(["ACTIVE", "FAILED", "STUCK"])
                    if e.task_id == "pack"}
        assert len(expected) == 2  # the failed pack and the one waiting
        assert listing.page is not None and {row.id for row in listing.page.rows} == expected
        assert "open task pack" in str(listing.query_one(CountsBar).render())
        await pilot.press("escape")  # clears every filter, the task too
        await settle(pilot)
        assert listing.task_id is None and listing.page.total == len(instance_ids(scenario.manager))


@run_async
async def test_enter_on_a_blueprint_version_lists_the_instances_of_that_version(scenario: Scenario) -> None:
    scenario.manager.add_workflow({**expense_claim(), "version": 3, "name": "Expense claim, v3"})
    newer = scenario.manager.start_workflow("expense_claim", {"amount": 5})
    app = make_app(scenario, "blueprints")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one(BlueprintsTable)
        rows = [(row.workflow_id, row.version) for row in table._rows]
        table.move_cursor(row=rows.index(("expense_claim", 2)))
        await pilot.press("enter")
        await settle(pilot)
        listing = app.screen
        assert isinstance(listing, InstancesScreen) and (listing.workflow_id, listing.version) == ("expense_claim", 2)
        assert listing.page is not None and listing.page.total == 2 and newer not in {r.id for r in listing.page.rows}
        assert "expense_claim v2" in str(listing.query_one(CountsBar).render())


@run_async
async def test_each_view_keeps_its_own_screens(scenario: Scenario) -> None:
    app = make_app(scenario, "incidents")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("enter")  # the oldest incident's instance, opened in the incidents view
        await settle(pilot)
        assert isinstance(app.screen, InstanceDetailScreen)
        await pilot.press("4")
        await settle(pilot)
        assert isinstance(app.screen, BlueprintsScreen)
        await pilot.press("3")  # back to the incidents view, where the instance is still open
        await settle(pilot)
        assert isinstance(app.screen, InstanceDetailScreen)
        await pilot.press("3")  # its key again: back to the list
        await settle(pilot)
        assert isinstance(app.screen, IncidentsScreen)


# -- incidents ------------------------------------------------------------------------------------------


def add_incidents(scenario: Scenario) -> None:
    """Two more failed executions, so that the incidents are: split, pack, pack, approve (oldest first)."""
    scenario.manager.fail_task(scenario.open_execution("half_done", "pack"), "printer jammed", actor="dave")
    scenario.manager.fail_task(scenario.open_execution("at_approval", "approve"), "approver away", actor="dave")


@run_async
async def test_bulk_retry_of_marked_incidents_reports_refusals_in_one_notification(scenario: Scenario) -> None:
    add_incidents(scenario)
    app = make_app(scenario, "incidents")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one(IncidentsTable)
        assert [i.kind for i in table._incidents] == ["NO_MATCH", "FAILED", "FAILED", "FAILED"]
        await pilot.press("space", "space", "space", "space")  # mark all four, one after the other
        await settle(pilot)
        assert len(table.marked) == 4
        await pilot.press("r")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("y")
        await settle(pilot)
        assert not table.marked  # a done bulk action unmarks the rows
        assert [i.kind for i in table._incidents] == ["NO_MATCH"]  # still no match at the split
    for key, node in (("incident", "pack"), ("half_done", "pack"), ("at_approval", "approve")):
        executions = [e for e in scenario.manager.get_status(scenario.ids[key]).executions if e.node_id == node]
        assert [(e.status, e.attempt) for e in executions] == [("RETRIED", 1), ("ACTIVE", 2)], key
        retried = [h for h in scenario.manager.get_status(scenario.ids[key]).history if h.kind == "EXECUTION_RETRIED"]
        assert retried[-1].actor == "operator"
    assert scenario.manager.get_status(scenario.ids["claim_failed"]).status == "FAILED"
    [summary] = [note for note in app.titled_notes if note[1].startswith("Retried")]
    severity, title, message = summary
    assert (severity, title) == ("warning", "Retried: 3 of 4 done, 1 refused")
    assert message.count("\n") == 0 and message.startswith(f"• {scenario.ids['claim_failed'][:8]} route:")
    assert "no condition matched" in message


@run_async
async def test_bulk_cancel_asks_one_reason_for_every_instance(scenario: Scenario) -> None:
    add_incidents(scenario)
    app = make_app(scenario, "incidents")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("down", "space", "space")  # the two failed packs
        await pilot.press("x")
        await settle(pilot)
        await paste(pilot, "duplicate orders")
        await pilot.press("enter")
        await settle(pilot)
    for key in ("incident", "half_done"):
        view = scenario.manager.get_status(scenario.ids[key])
        [cancelled] = [h for h in view.history if h.kind == "INSTANCE_CANCELLED"]
        assert view.status == "CANCELLED" and cancelled.details["reason"] == "duplicate orders"
        assert cancelled.actor == "operator"
    assert scenario.manager.get_status(scenario.ids["at_approval"]).status == "ACTIVE"
    assert ("information", "cancelled 2 instances") in app.notes


@run_async
async def test_a_stuck_execution_can_be_failed_with_a_reason(scenario: Scenario) -> None:
    scenario.manager.mark_stuck(scenario.open_execution("claim_waiting", "review"), "lease lapsed", actor="check")
    app = make_app(scenario, "incidents")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one(IncidentsTable)
        table.move_cursor(row=[i.kind for i in table._incidents].index("STUCK"))
        await pilot.press("f")
        await settle(pilot)
        await paste(pilot, "reviewer left")
        await pilot.press("enter")
        await settle(pilot)
    [review] = [e for e in scenario.manager.get_status(scenario.ids["claim_waiting"]).executions]
    assert (review.status, review.error) == ("FAILED", "reviewer left")


@run_async
async def test_failing_every_marked_row_fails_the_stuck_ones_and_says_the_rest_are_left(scenario: Scenario) -> None:
    scenario.manager.mark_stuck(scenario.open_execution("claim_waiting", "review"), "lease lapsed", actor="check")
    app = make_app(scenario, "incidents")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("a", "f")  # every row marked: one stuck execution among failures and a split
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, ReasonModal) and dialog.title_text.startswith("Fail ")
        assert "not stuck executions and are left as they are" in dialog.explanation
        await paste(pilot, "reviewer left")
        await pilot.press("enter")
        await settle(pilot)
        assert app.notes[-1][0] == "information" and "review" in app.notes[-1][1]  # no refusal to report
    [review] = scenario.manager.get_status(scenario.ids["claim_waiting"]).executions
    assert (review.status, review.error) == ("FAILED", "reviewer left")


@run_async
async def test_failing_a_row_that_is_no_stuck_execution_is_refused_before_asking_a_reason(scenario: Scenario) -> None:
    app = make_app(scenario, "incidents")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one(IncidentsTable)
        assert table.current is not None and table.current.kind == "NO_MATCH"
        await pilot.press("f")
        await settle(pilot)
        assert isinstance(app.screen, IncidentsScreen)  # no reason asked
        assert app.notes[-1] == ("warning", "only a stuck execution can be failed; this one is an instance stopped "
                                            "at a split with no match")


@run_async
async def test_a_dialog_never_opens_over_the_view_the_operator_switched_to(scenario: Scenario) -> None:
    app = make_app(scenario, "incidents")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        incidents = app.screen
        await pilot.press("down")  # the failed pack
        await settle(pilot)
        incidents.action_mark_done()  # its form opens after a load: the operator switches tabs meanwhile
        await app.switch_mode("history")
        await settle(pilot)
        assert isinstance(app.screen, HistorySearchScreen)
        assert app.notes[-1] == ("warning", "The view changed before the dialog opened; nothing was done.")
    [pack] = [e for e in scenario.manager.get_status(scenario.ids["incident"]).executions if e.node_id == "pack"]
    assert pack.status == "FAILED"


@run_async
async def test_mark_a_failed_execution_done_from_the_incidents(scenario: Scenario) -> None:
    app = make_app(scenario, "incidents")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one(IncidentsTable)
        assert table.current is not None and table.current.kind == "NO_MATCH"
        await pilot.press("d")  # the split is not an execution: explained, nothing opens
        await settle(pilot)
        assert isinstance(app.screen, IncidentsScreen)
        assert "only an execution can be marked done" in app.notes[-1][1]
        await pilot.press("down", "d")  # the failed pack: its output mapping makes the form's fields
        await settle(pilot)
        await pilot.press(*"P-77", "ctrl+s")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert [i.kind for i in table._incidents] == ["NO_MATCH"]
    [pack] = [e for e in scenario.manager.get_status(scenario.ids["incident"]).executions if e.node_id == "pack"]
    assert (pack.status, pack.outputs) == ("COMPLETED", {"parcel_id": "P-77"})
    assert scenario.manager.get_status(scenario.ids["incident"]).context["parcel_id"] == "P-77"


@run_async
async def test_incidents_follow_changes_made_by_another_process(scenario: Scenario) -> None:
    other = WorkflowManager(open_store(scenario.path))  # another connection, as a worker process would be
    app = make_app(scenario, "incidents", poll_seconds=0.05)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            table = app.screen.query_one(IncidentsTable)
            assert len(table._incidents) == 2
            other.fail_task(scenario.open_execution("at_approval", "approve"), "approver away", actor="elsewhere")
            assert await wait_until(pilot, lambda: len(table._incidents) == 3, timeout=30)
            assert table._incidents[-1].reason == "approver away"
            assert await wait_until(pilot, lambda: "Incidents (3)" in str(app.screen.query_one(NavBar).render()))
    finally:
        other.store.close()


# -- blueprints -----------------------------------------------------------------------------------------


async def open_start_form(pilot) -> StartInstanceModal:
    await settle(pilot)
    await pilot.press("s")  # the cursor is on expense_claim, the first workflow
    await settle(pilot)
    form = pilot.app.screen
    assert isinstance(form, StartInstanceModal) and form.workflow_id == "expense_claim"
    return form


@run_async
async def test_start_an_instance_with_a_json_context(scenario: Scenario) -> None:
    before = instance_ids(scenario.manager)
    app = make_app(scenario, "blueprints")
    async with app.run_test(size=SIZE) as pilot:
        form = await open_start_form(pilot)
        hints = " ".join(str(hint.render()) for hint in form.query(".hint").results(Static))
        assert "reads that no task writes: amount" in hints
        await paste(pilot, '"amount": 42.5, "employee": "Ada"')
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, InstanceDetailScreen)  # the new instance is shown
        [started] = instance_ids(scenario.manager) - before
        assert app.screen.instance_id == started
    view = scenario.manager.get_status(started)
    assert view.workflow_id == "expense_claim" and view.context == {"amount": 42.5, "employee": "Ada"}
    assert [t.node_id for t in view.tokens] == ["review"]
    assert view.history[0].actor == "operator"


@run_async
async def test_bad_json_is_shown_under_the_editor_and_nothing_is_started(scenario: Scenario) -> None:
    before = instance_ids(scenario.manager)
    app = make_app(scenario, "blueprints")
    async with app.run_test(size=SIZE) as pilot:
        form = await open_start_form(pilot)
        await paste(pilot, '"amount": ')
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is form
        assert "bad JSON: Expecting value at line 1, column 12" in str(form.query_one("#start-error", Static).render())
        await pilot.press("f7", *"[1, 2]", "ctrl+s")  # f7 selects all: valid JSON, but not an object
        await settle(pilot)
        assert app.screen is form
        assert "must be a JSON object" in str(form.query_one("#start-error", Static).render())
        assert form.query_one(TextArea).text == "[1, 2]"
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, BlueprintsScreen)
    assert instance_ids(scenario.manager) == before


@run_async
async def test_an_initial_context_over_the_size_limit_is_shown_under_the_editor(scenario: Scenario) -> None:
    before = instance_ids(scenario.manager)
    app = make_app(scenario, "blueprints")
    async with app.run_test(size=SIZE) as pilot:
        form = await open_start_form(pilot)
        context = {"employee": "x" * (1024 * 1024)}
        form.query_one(TextArea).text = json.dumps(context)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is form
        shown = str(form.query_one("#start-error", Static).render())
        assert f"initial context: {json_size(context):,} bytes of JSON; the limit is 1,048,576" in shown
    assert instance_ids(scenario.manager) == before


REFUSED = {
    "workflow_id": "broken", "version": 1,
    "nodes": [{"id": "start", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "START"},
              {"id": "check", "type": "TASK", "task_id": "check"},
              {"id": "check", "type": "TASK", "task_id": "again"},
              {"id": "route", "type": "INTERNAL", "internal_type": "GATEWAY", "gateway_type": "EXCLUSIVE_SPLIT"},
              {"id": "end", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "END"}],
    "edges": [{"id": "e1", "source_id": "start", "target_id": "check"},
              {"id": "e2", "source_id": "check", "target_id": "route"},
              {"id": "e3", "source_id": "route", "target_id": "end", "condition": "amount >"},
              {"id": "e4", "source_id": "route", "target_id": "nowhere"}],
}


@run_async
async def test_a_refused_blueprint_file_lists_every_problem_and_stores_nothing(scenario: Scenario,
                                                                             tmp_path: Path) -> None:
    refused = tmp_path / "broken.json"
    refused.write_text(json.dumps(REFUSED))
    app = make_app(scenario, "blueprints")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("L")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, LoadBlueprintModal)
        await paste(pilot, str(refused))
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is form  # stays open, to try again
        outcome = str(form.query_one("#load-outcome", Static).render())
        assert "Refused" in outcome and "Nothing was stored" in outcome
        form._load(str(tmp_path / "*.json"))  # a pattern: the command line loads several, not this form
        await settle(pilot)
        assert "one file at a time here; `wfconsole load" in str(form.query_one("#load-outcome", Static).render())
        report = plain(form.query_one("#load-problems", Static).content)
        problems = validate(json.dumps(REFUSED))
        assert len([p for p in problems if p.severity == "error"]) >= 3
        for problem in problems:  # every one, with the node or edge it is about
            assert problem.where in report and problem.message[:40] in report.replace("\n", " "), problem
        assert report.count("✗ error") == len([p for p in problems if p.severity == "error"])
        # The operator fixes the path to a good file: it is stored and the form closes.
        good = tmp_path / "good.json"
        nodes = [REFUSED["nodes"][0], REFUSED["nodes"][-1]]
        good.write_text(json.dumps({**REFUSED, "workflow_id": "fixed", "nodes": nodes,
                                    "edges": [{"id": "e1", "source_id": "start", "target_id": "end"}]}))
        input_box = form.query_one(Input)
        input_box.value = ""
        await paste(pilot, str(good))
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, BlueprintsScreen)
        assert ("information", "fixed v1 stored") in app.notes
    assert scenario.manager.store.get_blueprint("broken") is None
    assert scenario.manager.store.get_blueprint("fixed") is not None


# -- history search -----------------------------------------------------------------------------------


@run_async
async def test_history_search_across_instances_and_within_one(scenario: Scenario) -> None:
    app = make_app(scenario, "history")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, HistorySearchScreen)
        table = screen.query_one(HistoryResultsTable)
        assert table.row_count > 10  # the newest events of every instance
        assert screen.check_action("back", ()) is None  # the top of the History tab: Esc leads nowhere
        await pilot.press("slash", "tab", "tab", *"approve", "tab", *"alice", "enter")  # node and actor
        await settle(pilot)
        assert [(h.entry.node_id, h.entry.actor) for h in table._hits] == [("approve", "alice")] * len(table._hits)
        assert {h.entry.instance_id for h in table._hits} == {scenario.ids["completed"]}
        await pilot.press("enter")  # the results have the focus: the event's instance opens
        await settle(pilot)
        assert isinstance(app.screen, InstanceDetailScreen)
        assert app.screen.instance_id == scenario.ids["completed"]
        await pilot.press("H")  # this instance's history
        await settle(pilot)
        within = app.screen
        assert isinstance(within, HistorySearchScreen)
        hits = within.query_one(HistoryResultsTable)._hits
        assert hits and {h.entry.instance_id for h in hits} == {scenario.ids["completed"]}
        await pilot.press("slash", "tab", "tab", "tab", "tab", *"yesterday", "enter")
        await settle(pilot)
        assert "is not a time" in str(within.query_one("#history-status", Static).render())
        assert within.query_one(HistoryResultsTable).row_count == 0  # no rows of the previous filters under it
        await pilot.press("escape", "escape")  # to the results, then back to the instance
        await settle(pilot)
        assert isinstance(app.screen, InstanceDetailScreen)


# -- the worker runtime and the header ---------------------------------------------------------------

WORKERS = '''
from engine.workers import worker


@worker("check_stock")
def check_stock(inputs):
    return {"in_stock": True}


@worker("pack")
def pack(inputs):
    return {"parcel_id": "P-auto"}


@worker("invoice")
def invoice(inputs):
    return {"invoice_no": "INV-auto"}
'''


def header_text(app: RecordingApp) -> str:
    bar = app.screen.query_one(RuntimeBar)
    return str(bar.render())


@run_async
async def test_the_header_counts_follow_a_worker_process(scenario: Scenario, tmp_path: Path) -> None:
    module = tmp_path / "order_workers.py"
    module.write_text(WORKERS)
    other = WorkflowManager(open_store(scenario.path))  # a second connection, as the CLI would have
    app = make_app(scenario, clock=ConsoleClock(), poll_seconds=0.05)  # real time: leases are real
    process = None
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            # pack of half_done, approve, review of the claim, invoice of the incident; pack failed, split failed.
            assert await wait_until(pilot, lambda: app.runtime_status.counts == ExecutionCounts(waiting=4, failed=2))
            assert "4 waiting for a person  │  incidents  2 failed" in header_text(app)
            process = subprocess.Popen(
                [sys.executable, "-m", "console.cli", "workers", "--module", str(module), "--db", scenario.path,
                 "--poll", "0.1"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2):
                other.start_workflow("order_fulfilment", {"sku": "SKU-9"})
            # The worker takes check_stock, pack and invoice; every order then waits at the manual approval:
            # at_approval, half_done and the two new ones, with the claim's review: five for a person.
            expected = ExecutionCounts(waiting=5, failed=2)
            assert await wait_until(pilot, lambda: app.runtime_status.counts == expected, timeout=90), \
                app.runtime_status
            assert await wait_until(pilot, lambda: "5 waiting for a person  │  incidents  2 failed" in header_text(app))
            assert isinstance(app.screen, OverviewScreen)
    finally:
        if process is not None:
            process.terminate()
            stdout, stderr = process.communicate(timeout=60)
            assert "Traceback" not in stderr, stderr
        other.store.close()
    waiting = [e for e in scenario.manager.store.list_executions(["ACTIVE"]) if e.task_id in ("pack", "invoice")]
    assert waiting == []


@run_async
async def test_workers_run_in_the_console_and_stop_when_it_quits(tmp_path: Path) -> None:
    manager = WorkflowManager(open_store(tmp_path / "own.db"))  # real clock: the runtime's leases are real
    try:
        manager.add_workflow(expense_claim())
        registry = WorkerRegistry()
        registry.register("manual_review", lambda inputs: {"decision": "approve"})
        registry.register("pay", lambda inputs: {"paid": True})
        app = RecordingApp(manager=manager, actor="operator", poll_seconds=0.05, workers=registry,
                           runtime_options={"poll_interval": 0.1})
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            assert "● running here" in header_text(app) and "manual_review, pay" in header_text(app)
            started = manager.start_workflow("expense_claim", {"amount": 10})
            assert await wait_until(pilot, lambda: manager.get_status(started).status == "COMPLETED", timeout=30)
            assert await wait_until(pilot, lambda: "(2 done, 0 failed since start)" in header_text(app))
            await pilot.press("q")
            assert await wait_until(pilot, lambda: not app.is_running, timeout=30)
        assert app.runtime is not None and not app.runtime.running
        assert all(e.lease_owner is None for e in manager.get_status(started).executions)
    finally:
        manager.store.close()


@run_async
async def test_quitting_lets_a_running_attempt_finish(tmp_path: Path) -> None:
    manager = WorkflowManager(open_store(tmp_path / "own.db"))
    release = threading.Event()
    try:
        manager.add_workflow(expense_claim())
        registry = WorkerRegistry()
        registry.register("manual_review", lambda inputs: release.wait(10) and {"decision": "reject"})
        app = RecordingApp(manager=manager, actor="operator", poll_seconds=0.05, workers=registry,
                           runtime_options={"poll_interval": 0.1})
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            started = manager.start_workflow("expense_claim", {"amount": 10})
            assert await wait_until(pilot, lambda: app.runtime is not None and app.runtime.running_count == 1)
            await pilot.press("q")
            assert await wait_until(pilot, lambda: any("1 running attempt" in m for _, m in app.notes), timeout=5)
            assert app.is_running  # waiting for the attempt, within the grace period
            release.set()
            assert await wait_until(pilot, lambda: not app.is_running, timeout=30)
        view = manager.get_status(started)
        assert view.status == "COMPLETED" and view.context["decision"] == "reject"
    finally:
        release.set()
        manager.store.close()


def test_a_workers_module_that_cannot_be_loaded_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "console.cli", "--workers", "no_such_workers_module", "--db",
                             str(tmp_path / "wf.db")], cwd=ROOT, capture_output=True, text=True, timeout=60,
                            env={**os.environ, "TERM": "dumb"})
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "no_such_workers_module: module not found" in result.stderr


@pytest.fixture
def new_database(tmp_path: Path) -> Iterator[WorkflowManager]:
    """A manager on a database with nothing in it yet."""
    manager = WorkflowManager(open_store(str(tmp_path / "new.db")))
    yield manager
    manager.store.close()


def app_on(manager: WorkflowManager, start_mode: str) -> RecordingApp:
    return RecordingApp(manager=manager, actor="operator", poll_seconds=0, start_mode=start_mode,
                        clock=ConsoleClock.fixed(NOW))


@run_async
async def test_a_new_database_says_there_is_nothing_yet_on_the_blueprints_tab(new_database: WorkflowManager) -> None:
    app = app_on(new_database, "blueprints")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "No blueprints yet" in str(app.screen.query_one("#empty", Static).render())
        assert str(app.screen.query_one("#graph-body", Static).render()) == "no blueprint"  # not "loading…"


@run_async
async def test_home_and_end_go_to_the_first_and_last_row(scenario: Scenario) -> None:
    app = make_app(scenario, "incidents")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one(IncidentsTable)
        table.focus()
        await pilot.press("end")
        assert table.cursor_row == table.row_count - 1 > 0
        await pilot.press("home")
        assert table.cursor_row == 0


def test_a_bulk_confirmation_says_when_more_incidents_exist_than_are_listed(scenario: Scenario) -> None:
    from console.screens.incidents_screen import listing_text
    from engine.reports import IncidentPage

    page = scenario.manager.store.list_incidents()
    assert "are listed here" not in plain(listing_text(page.incidents, "Retry them.", page))
    cut = IncidentPage(page.incidents[:1], failed=page.failed, stuck=page.stuck)  # the oldest one shown of more
    text = plain(listing_text(cut.incidents, "Retry them.", cut))
    assert f"Only the 1 oldest of {page.total} incidents are listed here" in " ".join(text.split())


@run_async
async def test_no_incidents_shows_a_message_and_no_empty_table(new_database: WorkflowManager) -> None:
    app = app_on(new_database, "incidents")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert not app.screen.query_one(IncidentsTable).display
        assert "No incidents" in str(app.screen.query_one("#empty", Static).render())


@run_async
async def test_a_database_file_other_users_can_read_is_one_warning_notification(tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    open_store(db).close()
    os.chmod(db, 0o644)
    app = RecordingApp(db_path=str(db), clock=ConsoleClock.fixed(NOW), poll_seconds=0)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        warnings = [note for note in app.titled_notes if note[1] == "Database file"]
    assert len(warnings) == 1
    severity, _, message = warnings[0]
    assert severity == "warning" and f"{db} has mode 0644" in message and f"chmod 600 {db}" in message
    assert os.stat(db).st_mode & 0o777 == 0o644
    os.chmod(db, 0o600)
    private = RecordingApp(db_path=str(db), clock=ConsoleClock.fixed(NOW), poll_seconds=0)
    async with private.run_test(size=SIZE) as pilot:
        await settle(pilot)
    assert not [note for note in private.titled_notes if note[1] == "Database file"]
