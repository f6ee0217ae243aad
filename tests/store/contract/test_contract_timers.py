"""Contract: timers (waits) stored with the instance and indexed by due time, deadlines and assignees on
executions, and a timer fired once however many stores race for it, on every Store."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from engine.ports import InstanceQuery
from engine.replay import differences

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
START = {"id": "start", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "START"}
END = {"id": "end", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "END"}
TIMED = {"workflow_id": "timed", "nodes": [
    START,
    {"id": "wait", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "TIMER", "timer": {"key": "after"}},
    {"id": "work", "type": "TASK", "task_id": "work", "deadline": "PT1H", "assignee_key": "owner",
     "candidate_group": "ops"},
    END,
], "edges": [
    {"id": "e1", "source_id": "start", "target_id": "wait"},
    {"id": "e2", "source_id": "wait", "target_id": "work"},
    {"id": "e3", "source_id": "work", "target_id": "end"},
]}


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def test_waits_are_stored_with_the_instance_and_found_by_due_time(backend) -> None:
    clock = Clock()
    manager = backend.manager(clock)
    manager.add_workflow(TIMED)
    later = manager.start_workflow("timed", {"after": "PT20M", "owner": "alice"})
    sooner = manager.start_workflow("timed", {"after": "PT10M", "owner": "alice"})
    (wait,) = manager.get_status(sooner).waits
    assert (wait.kind, wait.node_id, wait.due_at) == ("TIMER", "wait", T0 + timedelta(minutes=10))
    assert manager.store.due_timers(T0 + timedelta(minutes=9)) == []
    due = manager.store.due_timers(T0 + timedelta(hours=1))
    assert [(t.instance_id, t.due_at) for t in due] == [(sooner, T0 + timedelta(minutes=10)),
                                                        (later, T0 + timedelta(minutes=20))]
    clock.now = T0 + timedelta(minutes=15)
    assert manager.fire_timer(sooner, wait.id) is True
    assert manager.fire_timer(sooner, wait.id) is False  # once
    view = manager.get_status(sooner)
    (execution,) = view.executions
    assert execution.due_at == clock.now + timedelta(hours=1)
    assert (execution.assignee, execution.candidate_group) == ("alice", "ops")
    assert view.waits == [] and differences(view) == []
    assert [t.instance_id for t in manager.store.due_timers(T0 + timedelta(hours=1))] == [later]
    assert [s.id for s in manager.list_instances(InstanceQuery(assignee="alice"))] == [sooner]
    assert manager.list_instances(InstanceQuery(overdue_at=clock.now + timedelta(minutes=59))) == []
    assert [s.id for s in manager.list_instances(InstanceQuery(overdue_at=clock.now + timedelta(hours=2)))] == [sooner]
    assert manager.store.execution_counts(set(), clock.now + timedelta(hours=2)).overdue == 1


def test_a_cancelled_instances_timers_are_gone_from_the_index(backend) -> None:
    manager = backend.manager(lambda: T0)
    manager.add_workflow(TIMED)
    instance_id = manager.start_workflow("timed", {"after": "PT1M"})
    manager.cancel(instance_id, "not needed")
    assert manager.store.due_timers(T0 + timedelta(days=1)) == []
    assert backend.open().get_instance(instance_id).waits == []


def test_stores_racing_for_due_timers_fire_each_once(backend) -> None:
    manager = backend.manager(lambda: T0)
    manager.add_workflow(TIMED)
    ids = [manager.start_workflow("timed", {"after": "PT1M"}) for _ in range(12)]
    now = T0 + timedelta(minutes=2)
    racers = [backend.manager(lambda: now) for _ in range(3)]
    fired: list[list[str]] = [[] for _ in racers]
    barrier = threading.Barrier(len(racers))

    def race(n: int) -> None:
        barrier.wait()
        for timer in racers[n].store.due_timers(now, limit=100):
            if racers[n].fire_timer(timer.instance_id, timer.wait_id):
                fired[n].append(timer.instance_id)

    threads = [threading.Thread(target=race, args=(n,)) for n in range(len(racers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(i for found in fired for i in found) == sorted(ids)
    for instance_id in ids:
        view = manager.get_status(instance_id)
        assert [str(e.kind) for e in view.history].count("TIMER_FIRED") == 1 and differences(view) == []


def test_a_timer_starts_due_time_is_taken_once(backend) -> None:
    store, rival = backend.open(), backend.open()
    assert store.schedule_due("report") is None
    with store.write() as tx:
        assert tx.take_schedule("report", None, T0)
    with rival.write() as tx:
        assert not tx.take_schedule("report", None, T0 + timedelta(hours=1))  # scheduled already
    with rival.write() as tx:
        assert tx.take_schedule("report", T0, T0 + timedelta(hours=1))
    with store.write() as tx:
        assert not tx.take_schedule("report", T0, T0 + timedelta(hours=2))  # taken by the rival
    assert store.schedule_due("report") == T0 + timedelta(hours=1)
