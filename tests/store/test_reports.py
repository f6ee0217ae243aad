"""The console's read-only reports: incidents, execution counts, activity per minute, history search.

The last test runs every report with SQLite's trace on and checks each statement's ``EXPLAIN QUERY PLAN``:
no report reads a whole table of instances, executions or tokens (only covering-index scans for the
``GROUP BY status`` counts), so they stay fast on 100,000 instances.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engine import WorkflowError, WorkflowManager
from engine.reports import ExecutionCounts, HistoryQuery
from store import open_store

T0 = datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC)


class Clock:
    """Moves one second per reading; ``jump`` moves it further."""

    def __init__(self) -> None:
        self.now = T0
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            self.now += timedelta(seconds=1)
            return self.now

    def jump(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def _node(node_id: str, kind: str, **extra) -> dict:
    if kind == "TASK":
        return {"id": node_id, "type": "TASK", "task_id": extra.pop("task_id", node_id), **extra}
    if kind in ("START", "END"):
        return {"id": node_id, "type": "INTERNAL", "internal_type": "EVENT", "event_type": kind}
    return {"id": node_id, "type": "INTERNAL", "internal_type": "GATEWAY", "gateway_type": kind}


def _edges(*pairs) -> list[dict]:
    return [{"id": f"e{i}", "source_id": p[0], "target_id": p[1], **({"condition": p[2]} if len(p) == 3 else {})}
            for i, p in enumerate(pairs, start=1)]


CLAIM = {  # review (manual) -> route (no default) -> pay | END
    "workflow_id": "claim", "version": 1,
    "nodes": [_node("start", "START"), _node("review", "TASK", output_mapping={"decision": "decision"}),
              _node("route", "EXCLUSIVE_SPLIT"), _node("pay", "TASK"), _node("end", "END")],
    "edges": _edges(("start", "review"), ("review", "route"), ("route", "pay", "decision == 'yes'"),
                    ("route", "end", "decision == 'no'"), ("pay", "end")),
}
FAN_IN = {  # a || (choose: c == 1 -> join, else -> b -> END): with c != 1 the join can never fire
    "workflow_id": "fan_in", "version": 1,
    "nodes": [_node("start", "START"), _node("fork", "PARALLEL_SPLIT"), _node("a", "TASK"),
              _node("choose", "EXCLUSIVE_SPLIT"), _node("b", "TASK"), _node("join", "PARALLEL_JOIN"),
              _node("end", "END")],
    "edges": _edges(("start", "fork"), ("fork", "a"), ("fork", "choose"), ("a", "join"),
                    ("choose", "join", "c == 1"), ("choose", "b"), ("b", "end"), ("join", "end")),
}


def _open(manager: WorkflowManager, instance_id: str, node_id: str) -> str:
    return next(e.id for e in manager.get_status(instance_id).executions
                if e.node_id == node_id and e.status in ("ACTIVE", "FAILED", "STUCK"))


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[WorkflowManager, Clock, dict[str, str]]]:
    """Claims in every state an operator meets, and a fan-in whose join is stuck."""
    clock = Clock()
    manager = WorkflowManager(open_store(tmp_path / "reports.db"), clock=clock)
    manager.add_workflow(CLAIM)
    manager.add_workflow(FAN_IN)
    ids: dict[str, str] = {}
    ids["waiting"] = manager.start_workflow("claim", {"amount": 1})
    clock.jump(minutes=1)
    ids["failed"] = manager.start_workflow("claim", {"amount": 2})
    manager.fail_task(_open(manager, ids["failed"], "review"), "reviewer unreachable", actor="ops")
    clock.jump(minutes=1)
    ids["stuck"] = manager.start_workflow("claim", {"amount": 3})
    manager.mark_stuck(_open(manager, ids["stuck"], "review"), "lease of wh-1 expired", actor="stuck-check")
    clock.jump(minutes=1)
    ids["no_match"] = manager.start_workflow("claim", {"amount": 4})
    with pytest.raises(WorkflowError):
        manager.task_done(_open(manager, ids["no_match"], "review"), {"decision": "maybe"}, actor="alice")
    clock.jump(minutes=1)
    ids["done"] = manager.start_workflow("claim", {"amount": 5})
    manager.task_done(_open(manager, ids["done"], "review"), {"decision": "no"}, actor="alice")
    clock.jump(minutes=1)
    ids["join"] = manager.start_workflow("fan_in", {"c": 2})
    manager.task_done(_open(manager, ids["join"], "a"), {}, actor="bob")
    assert manager.check_joins(ids["join"], actor="stuck-check") == ["join"]
    yield manager, clock, ids
    manager.store.close()


def test_execution_counts_tell_running_queued_waiting_and_incidents(world) -> None:
    manager, clock, ids = world
    store = manager.store
    # ACTIVE: review of "waiting", b of "join". Leased by a runtime: the waiting review.
    review = _open(manager, ids["waiting"], "review")
    assert store.claim_execution(review, "rt-1", clock.now, clock.now + timedelta(seconds=30))
    counts = store.execution_counts({"b"}, clock.now)
    assert counts == ExecutionCounts(running=1, queued=1, waiting=0, failed=2, stuck=2)
    # Once the lease has lapsed nobody runs it: without a local worker for it, it waits for a person.
    later = store.execution_counts(set(), clock.now + timedelta(minutes=5))
    assert later == ExecutionCounts(running=0, queued=0, waiting=2, failed=2, stuck=2)


def test_incidents_are_listed_oldest_first_with_their_reason(world) -> None:
    manager, _, ids = world
    page = manager.store.list_incidents()
    assert [(i.kind, i.instance_id, i.node_id) for i in page.incidents] == [
        ("FAILED", ids["failed"], "review"), ("STUCK", ids["stuck"], "review"), ("NO_MATCH", ids["no_match"], "route"),
        ("JOIN_STUCK", ids["join"], "join"),
    ]
    failed, stuck, no_match, join = page.incidents
    assert (failed.reason, failed.task_id, failed.attempt) == ("reviewer unreachable", "review", 1)
    assert stuck.reason == "lease of wh-1 expired" and stuck.execution_id is not None
    assert "no condition matched at exclusive split 'route'" in no_match.reason and no_match.execution_id is None
    assert "has 1 of 2 branches" in join.reason
    assert (page.failed, page.stuck, page.total) == (2, 2, 4)
    assert [i.kind for i in manager.store.list_incidents(limit=2).incidents] == ["FAILED", "STUCK"]


def test_activity_counts_each_minute_of_the_last_hour(world) -> None:
    manager, clock, _ = world
    activity = manager.store.activity(clock.now)
    assert len(activity.started) == len(activity.completed) == len(activity.tasks_completed) == 60
    assert activity.since == clock.now.replace(second=0, microsecond=0) - timedelta(minutes=59)
    assert sum(activity.started) == 6  # one instance in each of the last six minutes
    assert activity.started[-6:] == [1, 1, 1, 1, 1, 1]
    assert sum(activity.completed) == 1  # "done" took the edge to END
    assert sum(activity.tasks_completed) == 3  # done's review, no_match's review, join's a
    assert activity.by_status == {"ACTIVE": 4, "COMPLETED": 1, "FAILED": 1}
    assert activity.by_workflow == {"claim": {"ACTIVE": 3, "COMPLETED": 1, "FAILED": 1}, "fan_in": {"ACTIVE": 1}}
    tasks = {t.task_id: t for t in activity.open_tasks}
    assert (tasks["review"].waiting, tasks["review"].failed, tasks["review"].stuck) == (1, 1, 1)
    assert tasks["b"].waiting == 1
    # An hour later all of it has left the window; the counts by status stay.
    idle = manager.store.activity(clock.now + timedelta(hours=1))
    assert sum(idle.started) == sum(idle.completed) == sum(idle.tasks_completed) == 0
    assert idle.by_status == activity.by_status


def test_blueprint_summaries_count_instances_like_list_blueprints(world) -> None:
    manager, _, _ = world
    manager.add_workflow({**CLAIM, "version": 2})
    manager.start_workflow("claim", {"amount": 9})
    assert manager.store.blueprint_summaries() == manager.store.list_blueprints()
    versions = {(s.workflow_id, s.version): s.instances for s in manager.store.blueprint_summaries()}
    assert versions[("claim", 2)] == {"ACTIVE": 1}
    assert versions[("claim", 1)] == {"ACTIVE": 3, "COMPLETED": 1, "FAILED": 1}


def test_history_search_filters_by_kind_node_actor_time_and_instance(world) -> None:
    manager, clock, ids = world
    store = manager.store

    def search(**filters) -> list:
        return store.search_history(HistoryQuery(**filters))

    everything = search(limit=1000)
    assert [h.entry.seq for h in everything] == sorted((h.entry.seq for h in everything), reverse=True)
    assert {h.workflow_id for h in everything} == {"claim", "fan_in"}
    started = search(kind="INSTANCE_STARTED")
    assert len(started) == 6 and started[0].entry.instance_id == ids["join"]
    assert {h.entry.instance_id for h in search(actor="ALI")} == {ids["no_match"], ids["done"]}  # any case, a part
    assert {h.entry.node_id for h in search(node="rout")} == {"route"}
    within = search(instance_id=ids["failed"])
    assert within and {h.entry.instance_id for h in within} == {ids["failed"]}
    assert [h.entry.kind for h in search(instance_id=ids["failed"], kind="EXECUTION_FAILED")] == ["EXECUTION_FAILED"]
    assert len(search(limit=3)) == 3
    # The time range: since inclusive, until exclusive; an empty range finds nothing.
    first_minute = search(since=T0, until=T0 + timedelta(minutes=1))
    assert first_minute and {h.entry.instance_id for h in first_minute} == {ids["waiting"]}
    assert search(since=clock.now + timedelta(hours=1)) == []
    assert search(actor="100%_literal") == []  # LIKE wildcards typed by the operator are literal


@contextmanager
def traced(store) -> Iterator[list[str]]:
    """Record every SQL statement the store's read transactions run."""
    statements: list[str] = []
    original = store.read

    @contextmanager
    def read():
        with original() as cursor:
            cursor.connection.set_trace_callback(statements.append)
            try:
                yield cursor
            finally:
                cursor.connection.set_trace_callback(None)

    store.read = read
    try:
        yield statements
    finally:
        del store.read


