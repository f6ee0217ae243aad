"""Who does a person's task: assignees and candidate groups from the blueprint, claims and releases, completing
a task claimed by someone else (refused unless forced, recorded), and claim races between two operators."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine import WorkflowManager
from engine.errors import InvalidStateError
from engine.manager import default_actor
from engine.ports import InstanceQuery
from engine.replay import differences
from engine.validate import validate
from store import open_store

START = {"id": "start", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "START"}
END = {"id": "end", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "END"}
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def review_flow(**people: object) -> dict:
    return {"workflow_id": "review", "nodes": [
        START, {"id": "review", "type": "TASK", "task_id": "review_claim", **people}, END,
    ], "edges": [{"id": "e1", "source_id": "start", "target_id": "review"},
                 {"id": "e2", "source_id": "review", "target_id": "end"}]}


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "wf.db"


@pytest.fixture
def manager(db: Path):
    store = open_store(db)
    yield WorkflowManager(store, clock=lambda: T0)
    store.close()


def started(manager: WorkflowManager, context: dict | None = None, **people: object) -> str:
    manager.add_workflow(review_flow(**people))
    instance_id = manager.start_workflow("review", context or {})
    return manager.get_status(instance_id).executions[0].id


def test_the_blueprint_names_the_assignee_and_group_statically_or_from_the_context(manager) -> None:
    execution_id = started(manager, {"reviewer": "bob"}, assignee_key="reviewer", candidate_group="claims")
    execution = manager.get_execution(execution_id)
    assert (execution.assignee, execution.candidate_group) == ("bob", "claims")
    created = next(e for e in manager.get_status(execution.instance_id).history if e.kind == "EXECUTION_CREATED")
    assert created.details["assignee"] == "bob" and created.details["candidate_group"] == "claims"


def test_claim_release_and_complete_by_the_assignee(manager) -> None:
    execution_id = started(manager, candidate_group="claims")
    manager.claim_task(execution_id, actor="alice")
    assert manager.get_execution(execution_id).assignee == "alice"
    instance_id = manager.get_execution(execution_id).instance_id
    assert [s.id for s in manager.list_instances(InstanceQuery(assignee="alice"))] == [instance_id]
    assert manager.list_instances(InstanceQuery(assignee="bob")) == []
    with pytest.raises(InvalidStateError, match="yours already"):
        manager.claim_task(execution_id, actor="alice")
    manager.release_task(execution_id, actor="alice")
    assert manager.get_execution(execution_id).assignee is None
    with pytest.raises(InvalidStateError, match="not claimed by anyone"):
        manager.release_task(execution_id, actor="alice")
    manager.claim_task(execution_id, actor="alice")
    assert manager.task_done(execution_id, {}, actor="alice").applied
    view = manager.get_status(instance_id)
    assert [str(e.kind) for e in view.history].count("TASK_CLAIMED") == 2 and differences(view) == []


def test_completing_a_task_claimed_by_someone_else_is_refused_unless_forced_and_recorded(manager) -> None:
    execution_id = started(manager, assignee="alice")
    with pytest.raises(InvalidStateError, match="claimed by alice: completing it as bob needs force"):
        manager.task_done(execution_id, {}, actor="bob")
    assert manager.get_execution(execution_id).status == "ACTIVE"
    assert manager.task_done(execution_id, {}, actor="bob", force=True).applied
    view = manager.get_status(manager.get_execution(execution_id).instance_id)
    done = next(e for e in view.history if e.kind == "EXECUTION_COMPLETED")
    assert done.actor == "bob" and done.details["forced_over"] == "alice" and differences(view) == []


def test_a_worker_or_an_api_caller_without_an_actor_is_not_held_by_a_claim(manager) -> None:
    execution_id = started(manager, assignee="alice")
    assert manager.task_done(execution_id, {}).applied  # no actor: an external handler's completion


def test_taking_over_or_releasing_someone_elses_claim_needs_force(manager) -> None:
    execution_id = started(manager)
    manager.claim_task(execution_id, actor="alice")
    with pytest.raises(InvalidStateError, match="claimed by alice: they release it, or take it over with force"):
        manager.claim_task(execution_id, actor="bob")
    with pytest.raises(InvalidStateError, match="claimed by alice, not bob"):
        manager.release_task(execution_id, actor="bob")
    manager.claim_task(execution_id, actor="bob", force=True)
    view = manager.get_status(manager.get_execution(execution_id).instance_id)
    taken = [e for e in view.history if e.kind == "TASK_CLAIMED"][-1]
    assert taken.details == {"assignee": "bob", "previous": "alice", "forced": True}
    assert differences(view) == []


def test_a_retry_keeps_the_assignee(manager) -> None:
    execution_id = started(manager)
    manager.claim_task(execution_id, actor="alice")
    manager.fail_task(execution_id, "needs a second look", actor="alice")
    retried = manager.retry(execution_id, actor="alice")
    assert manager.get_execution(retried).assignee == "alice"
    assert differences(manager.get_status(manager.get_execution(retried).instance_id)) == []


def test_two_operators_racing_to_claim_one_task_one_wins(db: Path, manager) -> None:
    execution_ids = [started(manager) for _ in range(1)] + [manager.get_status(
        manager.start_workflow("review")).executions[0].id for _ in range(9)]
    stores = [open_store(db), open_store(db)]
    racers = [WorkflowManager(store, clock=lambda: T0) for store in stores]
    won: dict[str, list[str]] = {"alice": [], "bob": []}
    refused: dict[str, list[str]] = {"alice": [], "bob": []}
    barrier = threading.Barrier(2)

    def race(manager: WorkflowManager, user: str) -> None:
        barrier.wait()
        for execution_id in execution_ids:
            try:
                manager.claim_task(execution_id, actor=user)
                won[user].append(execution_id)
            except InvalidStateError:
                refused[user].append(execution_id)

    threads = [threading.Thread(target=race, args=(m, u)) for m, u in zip(racers, won, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for store in stores:
        store.close()
    assert sorted(won["alice"] + won["bob"]) == sorted(execution_ids)  # each claimed once
    assert sorted(refused["alice"] + refused["bob"]) == sorted(execution_ids)  # and refused to the other
    for execution_id in execution_ids:
        owner = "alice" if execution_id in won["alice"] else "bob"
        assert manager.get_execution(execution_id).assignee == owner
        view = manager.get_status(manager.get_execution(execution_id).instance_id)
        assert [str(e.kind) for e in view.history].count("TASK_CLAIMED") == 1 and differences(view) == []


def test_the_current_user_is_wfconsole_user_else_the_login_name(monkeypatch) -> None:
    monkeypatch.setenv("WFCONSOLE_USER", "carol")
    assert default_actor() == "carol"
    monkeypatch.delenv("WFCONSOLE_USER")
    assert default_actor() not in ("", "carol")


@pytest.mark.parametrize(("people", "expected"), [
    ({"assignee": 7}, "node 'review': field 'assignee': expected a non-empty string"),
    ({"assignee": "a", "assignee_key": "b"}, "node 'review': fields 'assignee' and 'assignee_key': give one"),
    ({"candidate_group_key": ""}, "node 'review': field 'candidate_group_key': expected a non-empty string"),
])
def test_bad_people_fields_are_refused_at_load(people: dict, expected: str) -> None:
    errors = [str(p) for p in validate(review_flow(**people)) if p.severity == "error"]
    assert any(e.startswith(expected) for e in errors), errors


def test_an_assignee_key_nothing_sets_is_a_warning_naming_node_and_field() -> None:
    problems = validate(review_flow(assignee_key="reviewer"))
    assert [str(p) for p in problems] == [
        "node 'review': field 'assignee_key': no task or message event sets 'reviewer'; it must come with the start "
        "context, else the task has no assignee"]
    assert problems[0].severity == "warning"
