"""The history, replayed from the start, rebuilds the stored state exactly."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engine import NoMatchingConditionError, StaleClaimError, WorkflowManager
from engine.replay import differences
from engine.runtime import WorkerRuntime
from engine.workers import RetryPolicy, WorkerRegistry
from store import open_store

VERIFY = {
    "workflow_id": "verify",
    "nodes": [
        {"id": "start", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "START"},
        {"id": "init", "type": "TASK", "task_id": "init", "output_mapping": {"ok": "ok"}},
        {"id": "x", "type": "INTERNAL", "internal_type": "GATEWAY", "gateway_type": "EXCLUSIVE_SPLIT"},
        {"id": "ps", "type": "INTERNAL", "internal_type": "GATEWAY", "gateway_type": "PARALLEL_SPLIT"},
        {"id": "t1", "type": "TASK", "task_id": "t1", "input_mapping": {"flag": "ok"}, "output_mapping": {"r": "r1"}},
        {"id": "t2", "type": "TASK", "task_id": "t2", "output_mapping": {"r": "r2"}},
        {"id": "pj", "type": "INTERNAL", "internal_type": "GATEWAY", "gateway_type": "PARALLEL_JOIN"},
        {"id": "alt", "type": "TASK", "task_id": "alt"},
        {"id": "xj", "type": "INTERNAL", "internal_type": "GATEWAY", "gateway_type": "EXCLUSIVE_JOIN"},
        {"id": "end", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "END"},
    ],
    "edges": [
        {"id": "e1", "source_id": "start", "target_id": "init"},
        {"id": "e2", "source_id": "init", "target_id": "x"},
        {"id": "e3", "source_id": "x", "target_id": "ps", "condition": "ok == true"},
        {"id": "e4", "source_id": "x", "target_id": "alt", "condition": "ok == false"},
        {"id": "e5", "source_id": "ps", "target_id": "t1"},
        {"id": "e6", "source_id": "ps", "target_id": "t2"},
        {"id": "e7", "source_id": "t1", "target_id": "pj"},
        {"id": "e8", "source_id": "t2", "target_id": "pj"},
        {"id": "e9", "source_id": "pj", "target_id": "xj"},
        {"id": "e10", "source_id": "alt", "target_id": "xj"},
        {"id": "e11", "source_id": "xj", "target_id": "end"},
    ],
}


@pytest.fixture
def manager(tmp_path: Path) -> WorkflowManager:
    store = open_store(tmp_path / "wf.db")
    manager = WorkflowManager(store)
    manager.add_workflow(VERIFY)
    yield manager
    store.close()


def active(manager: WorkflowManager, instance_id: str, node: str) -> str:
    return next(e.id for e in manager.get_status(instance_id).executions
                if e.node_id == node and e.status in ("ACTIVE", "FAILED", "STUCK"))


def assert_replays(manager: WorkflowManager, instance_id: str) -> None:
    assert differences(manager.get_status(instance_id)) == []


def test_replay_of_a_completed_parallel_run(manager) -> None:
    iid = manager.start_workflow("verify", {})
    assert_replays(manager, iid)
    manager.task_done(active(manager, iid, "init"), {"ok": True})
    manager.task_done(active(manager, iid, "t2"), {"r": 2})
    assert_replays(manager, iid)  # half done: one task ACTIVE, a token WAITING at the join
    manager.task_done(active(manager, iid, "t1"), {"r": 1, "dropped": "x"})
    assert_replays(manager, iid)


def test_replay_through_incident_retry_variables_and_resume(manager) -> None:
    iid = manager.start_workflow("verify", {"ok": "neither"})
    manager.fail_task(active(manager, iid, "init"), "boom", actor="bob")
    assert_replays(manager, iid)
    manager.retry(active(manager, iid, "init"))
    with pytest.raises(NoMatchingConditionError):
        manager.task_done(active(manager, iid, "init"), {"ok": "still neither"})
    assert_replays(manager, iid)  # FAILED at the split
    manager.set_variables(iid, {"ok": False})
    manager.retry_instance(iid)
    assert_replays(manager, iid)
    manager.cancel(iid, "no longer needed")
    assert_replays(manager, iid)


def test_replay_through_worker_attempts_and_stuck_marks(tmp_path: Path) -> None:
    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    store = open_store(tmp_path / "wf.db")
    manager = WorkflowManager(store, clock=lambda: now[0])
    manager.add_workflow(VERIFY)
    registry = WorkerRegistry()
    registry.register("init", lambda inputs: (_ for _ in ()).throw(OSError("disk")), RetryPolicy(attempts=2, jitter=0))
    runtime = WorkerRuntime(manager, registry, clock=lambda: now[0], rng=random.Random(1))
    iid = manager.start_workflow("verify", {})
    runtime.recover()
    now[0] += timedelta(seconds=10)
    runtime.recover()
    assert_replays(manager, iid)
    store.claim_execution(manager.retry(active(manager, iid, "init")), "gone", now[0], now[0])
    now[0] += timedelta(minutes=5)
    WorkerRuntime(manager, WorkerRegistry(), clock=lambda: now[0]).check_stuck()
    assert manager.get_status(iid).executions[-1].status == "STUCK"
    assert_replays(manager, iid)


def test_replay_through_stale_reports_of_lost_claims(manager) -> None:
    """A STALE_REPORT (a worker's completion or failure under a claim no longer current) is in the history
    and changes nothing in the replayed state."""
    iid = manager.start_workflow("verify", {})
    init = active(manager, iid, "init")
    now = manager.clock()
    first = manager.store.claim_execution(init, "gone", now, now).claim  # lapses at once
    manager.store.claim_execution(init, "here", manager.clock(), manager.clock() + timedelta(minutes=1))
    assert manager.task_done(init, {"ok": True}, claim=first).ignored == "stale_claim"
    with pytest.raises(StaleClaimError):
        manager.fail_attempt(init, "late", None, actor="worker@gone", claim=first)
    assert [h.details["report"] for h in manager.get_status(iid).history if h.kind == "STALE_REPORT"] == [
        "completion", "failure"]
    assert_replays(manager, iid)
    manager.task_done(init, {"ok": True}, claim=first + 1)
    assert_replays(manager, iid)
