"""The graph and its exports show a task's deadline, who does it (claimed: whoever has it) and its boundary timers
on their timeout edges (issue 19: "the graph, the Mermaid/DOT export ... show timers, messages, deadlines and
claims")."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from console.graph.dot import render_dot
from console.graph.mermaid import render_mermaid
from console.graph.model import build_graph
from console.graph.text import render_text
from engine import WorkflowManager
from engine.validate import compile_blueprint
from store import open_store

START = {"id": "start", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "START"}
END = {"id": "end", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "END"}
FLOW = {"workflow_id": "expense", "nodes": [
    START,
    {"id": "approve", "type": "TASK", "task_id": "approve_expense", "name": "Approve", "deadline": "P1D",
     "candidate_group": "finance", "boundary_timers": [{"duration": "PT4H", "edge": "e_remind", "interrupting": False},
                                                       {"duration": "P2D", "edge": "e_escalate"}]},
    {"id": "remind", "type": "TASK", "task_id": "remind"},
    {"id": "escalate", "type": "TASK", "task_id": "escalate", "assignee": "boss"},
    END, {**END, "id": "end2"}, {**END, "id": "end3"},
], "edges": [
    {"id": "e1", "source_id": "start", "target_id": "approve"},
    {"id": "e2", "source_id": "approve", "target_id": "end"},
    {"id": "e_remind", "source_id": "approve", "target_id": "remind"},
    {"id": "e_escalate", "source_id": "approve", "target_id": "escalate"},
    {"id": "e3", "source_id": "remind", "target_id": "end2"},
    {"id": "e4", "source_id": "escalate", "target_id": "end3"},
]}


def test_a_task_shows_its_deadline_and_people_and_its_timeout_edges_their_timers() -> None:
    model = build_graph(compile_blueprint(FLOW))
    assert model.node("approve").label == "Approve · due P1D · group finance"
    assert model.node("escalate").label == "escalate · boss"
    assert model.node("remind").label == "remind"
    labels = {edge.id: edge.label for edge in model.edges}
    assert labels["e_remind"] == "◷ PT4H, task stays" and labels["e_escalate"] == "◷ P2D" and labels["e2"] is None
    for rendered in (render_mermaid(model), render_dot(model)):
        assert "Approve · due P1D · group finance" in rendered and "◷ PT4H, task stays" in rendered
        assert "◷ P2D" in rendered
    text = " ".join(render_text(model).split())
    assert "◷ P2D" in text and "due P1D" in text


def test_an_open_task_shows_its_own_due_time_and_who_has_it(tmp_path: Path) -> None:
    store = open_store(tmp_path / "wf.db")
    manager = WorkflowManager(store)
    manager.add_workflow(FLOW)
    instance_id = manager.start_workflow("expense")
    (execution,) = manager.get_status(instance_id).executions
    due = execution.due_at.strftime("%m-%d %H:%M") + " UTC"  # the execution's own due time (an export)
    manager.claim_task(execution.id, actor="alice")
    view = manager.get_status(instance_id)
    assert build_graph(manager.get_workflow("expense"), view).node("approve").label == f"Approve · due {due} · alice"
    manager.release_task(execution.id, actor="alice")
    view = manager.get_status(instance_id)
    assert build_graph(manager.get_workflow("expense"), view).node("approve").label == \
        f"Approve · due {due} · group finance"
    assert build_graph(manager.get_workflow("expense"), view).node("escalate").label == "escalate"  # not reached
    # The console says it as its lists do, at its clock's now.
    late = build_graph(manager.get_workflow("expense"), view, now=execution.due_at + timedelta(minutes=5))
    assert late.node("approve").label == "Approve · late 5m00s · group finance"
    early = build_graph(manager.get_workflow("expense"), view, now=execution.due_at - timedelta(hours=2))
    assert early.node("approve").label == "Approve · due in 2h00m · group finance"
    manager.task_done(execution.id, {})
    view = manager.get_status(instance_id)
    assert build_graph(manager.get_workflow("expense"), view).node("approve").label == "Approve"  # done
    store.close()
