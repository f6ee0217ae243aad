"""SQLite's reports read no whole table: every report runs with SQLite's trace on and each statement's
``EXPLAIN QUERY PLAN`` is checked (only covering-index scans for the ``GROUP BY status`` counts), so they stay
fast on 100,000 instances. What the reports answer is the contract suite's (tests/store/contract/test_reports.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from report_world import Clock, build_world

from engine import WorkflowManager
from engine.reports import HistoryQuery
from store import open_store


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[WorkflowManager, Clock, dict[str, str]]]:
    clock = Clock()
    manager = WorkflowManager(open_store(tmp_path / "reports.db"), clock=clock)
    yield manager, clock, build_world(manager, clock)
    manager.store.close()


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


@pytest.mark.parametrize("order", ["-started", "started"])
def test_each_offered_order_of_the_instances_is_read_from_an_index(world, order: str) -> None:
    """INSTANCE_ORDERS are the orders an index serves: a page in either order of the start time is read from
    ix_instances_created (or the status index under a status filter), in its order: never all sorted first. The
    waiting-for-a-person filter starts from the open executions' index and sorts only the instances it finds
    (as the open-task filter does): a few, however many instances there are."""
    from engine.model import InstanceStatus
    from engine.ports import InstanceQuery, WaitingFor

    manager, clock, _ = world
    store = manager.store
    with traced(store) as statements:
        store.list_instances(InstanceQuery(order=order, limit=10))
        store.list_instances(InstanceQuery(status=InstanceStatus.ACTIVE, order=order, limit=10))
        store.list_instances(InstanceQuery(waiting=WaitingFor(clock.now, ("b",)), order=order, limit=10))
    pages = [s for s in statements if "FROM instances" in s and "ORDER BY" in s]
    assert len(pages) == 3
    with store.read() as cursor:
        for sql in pages:
            plan = " | ".join(row[3] for row in cursor.execute("EXPLAIN QUERY PLAN " + sql))
            # Read in the index's order, the LIMIT stops it early (ties on the time are put in id order as found:
            # "TEMP B-TREE FOR RIGHT PART OF ORDER BY"), never the whole matching set sorted first.
            if "lease_until" in sql:
                assert "ix_executions_open" in plan and "SEARCH instances USING INDEX" in plan, plan
            else:
                assert "TEMP B-TREE FOR ORDER BY" not in plan, plan
                assert "ix_instances_created" in plan or "ix_instances_status_created" in plan, plan


def test_the_task_list_walks_the_open_executions_index_in_its_order(world) -> None:
    """A page of person's tasks is read from ix_executions_open's ACTIVE range, oldest first as the index holds
    them (never the matching tasks sorted first), each with a primary-key lookup of its instance; the count walks
    the same range."""
    from engine.ports import TaskQuery, WaitingFor

    manager, clock, _ = world
    store = manager.store
    with traced(store) as statements:
        store.list_tasks(TaskQuery(WaitingFor(clock.now, ("b",)), workflow_id="claim", overdue_at=clock.now,
                                   limit=10))
        store.list_tasks(TaskQuery(WaitingFor(clock.now), assignee="alice", candidate_group="ops", limit=10))
    queries = [s for s in statements if "FROM executions e" in s]
    assert len(queries) == 4
    with store.read() as cursor:
        for sql in queries:
            plan = " | ".join(row[3] for row in cursor.execute("EXPLAIN QUERY PLAN " + sql))
            assert "SEARCH e USING INDEX ix_executions_open (status=?" in plan, plan
            assert "SEARCH i USING" in plan, plan
            assert "TEMP B-TREE" not in plan, plan
