"""The one door of the front ends: ids resolved, actions answered from their own transaction, permissions."""

from __future__ import annotations

import threading

import blueprints as bps
import pytest

from engine import WorkflowManager
from engine.actions import EXECUTION_ACTIONS, INSTANCE_ACTIONS, Action
from engine.errors import InvalidReferenceError, InvalidStateError, InvalidValueError, UnknownInstanceError
from engine.operations import Operations
from engine.replay import differences
from store import open_store


@pytest.fixture
def ops(manager: WorkflowManager) -> Operations:
    return Operations(manager, actor="ada")


def test_a_prefix_resolves_to_the_one_instance_it_starts(ops, manager, recorder):
    manager.add_workflow(bps.linear())
    instance_id = manager.start_workflow("linear")
    assert ops.resolve_instance(instance_id[:6].upper()) == instance_id
    assert ops.resolve_execution(f"{instance_id[:8]}:task_a") == recorder.execution_id("task_a")
    # What the task lists print names its instance too: the reference and the full execution id.
    assert ops.resolve_instance(f"{instance_id[:8]}:task_a") == instance_id
    assert ops.resolve_instance(recorder.execution_id("task_a")) == instance_id
    with pytest.raises(InvalidReferenceError, match="is not an instance id"):
        ops.resolve_instance("zz")
    with pytest.raises(InvalidReferenceError, match="is not an instance id"):
        ops.resolve_instance("zz:task_a")
    # An instance where a task is wanted: the refusal names its open task as the lists do.
    with pytest.raises(InvalidReferenceError, match=f"'{instance_id[:8]}' names an instance, not one of its tasks: "
                                                    f"give {instance_id[:8]}:task_a"):
        ops.resolve_execution(instance_id[:8])
    with pytest.raises(UnknownInstanceError, match="no instance id starts with"):
        ops.resolve_instance("ffffffff")


def test_an_ambiguous_prefix_names_the_candidates(ops, manager):
    manager.add_workflow(bps.linear())
    ids = [manager.start_workflow("linear") for _ in range(40)]
    shared = next(a[0] for a in ids if sum(b.startswith(a[0]) for b in ids) > 1)
    with pytest.raises(InvalidReferenceError, match=f"prefix '{shared}' is ambiguous"):
        ops.resolve_instance(shared)


def test_every_action_is_answered_with_what_its_transaction_did(ops, manager, recorder):
    manager.add_workflow(bps.two_tasks())
    first = ops.start("two_tasks")
    assert (first.applied, first.action) == (True, Action.START)
    execution_id = recorder.execution_id("first")
    failed = ops.fail(execution_id, "  printer jammed ")
    assert failed.message == f"first failed on instance {first.instance_id[:8]}: printer jammed"
    retried = ops.retry(execution_id)
    assert retried.new_execution_id == recorder.execution_id("first")
    done = ops.complete(retried.new_execution_id, {"value": "x"})
    assert done.applied and done.message.endswith("marked done by ada")
    again = ops.complete(retried.new_execution_id, {"value": "y"})
    assert not again.applied and "already COMPLETED" in again.message
    assert ops.instance(first.instance_id).context == {"shared": "x"}


def test_a_reason_is_needed_to_fail_or_cancel(ops, manager, recorder):
    manager.add_workflow(bps.linear())
    instance_id = manager.start_workflow("linear")
    with pytest.raises(InvalidValueError, match="a reason is needed"):
        ops.fail(recorder.execution_id("task_a"), "   ")
    with pytest.raises(InvalidValueError, match="a reason is needed"):
        ops.cancel(instance_id, "")
    assert ops.instance(instance_id).status == "ACTIVE"


def test_unset_deletes_variables_in_the_history_and_the_replay(ops, manager):
    manager.add_workflow(bps.linear())
    instance_id = manager.start_workflow("linear", {"iban": "DE89", "amount": 5})
    result = ops.unset_variables(instance_id, ["iban"])
    assert result.message == f"iban unset on instance {instance_id[:8]}"
    view = ops.instance(instance_id)
    assert view.context == {"amount": 5}
    assert view.history[-1].kind == "CONTEXT_UNSET" and view.history[-1].actor == "ada"
    assert differences(view) == []


