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
    ({"corn": "* * * * *"}, "node 'start': field 'timer': unknown field 'corn' (did you mean 'cron'?)"),
])
def test_a_bad_schedule_is_refused_at_load_naming_node_and_field(timer, message: str) -> None:
    errors = [str(p) for p in validate(scheduled(timer)) if p.severity == "error"]
    assert any(e.startswith(message) for e in errors), errors


# -- cron as cron reads it -------------------------------------------------------------------------------


@pytest.mark.parametrize(("weekdays", "days"), [
    ("1", ["Monday"]), ("0", ["Sunday"]), ("7", ["Sunday"]), ("1-5", ["Monday", "Tuesday", "Wednesday",
                                                                       "Thursday", "Friday"]),
    ("MON-FRI", ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]), ("5-7", ["Friday", "Saturday", "Sunday"]),
    ("sat,sun", ["Saturday", "Sunday"]), ("*/3", ["Sunday", "Wednesday", "Saturday"]),
])
def test_the_days_of_the_week_are_numbered_as_cron_numbers_them(weekdays: str, days: list[str]) -> None:
    """APScheduler 3's from_crontab counts Monday as 0; a crontab's 1 is Monday, 0 and 7 Sunday."""
    from engine.timing import read_schedule

    schedule, moment, seen = read_schedule({"cron": f"0 9 * * {weekdays}"}), T0, []
    for _ in range(len(days)):
        moment = schedule.next_after(moment)
        seen.append(moment.strftime("%A"))
    assert sorted(seen) == sorted(days) and moment.hour == 9


@pytest.mark.parametrize(("weekdays", "message"), [
    ("8", "day of the week '8' is not a number 0-7"), ("5-1", "the range '5-1' goes backwards"),
    ("funday", "is not a number 0-7, a name"),
])
def test_a_bad_day_of_the_week_is_refused_at_load(weekdays: str, message: str) -> None:
    errors = [str(p) for p in validate(scheduled({"cron": f"0 9 * * {weekdays}"})) if p.severity == "error"]
    assert any(message in e and e.startswith("node 'start': field 'timer': cron") for e in errors), errors


# -- BPMN ------------------------------------------------------------------------------------------------


def start_event(definition: str) -> str:
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
            'xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="d" targetNamespace="http://example.com/t">\n'
            '<bpmn:process id="report" isExecutable="true">\n'
            f'<bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing>{definition}</bpmn:startEvent>\n'
            '<bpmn:serviceTask id="build"><bpmn:extensionElements><zeebe:taskDefinition type="build_report"/>'
            '</bpmn:extensionElements><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>'
            '</bpmn:serviceTask>\n'
            '<bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>\n'
            '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="build"/>\n'
            '<bpmn:sequenceFlow id="f2" sourceRef="build" targetRef="end"/>\n'
            '</bpmn:process>\n</bpmn:definitions>\n')


def cycle(text: str) -> str:
    return f"<bpmn:timerEventDefinition><bpmn:timeCycle>{text}</bpmn:timeCycle></bpmn:timerEventDefinition>"


@pytest.mark.parametrize(("written", "timer"), [
    ("R/PT1H", {"interval": "PT1H"}),
    ("0 0 9 ? * MON-FRI", {"cron": "0 9 * * MON-FRI"}),  # Camunda 7 and 8: seconds first, ? for "any"
    ("0 30 6 1 * ? *", {"cron": "30 6 1 * *"}),  # Quartz's year, any
    ("*/15 * * * *", {"cron": "*/15 * * * *"}),  # five fields: crontab
])
def test_a_bpmn_timer_start_is_read_as_a_schedule_and_starts_instances(written: str, timer: dict, db: Path,
                                                                       clock) -> None:
    from engine.bpmn.reader import read_bpmn

    blueprint = read_bpmn(start_event(cycle(written)), "report.bpmn").blueprint
    assert blueprint["nodes"][0]["timer"] == timer
    store = open_store(db)
    manager = WorkflowManager(store, clock=clock)
    manager.add_workflow(blueprint)
    rt = runtime(manager, clock)
    rt.start_scheduled()
    clock.now += timedelta(days=40)  # each schedule is due in that time; one start for what was missed
    assert len(rt.start_scheduled()) == 1
    store.close()


@pytest.mark.parametrize(("definition", "message"), [
    (cycle("0/5 0/1 * 1/1 * ?"), "fires at seconds '0/5'; wfconsole's cron starts run at most once a minute"),
    (cycle("0 0 9 ? * 2-6"), "its days of the week '2-6' are numbers, which Camunda 7 counts from Sunday = 1"),
    (cycle("R5/PT1H"), "repeats a number of times; wfconsole's interval starts repeat without end"),
    (cycle("R/2026-01-01T09:00:00Z/PT1H"), "repeats from a start date"),
    (cycle("=schedule"), "is an expression"),
    (cycle("0 0 9 * * ? 2027"), "names a year ('2027')"),
    (cycle("every day"), "is neither R/<duration> nor a cron expression"),
    ("<bpmn:timerEventDefinition><bpmn:timeDate>2026-12-24T09:00:00Z</bpmn:timeDate></bpmn:timerEventDefinition>",
     "a timer start needs one timeCycle"),
])
def test_a_bpmn_timer_start_wfconsole_cannot_run_as_drawn_is_refused_saying_why(definition: str, message: str) -> None:
    from engine.errors import BlueprintError
    from engine.sources import compile_text

    with pytest.raises(BlueprintError) as caught:
        compile_text(start_event(definition), "report.bpmn")
    problems = [str(p) for p in caught.value.problems]
    assert len(problems) == 1 and "startEvent 'start'" in problems[0] and message in problems[0], problems


@pytest.mark.parametrize("timer", [{"cron": "0 9 * * 1-5"}, {"interval": "PT1H"}, {"cron": "*/15 * 1 * sun"}])
def test_a_timer_start_goes_to_bpmn_as_camunda_reads_it_and_back_unchanged(timer: dict) -> None:
    from engine.bpmn.diagram import Bounds, Diagram
    from engine.bpmn.reader import read_bpmn
    from engine.bpmn.writer import write_bpmn
    from engine.validate import compile_blueprint

    compiled = compile_blueprint(scheduled(timer))
    shapes = {node.id: Bounds(100 * n, 0, 40, 40) for n, node in enumerate(compiled.blueprint.nodes)}
    edges = {e.id: ((shapes[e.source_id].x + 40, 20), (shapes[e.target_id].x, 20)) for e in compiled.blueprint.edges}
    text = write_bpmn(compiled, Diagram(shapes, edges))
    camunda = {"0 9 * * 1-5": "0 0 9 ? * MON,TUE,WED,THU,FRI", "*/15 * 1 * sun": "0 */15 * 1 * SUN"}
    assert f">{camunda.get(timer.get('cron'), 'R/PT1H')}</bpmn:timeCycle>" in text
    assert read_bpmn(text).blueprint["nodes"][0]["timer"] == timer
    # What Camunda wrote is read the same without wfconsole's own attribute.
    plain = text.replace(f' wf:{next(iter(timer))}="{next(iter(timer.values()))}"', "")
    assert plain != text
    again = read_bpmn(plain).blueprint["nodes"][0]["timer"]
    assert read_schedule_next(again) == read_schedule_next(timer)


def read_schedule_next(timer: dict) -> list[datetime]:
    from engine.timing import read_schedule

    schedule, moment, times = read_schedule(timer), T0, []
    for _ in range(10):
        moment = schedule.next_after(moment)
        times.append(moment)
    return times
