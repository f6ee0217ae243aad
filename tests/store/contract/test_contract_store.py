"""Contract: transactions, queries, history, blueprints and the change signal of every Store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import blueprints as bps
import pytest

from engine import InstanceQuery, WorkflowError, machine
from engine.errors import BlueprintConflictError, StoreError
from engine.model import HistoryEntry, HistoryKind
from engine.replay import differences

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=10)
        return self.now


@pytest.fixture
def manager(backend):
    return backend.manager(Clock())


# -- transactions -------------------------------------------------------------------------------------


def test_a_write_commits_on_normal_exit_and_rolls_back_on_an_exception(backend, manager) -> None:
    manager.add_workflow(bps.linear())
    instance_id = manager.start_workflow("linear", {"a": 1})
    with pytest.raises(RuntimeError):
        with manager.store.write() as tx:
            state = tx.load_instance(instance_id)
            transition = _completion(manager, state, next(iter(state.executions)))
            tx.apply(transition.changes, transition.state)
            raise RuntimeError("abort")  # after the whole change set was written, before the commit
    other = backend.open()  # another connection, another process or host
    assert other.get_instance(instance_id).status == "ACTIVE"
    assert [e.status for e in other.get_instance(instance_id).executions] == ["ACTIVE"]
    assert differences(other.get_instance(instance_id)) == []


def _completion(manager, state, execution_id):
    """The transition of completing ``execution_id``, as the manager would apply it."""
    bp = manager.get_workflow(state.workflow_id, state.version)
    return machine.task_done(bp, state, execution_id, {"local_out": 2}, machine.event_at(T0))


def test_every_step_is_seen_whole_by_another_store(backend, manager) -> None:
    manager.add_workflow(bps.parallel())
    instance_id = manager.start_workflow("parallel")
    other = backend.manager()
    for execution in manager.get_status(instance_id).executions:
        assert other.task_done(execution.id, {}).applied
    view = manager.get_status(instance_id)
    assert view.status == "COMPLETED" and differences(view) == []


def test_blueprints_are_stored_all_or_none_and_a_changed_one_needs_a_new_version(backend, manager) -> None:
    assert manager.add_workflows([(bps.linear(), None), (bps.two_tasks(), None)]) == [(1, True), (1, True)]
    assert manager.add_workflows([(bps.linear(), None)]) == [(1, False)]  # identical: a no-op
    changed = bps.linear(task_id="other_task")
    with pytest.raises(BlueprintConflictError, match="already stored with different content"):
        manager.add_workflows([(bps.exclusive(), None), (changed, None)])
    other = backend.open()
    assert {s.workflow_id for s in other.list_blueprints()} == {"linear", "two_tasks"}  # exclusive not stored
    assert other.get_blueprint("linear").blueprint.nodes[1].task_id == "do_a"
    assert other.get_blueprint("nope") is None


def test_the_newest_version_is_found_and_each_version_by_number(manager) -> None:
    manager.add_workflow(bps.linear(version=1))
    manager.add_workflow(bps.linear(version=3, task_id="v3"))
    store = manager.store
    assert store.get_blueprint("linear").blueprint.version == 3
    assert store.get_blueprint("linear", 1).blueprint.version == 1
    assert store.get_blueprint("linear", 2) is None


# -- instances, executions, history -------------------------------------------------------------------


def test_an_instance_reads_back_as_it_was_written(manager) -> None:
    manager.add_workflow(bps.exclusive())
    instance_id = manager.start_workflow("exclusive", {"amount": 250, "tags": ["a", "é"], "nested": {"x": None}})
    view = manager.get_status(instance_id)
    assert view.context == {"amount": 250, "tags": ["a", "é"], "nested": {"x": None}}
    assert view.workflow_id == "exclusive" and view.version == 1 and view.status == "ACTIVE"
    assert [h.seq for h in view.history] == list(range(1, len(view.history) + 1))
    assert differences(view) == []
    newest = manager.get_status(instance_id, history_limit=2).history
    assert newest == view.history[-2:]
    assert manager.get_status(instance_id, history_limit=0).history == []
    assert manager.store.get_instance("00000000-0000-4000-8000-000000000000") is None


def test_a_large_context_round_trips(manager) -> None:
    manager.add_workflow(bps.linear())
    big = {"doc": "x" * 50_000, "list": list(range(2_000))}
    instance_id = manager.start_workflow("linear", big)
    manager.set_variables(instance_id, {"more": "y" * 10_000})
    view = manager.get_status(instance_id)
    assert view.context == {**big, "more": "y" * 10_000}
    assert differences(view) == []


def test_appended_history_comes_after_the_steps(manager) -> None:
    manager.add_workflow(bps.linear())
    instance_id = manager.start_workflow("linear")
    before = manager.get_status(instance_id).history
    entry = HistoryEntry(kind=HistoryKind.HANDLER_ERROR, at=T0, details={"error": "boom"}, instance_id=instance_id)
    manager.store.append_history(instance_id, [entry])
    after = manager.get_status(instance_id).history
    assert after[:-1] == before and after[-1].kind == "HANDLER_ERROR" and after[-1].seq == len(after)


def test_executions_are_found_by_id_and_by_status(manager) -> None:
    manager.add_workflow(bps.two_tasks())
    first_instance = manager.start_workflow("two_tasks")
    second_instance = manager.start_workflow("two_tasks")
    [first] = manager.get_status(first_instance).executions
    manager.fail_task(first.id, "broken")
    assert manager.store.get_execution(first.id).status == "FAILED"
    assert manager.store.get_execution(f"{first_instance}:first:00000000-0000-4000-8000-000000000000") is None
    assert [e.instance_id for e in manager.store.list_executions(["FAILED"])] == [first_instance]
    assert [e.instance_id for e in manager.store.list_executions(["ACTIVE"])] == [second_instance]
    assert len(manager.store.list_executions(["ACTIVE", "FAILED"], limit=1)) == 1


def test_instances_are_listed_newest_first_and_filtered(manager) -> None:
    manager.add_workflow(bps.linear())
    manager.add_workflow(bps.two_tasks())
    ada = manager.start_workflow("linear", {"customer": "Ada Lovelace"})
    bob = manager.start_workflow("two_tasks", {"customer": "Bob"})
    cancelled = manager.start_workflow("linear", {"customer": "Cy"})
    manager.cancel(cancelled, "test")
    store = manager.store

    def ids(**filters) -> list[str]:
        return [s.id for s in store.list_instances(InstanceQuery(**filters))]

    assert ids() == [cancelled, bob, ada]
    assert ids(status="CANCELLED") == [cancelled]
    assert ids(workflow_id="linear") == [cancelled, ada]
    assert ids(workflow_id="linear", version=1, status="ACTIVE") == [ada]
    assert ids(text="lovelace") == [ada]  # a context value, any case
    assert ids(text="two_tas") == [bob]  # the workflow
    assert ids(text=ada[:8]) == [ada]  # the id
    assert ids(text="task_a") == [ada]  # a node a token rests on (the cancelled one has none)
    assert ids(text="customer") == []  # a variable's name is not its value
    assert ids(text="100%_") == []  # LIKE wildcards are literal
    assert ids(task_id="do_a") == [ada]  # an open execution of that task
    assert ids(limit=1, offset=1) == [bob]
    assert store.count_instances() == {"ACTIVE": 2, "CANCELLED": 1}
    assert store.count_instances(InstanceQuery(workflow_id="linear", status="ACTIVE")) == {"ACTIVE": 1,
                                                                                           "CANCELLED": 1}
    [summary] = store.list_instances(InstanceQuery(status="ACTIVE", workflow_id="linear"))
    assert summary.token_nodes == ["task_a"] and summary.token_statuses == ["ACTIVE"]


def test_instance_ids_are_found_by_prefix(manager) -> None:
    manager.add_workflow(bps.linear())
    ids = sorted(manager.start_workflow("linear") for _ in range(5))
    assert manager.store.find_instance_ids(ids[2][:12]) == [ids[2]]
    assert manager.store.find_instance_ids("", limit=3) == ids[:3]
    assert manager.store.find_instance_ids("zzz") == []


# -- the change signal, the source, schema versions ---------------------------------------------------


def test_the_change_token_moves_when_another_store_commits(backend, manager) -> None:
    manager.add_workflow(bps.linear())
    watcher = backend.open()
    before = watcher.change_token()
    assert before is not None and watcher.change_token() == before  # nothing committed: unchanged
    backend.manager().start_workflow("linear")
    assert watcher.change_token() != before


def test_the_source_names_the_database_without_a_password(backend) -> None:
    store = backend.open()
    assert store.source and "password" not in store.source.lower()
    assert isinstance(store.warnings, list)


def test_a_database_of_a_newer_schema_is_refused_untouched(backend) -> None:
    backend.open().close()
    backend.set_schema_version(10_000)
    with pytest.raises(StoreError, match="newer wfconsole"):
        backend.open()


def test_a_refused_step_changes_nothing(manager) -> None:
    manager.add_workflow(bps.linear())
    instance_id = manager.start_workflow("linear")
    before = manager.get_status(instance_id)
    with pytest.raises(WorkflowError):
        manager.retry(before.executions[0].id)  # ACTIVE: nothing to retry
    assert manager.get_status(instance_id) == before
