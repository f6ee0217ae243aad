"""Contract: the person's task list (``Store.list_tasks``) keeps what the header counts as waiting for a person,
oldest first, filtered by assignee, group, deadline, workflow and task, on every backend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.errors import InvalidValueError
from engine.ports import TaskQuery, WaitingFor

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
START = {"id": "start", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "START"}
END = {"id": "end", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "END"}
DESK = {"workflow_id": "desk", "version": 3, "nodes": [
    START,
    {"id": "review", "type": "TASK", "task_id": "review", "name": "Review the claim", "deadline": "PT1H",
     "assignee_key": "owner", "candidate_group": "claims"},
    END,
], "edges": [{"id": "e1", "source_id": "start", "target_id": "review"},
             {"id": "e2", "source_id": "review", "target_id": "end"}]}
BATCH = {"workflow_id": "batch", "nodes": [
    START, {"id": "crunch", "type": "TASK", "task_id": "crunch"}, END,
], "edges": [{"id": "e1", "source_id": "start", "target_id": "crunch"},
             {"id": "e2", "source_id": "crunch", "target_id": "end"}]}


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def desk(backend):
    """Four desk reviews a minute apart (alice's, nobody's, bob's, nobody's) and a batch task, started after."""
    clock = Clock()
    manager = backend.manager(clock)
    manager.add_workflow(DESK)
    manager.add_workflow(BATCH)
    ids = {}
    for name, owner in (("alice", "alice"), ("open1", None), ("bob", "bob"), ("open2", None), ("batch", None)):
        ids[name] = manager.start_workflow("batch" if name == "batch" else "desk", {"owner": owner} if owner else {})
        clock.now += timedelta(minutes=1)
    return manager, clock, ids


def listed(store, **filters) -> list[str]:
    at = filters.pop("at", T0 + timedelta(minutes=10))
    local = filters.pop("local", ())
    page = store.list_tasks(TaskQuery(WaitingFor(at, local), **filters))
    return [task.execution.instance_id for task in page.tasks]


def test_tasks_are_listed_oldest_first_with_their_workflow_and_instance_status(desk) -> None:
    manager, _, ids = desk
    page = manager.store.list_tasks(TaskQuery(WaitingFor(T0 + timedelta(minutes=10))))
    assert [t.execution.instance_id for t in page.tasks] == [ids[n] for n in ("alice", "open1", "bob", "open2",
                                                                                "batch")]
    assert page.total == 5
    first = page.tasks[0]
    assert (first.workflow_id, first.version, first.instance_status) == ("desk", 3, "ACTIVE")
    assert (first.execution.node_id, first.execution.assignee, first.execution.candidate_group) == (
        "review", "alice", "claims")
    assert first.execution.due_at == T0 + timedelta(hours=1)
    assert first.name is None  # the store does not read blueprints; Operations.tasks names the node
    assert (page.tasks[-1].workflow_id, page.tasks[-1].version, page.tasks[-1].execution.due_at) == ("batch", 1, None)


def test_tasks_are_filtered_by_assignee_group_deadline_workflow_and_task(desk) -> None:
    manager, _, ids = desk
    store = manager.store
    assert listed(store, assignee="alice") == [ids["alice"]]
    assert listed(store, unassigned=True) == [ids["open1"], ids["open2"], ids["batch"]]
    assert listed(store, candidate_group="claims") == [ids[n] for n in ("alice", "open1", "bob", "open2")]
    assert listed(store, candidate_group="claims", unassigned=True) == [ids["open1"], ids["open2"]]
    assert listed(store, workflow_id="batch") == [ids["batch"]]
    assert listed(store, task_id="review", assignee="bob") == [ids["bob"]]
    assert listed(store, assignee="nobody") == []
    # Due an hour after each was made, a minute apart: at 1h01m30s the first two are late.
    assert listed(store, overdue_at=T0 + timedelta(hours=1, seconds=90)) == [ids["alice"], ids["open1"]]
    assert listed(store, overdue_at=T0) == []


def test_a_page_of_tasks_and_the_total_of_the_query(desk) -> None:
    manager, _, ids = desk
    page = manager.store.list_tasks(TaskQuery(WaitingFor(T0), unassigned=True, limit=1, offset=1))
    assert [t.execution.instance_id for t in page.tasks] == [ids["open2"]] and page.total == 3
    assert manager.store.list_tasks(TaskQuery(WaitingFor(T0), limit=0)).total == 5


def test_the_list_holds_what_the_header_counts_as_waiting_for_a_person(desk) -> None:
    """A task leased by a runtime, or run by a local worker, is not a person's; a lapsed lease makes it one
    again; a completed or cancelled one has left. The count agrees with execution_counts every time."""
    manager, clock, ids = desk
    store = manager.store
    crunch = next(e.id for e in manager.get_status(ids["batch"]).executions)
    assert store.claim_execution(crunch, "rt-1", clock.now, clock.now + timedelta(seconds=30))
    review = next(e.id for e in manager.get_status(ids["open1"]).executions)
    manager.task_done(review, {})
    manager.cancel(ids["bob"], "withdrawn")
    for at, local in ((clock.now, ()), (clock.now, ("crunch",)), (clock.now + timedelta(minutes=5), ()),
                      (clock.now + timedelta(minutes=5), ("crunch", "review"))):
        page = store.list_tasks(TaskQuery(WaitingFor(at, local)))
        assert page.total == len(page.tasks) == store.execution_counts(set(local), at).waiting, (at, local)
    assert listed(store, at=clock.now) == [ids["alice"], ids["open2"]]  # crunch is leased
    assert listed(store, at=clock.now + timedelta(minutes=5)) == [ids["alice"], ids["open2"], ids["batch"]]
    assert listed(store, at=clock.now + timedelta(minutes=5), local=("review",)) == [ids["batch"]]


def test_a_claim_moves_a_task_from_claimable_to_mine(desk) -> None:
    manager, _, ids = desk
    review = next(e.id for e in manager.get_status(ids["open2"]).executions)
    manager.claim_task(review, actor="carol")
    assert listed(manager.store, assignee="carol") == [ids["open2"]]
    assert ids["open2"] not in listed(manager.store, unassigned=True)
    manager.release_task(review, actor="carol")
    assert ids["open2"] in listed(manager.store, unassigned=True)


def test_contradicting_task_filters_are_refused() -> None:
    with pytest.raises(InvalidValueError, match="both assigned"):
        TaskQuery(WaitingFor(T0), assignee="alice", unassigned=True)
    with pytest.raises(InvalidValueError, match="limit"):
        TaskQuery(WaitingFor(T0), limit=-1)
