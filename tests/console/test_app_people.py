"""The console on people's tasks: c claims and releases the selected task, / assignee=me lists my tasks,
overdue=yes the overdue ones; an execution's lateness and assignee show in its row."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from app_pilot import SIZE, RecordingApp, run_async, settle

from console.formatting import ConsoleClock
from console.messages import OpenInstance
from console.screens.instance_detail_screen import InstanceDetailScreen
from console.screens.instances_screen import InstancesScreen
from console.widgets.executions_table import ExecutionsTable
from engine import WorkflowManager
from store import open_store

START = {"id": "start", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "START"}
END = {"id": "end", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "END"}
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
REVIEW = {"workflow_id": "review", "nodes": [
    START, {"id": "review", "type": "TASK", "task_id": "review_claim", "candidate_group": "claims",
            "deadline": "PT1H"}, END,
], "edges": [{"id": "e1", "source_id": "start", "target_id": "review"},
             {"id": "e2", "source_id": "review", "target_id": "end"}]}


def world(tmp_path: Path) -> tuple[WorkflowManager, str, str]:
    """Two review instances, started two hours ago (so both are an hour overdue)."""
    manager = WorkflowManager(open_store(tmp_path / "console.db"), clock=lambda: NOW - timedelta(hours=2))
    manager.add_workflow(REVIEW)
    return manager, manager.start_workflow("review"), manager.start_workflow("review")


@run_async
async def test_c_claims_and_releases_the_selected_task_and_u_lists_mine(tmp_path: Path) -> None:
    manager, first, second = world(tmp_path)
    app = RecordingApp(db_path=str(tmp_path / "console.db"), manager=manager, clock=ConsoleClock.fixed(NOW),
                       actor="alice", poll_seconds=0, start_mode="instances")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.post_message(OpenInstance(first))
        await settle(pilot)
        assert isinstance(app.screen, InstanceDetailScreen)
        table = app.screen.query_one(ExecutionsTable)
        row = " | ".join(str(cell) for cell in table.get_row_at(0))  # status first, then node and task
        assert "late 1h00m" in row and "review_claim (claims)" in row
        await pilot.press("c")
        await settle(pilot)
        execution = manager.get_status(first).executions[0]
        assert execution.assignee == "alice"
        assert "review_claim @alice" in " | ".join(str(c) for c in app.screen.query_one(ExecutionsTable).get_row_at(0))
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, InstancesScreen)
        app.screen.apply_view({"assignee": "me"})  # as `/ assignee=me` and `:instances assignee=me` do
        await settle(pilot)
        assert [row.id for row in app.screen.page.rows] == [first]
        app.screen.apply_view({"overdue": "yes"})  # as `:instances overdue=yes` does
        await settle(pilot)
        assert {row.id for row in app.screen.page.rows} == {first, second}
        app.post_message(OpenInstance(first))
        await settle(pilot)
        await pilot.press("c")  # it is alice's: c gives it back
        await settle(pilot)
        assert manager.get_status(first).executions[0].assignee is None
    manager.store.close()
