"""``WorkflowManager`` on a file database (SPEC §3-§6): the Go engine's behaviours and what goes beyond them."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import blueprints as bps
import pytest

from engine import (
    BlueprintConflictError,
    BlueprintError,
    ExecutionStatus,
    HistoryKind,
    InstanceStatus,
    InvalidStateError,
    InvalidValueError,
    MalformedExecutionIdError,
    NoMatchingConditionError,
    TokenStatus,
    UnknownExecutionError,
    UnknownInstanceError,
    UnknownWorkflowError,
    WorkflowError,
    WorkflowManager,
)
from engine.outcomes import Ignored
from store import open_store

MISSING_UUID = "00000000-0000-4000-8000-000000000000"


def history(manager: WorkflowManager, instance_id: str, kind: HistoryKind | None = None):
    entries = manager.get_status(instance_id).history
    return [h for h in entries if kind is None or h.kind is kind]


def only_execution(manager: WorkflowManager, instance_id: str, node_id: str):
    found = [e for e in manager.get_status(instance_id).executions if e.node_id == node_id]
    assert len(found) == 1, found
    return found[0]


# -- starting and dispatch ------------------------------------------------------------------------


def test_start_workflow_dispatches_the_first_task_with_mapped_inputs(manager, recorder):
    manager.add_workflow(bps.linear())
    instance_id = manager.start_workflow("linear", {"global_input": "mapped_value"})
    [payload] = recorder.payloads
    assert (payload.instance_id, payload.node_id, payload.task_id) == (instance_id, "task_a", "do_a")
    assert payload.inputs == {"local_in": "mapped_value"}
    assert payload.execution_id.startswith(f"{instance_id}:task_a:")
    inst = manager.get_status(instance_id)
    assert inst.status == InstanceStatus.ACTIVE
    assert [(t.id, t.node_id, t.status) for t in inst.tokens] == [
        (payload.execution_id, "task_a", TokenStatus.ACTIVE)]
    assert inst.context == {"global_input": "mapped_value"}


def test_task_handler_is_called_after_commit_and_sees_the_execution_from_another_connection(
        manager, db_path):
    manager.add_workflow(bps.linear())
    seen = []

    def look_from_outside(payload):
        other = open_store(db_path)
        try:
            seen.append(other.get_execution(payload.execution_id))
        finally:
            other.close()

    manager.register_task_handler(look_from_outside)
    manager.start_workflow("linear", {"global_input": "x"})
    [execution] = seen
    assert execution is not None, "the handler ran before the execution was committed"
    assert (execution.status, execution.inputs) == (ExecutionStatus.ACTIVE, {"local_in": "x"})


def test_linear_workflow_full_lifecycle(manager, recorder):
    manager.add_workflow(bps.linear())
    instance_id = manager.start_workflow("linear", {"global_input": "test_value"})
    manager.task_done(recorder.execution_id("task_a"), {"local_out": "output_value"})
    inst = manager.get_status(instance_id)
    assert inst.status == InstanceStatus.COMPLETED
    assert inst.tokens == []
    assert inst.context == {"global_input": "test_value", "global_output": "output_value"}
    assert inst.ended_at is not None


def test_history_times_come_from_the_managers_clock(manager, recorder, clock):
    manager.add_workflow(bps.linear())
    started_at = clock.now
    instance_id = manager.start_workflow("linear")
    entries = history(manager, instance_id)
    assert entries[0].kind is HistoryKind.INSTANCE_STARTED
    assert entries[0].at == started_at
    assert manager.get_status(instance_id).created_at == started_at


# -- the Go engine's behaviours -------------------------------------------------------------------


def test_duplicate_task_done_is_ignored(manager, recorder):
    manager.add_workflow(bps.two_tasks())
    instance_id = manager.start_workflow("two_tasks")
    execution_id = recorder.execution_id("first")
    manager.task_done(execution_id, {"value": "first call"})
    before = manager.get_status(instance_id)
    manager.task_done(execution_id, {"value": "second call"})  # no error
    after = manager.get_status(instance_id)
    assert after.context == {"shared": "first call"}
    assert after.history == before.history
    assert recorder.nodes() == ["first", "second"]  # nothing dispatched twice


def test_task_done_for_an_unknown_execution_of_a_known_instance_is_ignored(manager, recorder):
    manager.add_workflow(bps.linear())
    instance_id = manager.start_workflow("linear")
    before = manager.get_status(instance_id)
    manager.task_done(f"{instance_id}:task_a:{MISSING_UUID}", {"local_out": 1})
    assert manager.get_status(instance_id) == before


def test_task_done_says_whether_it_applied_and_why_not(manager, recorder):
    manager.add_workflow(bps.two_tasks())
    instance_id = manager.start_workflow("two_tasks")
    first = recorder.execution_id("first")
    applied = manager.task_done(first, {"value": "a"})
    assert (applied.applied, applied.ignored, applied.instance_id) == (True, None, instance_id)
    again = manager.task_done(first, {"value": "b"})
    assert (again.applied, again.ignored) == (False, Ignored.ALREADY_COMPLETED)
    assert again.message == f"execution {first} is already COMPLETED: nothing changed"
    unknown = manager.task_done(f"{instance_id}:first:{MISSING_UUID}", {})
    assert unknown.ignored is Ignored.UNKNOWN_EXECUTION and "unknown execution" in unknown.message


def test_task_done_after_a_retry_or_a_cancel_says_so(manager, recorder):
    manager.add_workflow(bps.two_tasks())
    instance_id = manager.start_workflow("two_tasks")
    first = recorder.execution_id("first")
    manager.fail_task(first, "broken")
    manager.retry(first)
    retried = manager.task_done(first, {"value": "late"})
    assert (retried.applied, retried.ignored) == (False, Ignored.EXECUTION_RETRIED)
    assert manager.get_status(instance_id).context == {}  # the outputs were not applied
    manager.cancel(instance_id, "withdrawn")
    cancelled = manager.task_done(recorder.execution_id("first"), {"value": "late"})
    assert (cancelled.ignored, cancelled.instance_status) == (Ignored.EXECUTION_CANCELLED, "CANCELLED")


def test_completing_an_incident_says_it_resolved_it(manager, recorder):
    manager.add_workflow(bps.two_tasks())
    manager.start_workflow("two_tasks")
    first = recorder.execution_id("first")
    manager.fail_task(first, "broken")
    assert manager.task_done(first, {"value": "fixed"}).resolved_incident is True
    assert manager.task_done(recorder.execution_id("second"), {}).resolved_incident is False


def test_unmapped_outputs_are_dropped(manager, recorder):
    manager.add_workflow(bps.linear())
    instance_id = manager.start_workflow("linear", {"global_input": "hello"})
    execution_id = recorder.execution_id("task_a")
    manager.task_done(execution_id, {"local_out": "mapped_value", "extra_field": "should_not_appear"})
    inst = manager.get_status(instance_id)
    assert inst.context == {"global_input": "hello", "global_output": "mapped_value"}
    # The execution keeps everything the task returned; only the context is isolated.
    assert manager.get_execution(execution_id).outputs == {"local_out": "mapped_value",
                                                           "extra_field": "should_not_appear"}


@pytest.mark.parametrize("outputs", [None, {}])
def test_task_done_with_no_outputs_completes_without_writing_context(manager, recorder, outputs):
    manager.add_workflow(bps.linear())
    instance_id = manager.start_workflow("linear", {"global_input": "v"})
    manager.task_done(recorder.execution_id("task_a"), outputs)
    inst = manager.get_status(instance_id)
    assert inst.status == InstanceStatus.COMPLETED
    assert "global_output" not in inst.context


def test_no_matching_condition_raises_and_the_failed_state_is_committed(manager, recorder, db_path):
    manager.add_workflow(bps.no_match())
    instance_id = manager.start_workflow("no_match")
    with pytest.raises(NoMatchingConditionError) as caught:
        manager.task_done(recorder.execution_id("task_init"), {"status": "pending"})
    assert caught.value.node_id == "split" and "'split'" in str(caught.value)
    assert isinstance(caught.value, WorkflowError)

    other = open_store(db_path)  # committed, not just in this manager's memory
    try:
        inst = other.get_instance(instance_id)
    finally:
        other.close()
    assert inst.status == InstanceStatus.FAILED
    assert "'split'" in inst.error
    assert inst.context == {"status": "pending"}
    assert [h.node_id for h in inst.history if h.kind is HistoryKind.INSTANCE_FAILED] == ["split"]


def test_no_match_while_starting_raises_with_the_id_of_the_stored_failed_instance(manager, recorder):
    source = bps.no_match()
    source["edges"][0:2] = [bps.edge("e1", "start", "split")]  # the split comes first: no task before it
    source["nodes"] = [n for n in source["nodes"] if n["id"] != "task_init"]
    manager.add_workflow(source)
    with pytest.raises(NoMatchingConditionError) as caught:
        manager.start_workflow("no_match", {"status": "pending"})
    inst = manager.get_status(caught.value.instance_id)
    assert inst.status == InstanceStatus.FAILED
    assert [(t.node_id, t.status) for t in inst.tokens] == [("split", TokenStatus.FAILED)]
    assert recorder.payloads == []


def test_default_edge_is_taken_when_no_condition_matches(manager, recorder):
    manager.add_workflow(bps.default_edge())
    instance_id = manager.start_workflow("default_edge", {"status": "pending"})
    assert recorder.nodes() == ["task_default"]
    manager.task_done(recorder.execution_id("task_default"))
    assert manager.get_status(instance_id).status == InstanceStatus.COMPLETED


def test_several_blueprints_run_side_by_side(manager, recorder):
    manager.add_workflow(bps.linear())
    manager.add_workflow(bps.parallel())
    linear_id = manager.start_workflow("linear", {"global_input": "v"})
    parallel_id = manager.start_workflow("parallel")
    assert sorted(p.task_id for p in recorder.payloads) == ["do_a", "work_a", "work_b"]
    assert manager.get_status(linear_id).workflow_id == "linear"
    assert manager.get_status(parallel_id).workflow_id == "parallel"
    manager.task_done(recorder.execution_id("task_b"), {"v": 2})
    manager.task_done(recorder.execution_id("task_a"), {"v": 1})
    assert manager.get_status(parallel_id).status == InstanceStatus.COMPLETED
    assert manager.get_status(linear_id).status == InstanceStatus.ACTIVE


@pytest.mark.parametrize("initial_context", [None, {}])
def test_start_without_initial_context(manager, recorder, initial_context):
    manager.add_workflow(bps.linear())
    instance_id = manager.start_workflow("linear", initial_context)
    assert recorder.payloads[0].inputs == {"local_in": None}
    manager.task_done(recorder.execution_id("task_a"), {"local_out": "val"})
    inst = manager.get_status(instance_id)
    assert inst.status == InstanceStatus.COMPLETED and inst.context == {"global_output": "val"}


def test_start_with_the_context_argument_omitted(manager, recorder):
    manager.add_workflow(bps.linear())
    instance_id = manager.start_workflow("linear")
    assert manager.get_status(instance_id).context == {}


def test_parallel_tasks_completed_in_either_order_complete_the_instance(manager, recorder):
    manager.add_workflow(bps.parallel_then_task())
    instance_id = manager.start_workflow("parallel_then_task")
    manager.task_done(recorder.execution_id("task_b"), {"v": "B"})
    inst = manager.get_status(instance_id)
    assert sorted((t.node_id, t.status) for t in inst.tokens) == [
        ("p_join", TokenStatus.WAITING), ("task_a", TokenStatus.ACTIVE)]
    manager.task_done(recorder.execution_id("task_a"), {"v": "A"})
    assert recorder.for_node("after")[0].inputs == {"a": "A", "b": "B"}


# -- completion handler ---------------------------------------------------------------------------


def test_completion_handler_is_called_once_after_the_instance_completes(manager, recorder):
    manager.add_workflow(bps.two_tasks())
    finished = []
    manager.register_completion_handler(finished.append)
    instance_id = manager.start_workflow("two_tasks")
    manager.task_done(recorder.execution_id("first"), {"value": 1})
    assert finished == []
    manager.task_done(recorder.execution_id("second"))
    [view] = finished
    assert (view.id, view.status, view.context) == (instance_id, InstanceStatus.COMPLETED, {"shared": 1})


def test_completion_handler_is_called_after_the_instance_fails(manager, recorder):
    manager.add_workflow(bps.no_match())
    finished = []
    manager.register_completion_handler(finished.append)
    instance_id = manager.start_workflow("no_match")
    with pytest.raises(NoMatchingConditionError):
        manager.task_done(recorder.execution_id("task_init"), {"status": "pending"})
    assert [(v.id, v.status) for v in finished] == [(instance_id, InstanceStatus.FAILED)]


# -- handler errors -------------------------------------------------------------------------------


def test_task_handler_exception_is_recorded_and_does_not_roll_back(manager, recorder):
    manager.add_workflow(bps.linear())

    def broken(payload):
        raise RuntimeError("queue is down")

    manager.register_task_handler(broken)
    instance_id = manager.start_workflow("linear")  # does not raise
    inst = manager.get_status(instance_id)
    assert inst.status == InstanceStatus.ACTIVE
    [execution] = inst.executions
    assert execution.status == ExecutionStatus.ACTIVE
    [entry] = [h for h in inst.history if h.kind is HistoryKind.HANDLER_ERROR]
    assert entry.execution_id == execution.id and entry.node_id == "task_a"
    assert "RuntimeError: queue is down" in entry.details["error"]
    assert recorder.nodes() == ["task_a"]  # the other handler still ran


def test_completion_handler_exception_is_recorded_and_the_instance_stays_completed(manager, recorder):
    manager.add_workflow(bps.linear())
    manager.register_completion_handler(lambda view: 1 / 0)
    instance_id = manager.start_workflow("linear")
    manager.task_done(recorder.execution_id("task_a"))
    inst = manager.get_status(instance_id)
    assert inst.status == InstanceStatus.COMPLETED
    [entry] = [h for h in inst.history if h.kind is HistoryKind.HANDLER_ERROR]
    assert "ZeroDivisionError" in entry.details["error"]


# -- restart and version pinning ------------------------------------------------------------------


def test_restart_finishes_an_instance_started_before_it(db_path, clock, recorder):
    first = open_store(db_path)
    manager = WorkflowManager(first, clock=clock)
    manager.register_task_handler(recorder)
    manager.add_workflow(bps.two_tasks())
    instance_id = manager.start_workflow("two_tasks")
    manager.task_done(recorder.execution_id("first"), {"value": "before restart"})
    first.close()

    second = open_store(db_path)
    try:
        restarted = WorkflowManager(second, clock=clock)  # no add_workflow: the blueprint is stored
        restarted.register_task_handler(recorder)
        restarted.task_done(recorder.execution_id("second"))
        inst = restarted.get_status(instance_id)
        assert inst.status == InstanceStatus.COMPLETED
        assert inst.context == {"shared": "before restart"}
        assert restarted.start_workflow("two_tasks")  # blueprints survive the restart
    finally:
        second.close()


def test_running_instance_stays_on_its_version_and_new_ones_start_on_the_newest(manager, recorder):
    manager.add_workflow(bps.linear(version=1, task_id="do_v1"))
    old_id = manager.start_workflow("linear")
    v2 = bps.linear(version=2, task_id="do_v2")
    v2["nodes"].insert(2, bps.task("review"))
    v2["edges"] = bps.chain("start", "task_a", "review", "end", prefix="e")
    assert manager.add_workflow(v2) == 2

    new_id = manager.start_workflow("linear")
    assert (manager.get_status(old_id).version, manager.get_status(new_id).version) == (1, 2)
    assert [p.task_id for p in recorder.payloads] == ["do_v1", "do_v2"]

    manager.task_done(recorder.execution_id("task_a", 0))  # v1: task_a -> end
    assert manager.get_status(old_id).status == InstanceStatus.COMPLETED
    manager.task_done(recorder.execution_id("task_a", 1))  # v2: task_a -> review
    assert manager.get_status(new_id).status == InstanceStatus.ACTIVE
    assert recorder.nodes()[-1] == "review"


def test_version_pinning_survives_a_restart(db_path, clock, recorder):
    first = open_store(db_path)
    manager = WorkflowManager(first, clock=clock)
    manager.register_task_handler(recorder)
    manager.add_workflow(bps.linear(version=1))
    old_id = manager.start_workflow("linear")
    v2 = bps.linear(version=2)
    v2["nodes"].insert(2, bps.task("review"))
    v2["edges"] = bps.chain("start", "task_a", "review", "end", prefix="e")
    manager.add_workflow(v2)
    first.close()

    second = open_store(db_path)
    try:
        restarted = WorkflowManager(second, clock=clock)
        restarted.task_done(recorder.execution_id("task_a"))
        assert restarted.get_status(old_id).status == InstanceStatus.COMPLETED  # v1 had no review
    finally:
        second.close()


# -- adding blueprints ----------------------------------------------------------------------------


def test_add_workflow_returns_the_stored_version(manager):
    assert manager.add_workflow(bps.linear(version=3)) == 3


def test_adding_the_same_blueprint_twice_is_a_no_op(manager, store):
    assert manager.add_workflow(bps.linear()) == 1
    assert manager.add_workflow(json.dumps(bps.linear())) == 1  # same content as JSON text
    assert [(b.workflow_id, b.version) for b in store.list_blueprints()] == [("linear", 1)]


def test_different_blueprint_under_the_same_version_is_a_conflict(manager, store):
    manager.add_workflow(bps.linear())
    with pytest.raises(BlueprintConflictError) as caught:
        manager.add_workflow(bps.linear(task_id="something_else"))
    assert "'linear'" in str(caught.value) and "version 1" in str(caught.value)
    assert isinstance(caught.value, WorkflowError)
    assert store.get_blueprint("linear", 1).blueprint.nodes[1].task_id == "do_a"  # unchanged


def test_add_workflows_stores_all_or_none(manager, store):
    manager.add_workflow(bps.linear())
    assert manager.add_workflows([(bps.linear(), "a.json"), (bps.linear(version=2), "b.json")]) == [
        (1, False), (2, True)]
    with pytest.raises(BlueprintConflictError, match="^c.json: version 1 of workflow 'linear' is already stored"):
        manager.add_workflows([(bps.linear(version=3), "v3.json"), (bps.linear(task_id="other"), "c.json")])
    with pytest.raises(BlueprintConflictError, match="^e.json: version 4 .* also in d.json"):
        manager.add_workflows([(bps.linear(version=4), "d.json"), (bps.linear(version=4, task_id="x"), "e.json")])
    assert [(b.workflow_id, b.version) for b in store.list_blueprints()] == [("linear", 1), ("linear", 2)]


def test_invalid_blueprint_is_refused_and_not_stored(manager):
    bad = bps.linear()
    bad["edges"].append(bps.edge("e9", "task_a", "nowhere"))
    with pytest.raises(BlueprintError, match="edge 'e9'"):
        manager.add_workflow(bad)
    with pytest.raises(UnknownWorkflowError):
        manager.start_workflow("linear")


def test_warnings_are_stored_with_the_blueprint(manager, store):
    manager.add_workflow(bps.end_in_branch())
    stored = store.get_blueprint("end_in_branch")
    assert stored.warnings and all(w.severity == "warning" for w in stored.warnings)
    assert {w.where for w in stored.warnings} == {"node 'end'"}


# -- error types ----------------------------------------------------------------------------------


@pytest.mark.parametrize("bad_id", ["bad-format-no-colon", "", "inst:node", "inst:node:not-a-uuid",
                                    f":node:{MISSING_UUID}"])
def test_malformed_execution_id_is_its_own_error_naming_the_id(manager, bad_id):
    manager.add_workflow(bps.linear())
    for call in (lambda: manager.task_done(bad_id, {}), lambda: manager.fail_task(bad_id, "x"),
                 lambda: manager.retry(bad_id), lambda: manager.get_execution(bad_id)):
        with pytest.raises(MalformedExecutionIdError) as caught:
            call()
        assert repr(bad_id) in str(caught.value)
        assert isinstance(caught.value, WorkflowError)


def test_unknown_instance_is_its_own_error_naming_the_instance(manager):
    manager.add_workflow(bps.linear())
    execution_id = f"nonexistent-instance:task_a:{MISSING_UUID}"
    calls = [lambda: manager.task_done(execution_id, {}), lambda: manager.get_status("nonexistent-instance"),
             lambda: manager.cancel("nonexistent-instance", "x"),
             lambda: manager.set_variables("nonexistent-instance", {"a": 1}),
             lambda: manager.retry_instance("nonexistent-instance"),
             lambda: manager.fail_task(execution_id, "x")]
    for call in calls:
        with pytest.raises(UnknownInstanceError, match="'nonexistent-instance'"):
            call()


def test_unknown_execution_of_a_known_instance_is_its_own_error_for_operator_actions(manager, recorder):
    manager.add_workflow(bps.linear())
    instance_id = manager.start_workflow("linear")
    execution_id = f"{instance_id}:task_a:{MISSING_UUID}"
    for call in (lambda: manager.fail_task(execution_id, "x"), lambda: manager.retry(execution_id),
                 lambda: manager.get_execution(execution_id)):
        with pytest.raises(UnknownExecutionError, match=MISSING_UUID):
            call()


def test_unknown_workflow_is_its_own_error_naming_the_workflow(manager):
    with pytest.raises(UnknownWorkflowError, match="'nonexistent'") as caught:
        manager.start_workflow("nonexistent")
    assert isinstance(caught.value, WorkflowError)


@pytest.mark.parametrize(("value", "hint"), [
    (float("nan"), "nan"), (float("inf"), "inf"), (b"raw", "bytes"), ({1, 2}, "set"),
    (datetime(2026, 1, 1, tzinfo=UTC), "datetime"), ([1, {"deep": float("nan")}], "nan"),
])
def test_outputs_that_json_cannot_hold_are_refused_and_nothing_changes(manager, recorder, value, hint):
    manager.add_workflow(bps.linear())
    instance_id = manager.start_workflow("linear")
    before = manager.get_status(instance_id)
    with pytest.raises(InvalidValueError) as caught:
        manager.task_done(recorder.execution_id("task_a"), {"local_out": value})
    assert "'local_out'" in str(caught.value) and hint in str(caught.value)
    assert manager.get_status(instance_id) == before


def test_initial_context_and_variables_that_json_cannot_hold_are_refused(manager, recorder):
    manager.add_workflow(bps.linear())
    with pytest.raises(InvalidValueError, match="'when'"):
        manager.start_workflow("linear", {"when": datetime(2026, 1, 1)})
    assert manager.list_instances() == []
    instance_id = manager.start_workflow("linear")
    with pytest.raises(InvalidValueError, match="'tags'"):
        manager.set_variables(instance_id, {"tags": {"a", "b"}})
    with pytest.raises(InvalidValueError):
        manager.task_done(recorder.execution_id("task_a"), ["not", "a", "dict"])


# -- operator actions -----------------------------------------------------------------------------


def test_fail_task_opens_an_incident_and_retry_dispatches_a_new_attempt(manager, recorder):
    manager.add_workflow(bps.linear())
    instance_id = manager.start_workflow("linear", {"global_input": "old"})
    execution_id = recorder.execution_id("task_a")
    manager.fail_task(execution_id, "smtp timeout", actor="alice")
    inst = manager.get_status(instance_id)
    assert inst.status == InstanceStatus.ACTIVE
    assert [(e.id, e.error) for e in inst.incidents] == [(execution_id, "smtp timeout")]
    assert [t.status for t in inst.tokens] == [TokenStatus.FAILED]

    manager.set_variables(instance_id, {"global_input": "new"}, actor="alice")
    new_id = manager.retry(execution_id, actor="alice")
    assert new_id != execution_id
    payload = recorder.payloads[-1]
    assert (payload.execution_id, payload.attempt, payload.inputs) == (new_id, 2, {"local_in": "new"})
    inst = manager.get_status(instance_id)
    assert inst.incidents == []
    assert manager.get_execution(execution_id).status == ExecutionStatus.RETRIED
    manager.task_done(new_id, {"local_out": "sent"})
    assert manager.get_status(instance_id).status == InstanceStatus.COMPLETED


def test_task_done_on_a_failed_execution_resolves_the_incident(manager, recorder):
    manager.add_workflow(bps.linear())
    instance_id = manager.start_workflow("linear")
    execution_id = recorder.execution_id("task_a")
    manager.fail_task(execution_id, "boom")
    manager.task_done(execution_id, {"local_out": "done by hand"}, actor="bob")
    inst = manager.get_status(instance_id)
    assert inst.status == InstanceStatus.COMPLETED and inst.incidents == []
    assert inst.context == {"global_output": "done by hand"}


def test_cancel_cancels_open_executions_and_later_task_done_is_ignored(manager, recorder):
    manager.add_workflow(bps.parallel())
    instance_id = manager.start_workflow("parallel")
    manager.cancel(instance_id, "customer left", actor="carol")
    inst = manager.get_status(instance_id)
    assert inst.status == InstanceStatus.CANCELLED and inst.tokens == []
    assert {e.status for e in inst.executions} == {ExecutionStatus.CANCELLED}
    manager.task_done(recorder.execution_id("task_a"), {"v": 1})  # ignored, no error
    assert manager.get_status(instance_id) == inst


def test_set_variables_needs_at_least_one_variable(manager, recorder):
    manager.add_workflow(bps.linear())
    instance_id = manager.start_workflow("linear")
    with pytest.raises(InvalidValueError):
        manager.set_variables(instance_id, {})


def test_retry_instance_after_set_variables_resumes_a_failed_instance(manager, recorder):
    manager.add_workflow(bps.no_match())
    instance_id = manager.start_workflow("no_match")
    with pytest.raises(NoMatchingConditionError):
        manager.task_done(recorder.execution_id("task_init"), {"status": "pending"})
    manager.set_variables(instance_id, {"status": "rejected"}, actor="erin")
    manager.retry_instance(instance_id, actor="erin")
    inst = manager.get_status(instance_id)
    assert inst.status == InstanceStatus.ACTIVE and inst.error is None
    assert [t.node_id for t in inst.tokens] == ["task_b"]
    manager.task_done(recorder.execution_id("task_b"))
    assert manager.get_status(instance_id).status == InstanceStatus.COMPLETED


def test_retry_instance_still_without_a_match_raises_and_changes_nothing(manager, recorder):
    manager.add_workflow(bps.no_match())
    instance_id = manager.start_workflow("no_match")
    with pytest.raises(NoMatchingConditionError):
        manager.task_done(recorder.execution_id("task_init"), {"status": "pending"})
    before = manager.get_status(instance_id)
    with pytest.raises(NoMatchingConditionError):
        manager.retry_instance(instance_id)
    assert manager.get_status(instance_id) == before


def test_operator_actions_in_the_wrong_state_raise_and_change_nothing(manager, recorder):
    manager.add_workflow(bps.two_tasks())
    instance_id = manager.start_workflow("two_tasks")
    first = recorder.execution_id("first")
    manager.task_done(first, {"value": 1})
    running = recorder.execution_id("second")

    before = manager.get_status(instance_id)
    for call, state in [(lambda: manager.fail_task(first, "late"), "COMPLETED"),
                        (lambda: manager.retry(first), "COMPLETED"),
                        (lambda: manager.retry(running), "ACTIVE"),
                        (lambda: manager.retry_instance(instance_id), "ACTIVE")]:
        with pytest.raises(InvalidStateError, match=state):
            call()
        assert manager.get_status(instance_id) == before

    manager.task_done(running)
    finished = manager.get_status(instance_id)
    for call in (lambda: manager.cancel(instance_id, "too late"),
                 lambda: manager.set_variables(instance_id, {"x": 1})):
        with pytest.raises(InvalidStateError, match="COMPLETED"):
            call()
        assert manager.get_status(instance_id) == finished


# -- actors ---------------------------------------------------------------------------------------


def test_operator_actions_record_the_os_user_when_no_actor_is_given(manager, recorder, monkeypatch):
    monkeypatch.setenv("LOGNAME", "os-operator")
    manager.add_workflow(bps.linear())
    instance_id = manager.start_workflow("linear")
    manager.fail_task(recorder.execution_id("task_a"), "boom")
    manager.set_variables(instance_id, {"k": 1})
    manager.cancel(instance_id, "done")
    actors = {h.kind: h.actor for h in history(manager, instance_id)}
    assert actors[HistoryKind.EXECUTION_FAILED] == "os-operator"
    assert actors[HistoryKind.CONTEXT_SET] == "os-operator"
    assert actors[HistoryKind.INSTANCE_CANCELLED] == "os-operator"


def test_explicit_actor_is_recorded_in_the_history(manager, recorder):
    manager.add_workflow(bps.linear())
    instance_id = manager.start_workflow("linear", actor="api")
    manager.task_done(recorder.execution_id("task_a"), {"local_out": 1}, actor="worker-7")
    actors = {h.kind: h.actor for h in history(manager, instance_id)}
    assert actors[HistoryKind.INSTANCE_STARTED] == "api"
    assert actors[HistoryKind.EXECUTION_COMPLETED] == "worker-7"


# -- statuses -------------------------------------------------------------------------------------


def test_statuses_compare_equal_to_their_names(manager, recorder):
    manager.add_workflow(bps.parallel_then_task())
    instance_id = manager.start_workflow("parallel_then_task")
    manager.task_done(recorder.execution_id("task_a"), {"v": 1})
    inst = manager.get_status(instance_id)
    assert inst.status == "ACTIVE"
    assert sorted(t.status for t in inst.tokens) == ["ACTIVE", "WAITING"]
    assert sorted(e.status for e in inst.executions) == ["ACTIVE", "COMPLETED"]
    assert inst.history[0].kind == "INSTANCE_STARTED"
    assert f"{inst.status}" == "ACTIVE"
    assert json.dumps({"s": inst.status}) == '{"s": "ACTIVE"}'


def test_an_actor_with_control_characters_is_refused_and_nothing_changes(manager):
    manager.add_workflow(bps.linear())
    instance_id = manager.start_workflow("linear")
    with pytest.raises(InvalidValueError, match="control characters"):
        manager.cancel(instance_id, "why", actor="evil\x1b[31m")
    assert manager.get_status(instance_id).status == "ACTIVE"


@pytest.mark.parametrize("actor", ["ada\u202etxt.exe", "ada\u2066", "ada\x9b2J", "ada\u2029"])
def test_an_actor_with_bidi_or_c1_characters_is_refused_with_the_position(manager, recorder, actor):
    manager.add_workflow(bps.linear())
    with pytest.raises(InvalidValueError, match="at position 4"):
        manager.start_workflow("linear", actor=actor)
    instance_id = manager.start_workflow("linear")
    execution_id = recorder.execution_id("task_a")
    for action in (lambda: manager.cancel(instance_id, "why", actor=actor),
                   lambda: manager.fail_task(execution_id, "why", actor=actor),
                   lambda: manager.task_done(execution_id, {}, actor=actor)):
        with pytest.raises(InvalidValueError, match="at position 4"):
            action()
    view = manager.get_status(instance_id)
    assert view.status == "ACTIVE" and [e.status for e in view.executions] == ["ACTIVE"]


def test_the_os_user_as_default_actor_is_checked_too(manager, monkeypatch):
    manager.add_workflow(bps.linear())
    instance_id = manager.start_workflow("linear")
    monkeypatch.setattr("engine.manager.default_actor", lambda: "root\x1b]0;owned\x07")
    with pytest.raises(InvalidValueError, match="control characters"):
        manager.cancel(instance_id, "why")
    assert manager.get_status(instance_id).status == "ACTIVE"
