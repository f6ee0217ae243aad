"""Timer events: validation at load, due times stored, fired by the runtime once at their time, in order after
downtime, never twice by two runtimes sharing the database; a due time from the context; replay."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engine import BlueprintError, HistoryKind, WorkflowManager
from engine.errors import UnreadableTimerError
from engine.replay import differences
from engine.runtime import WorkerRuntime
from engine.timing import TimerValueError, parse_datetime, parse_duration, read_timer
from engine.validate import validate
from engine.workers import WorkerRegistry
from store import open_store

START = {"id": "start", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "START"}
END = {"id": "end", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "END"}
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def timer_flow(timer, workflow_id: str = "reminder") -> dict:
    """START -> wait (a TIMER event) -> remind (a TASK) -> END."""
    return {"workflow_id": workflow_id, "nodes": [
        START,
        {"id": "wait", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "TIMER", "timer": timer},
        {"id": "remind", "type": "TASK", "task_id": "send_reminder"},
        END,
    ], "edges": [
        {"id": "e1", "source_id": "start", "target_id": "wait"},
        {"id": "e2", "source_id": "wait", "target_id": "remind"},
        {"id": "e3", "source_id": "remind", "target_id": "end"},
    ]}


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "wf.db"


@pytest.fixture
def manager(db: Path, clock: Clock):
    store = open_store(db)
    yield WorkflowManager(store, clock=clock)
    store.close()


def runtime(manager: WorkflowManager, clock: Clock, owner: str = "rt-1") -> WorkerRuntime:
    return WorkerRuntime(manager, WorkerRegistry(), owner=owner, clock=clock, rng=random.Random(1))


def kinds(manager: WorkflowManager, instance_id: str) -> list[str]:
    return [str(e.kind) for e in manager.get_status(instance_id).history]


# -- reading times ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "after"), [
    ("PT15M", T0 + timedelta(minutes=15)),
    ("PT1H30M", T0 + timedelta(hours=1, minutes=30)),
    ("P1DT2H", T0 + timedelta(days=1, hours=2)),
    ("P2W", T0 + timedelta(weeks=2)),
    ("PT0.5S", T0 + timedelta(seconds=0.5)),
    ("P1M", datetime(2026, 2, 1, 12, 0, tzinfo=UTC)),
    ("P1Y", datetime(2027, 1, 1, 12, 0, tzinfo=UTC)),
])
def test_iso_durations_are_read(text: str, after: datetime) -> None:
    assert parse_duration(text).after(T0) == after


def test_a_month_after_the_31st_is_the_last_day_of_the_next_month() -> None:
    assert parse_duration("P1M").after(datetime(2026, 1, 31, tzinfo=UTC)) == datetime(2026, 2, 28, tzinfo=UTC)


@pytest.mark.parametrize("text", ["15M", "P", "PT", "P1H", "PT1D", "PT-5M", "soon", "P1000Y", ""])
def test_bad_durations_are_refused_with_the_text(text: str) -> None:
    with pytest.raises(TimerValueError):
        parse_duration(text)


def test_a_date_time_needs_an_offset() -> None:
    assert parse_datetime("2026-12-24T18:00:00+01:00") == datetime(2026, 12, 24, 17, 0, tzinfo=UTC)
    with pytest.raises(TimerValueError, match="no offset"):
        parse_datetime("2026-12-24T18:00:00")


def test_a_timer_spec_has_exactly_one_way_of_saying_when() -> None:
    assert read_timer({"key": "remind_at"}).key == "remind_at"
    with pytest.raises(TimerValueError, match="exactly one"):
        read_timer({"duration": "PT1M", "key": "x"})


# -- validation at load ----------------------------------------------------------------------------


@pytest.mark.parametrize(("timer", "message"), [
    ("PT15X", "node 'wait': field 'timer': 'PT15X' is not an ISO 8601 duration"),
    ({"date": "2026-12-24T18:00:00"}, "node 'wait': field 'timer': '2026-12-24T18:00:00' has no offset"),
    ({}, "node 'wait': field 'timer': needs exactly one of 'duration', 'date' or 'key' (found none)"),
    (None, "node 'wait': a TIMER event needs a 'timer'"),
])
def test_a_bad_timer_is_refused_at_load_naming_the_node_and_field(manager, timer, message: str) -> None:
    flow = timer_flow(timer)
    if timer is None:
        del flow["nodes"][1]["timer"]
    problems = [str(p) for p in validate(flow) if p.severity == "error"]
    assert any(p.startswith(message) for p in problems), problems
    with pytest.raises(BlueprintError, match="node 'wait'"):
        manager.add_workflow(flow)


def test_a_go_blueprint_without_timers_is_stored_as_it_was(manager) -> None:
    """The new fields are extra fields: a blueprint without them is stored (and digested) unchanged."""
    flow = timer_flow("PT1M")
    manager.add_workflow(flow)
    stored = manager.store.get_blueprint("reminder").blueprint
    assert stored.nodes[1].extra("timer") == "PT1M" and stored.nodes[0].extra("timer") is None
    assert "timer" not in stored.nodes[0].model_dump()


# -- firing ------------------------------------------------------------------------------------------


def test_a_timer_holds_the_token_and_fires_once_at_its_time(manager, clock) -> None:
    manager.add_workflow(timer_flow("PT15M"))
    instance_id = manager.start_workflow("reminder")
    view = manager.get_status(instance_id)
    (wait,) = view.waits
    assert wait.due_at == T0 + timedelta(minutes=15) and [t.node_id for t in view.tokens] == ["wait"]
    rt = runtime(manager, clock)

    clock.advance(minutes=14, seconds=59)
    assert rt.fire_due_timers() == []
    assert [t.node_id for t in manager.get_status(instance_id).tokens] == ["wait"]

    clock.advance(seconds=1)
    assert rt.fire_due_timers() == [(instance_id, wait.id)]
    view = manager.get_status(instance_id)
    assert [t.node_id for t in view.tokens] == ["remind"] and view.waits == []
    assert rt.fire_due_timers() == []  # fired once
    assert kinds(manager, instance_id).count("TIMER_FIRED") == 1
    assert manager.store.due_timers(clock.now + timedelta(days=1)) == []
    assert differences(view) == []


def test_a_due_time_is_read_from_the_context_as_a_date_time_or_a_duration(manager, clock) -> None:
    manager.add_workflow(timer_flow({"key": "remind_at"}))
    at = manager.start_workflow("reminder", {"remind_at": "2026-01-02T08:00:00Z"})
    after = manager.start_workflow("reminder", {"remind_at": "PT2H"})
    assert manager.get_status(at).waits[0].due_at == datetime(2026, 1, 2, 8, 0, tzinfo=UTC)
    assert manager.get_status(after).waits[0].due_at == T0 + timedelta(hours=2)


def test_a_due_time_the_context_cannot_give_stops_the_instance_until_it_is_resumed(manager, clock) -> None:
    manager.add_workflow(timer_flow({"key": "remind_at"}))
    with pytest.raises(UnreadableTimerError, match="timer 'wait': the context has no 'remind_at'") as caught:
        manager.start_workflow("reminder")
    assert caught.value.committed
    instance_id = caught.value.instance_id
    view = manager.get_status(instance_id)
    assert view.status == "FAILED" and view.waits == []
    manager.set_variables(instance_id, {"remind_at": "PT5M"})
    manager.retry_instance(instance_id)
    view = manager.get_status(instance_id)
    assert view.status == "ACTIVE" and view.waits[0].due_at == T0 + timedelta(minutes=5)
    assert differences(view) == []


def test_late_timers_fire_at_start_in_the_order_they_were_due(manager, clock) -> None:
    manager.add_workflow(timer_flow({"key": "after"}))
    delays = [40, 10, 30, 20]
    ids = {manager.start_workflow("reminder", {"after": f"PT{minutes}M"}): minutes for minutes in delays}
    clock.advance(hours=3)  # no runtime ran meanwhile
    rt = runtime(manager, clock)
    fired = rt.fire_due_timers(limit=3)  # in rounds, still in order
    assert [ids[instance_id] for instance_id, _ in fired] == sorted(delays)
    for instance_id, minutes in ids.items():
        entry = next(e for e in manager.get_status(instance_id).history if e.kind is HistoryKind.TIMER_FIRED)
        assert entry.details["late_seconds"] == (180 - minutes) * 60


def test_cancelling_an_instance_ends_its_timer(manager, clock) -> None:
    manager.add_workflow(timer_flow("PT1M"))
    instance_id = manager.start_workflow("reminder")
    manager.cancel(instance_id, "no longer needed")
    clock.advance(hours=1)
    assert manager.store.due_timers(clock.now) == []
    assert runtime(manager, clock).fire_due_timers() == []
    view = manager.get_status(instance_id)
    assert view.waits == [] and differences(view) == []


def test_two_runtimes_sharing_the_database_never_fire_one_timer_twice(db: Path, manager, clock) -> None:
    manager.add_workflow(timer_flow("PT1M"))
    instance_ids = [manager.start_workflow("reminder") for _ in range(40)]
    clock.advance(minutes=5)
    stores = [open_store(db), open_store(db)]
    runtimes = [runtime(WorkflowManager(store, clock=clock), clock, owner=f"rt-{n}") for n, store in enumerate(stores)]
    results: list[list[tuple[str, str]]] = [[], []]
    barrier = threading.Barrier(2)

    def run(n: int) -> None:
        barrier.wait()
        results[n] = runtimes[n].fire_due_timers(limit=7)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for store in stores:
        store.close()
    fired = results[0] + results[1]
    assert sorted(i for i, _ in fired) == sorted(instance_ids)  # each once, by one runtime or the other
    for instance_id in instance_ids:
        view = manager.get_status(instance_id)
        assert kinds(manager, instance_id).count("TIMER_FIRED") == 1
        assert [t.node_id for t in view.tokens] == ["remind"] and differences(view) == []


def test_the_scheduled_runtime_fires_due_timers_when_started(manager, clock) -> None:
    manager.add_workflow(timer_flow("PT1M"))
    instance_id = manager.start_workflow("reminder")
    clock.advance(minutes=2)
    rt = WorkerRuntime(manager, WorkerRegistry(), owner="rt", clock=clock, poll_interval=0.05)
    done = threading.Event()
    manager.register_task_handler(lambda payload: done.set())
    rt.start()
    try:
        assert done.wait(10), "the timer did not fire"
    finally:
        rt.stop(grace=1)
    assert [t.node_id for t in manager.get_status(instance_id).tokens] == ["remind"]


# -- drawings, BPMN, migration ---------------------------------------------------------------------------


def test_the_graph_and_its_exports_show_a_timer_and_when_it_fires(manager) -> None:
    from console.graph.dot import render_dot
    from console.graph.mermaid import render_mermaid
    from console.graph.model import build_graph
    from console.graph.text import render_text

    manager.add_workflow(timer_flow("PT15M"))
    instance_id = manager.start_workflow("reminder")
    model = build_graph(manager.get_workflow("reminder"), manager.get_status(instance_id))
    assert model.node("wait").label == "wait · PT15M" and model.node("wait").state == "ACTIVE"
    assert "◷ wait · PT15M" in render_mermaid(model) and "◷ wait · PT15M" in render_dot(model)
    assert "◷" in render_text(model)


def test_a_timer_event_goes_to_bpmn_and_back() -> None:
    from engine.bpmn.diagram import Bounds, Diagram
    from engine.bpmn.reader import read_bpmn
    from engine.bpmn.writer import write_bpmn
    from engine.validate import compile_blueprint

    for timer in ("PT15M", {"key": "remind_at"}, {"date": "2026-12-24T18:00:00Z"}):
        compiled = compile_blueprint(timer_flow(timer))
        shapes = {node.id: Bounds(100 * n, 0, 40, 40) for n, node in enumerate(compiled.blueprint.nodes)}
        edges = {e.id: ((shapes[e.source_id].x + 40, 20), (shapes[e.target_id].x, 20))
                 for e in compiled.blueprint.edges}
        text = write_bpmn(compiled, Diagram(shapes, edges))
        assert "intermediateCatchEvent" in text and "timerEventDefinition" in text
        back = read_bpmn(text).blueprint
        wait = next(n for n in back["nodes"] if n["id"] == "wait")
        assert wait["event_type"] == "TIMER"
        assert compile_blueprint(back).plans["wait"].timer == compiled.plans["wait"].timer


def test_a_version_6_database_gets_the_waits_and_a_timer_works_after_the_upgrade(tmp_path: Path, clock) -> None:
    import sqlite3

    from store import tables

    db = tmp_path / "v6.db"
    open_store(db).close()
    with sqlite3.connect(db) as raw:
        raw.execute("DROP TABLE waits")
        for table, column in (("instances", "waits"), ("executions", "due_at"), ("executions", "assignee"),
                              ("executions", "candidate_group")):
            raw.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
        raw.execute("UPDATE wf_meta SET value = '6' WHERE key = 'schema_version'")
    raw.close()
    store = open_store(db)
    with sqlite3.connect(db) as raw:
        assert raw.execute("SELECT value FROM wf_meta WHERE key = 'schema_version'").fetchone()[0] == str(
            tables.SCHEMA_VERSION)
    raw.close()
    manager = WorkflowManager(store, clock=clock)
    manager.add_workflow(timer_flow("PT1M"))
    instance_id = manager.start_workflow("reminder")
    (wait,) = manager.get_status(instance_id).waits
    clock.advance(minutes=1)
    assert runtime(manager, clock).fire_due_timers() == [(instance_id, wait.id)]
    assert [t.node_id for t in manager.get_status(instance_id).tokens] == ["remind"]
    store.close()
