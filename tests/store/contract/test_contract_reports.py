"""Contract: the reports (engine.ports.Reports) give the same answers on every backend."""

from __future__ import annotations

from datetime import timedelta

import pytest
from report_world import CLAIM, T0, Clock, _open, build_world

from engine.errors import InvalidValueError
from engine.ports import InstanceQuery, WaitingFor
from engine.reports import ExecutionCounts, HistoryQuery


@pytest.fixture
def world(backend):
    clock = Clock()
    manager = backend.manager(clock)
    return manager, clock, build_world(manager, clock)


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


def test_instances_waiting_for_a_person_are_those_the_header_counts(world) -> None:
    """``InstanceQuery.waiting`` keeps the instances whose open executions execution_counts calls waiting:
    ACTIVE, no live lease, not a task run by a local worker."""
    manager, clock, ids = world
    store = manager.store
    review = _open(manager, ids["waiting"], "review")
    assert store.claim_execution(review, "rt-1", clock.now, clock.now + timedelta(seconds=30))

    def waiting(local: tuple[str, ...], at) -> set[str]:
        return {s.id for s in store.list_instances(InstanceQuery(waiting=WaitingFor(at, local), limit=100))}

    assert waiting(("b",), clock.now) == set()  # review is leased, b runs here
    assert waiting((), clock.now) == {ids["join"]}  # b waits for a person when nothing here runs it
    later = clock.now + timedelta(minutes=5)  # the lease lapsed: review waits too
    assert waiting((), later) == {ids["join"], ids["waiting"]}
    assert sum(store.count_instances(InstanceQuery(waiting=WaitingFor(later))).values()) == 2


def test_instances_are_listed_in_either_order_of_their_start(world) -> None:
    manager, _, _ = world
    newest = [s.id for s in manager.store.list_instances(InstanceQuery(limit=100))]
    oldest = [s.id for s in manager.store.list_instances(InstanceQuery(order="started", limit=100))]
    assert len(newest) > 2 and oldest == list(reversed(newest))
    with pytest.raises(InvalidValueError, match="from an index"):
        InstanceQuery(order="-updated")


def test_the_open_tasks_count_the_executions_past_their_deadline(backend) -> None:
    clock = Clock()
    manager = backend.manager(clock)
    manager.add_workflow({"workflow_id": "late", "nodes": [
        {"id": "start", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "START"},
        {"id": "approve", "type": "TASK", "task_id": "approve", "deadline": "PT1H"},
        {"id": "end", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "END"}],
        "edges": [{"id": "e1", "source_id": "start", "target_id": "approve"},
                  {"id": "e2", "source_id": "approve", "target_id": "end"}]})
    for _ in range(3):
        manager.start_workflow("late")
    clock.jump(minutes=30)
    newer = manager.start_workflow("late")  # due 30 minutes after the others
    tasks = {t.task_id: t for t in manager.store.activity(clock.now).open_tasks}
    assert (tasks["approve"].waiting, tasks["approve"].overdue) == (4, 0)
    late = {t.task_id: t for t in manager.store.activity(clock.now + timedelta(minutes=45)).open_tasks}
    assert (late["approve"].waiting, late["approve"].overdue) == (4, 3)
    manager.fail_task(_open(manager, newer, "approve"), "no reviewer")  # an incident is not counted overdue
    later = {t.task_id: t for t in manager.store.activity(clock.now + timedelta(hours=2)).open_tasks}
    assert (later["approve"].waiting, later["approve"].failed, later["approve"].overdue) == (3, 1, 3)