def test_unset_of_a_variable_the_instance_lacks_names_the_nearest(ops, manager):
    manager.add_workflow(bps.linear())
    instance_id = manager.start_workflow("linear", {"amount": 5})
    with pytest.raises(InvalidStateError, match="has no variable 'amuont'; did you mean 'amount'"):
        ops.unset_variables(instance_id, ["amuont"])
    with pytest.raises(InvalidValueError):
        ops.unset_variables(instance_id, [])


def test_the_engine_says_which_actions_apply_and_why_not(ops, manager, recorder):
    manager.add_workflow(bps.linear())
    instance_id = manager.start_workflow("linear")
    view = ops.instance(instance_id)
    [execution] = view.executions
    allowed = ops.permissions(view, execution)
    assert {a for a in (*EXECUTION_ACTIONS, *INSTANCE_ACTIONS) if allowed.allows(a)} == {
        Action.COMPLETE, Action.FAIL, Action.CANCEL, Action.SET_VARIABLES, Action.UNSET_VARIABLES, Action.MOVE_TOKENS,
        Action.MIGRATE}
    assert "only a FAILED or STUCK execution can be retried" in allowed.why_not(Action.RETRY)
    assert "only an instance that stopped FAILED" in allowed.why_not(Action.RESUME)
    ops.cancel(instance_id, "withdrawn")
    after = ops.permissions(ops.instance(instance_id), ops.execution(execution.id))
    assert not any(after.allows(a) for a in (*EXECUTION_ACTIONS, *INSTANCE_ACTIONS))
    # The refusal the engine gives when the action is tried anyway is the reason it gave beforehand.
    with pytest.raises(InvalidStateError) as refused:
        ops.cancel(instance_id, "again")
    assert str(refused.value) == after.why_not(Action.CANCEL)


def test_a_bulk_action_goes_past_refusals_and_can_be_stopped(ops, manager):
    manager.add_workflow(bps.linear())
    ids = [manager.start_workflow("linear") for _ in range(4)]
    ops.cancel(ids[1], "early")
    result = ops.bulk(ids, lambda i: ops.cancel(i, "bulk"), lambda i: i[:8])
    assert result.done == [ids[0][:8], ids[2][:8], ids[3][:8]]
    assert result.refused == [(ids[1][:8], f"instance {ids[1][:8]} is CANCELLED: only an ACTIVE or FAILED "
                                           "instance can be cancelled")]
    asked = []
    stopped = ops.bulk(ids, lambda i: ops.set_variables(i, {"n": 1}), str, should_stop=lambda: len(asked) >= 1
                       or asked.append(1))
    assert stopped.stopped and stopped.total == 1


def test_two_operators_completing_one_task_at_once_are_told_the_truth(db_path, clock):
    """Only one completion is stored: exactly one operator is told it applied, the other why it did not."""
    setup = WorkflowManager(open_store(db_path), clock=clock)
    setup.add_workflow(bps.linear())
    instance_id = setup.start_workflow("linear")
    execution_id = setup.get_status(instance_id).executions[0].id
    for _ in range(10):  # each round: a fresh open execution both race for
        stores = [open_store(db_path) for _ in range(2)]
        operators = [Operations(WorkflowManager(store, clock=clock), actor=f"op{n}") for n, store in enumerate(stores)]
        results = _race([lambda o=o, n=n, e=execution_id: o.complete(e, {"local_out": n})
                         for n, o in enumerate(operators)])
        assert sorted(r.applied for r in results) == [False, True]
        loser = next(r for r in results if not r.applied)
        assert "already COMPLETED" in loser.message
        for store in stores:
            store.close()
        instance_id = setup.start_workflow("linear")
        execution_id = setup.get_status(instance_id).executions[0].id
    setup.store.close()


def _race(calls: list) -> list:
    """Run the calls in threads released at the same instant; their results."""
    barrier = threading.Barrier(len(calls))
    results: list = []

    def run(call) -> None:
        barrier.wait()
        results.append(call())

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results
