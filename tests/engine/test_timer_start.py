"""Timer starts: a START with a cron or interval schedule starts an instance of the newest version at each due
time, the next due time persisted; two runtimes never start one due time twice; downtime starts one, not many."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engine import WorkflowManager
from engine.runtime import WorkerRuntime
from engine.validate import validate
from engine.workers import WorkerRegistry
from store import open_store

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)  # a Monday


def scheduled(timer: object) -> dict:
    return {"workflow_id": "report", "nodes": [
        {"id": "start", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "START", "timer": timer},
        {"id": "build", "type": "TASK", "task_id": "build_report"},
        {"id": "end", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "END"},
    ], "edges": [{"id": "e1", "source_id": "start", "target_id": "build"},
                 {"id": "e2", "source_id": "build", "target_id": "end"}]}


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "wf.db"


def runtime(manager: WorkflowManager, clock: Clock, owner: str = "rt") -> WorkerRuntime:
    return WorkerRuntime(manager, WorkerRegistry(), owner=owner, clock=clock, rng=random.Random(1))


def test_a_cron_start_starts_an_instance_at_each_due_time(db: Path, clock) -> None:
    store = open_store(db)
    manager = WorkflowManager(store, clock=clock)
    manager.add_workflow(scheduled({"cron": "0 9 * * MON-FRI"}))
    rt = runtime(manager, clock)
    assert rt.start_scheduled() == []  # the first look schedules it
    assert store.schedule_due("report") == datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    clock.now = datetime(2026, 1, 5, 8, 59, tzinfo=UTC)
    assert rt.start_scheduled() == []
    clock.now = datetime(2026, 1, 5, 9, 0, 1, tzinfo=UTC)
    (started,) = rt.start_scheduled()
    assert manager.get_status(started).executions[0].task_id == "build_report"
    assert rt.start_scheduled() == []  # once per due time
    assert store.schedule_due("report") == datetime(2026, 1, 6, 9, 0, tzinfo=UTC)
    store.close()


def test_downtime_starts_one_instance_and_the_schedule_goes_on_from_now(db: Path, clock) -> None:
    store = open_store(db)
    manager = WorkflowManager(store, clock=clock)
    manager.add_workflow(scheduled({"interval": "PT10M"}))
    runtime(manager, clock).start_scheduled()
    clock.now += timedelta(hours=1, minutes=5)  # six due times missed
    assert len(runtime(manager, clock).start_scheduled()) == 1
    assert store.schedule_due("report") == clock.now + timedelta(minutes=10)
    store.close()


def test_two_runtimes_never_start_one_due_time_twice(db: Path, clock) -> None:
    store = open_store(db)
    manager = WorkflowManager(store, clock=clock)
    manager.add_workflow(scheduled({"interval": "PT1M"}))
    runtime(manager, clock).start_scheduled()
    stores = [open_store(db) for _ in range(3)]
    racers = [runtime(WorkflowManager(s, clock=clock), clock, owner=f"rt-{n}") for n, s in enumerate(stores)]
    started: list[str] = []
    for _ in range(5):
        clock.now += timedelta(minutes=1)
        barrier = threading.Barrier(len(racers))

        def race(rt: WorkerRuntime, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            started.extend(rt.start_scheduled())

        threads = [threading.Thread(target=race, args=(rt,)) for rt in racers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(started) == 5 and manager.count_instances() == {"ACTIVE": 5}
    for s in stores:
        s.close()
    store.close()


@pytest.mark.parametrize(("timer", "message"), [
    ({"cron": "61 * * * *"}, "node 'start': field 'timer': cron '61 * * * *': Error validating expression '61'"),
    ({"cron": "0 9 * *"}, "node 'start': field 'timer': cron '0 9 * *': Wrong number of fields"),
    ({"interval": "soon"}, "node 'start': field 'timer': 'soon' is not an ISO 8601 duration"),
    ({"cron": "* * * * *", "interval": "PT1M"}, "node 'start': field 'timer': a timer start needs exactly one"),
])
def test_a_bad_schedule_is_refused_at_load_naming_node_and_field(timer, message: str) -> None:
    errors = [str(p) for p in validate(scheduled(timer)) if p.severity == "error"]
    assert any(e.startswith(message) for e in errors), errors