FULL_SCAN = re.compile(r"^SCAN (instances|executions|tokens|context|[tei])\b(?!.*COVERING INDEX)")  # t, e, i: aliases


def test_no_report_reads_a_whole_table(world, tmp_path: Path) -> None:
    manager, clock, ids = world
    store = manager.store
    with traced(store) as statements:
        store.execution_counts({"b"}, clock.now)
        store.list_incidents()
        store.activity(clock.now)
        store.blueprint_summaries()
        store.search_history(HistoryQuery(instance_id=ids["join"], kind="TOKEN_STATUS", node="join"))
        store.search_history(HistoryQuery(kind="EXECUTION_COMPLETED"))  # walks the history from the end
    queries = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(queries) >= 10
    problems = []
    with store.read() as cursor:
        for sql in queries:
            plan = [row[3] for row in cursor.execute("EXPLAIN QUERY PLAN " + sql)]
            if any(FULL_SCAN.match(step) for step in plan):
                problems.append(f"{sql}\n  -> {plan}")
            if "FROM history WHERE instance_no" in sql and not any("ix_history_instance_no_seq" in s for s in plan):
                problems.append(f"instance history without its index: {sql}\n  -> {plan}")
            if "FROM executions WHERE status = 'COMPLETED' AND updated_at" in sql and not any(
                    "ix_executions_done" in s for s in plan):
                problems.append(f"tasks per minute without ix_executions_done: {plan}")
            if "substr(ended_at" in sql and not any("ix_instances_completed (ended_at>? AND ended_at<?)" in s
                                                    for s in plan):
                problems.append(f"instances completed per minute without its range of ix_instances_completed: {plan}")
    assert not problems, "\n".join(problems)
