"""The pure state machine (SPEC §3 and §6), without any database: fixed times, deterministic ids."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import blueprints as bps
import pytest
from blueprints import blueprint, edge, end, psplit, start, task

from engine import (
    Blueprint,
    ExecutionStatus,
    HistoryKind,
    InstanceStatus,
    InvalidStateError,
    NoMatchingConditionError,
    TokenStatus,
    compile_blueprint,
    machine,
)
from engine.conditions import compile_condition
from engine.graph import CompiledBlueprint
from engine.model import Execution, InstanceState, Transition

INSTANCE = "inst-1"
T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


class SequentialUuids:
    """Deterministic, well-formed UUID strings: ...0001, ...0002, ..."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> str:
        self.count += 1
        return uuid_n(self.count)


def make_event(at: datetime = T0, actor: str | None = None, uuids: SequentialUuids | None = None) -> machine.Event:
    """A machine event at a fixed time with deterministic fresh ids."""
    return machine.Event(at=at, actor=actor, new_uuid=uuids or SequentialUuids())


def uuid_n(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


class Run:
    """One instance driven through the machine; keeps the latest state and transition."""

    def __init__(self, source, context=None, instance_id: str = INSTANCE, bp: CompiledBlueprint | None = None):
        self.bp = bp or compile_blueprint(source)
        self.uuids = SequentialUuids()
        self.at = T0
        self.last: Transition = machine.start(self.bp, instance_id, context or {}, self.event())
        self.state: InstanceState = self.last.state

    def event(self, actor: str | None = None) -> machine.Event:
        self.at += timedelta(seconds=1)
        return make_event(self.at, actor, self.uuids)

    def open_execution(self, node_id: str) -> Execution:
        found = [e for e in self.state.executions.values() if e.node_id == node_id]
        assert len(found) == 1, f"expected one open execution at {node_id!r}, found {found}"
        return found[0]

    def apply(self, transition: Transition | None) -> Transition | None:
        if transition is not None:
            self.last = transition
            self.state = transition.state
        return transition

    def done(self, node_id: str, outputs=None) -> Transition:
        execution = self.open_execution(node_id)
        transition = machine.task_done(self.bp, self.state, execution.id, outputs or {}, self.event())
        assert transition is not None, f"task_done at {node_id!r} was ignored"
        return self.apply(transition)

    def token_nodes(self) -> list[str]:
        return sorted(t.node_id for t in self.state.tokens.values())

    def history_kinds(self) -> list[HistoryKind]:
        return [h.kind for h in self.last.changes.history]


def compile_unchecked(source: dict) -> CompiledBlueprint:
    """Index a blueprint for the machine WITHOUT validation, for rules that no valid blueprint can reach."""
    bp = Blueprint.model_validate(source)
    nodes = {n.id: n for n in bp.nodes}
    return CompiledBlueprint(
        blueprint=bp, nodes=nodes, kinds={n.id: n.kind for n in bp.nodes},
        outgoing={n: [e for e in bp.edges if e.source_id == n] for n in nodes},
        incoming={n: [e for e in bp.edges if e.target_id == n] for n in nodes},
        conditions={e.id: compile_condition(e.condition) for e in bp.edges if e.has_condition},
        start_id=next(n.id for n in bp.nodes if n.kind == "START"),
    )


# -- start and TASK -------------------------------------------------------------------------------


def test_start_creates_the_instance_and_moves_the_token_to_the_first_task():
    run = Run(bps.linear(), {"global_input": "hello"})
    execution_id = f"{INSTANCE}:task_a:{uuid_n(1)}"
    assert run.state.status is InstanceStatus.ACTIVE
    assert run.state.context == {"global_input": "hello"}
    assert list(run.state.tokens) == [execution_id]
    token = run.state.tokens[execution_id]
    assert (token.node_id, token.status) == ("task_a", TokenStatus.ACTIVE)
    assert run.last.changes.new_instance is not None and run.last.changes.new_instance.id == INSTANCE


def test_task_arrival_creates_an_execution_with_id_instance_node_uuid():
    run = Run(bps.linear(), {"global_input": "hello"})
    execution = run.open_execution("task_a")
    assert execution.id == f"{INSTANCE}:task_a:{uuid_n(1)}"
    assert (execution.task_id, execution.status, execution.attempt) == ("do_a", ExecutionStatus.ACTIVE, 1)
    assert execution.created_at == run.at


def test_task_arrival_dispatches_the_execution_with_mapped_inputs():
    run = Run(bps.linear(), {"global_input": "hello", "other": 1})
    [payload] = run.last.dispatch
    assert payload.execution_id == f"{INSTANCE}:task_a:{uuid_n(1)}"
    assert (payload.instance_id, payload.node_id, payload.task_id) == (INSTANCE, "task_a", "do_a")
    assert payload.inputs == {"local_in": "hello"}


def test_input_mapped_from_a_missing_context_key_is_none():
    run = Run(bps.linear(), {})
    assert run.open_execution("task_a").inputs == {"local_in": None}
    assert run.last.dispatch[0].inputs == {"local_in": None}


def test_start_history_records_start_edge_execution_and_token():
    run = Run(bps.linear())
    kinds = run.history_kinds()
    assert kinds[0] is HistoryKind.INSTANCE_STARTED
    assert kinds[1:] == [HistoryKind.EDGE_TAKEN, HistoryKind.EXECUTION_CREATED, HistoryKind.TOKEN_CREATED]
    assert all(h.at == run.at and h.instance_id == INSTANCE for h in run.last.changes.history)


def test_start_does_not_keep_a_reference_to_the_callers_context():
    context = {"global_input": "hello"}
    run = Run(bps.linear(), context)
    context["global_input"] = "changed"
    assert run.state.context == {"global_input": "hello"}


# -- exclusive split ------------------------------------------------------------------------------


@pytest.mark.parametrize(("x", "taken"), [(3, "a"), (2, "a"), (1, "c"), (0.5, "c")])
def test_exclusive_split_takes_the_first_true_edge_in_blueprint_order(x, taken):
    run = Run(bps.first_true(), {"x": x})
    assert run.token_nodes() == [taken]
    edges = [h.details["edge_id"] for h in run.last.changes.history if h.kind is HistoryKind.EDGE_TAKEN]
    assert edges == ["e0", f"to_{taken}"]


@pytest.mark.parametrize("default_first", [True, False])
def test_exclusive_split_takes_a_true_condition_over_the_default_edge(default_first):
    run = Run(bps.default_edge(default_first=default_first), {"status": "approved"})
    assert run.token_nodes() == ["task_a"]


@pytest.mark.parametrize("default_first", [True, False])
def test_exclusive_split_takes_the_default_edge_only_when_no_condition_is_true(default_first):
    run = Run(bps.default_edge(default_first=default_first), {"status": "pending"})
    assert run.token_nodes() == ["task_default"]
    assert run.last.error is None


def test_condition_that_cannot_be_evaluated_counts_as_false_and_is_recorded():
    source = bps.default_edge()
    source["edges"][2]["condition"] = "amount > 100"  # amount is unset: null > 100 fails
    run = Run(source, {})
    assert run.token_nodes() == ["task_default"]
    errors = [h for h in run.last.changes.history if h.kind is HistoryKind.CONDITION_ERROR]
    assert [(h.node_id, h.details["edge_id"]) for h in errors] == [("split", "e2")]


def test_exclusive_split_with_no_match_fails_the_instance_naming_the_node():
    run = Run(bps.no_match())
    run.done("task_init", {"status": "pending"})
    assert run.state.status is InstanceStatus.FAILED
    assert isinstance(run.last.error, NoMatchingConditionError)
    assert run.last.error.node_id == "split" and run.last.error.instance_id == INSTANCE
    assert "'split'" in str(run.last.error)
    assert "'split'" in run.state.error and run.last.changes.error == run.state.error
    assert run.last.changes.status is InstanceStatus.FAILED
    failed = [h for h in run.last.changes.history if h.kind is HistoryKind.INSTANCE_FAILED]
    assert [h.node_id for h in failed] == ["split"]


def test_no_match_leaves_a_failed_token_on_the_split_and_dispatches_nothing():
    run = Run(bps.no_match())
    run.done("task_init", {"status": "pending"})
    assert [(t.node_id, t.status) for t in run.state.tokens.values()] == [("split", TokenStatus.FAILED)]
    assert run.last.dispatch == []
    assert run.last.finished


def test_no_match_reason_includes_conditions_that_failed_to_evaluate():
    source = bps.no_match()
    source["edges"][2]["condition"] = "amount > 100"
    run = Run(source)
    run.done("task_init", {"status": "pending"})
    assert "edge 'e3'" in run.state.error


# -- parallel split and join ----------------------------------------------------------------------


def test_parallel_split_sends_a_token_down_every_edge():
    run = Run(bps.parallel())
    assert run.token_nodes() == ["task_a", "task_b"]
    assert sorted(p.node_id for p in run.last.dispatch) == ["task_a", "task_b"]
    assert len(run.state.executions) == 2


@pytest.mark.parametrize("order", [("task_a", "task_b"), ("task_b", "task_a")])
def test_parallel_join_fires_once_every_branch_arrived_in_either_order(order):
    run = Run(bps.parallel_then_task())
    first, second = order
    run.done(first, {"v": first})
    assert run.state.status is InstanceStatus.ACTIVE
    waiting = [t for t in run.state.tokens.values() if t.node_id == "p_join"]
    assert [t.status for t in waiting] == [TokenStatus.WAITING]
    assert run.token_nodes() == ["p_join", second]
    assert run.last.dispatch == []

    run.done(second, {"v": second})
    assert run.token_nodes() == ["after"]
    assert HistoryKind.JOIN_FIRED in run.history_kinds()
    [payload] = run.last.dispatch
    assert payload.node_id == "after" and payload.inputs == {"a": "task_a", "b": "task_b"}


def test_parallel_join_does_not_fire_while_a_branch_is_still_running():
    source = bps.parallel_then_task()
    source["nodes"].insert(2, task("task_c"))
    source["edges"] += [edge("x1", "p_split", "task_c"), edge("x2", "task_c", "p_join")]
    run = Run(source)
    run.done("task_a")
    run.done("task_b")
    assert run.token_nodes() == ["p_join", "p_join", "task_c"]
    assert HistoryKind.JOIN_FIRED not in run.history_kinds()
    run.done("task_c")
    assert run.token_nodes() == ["after"]


def test_parallel_join_completes_the_instance_at_end():
    run = Run(bps.parallel())
    run.done("task_b", {"v": 2})
    run.done("task_a", {"v": 1})
    assert run.state.status is InstanceStatus.COMPLETED
    assert run.state.tokens == {} and run.state.context == {"a": 1, "b": 2}


# -- exclusive join and END -----------------------------------------------------------------------


@pytest.mark.parametrize(("ok", "branch"), [(True, "task_yes"), (False, "task_no")])
def test_exclusive_join_passes_the_token_on(ok, branch):
    run = Run(bps.exclusive())
    run.done("task_init", {"ok": ok})
    assert run.token_nodes() == [branch]
    run.done(branch)
    assert run.state.status is InstanceStatus.COMPLETED
    taken = [h.details["edge_id"] for h in run.last.changes.history if h.kind is HistoryKind.EDGE_TAKEN]
    assert taken == ["e5" if ok else "e6", "e7"]


def test_end_completes_the_instance():
    run = Run(bps.linear())
    run.done("task_a", {"local_out": 1})
    assert run.state.status is InstanceStatus.COMPLETED
    assert run.state.ended_at == run.at
    assert run.state.tokens == {} and run.state.executions == {}
    assert run.last.changes.status is InstanceStatus.COMPLETED
    assert run.history_kinds()[-1] is HistoryKind.INSTANCE_COMPLETED


def test_end_removes_every_remaining_token_and_cancels_open_executions():
    run = Run(bps.end_in_branch())
    slow = run.open_execution("slow")
    run.done("fast")
    assert run.state.status is InstanceStatus.COMPLETED
    assert run.state.tokens == {} and run.state.executions == {}
    assert slow.id in run.last.changes.tokens_removed
    [cancelled] = [e for e in run.last.changes.executions_updated if e.id == slow.id]
    assert cancelled.status is ExecutionStatus.CANCELLED
    assert run.last.dispatch == []


def test_end_reached_in_the_same_step_cancels_a_task_created_in_that_step():
    source = blueprint(
        "race", [start(), psplit("p_split"), task("t"), end()],
        [edge("e1", "start", "p_split"), edge("e2", "p_split", "t"), edge("e3", "p_split", "end"),
         edge("e4", "t", "end")],
    )
    run = Run(source)
    assert run.state.status is InstanceStatus.COMPLETED
    assert run.state.tokens == {}
    assert run.last.dispatch == []  # the task was never dispatched
    assert [e.status for e in run.last.changes.executions_added] == [ExecutionStatus.CANCELLED]
    assert run.last.changes.tokens_added == []


@pytest.mark.parametrize("end_first", [False, True])
def test_end_reached_in_the_step_of_a_no_match_completes_the_instance_without_error(end_first):
    # SPEC: END ends the whole instance. A no-match on another branch of the same step is removed with
    # every other token, whichever order the branches are followed in: COMPLETED, no error to raise.
    branches = [edge("e2", "p_split", "split"), edge("e3", "p_split", "end")]
    source = blueprint(
        "end_wins", [start(), psplit("p_split"), bps.xsplit("split"), task("t"), end()],
        [edge("e1", "start", "p_split"), *(branches[::-1] if end_first else branches),
         edge("e4", "split", "t", "go == true"), edge("e5", "t", "end")],
    )
    run = Run(source)
    assert run.state.status is InstanceStatus.COMPLETED
    assert run.state.tokens == {}
    assert run.last.error is None
    assert run.state.error is None and run.last.changes.error is None


def test_task_done_after_end_is_ignored():
    run = Run(bps.end_in_branch())
    slow = run.open_execution("slow")
    run.done("fast")
    assert machine.task_done(run.bp, run.state, slow.id, {}, run.event()) is None


# -- loops ----------------------------------------------------------------------------------------


def test_loop_reenters_a_task_with_a_new_execution_each_visit():
    run = Run(bps.loop(), {"count": 0})
    seen = []
    for expected_input in (0, 1, 2):
        execution = run.open_execution("work")
        assert execution.inputs == {"n": expected_input}
        seen.append(execution.id)
        run.done("work", {"n": expected_input + 1})
    assert len(set(seen)) == 3
    assert all(s.startswith(f"{INSTANCE}:work:") for s in seen)
    assert run.state.status is InstanceStatus.COMPLETED
    assert run.state.context == {"count": 3}


def test_loop_dispatches_the_next_visit_in_the_step_that_completes_the_previous_one():
    run = Run(bps.loop(), {"count": 0})
    first = run.open_execution("work").id
    run.done("work", {"n": 1})
    [payload] = run.last.dispatch
    assert payload.node_id == "work" and payload.execution_id != first
    assert payload.inputs == {"n": 1}


# -- nodes without outgoing edges -----------------------------------------------------------------


def test_node_with_no_outgoing_edges_consumes_the_token():
    # Validation refuses such a blueprint (the node cannot reach an END), so build it unchecked.
    source = blueprint("dead_ends", [start(), psplit("p_split"), task("a"), task("b")],
                       [edge("e1", "start", "p_split"), edge("e2", "p_split", "a"), edge("e3", "p_split", "b")])
    run = Run(None, bp=compile_unchecked(source))
    run.done("a")
    assert run.state.status is InstanceStatus.ACTIVE
    assert run.token_nodes() == ["b"]
    run.done("b")
    assert run.state.status is InstanceStatus.COMPLETED  # no tokens left
    assert run.state.tokens == {}


# -- outputs --------------------------------------------------------------------------------------


def test_task_done_writes_mapped_outputs_and_drops_unmapped_ones():
    run = Run(bps.linear(), {"global_input": "in"})
    execution = run.open_execution("task_a")
    run.done("task_a", {"local_out": "mapped", "extra_field": "dropped"})
    assert run.state.context == {"global_input": "in", "global_output": "mapped"}
    assert run.last.changes.context == {"global_output": "mapped"}
    [completed] = [e for e in run.last.changes.executions_updated if e.id == execution.id]
    assert completed.status is ExecutionStatus.COMPLETED
    assert completed.outputs == {"local_out": "mapped", "extra_field": "dropped"}  # kept on the execution


def test_output_mapped_but_not_given_leaves_the_context_key_unset():
    run = Run(bps.linear(), {"global_input": "in"})
    run.done("task_a", {})
    assert "global_output" not in run.state.context
    assert HistoryKind.CONTEXT_SET not in run.history_kinds()


def test_output_overwrites_an_existing_context_key():
    run = Run(bps.linear(), {"global_output": "old"})
    run.done("task_a", {"local_out": "new"})
    assert run.state.context["global_output"] == "new"


def test_outputs_of_one_task_become_inputs_of_the_next():
    run = Run(bps.two_tasks())
    run.done("first", {"value": 42})
    assert run.last.dispatch[0].inputs == {"got": 42}


# -- task_done idempotency ------------------------------------------------------------------------


def test_task_done_twice_returns_none_the_second_time():
    run = Run(bps.two_tasks())
    execution_id = run.open_execution("first").id
    run.done("first", {"value": 1})
    assert machine.task_done(run.bp, run.state, execution_id, {"value": 2}, run.event()) is None


def test_task_done_for_an_unknown_execution_returns_none():
    run = Run(bps.linear())
    assert machine.task_done(run.bp, run.state, f"{INSTANCE}:task_a:{uuid_n(99)}", {}, run.event()) is None


def test_task_done_on_a_failed_instance_returns_none():
    run = Run(bps.parallel_with_split())
    other = run.open_execution("task_b").id
    run.done("task_a", {"go": False})
    assert run.state.status is InstanceStatus.FAILED
    assert machine.task_done(run.bp, run.state, other, {}, run.event()) is None


# -- operator actions -----------------------------------------------------------------------------


def test_fail_task_marks_the_execution_failed_and_keeps_its_token_as_an_incident():
    run = Run(bps.parallel())
    execution = run.open_execution("task_a")
    run.apply(machine.fail_task(run.bp, run.state, execution, "boom", run.event(actor="alice")))
    failed = run.state.executions[execution.id]
    assert (failed.status, failed.error) == (ExecutionStatus.FAILED, "boom")
    assert run.state.tokens[execution.id].status is TokenStatus.FAILED
    assert run.state.status is InstanceStatus.ACTIVE
    assert run.last.changes.token_status == {execution.id: TokenStatus.FAILED}
    entry = next(h for h in run.last.changes.history if h.kind is HistoryKind.EXECUTION_FAILED)
    assert (entry.execution_id, entry.actor, entry.details["error"]) == (execution.id, "alice", "boom")


def test_other_branches_go_on_while_an_incident_is_open():
    run = Run(bps.parallel_then_task())
    run.apply(machine.fail_task(run.bp, run.state, run.open_execution("task_a"), "boom", run.event()))
    run.done("task_b", {"v": "b"})
    assert run.state.status is InstanceStatus.ACTIVE
    assert run.token_nodes() == ["p_join", "task_a"]


def test_task_done_on_a_failed_execution_resolves_the_incident():
    run = Run(bps.parallel())
    execution = run.open_execution("task_a")
    run.apply(machine.fail_task(run.bp, run.state, execution, "boom", run.event()))
    run.done("task_a", {"v": "fixed by hand"})
    assert run.state.context == {"a": "fixed by hand"}
    assert execution.id not in run.state.tokens
    entry = next(h for h in run.last.changes.history if h.kind is HistoryKind.EXECUTION_COMPLETED)
    assert entry.details["resolved_incident"] is True


def test_retry_replaces_a_failed_execution_with_a_new_attempt_built_from_the_current_context():
    run = Run(bps.linear(), {"global_input": "old"})
    execution = run.open_execution("task_a")
    run.apply(machine.fail_task(run.bp, run.state, execution, "boom", run.event()))
    run.apply(machine.set_variables(run.bp, run.state, {"global_input": "new"}, run.event()))
    run.apply(machine.retry(run.bp, run.state, run.state.executions[execution.id], run.event(actor="bob")))

    retried = run.open_execution("task_a")
    assert retried.id != execution.id and retried.id.startswith(f"{INSTANCE}:task_a:")
    assert (retried.attempt, retried.status, retried.inputs) == (2, ExecutionStatus.ACTIVE, {"local_in": "new"})
    assert list(run.state.tokens) == [retried.id]
    assert run.state.tokens[retried.id].status is TokenStatus.ACTIVE
    [old] = [e for e in run.last.changes.executions_updated if e.id == execution.id]
    assert old.status is ExecutionStatus.RETRIED
    [payload] = run.last.dispatch
    assert (payload.execution_id, payload.attempt, payload.inputs) == (retried.id, 2, {"local_in": "new"})
    entry = next(h for h in run.last.changes.history if h.kind is HistoryKind.EXECUTION_RETRIED)
    assert (entry.actor, entry.details["new_execution_id"]) == ("bob", retried.id)


def test_retried_execution_completes_normally():
    run = Run(bps.linear())
    execution = run.open_execution("task_a")
    run.apply(machine.fail_task(run.bp, run.state, execution, "boom", run.event()))
    run.apply(machine.retry(run.bp, run.state, run.state.executions[execution.id], run.event()))
    assert machine.task_done(run.bp, run.state, execution.id, {}, run.event()) is None  # the old one
    run.done("task_a", {"local_out": "ok"})
    assert run.state.status is InstanceStatus.COMPLETED


def test_cancel_removes_every_token_and_cancels_open_executions():
    run = Run(bps.parallel())
    ids = sorted(run.state.executions)
    run.apply(machine.cancel(run.bp, run.state, "not needed", run.event(actor="carol")))
    assert run.state.status is InstanceStatus.CANCELLED
    assert run.state.tokens == {} and run.state.executions == {}
    assert run.state.ended_at == run.at
    assert sorted(run.last.changes.tokens_removed) == ids
    assert {e.id: e.status for e in run.last.changes.executions_updated} == {
        i: ExecutionStatus.CANCELLED for i in ids}
    assert run.last.dispatch == []
    entry = next(h for h in run.last.changes.history if h.kind is HistoryKind.INSTANCE_CANCELLED)
    assert (entry.actor, entry.details["reason"]) == ("carol", "not needed")


def test_task_done_after_cancel_is_ignored():
    run = Run(bps.linear())
    execution_id = run.open_execution("task_a").id
    run.apply(machine.cancel(run.bp, run.state, "stop", run.event()))
    assert machine.task_done(run.bp, run.state, execution_id, {}, run.event()) is None


def test_set_variables_writes_the_context_and_records_who_did_it():
    run = Run(bps.linear(), {"global_input": "a"})
    run.apply(machine.set_variables(run.bp, run.state, {"global_input": "b", "note": [1]}, run.event("dave")))
    assert run.state.context == {"global_input": "b", "note": [1]}
    assert run.last.changes.context == {"global_input": "b", "note": [1]}
    [entry] = run.last.changes.history
    assert (entry.kind, entry.actor, entry.details["values"]) == (
        HistoryKind.CONTEXT_SET, "dave", {"global_input": "b", "note": [1]})


def test_retry_instance_after_set_variables_resumes_a_no_match_failure():
    run = Run(bps.no_match())
    run.done("task_init", {"status": "pending"})
    run.apply(machine.set_variables(run.bp, run.state, {"status": "approved"}, run.event()))
    run.apply(machine.retry_instance(run.bp, run.state, run.event(actor="erin")))
    assert run.state.status is InstanceStatus.ACTIVE
    assert run.state.error is None and run.last.changes.clear_error
    assert run.token_nodes() == ["task_a"]
    assert [p.node_id for p in run.last.dispatch] == ["task_a"]
    assert run.history_kinds()[0] is HistoryKind.INSTANCE_RESUMED
    run.done("task_a")
    assert run.state.status is InstanceStatus.COMPLETED


def test_retry_instance_redispatches_executions_left_waiting_while_the_instance_was_failed():
    run = Run(bps.parallel_with_split())
    waiting = run.open_execution("task_b").id
    run.done("task_a", {"go": False})
    run.apply(machine.set_variables(run.bp, run.state, {"go": True}, run.event()))
    run.apply(machine.retry_instance(run.bp, run.state, run.event()))
    assert [p.execution_id for p in run.last.dispatch] == [waiting]
    run.done("task_b")
    assert run.state.status is InstanceStatus.COMPLETED


def test_retry_instance_that_still_matches_nothing_raises_and_changes_nothing():
    run = Run(bps.no_match())
    run.done("task_init", {"status": "pending"})
    before = copy.deepcopy(run.state)
    with pytest.raises(NoMatchingConditionError, match="'split'"):
        machine.retry_instance(run.bp, run.state, run.event())
    assert run.state == before


# -- operator actions in the wrong state ----------------------------------------------------------


def _failed(run: Run, node_id: str) -> Execution:
    execution = run.open_execution(node_id)
    run.apply(machine.fail_task(run.bp, run.state, execution, "boom", run.event()))
    return run.state.executions[execution.id]


def _completed_first(run: Run) -> Execution:
    execution = run.open_execution("first")
    run.done("first", {"value": 1})
    return next(e for e in run.last.changes.executions_updated if e.id == execution.id)


WRONG_STATE = {
    "fail_task on a completed execution": (
        bps.two_tasks, lambda run: (machine.fail_task, (_completed_first(run), "boom")), "COMPLETED"),
    "fail_task on a failed execution": (
        bps.linear, lambda run: (machine.fail_task, (_failed(run, "task_a"), "again")), "FAILED"),
    "retry on a running execution": (
        bps.linear, lambda run: (machine.retry, (run.open_execution("task_a"),)), "ACTIVE"),
    "retry on a completed execution": (
        bps.two_tasks, lambda run: (machine.retry, (_completed_first(run),)), "COMPLETED"),
    "cancel a completed instance": (
        bps.two_tasks, lambda run: (_finish_two_tasks(run) or machine.cancel, ("late",)), "COMPLETED"),
    "cancel a cancelled instance": (
        bps.linear, lambda run: (_cancel(run) or machine.cancel, ("twice",)), "CANCELLED"),
    "set_variables on a completed instance": (
        bps.two_tasks, lambda run: (_finish_two_tasks(run) or machine.set_variables, ({"x": 1},)), "COMPLETED"),
    "retry_instance on an active instance": (
        bps.linear, lambda run: (machine.retry_instance, ()), "ACTIVE"),
    "fail_task on an execution of a cancelled instance": (
        bps.linear, lambda run: (_cancel_keeping(run, "task_a"), ("boom",)), "CANCELLED"),
}


def _finish_two_tasks(run: Run) -> None:
    run.done("first")
    run.done("second")


def _cancel(run: Run) -> None:
    run.apply(machine.cancel(run.bp, run.state, "stop", run.event()))


def _cancel_keeping(run: Run, node_id: str):
    execution = run.open_execution(node_id)
    _cancel(run)
    return lambda bp, state, error, event: machine.fail_task(bp, state, execution, error, event)


@pytest.mark.parametrize("case", list(WRONG_STATE))
def test_operator_action_in_the_wrong_state_raises_naming_the_state_and_changes_nothing(case):
    builder, prepare, state_name = WRONG_STATE[case]
    run = Run(builder())
    action, args = prepare(run)
    before = copy.deepcopy(run.state)
    with pytest.raises(InvalidStateError) as caught:
        action(run.bp, run.state, *args, run.event())
    assert state_name in str(caught.value)
    assert run.state == before


# -- purity ---------------------------------------------------------------------------------------


def test_transitions_do_not_mutate_the_input_state():
    run = Run(bps.parallel_then_task(), {"k": {"nested": [1]}})
    steps = [
        lambda s: machine.task_done(run.bp, s, run.open_execution("task_a").id, {"v": 1}, run.event()),
        lambda s: machine.fail_task(run.bp, s, run.open_execution("task_b"), "boom", run.event()),
        lambda s: machine.set_variables(run.bp, s, {"k": {"nested": [2]}}, run.event()),
        lambda s: machine.retry(run.bp, s, run.open_execution("task_b"), run.event()),
        lambda s: machine.cancel(run.bp, s, "stop", run.event()),
    ]
    for step in steps:
        before = copy.deepcopy(run.state)
        transition = step(run.state)
        assert run.state == before
        run.apply(transition)
    assert run.state.status is InstanceStatus.CANCELLED


def test_retry_instance_does_not_mutate_the_input_state():
    run = Run(bps.no_match())
    run.done("task_init", {"status": "pending"})
    run.apply(machine.set_variables(run.bp, run.state, {"status": "rejected"}, run.event()))
    before = copy.deepcopy(run.state)
    machine.retry_instance(run.bp, run.state, run.event())
    assert run.state == before


def test_same_state_and_event_give_the_same_transition():
    bp = compile_blueprint(bps.parallel())
    first = machine.start(bp, INSTANCE, {"a": 1}, make_event(T0, uuids=SequentialUuids()))
    second = machine.start(bp, INSTANCE, {"a": 1}, make_event(T0, uuids=SequentialUuids()))
    assert first.state == second.state
    assert first.changes == second.changes
    assert first.dispatch == second.dispatch
