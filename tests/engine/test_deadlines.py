"""Deadlines on tasks (due times, overdue counts and filters) and boundary timers (interrupting or not)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engine import WorkflowManager
from engine.ports import InstanceQuery
from engine.replay import differences
from engine.runtime import WorkerRuntime
from engine.validate import validate
from engine.workers import WorkerRegistry
from store import open_store

START = {"id": "start", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "START"}
END = {"id": "end", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "END"}
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def review_flow(**review: object) -> dict:
    """START -> review (a person's TASK, with ``review``'s fields) -> END; review's timeout edge e3 -> escalate
    (a TASK) -> END."""
    return {"workflow_id": "review", "nodes": [
        START,
        {"id": "review", "type": "TASK", "task_id": "review_claim", **review},
        {"id": "escalate", "type": "TASK", "task_id": "escalate_claim"},
        END,
    ], "edges": [
        {"id": "e1", "source_id": "start", "target_id": "review"},
        {"id": "e2", "source_id": "review", "target_id": "end"},
        {"id": "e3", "source_id": "review", "target_id": "escalate"},
        {"id": "e4", "source_id": "escalate", "target_id": "end"},
    ]}


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def manager(tmp_path: Path, clock: Clock):
    store = open_store(tmp_path / "wf.db")
    yield WorkflowManager(store, clock=clock)
    store.close()


def fire(manager: WorkflowManager, clock: Clock) -> list:
    return WorkerRuntime(manager, WorkerRegistry(), owner="rt", clock=clock, rng=random.Random(1)).fire_due_timers()


def open_at(manager: WorkflowManager, instance_id: str) -> dict[str, str]:
    view = manager.get_status(instance_id)
    return {e.node_id: str(e.status) for e in view.executions if e.status in ("ACTIVE", "FAILED", "STUCK")}


# -- deadlines ----------------------------------------------------------------------------------------------


def test_a_deadline_gives_the_execution_a_due_time_counted_overdue_once_passed(manager, clock) -> None:
    flow = review_flow(deadline="PT4H")
    flow["edges"] = flow["edges"][:2]
    flow["nodes"] = [n for n in flow["nodes"] if n["id"] != "escalate"]
    manager.add_workflow(flow)
    instance_id = manager.start_workflow("review")
    (execution,) = manager.get_status(instance_id).executions
    assert execution.due_at == T0 + timedelta(hours=4)
    assert manager.store.execution_counts(set(), clock.now).overdue == 0
    assert manager.list_instances(InstanceQuery(overdue_at=clock.now)) == []

    clock.now += timedelta(hours=4, seconds=1)
    assert manager.store.execution_counts(set(), clock.now).overdue == 1
    assert [s.id for s in manager.list_instances(InstanceQuery(overdue_at=clock.now))] == [instance_id]
    manager.fail_task(execution.id, "reviewer away")
    retried = manager.retry(execution.id)
    assert manager.get_execution(retried).due_at == execution.due_at  # a retry keeps the task's deadline
    manager.task_done(retried, {})
    assert manager.store.execution_counts(set(), clock.now).overdue == 0
    assert differences(manager.get_status(instance_id)) == []


def test_a_deadline_from_the_context_and_one_the_context_cannot_give(manager, clock) -> None:
    flow = review_flow(deadline={"key": "answer_by"})
    manager.add_workflow(flow)
    dated = manager.start_workflow("review", {"answer_by": "2026-01-03T09:00:00Z"})
    assert manager.get_status(dated).executions[0].due_at == datetime(2026, 1, 3, 9, 0, tzinfo=UTC)
    undated = manager.start_workflow("review")
    view = manager.get_status(undated)
    assert view.executions[0].due_at is None  # no deadline rather than a stopped instance: the task still runs
    created = next(e for e in view.history if e.kind == "EXECUTION_CREATED")
    assert "answer_by" in created.details["deadline_problem"]
    assert differences(view) == []


# -- boundary timers --------------------------------------------------------------------------------------


def test_an_interrupting_boundary_timer_cancels_the_task_and_takes_the_timeout_edge(manager, clock) -> None:
    manager.add_workflow(review_flow(boundary_timers=[{"duration": "PT1H", "edge": "e3"}]))
    instance_id = manager.start_workflow("review")
    (wait,) = manager.get_status(instance_id).waits
    assert wait.kind == "BOUNDARY" and wait.due_at == T0 + timedelta(hours=1)
    clock.now += timedelta(minutes=59)
    assert fire(manager, clock) == []
    clock.now += timedelta(minutes=1)
    assert fire(manager, clock) == [(instance_id, wait.id)]
    view = manager.get_status(instance_id)
    review = next(e for e in view.executions if e.node_id == "review")
    assert review.status == "CANCELLED" and "boundary timer fired" in review.error
    assert open_at(manager, instance_id) == {"escalate": "ACTIVE"} and view.waits == []
    assert differences(view) == []
    assert manager.task_done(review.id, {}).applied is False  # a late completion changes nothing


def test_a_task_completed_in_time_ends_its_boundary_timer_and_skips_the_timeout_edge(manager, clock) -> None:
    manager.add_workflow(review_flow(boundary_timers={"duration": "PT1H", "edge": "e3"}))
    instance_id = manager.start_workflow("review")
    (execution,) = manager.get_status(instance_id).executions
    manager.task_done(execution.id, {})
    view = manager.get_status(instance_id)
    assert view.status == "COMPLETED" and view.waits == []
    assert "e3" not in [e.details.get("edge_id") for e in view.history]
    clock.now += timedelta(hours=2)
    assert fire(manager, clock) == [] and differences(view) == []


def test_a_non_interrupting_boundary_timer_sends_a_second_token_and_the_task_stays(manager, clock) -> None:
    manager.add_workflow(review_flow(boundary_timers=[{"duration": "PT1H", "edge": "e3", "interrupting": False}]))
    instance_id = manager.start_workflow("review")
    clock.now += timedelta(hours=1)
    assert len(fire(manager, clock)) == 1
    assert open_at(manager, instance_id) == {"review": "ACTIVE", "escalate": "ACTIVE"}
    view = manager.get_status(instance_id)
    assert view.waits == [] and differences(view) == []  # it fires once
    clock.now += timedelta(hours=5)
    assert fire(manager, clock) == []
    review = next(e for e in view.executions if e.node_id == "review")
    manager.task_done(review.id, {})
    assert manager.get_status(instance_id).status == "COMPLETED"


def test_a_task_may_have_several_boundary_timers_each_firing_once(manager, clock) -> None:
    flow = review_flow(boundary_timers=[{"duration": "PT1H", "edge": "e3", "interrupting": False},
                                        {"duration": "PT2H", "edge": "e5"}])
    flow["nodes"].append({"id": "give_up", "type": "TASK", "task_id": "close_claim"})
    flow["edges"] += [{"id": "e5", "source_id": "review", "target_id": "give_up"},
                      {"id": "e6", "source_id": "give_up", "target_id": "end"}]
    manager.add_workflow(flow)
    instance_id = manager.start_workflow("review")
    clock.now += timedelta(hours=3)  # both late: fired in the order they were due
    assert len(fire(manager, clock)) == 2
    assert open_at(manager, instance_id) == {"escalate": "ACTIVE", "give_up": "ACTIVE"}
    assert differences(manager.get_status(instance_id)) == []


@pytest.mark.parametrize(("timers", "message"), [
    ([{"duration": "PT1H", "edge": "e9"}],
     "node 'review': field 'boundary_timers[0]': edge 'e9' is not an outgoing edge of this task (its edges: 'e2', "
     "'e3')"),
    ([{"duration": "PT1H"}], "node 'review': field 'boundary_timers[0]': needs an 'edge'"),
    ([{"duration": "1 hour", "edge": "e3"}], "node 'review': field 'boundary_timers[0]': '1 hour' is not an ISO"),
    ([{"duration": "PT1H", "edge": "e3"}, {"duration": "PT2H", "edge": "e3"}],
     "node 'review': field 'boundary_timers[1]': edge 'e3' is the timeout edge of another boundary timer too"),
    ([{"duration": "PT1H", "edge": "e3"}, {"duration": "PT2H", "edge": "e2"}],
     "node 'review': every outgoing edge is a boundary timer's"),
    ([{"duration": "PT1H", "edge": "e3", "interrupting": "yes"}],
     "node 'review': field 'boundary_timers[0]': 'interrupting' must be true or false"),
    ([{"duraton": "PT1H", "edge": "e3"}],
     "node 'review': field 'boundary_timers[0]': unknown field 'duraton' (did you mean 'duration'?)"),
])
def test_a_bad_boundary_timer_is_refused_at_load_naming_node_field_and_edge(timers, message: str) -> None:
    errors = [str(p) for p in validate(review_flow(boundary_timers=timers)) if p.severity == "error"]
    assert any(e.startswith(message) for e in errors), errors


def test_a_timeout_edge_is_not_counted_as_a_second_way_out_of_the_task() -> None:
    problems = validate(review_flow(boundary_timers=[{"duration": "PT1H", "edge": "e3"}], deadline="P1D"))
    assert problems == []
    assert [str(p) for p in validate(review_flow(deadline="tomorrow"))][0].startswith(
        "node 'review': field 'deadline': 'tomorrow' is not an ISO 8601 duration")


def test_a_task_cancelled_by_its_timer_is_shown_with_its_reason_not_as_a_failed_attempt(manager, clock) -> None:
    from console.formatting import error_note, error_owner

    manager.add_workflow(review_flow(boundary_timers=[{"duration": "PT1H", "edge": "e3"}]))
    instance_id = manager.start_workflow("review")
    clock.now += timedelta(hours=1)
    fire(manager, clock)
    view = manager.get_status(instance_id)
    review = next(e for e in view.executions if e.node_id == "review")
    assert review.status == "CANCELLED" and error_owner(review, view.history) is None
    assert error_note(review, view.history).startswith("boundary timer fired")
