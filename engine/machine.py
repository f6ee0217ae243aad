"""The pure state machine: (compiled blueprint, instance state, event) -> :class:`Transition`.

Nothing here reads a clock, a database or a global: time and fresh ids come in with the event, so a
transition is a function of its arguments and can be replayed. Each public function returns the new state,
the change set for the store, the executions to dispatch once the change set is committed, and an error to
raise to the caller after the commit (the no-match of an exclusive split), or raises a
:class:`~engine.errors.WorkflowError` when the event is refused and nothing may change.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable
from dataclasses import MISSING, dataclass, replace
from dataclasses import fields as dataclass_fields
from datetime import datetime
from difflib import get_close_matches
from operator import attrgetter
from typing import Any

from engine.actions import Action, claim_refusal, execution_refusal, instance_refusal
from engine.conditions import ConditionEvaluationError
from engine.errors import InvalidStateError, NoMatchingConditionError, UnreadableTimerError, WorkflowError
from engine.graph import CompiledBlueprint, NodePlan
from engine.kinds import spec
from engine.model import (
    ChangeSet,
    Execution,
    ExecutionStatus,
    HistoryEntry,
    HistoryKind,
    InstanceState,
    InstanceStatus,
    TaskPayload,
    Token,
    TokenStatus,
    Transition,
    Wait,
    WaitKind,
)
from engine.timing import TimerValueError, lateness

MAX_ARRIVALS_PER_EVENT = 100_000
"""A guard against a runaway transition; validation already refuses cycles made of gateways only."""

OPEN_EXECUTION = (ExecutionStatus.ACTIVE, ExecutionStatus.FAILED, ExecutionStatus.STUCK)


def new_uuid4() -> str:
    """A random (version 4) UUID as text, like ``str(uuid.uuid4())`` at a third of its cost."""
    text = os.urandom(16).hex()
    # The version and variant bits set on the hex digits themselves: digit 12 (the high half of byte 6)
    # becomes 4, digit 16 (the high half of byte 8) keeps its low two bits under the RFC 4122 variant 0b10.
    return f"{text[:8]}-{text[8:12]}-4{text[13:16]}-{_VARIANT_DIGIT[text[16]]}{text[17:20]}-{text[20:]}"


_VARIANT_DIGIT = {f"{n:x}": f"{(n & 0x3) | 0x8:x}" for n in range(16)}


@dataclass(frozen=True)
class Event:
    """When an event happens, who caused it, and where fresh ids come from (injectable for replays)."""

    at: datetime
    actor: str | None = None
    new_uuid: Callable[[], str] = new_uuid4
    batch_id: str | None = None  # set when the event is one item of an operator's batch: recorded with the step


def _replace(record: Any, **changes: Any) -> Any:
    """``dataclasses.replace`` for the plain frozen records of :mod:`engine.model`, without its per-call
    walk over the fields (it was a tenth of a step's time); falls back to it for anything else."""
    return _replaced(record, changes)


def _replaced(record: Any, changes: dict[str, Any]) -> Any:
    """:func:`_replace` with the changes as a dict: the hot paths skip packing keyword arguments."""
    names = _FIELD_NAMES.get(type(record))
    if names is None:
        names = _FIELD_NAMES[type(record)] = _plain_fields(type(record))
    if not names or not names.issuperset(changes):
        return replace(record, **changes)
    copy = _new(type(record))
    fields = copy.__dict__
    fields.update(record.__dict__)
    fields.update(changes)
    return copy


def _plain_fields(cls: type) -> frozenset[str]:
    """The field names of a dataclass that can be copied through its ``__dict__`` (else empty)."""
    if hasattr(cls, "__slots__") or hasattr(cls, "__post_init__"):
        return frozenset()
    if any(not f.init for f in dataclass_fields(cls)):
        return frozenset()
    return frozenset(f.name for f in dataclass_fields(cls))


_FIELD_NAMES: dict[type, frozenset[str]] = {}
_new = object.__new__


def _maker(cls: type) -> Callable[[dict[str, Any]], Any]:
    """A constructor of a frozen record of :mod:`engine.model` from a dict of its fields, given in
    declaration order; those with a default may be left out.

    The generated frozen ``__init__`` sets each field through ``object.__setattr__``: an :class:`Execution`
    cost 1.8 µs that way, 0.4 µs this way, and a step builds several records. A plain record (see
    :func:`_plain_fields`) is made by filling its ``__dict__``, from the defaults when some fields are left
    out, so that every field is there in declaration order as ``__init__`` would leave it. A record that
    is not plain, or has a default factory, gets its real constructor.
    """
    fields = dataclass_fields(cls)
    if not _plain_fields(cls) or any(f.default_factory is not MISSING for f in fields):
        return lambda values: cls(**values)
    template = {f.name: f.default for f in fields}  # a field without a default is always in ``values``
    size = len(template)

    def make(values: dict[str, Any]) -> Any:
        record = _new(cls)
        record_fields = record.__dict__
        if len(values) < size:
            record_fields.update(template)
        record_fields.update(values)
        return record

    return make


_make_token = _maker(Token)
_make_execution = _maker(Execution)
_make_payload = _maker(TaskPayload)
_make_state = _maker(InstanceState)
_make_transition = _maker(Transition)
_make_event = _maker(Event)


def event_at(at: datetime, actor: str | None = None) -> Event:
    """``Event(at=at, actor=actor)`` (fresh ids by :func:`new_uuid4`) without the frozen ``__init__``: the
    manager makes one per call."""
    return _make_event({"at": at, "actor": actor})


def _has_exactly(cls: type, names: tuple[str, ...]) -> bool:
    """Whether ``cls`` is plain (see :func:`_plain_fields`) with exactly the fields ``names``, in this order."""
    return bool(_plain_fields(cls)) and tuple(f.name for f in dataclass_fields(cls)) == names


# HistoryEntry and ChangeSet have default factories, so _maker leaves them to their __init__; the step
# fills their __dict__ itself (_Step.__init__ and _Step.add_entry) while they have exactly these fields.
_HISTORY_ENTRY_IS_PLAIN = _has_exactly(
    HistoryEntry, ("kind", "at", "node_id", "execution_id", "details", "actor", "seq", "instance_id"))
_CHANGE_SET_IS_PLAIN = _has_exactly(
    ChangeSet, ("instance_id", "new_instance", "status", "error", "clear_error", "ended_at", "context", "tokens_added",
                "tokens_removed", "token_status", "executions_added", "executions_updated", "history",
                "context_removed", "version", "waits_added", "waits_removed"))

# The plain strings that history details hold (``status.value``), without the enum's property lookup.
_TOKEN_STATUS_TEXT = {status: status.value for status in TokenStatus}
_created_at = attrgetter("created_at")

# Enum members read on the hot path, bound once as module globals: on Python 3.11 reading a member such as
# ``HistoryKind.EDGE_TAKEN`` goes through the enum metaclass (~60 ns, a global ~5 ns), and a step reads
# a few dozen of them.
_INSTANCE_ACTIVE = InstanceStatus.ACTIVE
_MOVING = (InstanceStatus.ACTIVE, InstanceStatus.FAILED)  # the instance statuses in which tokens move on
_EXECUTION_ACTIVE, _EXECUTION_COMPLETED = ExecutionStatus.ACTIVE, ExecutionStatus.COMPLETED
_INCIDENT = (ExecutionStatus.FAILED, ExecutionStatus.STUCK)  # an execution an operator must resolve
_TOKEN_ACTIVE, _TOKEN_WAITING, _TOKEN_STUCK = TokenStatus.ACTIVE, TokenStatus.WAITING, TokenStatus.STUCK
_EXECUTION_COMPLETED_ENTRY, _EXECUTION_CREATED_ENTRY = HistoryKind.EXECUTION_COMPLETED, HistoryKind.EXECUTION_CREATED
_TOKEN_CREATED_ENTRY, _TOKEN_REMOVED_ENTRY = HistoryKind.TOKEN_CREATED, HistoryKind.TOKEN_REMOVED
_EDGE_TAKEN_ENTRY, _JOIN_FIRED_ENTRY = HistoryKind.EDGE_TAKEN, HistoryKind.JOIN_FIRED
_CONTEXT_SET_ENTRY = HistoryKind.CONTEXT_SET


def start(bp: CompiledBlueprint, instance_id: str, context: dict[str, Any], event: Event) -> Transition:
    """Create an instance of ``bp``, put a token on START and move it on at once."""
    state = _make_state({
        "id": instance_id, "workflow_id": bp.workflow_id, "version": bp.version, "status": InstanceStatus.ACTIVE,
        "context": {}, "tokens": {}, "executions": {}, "created_at": event.at, "updated_at": event.at,
    })
    step = _Step(bp, state, event)
    step.changes.new_instance = state
    step.add_entry(HistoryKind.INSTANCE_STARTED, bp.start_id, None,
                   {"workflow_id": bp.workflow_id, "version": bp.version, "context": dict(context)})
    step.set_context(dict(context), record=False)
    step.leave(bp.start_id)
    return step.finish()


def task_done(bp: CompiledBlueprint, state: InstanceState, execution_id: str,
              outputs: dict[str, Any], event: Event, overriding: str | None = None) -> Transition | None:
    """Complete an execution; ``None`` when it is not an open execution of an ACTIVE instance (a no-op)."""
    execution = state.executions.get(execution_id)
    if state.status is not _INSTANCE_ACTIVE or execution is None or execution_id not in state.tokens:
        return None
    step = _Step(bp, state, event)
    node_id = execution.node_id
    mapping = bp.plans[node_id].outputs
    # Only mapped outputs reach the global context; most tasks map none (skip building the comprehension).
    written = {ctx_key: outputs[local] for local, ctx_key in mapping if local in outputs} if mapping else {}
    resolved = execution.status in _INCIDENT
    step.update_execution(execution, status=_EXECUTION_COMPLETED, outputs=dict(outputs))
    details = {"outputs": dict(outputs), "written": written, "resolved_incident": resolved}
    if overriding is not None:  # completed, forced, by someone other than the person who claimed it
        details["forced_over"] = overriding
    step.add_entry(_EXECUTION_COMPLETED_ENTRY, node_id, execution_id, details)
    step.set_context(written, execution_id=execution_id)
    step.remove_token(execution_id)
    step.leave(node_id)
    return step.finish()


def fail_task(bp: CompiledBlueprint, state: InstanceState, execution: Execution, error: str,
              event: Event, **details: Any) -> Transition:
    """Mark an ACTIVE execution FAILED: an incident. Its token stays on the node; other branches go on."""
    _refuse(execution_refusal(Action.FAIL, state.status, execution))
    step = _Step(bp, state, event)
    step.update_execution(execution, status=ExecutionStatus.FAILED, error=error)
    step.set_token_status(execution.id, TokenStatus.FAILED)
    step.record(HistoryKind.EXECUTION_FAILED, node_id=execution.node_id, execution_id=execution.id,
                error=error, attempt=execution.attempt, **details)
    return step.finish()


def retry(bp: CompiledBlueprint, state: InstanceState, execution: Execution, event: Event) -> Transition:
    """Replace a FAILED execution with a new ACTIVE one of the same node (attempt + 1, fresh inputs)."""
    _refuse(execution_refusal(Action.RETRY, state.status, execution))
    step = _Step(bp, state, event)
    step.update_execution(execution, status=ExecutionStatus.RETRIED)
    step.remove_token(execution.id)
    new_id = step.create_execution(execution.node_id, attempt=execution.attempt + 1, retry_of=execution)
    step.record(HistoryKind.EXECUTION_RETRIED, node_id=execution.node_id, execution_id=execution.id,
                new_execution_id=new_id, attempt=execution.attempt + 1)
    return step.finish()


def cancel(bp: CompiledBlueprint, state: InstanceState, reason: str, event: Event) -> Transition:
    """Cancel an ACTIVE or FAILED instance: open executions cancelled, every token removed."""
    _refuse(instance_refusal(Action.CANCEL, state.id, state.status))
    step = _Step(bp, state, event)
    step.clear_tokens(reason=f"instance cancelled: {reason}")
    step.set_status(InstanceStatus.CANCELLED, HistoryKind.INSTANCE_CANCELLED, reason=reason)
    return step.finish()


def set_variables(bp: CompiledBlueprint, state: InstanceState, values: dict[str, Any],
                  event: Event) -> Transition:
    """Write keys of the global context of an ACTIVE or FAILED instance."""
    _refuse(instance_refusal(Action.SET_VARIABLES, state.id, state.status))
    step = _Step(bp, state, event)
    step.set_context(dict(values))
    return step.finish()


def unset_variables(bp: CompiledBlueprint, state: InstanceState, keys: list[str], event: Event) -> Transition:
    """Delete keys of the global context of an ACTIVE or FAILED instance; refuse a key it does not hold."""
    _refuse(instance_refusal(Action.UNSET_VARIABLES, state.id, state.status))
    missing = [key for key in keys if key not in state.context]
    if missing:
        raise InvalidStateError(f"instance {state.id} has no variable {', '.join(repr(k) for k in missing)}"
                                + _nearest_hint(missing[0], state.context))
    step = _Step(bp, state, event)
    step.unset_context(list(dict.fromkeys(keys)))
    return step.finish()


def _nearest_hint(key: str, context: dict[str, Any]) -> str:
    """``"; did you mean 'amount'?"`` when a variable of ``context`` is spelled close to ``key``."""
    close = get_close_matches(key, list(context), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def retry_instance(bp: CompiledBlueprint, state: InstanceState, event: Event) -> Transition:
    """Evaluate again the exclusive split where a FAILED instance stopped; if an edge is taken, resume.

    Raises :class:`NoMatchingConditionError` (and nothing changes) when still nothing matches there. When
    it matches but a later split matches nothing, the instance stops FAILED at that split (committed).
    """
    _refuse(instance_refusal(Action.RESUME, state.id, state.status))
    stopped = [t for t in state.tokens.values()
               if t.status is TokenStatus.FAILED and spec(bp.kinds[t.node_id]).halts]
    if not stopped:
        raise InvalidStateError(f"instance {state.id} did not stop at an exclusive split or a timer: nothing to retry")
    step = _Step(bp, state, event)
    step.set_status(InstanceStatus.ACTIVE, HistoryKind.INSTANCE_RESUMED, clear_error=True)
    for token in sorted(stopped, key=lambda t: t.created_at):
        if token.id not in step.tokens:  # an earlier one reached an END: the instance is COMPLETED
            continue
        step.remove_token(token.id)
        step.leave(token.node_id, reenter=True)  # evaluate the split again, not follow every edge
        if step.failure is not None and step.failure.node_id == token.node_id:
            raise step.failure  # still no match at this split: nothing changes
        # A later split that matches nothing leaves the instance FAILED there, committed, as task_done would.
    # Executions created before the instance failed were never dispatched while it was FAILED.
    for execution in state.executions.values():
        if execution.status is ExecutionStatus.ACTIVE:
            step.dispatch.append(_payload(execution))
    return step.finish()


def attempt_failed(bp: CompiledBlueprint, state: InstanceState, execution: Execution, error: str,
                   next_attempt_at: datetime, event: Event, **details: Any) -> Transition:
    """A worker's attempt failed and the retry policy allows another: the execution stays ACTIVE with
    ``attempt`` + 1, its lease released, and waits until ``next_attempt_at``."""
    _require_instance(state, InstanceStatus.ACTIVE)
    if execution.status is not ExecutionStatus.ACTIVE:
        raise InvalidStateError(f"execution {execution.id} is {execution.status.value}, not ACTIVE")
    step = _Step(bp, state, event)
    step.update_execution(execution, attempt=execution.attempt + 1, error=error, lease_owner=None,
                          lease_until=None, next_attempt_at=next_attempt_at)
    step.record(HistoryKind.EXECUTION_ATTEMPT_FAILED, node_id=execution.node_id, execution_id=execution.id,
                error=error, attempt=execution.attempt, next_attempt_at=next_attempt_at.isoformat(), **details)
    return step.finish()


def mark_stuck(bp: CompiledBlueprint, state: InstanceState, execution: Execution, reason: str,
               event: Event) -> Transition:
    """The stuck-token check found an ACTIVE execution overdue or abandoned: it becomes STUCK, once."""
    _require_instance(state, InstanceStatus.ACTIVE)
    if execution.status is not ExecutionStatus.ACTIVE:
        raise InvalidStateError(f"execution {execution.id} is {execution.status.value}, not ACTIVE")
    step = _Step(bp, state, event)
    # The lease stays: a stuck mark does not end the claim, so a slow worker's late report still counts.
    step.update_execution(execution, status=ExecutionStatus.STUCK, error=reason, lease_owner=execution.lease_owner,
                          lease_until=execution.lease_until)
    step.set_token_status(execution.id, TokenStatus.STUCK)
    step.record(HistoryKind.EXECUTION_STUCK, node_id=execution.node_id, execution_id=execution.id, reason=reason)
    return step.finish()


def fire_timer(bp: CompiledBlueprint, state: InstanceState, wait_id: str, event: Event) -> Transition | None:
    """A timer of the instance came due: its token goes on. ``None`` (nothing to do) when the instance holds no
    such timer any more (fired already, by this runtime or another one; or its token was removed) or is not
    ACTIVE (a FAILED instance's timers fire once it is resumed)."""
    wait = next((w for w in state.waits if w.id == wait_id), None)
    if wait is None or state.status is not _INSTANCE_ACTIVE or wait.token_id not in state.tokens:
        return None
    step = _Step(bp, state, event)
    details: dict[str, Any] = {"wait_id": wait.id, "kind": wait.kind.value}
    if wait.due_at is not None:
        details["due_at"] = wait.due_at.isoformat()
        details["late_seconds"] = round(lateness(wait.due_at, event.at).total_seconds(), 3)
    if wait.kind is WaitKind.BOUNDARY:
        _fire_boundary(bp, step, state, wait, details)
        return step.finish()
    step.add_entry(HistoryKind.TIMER_FIRED, wait.node_id, None, details)
    step.remove_token(wait.token_id)  # its wait goes with it
    step.leave(wait.node_id)
    return step.finish()


def message_wait(state: InstanceState, name: str) -> Wait | None:
    """The instance's oldest wait for the message ``name``, if its token waits for one."""
    return next((w for w in state.waits if w.kind is WaitKind.MESSAGE and w.message == name), None)


def receive_message(bp: CompiledBlueprint, state: InstanceState, wait_id: str, payload: dict[str, Any],
                    event: Event) -> Transition | None:
    """Deliver a message to the message event the instance waits at: its payload is mapped into the context as
    a task's outputs are (the event's ``output_mapping``; what is not mapped is dropped) and the token goes on.
    ``None`` when the instance no longer waits there or is not ACTIVE."""
    wait = next((w for w in state.waits if w.id == wait_id), None)
    if wait is None or state.status is not _INSTANCE_ACTIVE or wait.token_id not in state.tokens:
        return None
    step = _Step(bp, state, event)
    mapping = bp.plans[wait.node_id].outputs
    written = {ctx_key: payload[local] for local, ctx_key in mapping if local in payload}
    step.add_entry(HistoryKind.MESSAGE_RECEIVED, wait.node_id, None,
                   {"wait_id": wait.id, "message": wait.message, "payload": dict(payload), "written": written})
    step.set_context(written)
    step.remove_token(wait.token_id)
    step.leave(wait.node_id)
    return step.finish()


def _fire_boundary(bp: CompiledBlueprint, step: _Step, state: InstanceState, wait: Wait,
                   details: dict[str, Any]) -> None:
    """A task's boundary timer: interrupting, the execution is cancelled and its token takes the timeout edge;
    not, a second token takes it and the task stays open."""
    boundaries = bp.plans[wait.node_id].boundaries
    if wait.boundary is None or wait.boundary >= len(boundaries):  # the instance migrated to a version without it
        step.add_entry(HistoryKind.TIMER_FIRED, wait.node_id, wait.token_id, {**details, "ignored": True})
        step.remove_wait(wait.id)
        return
    boundary = boundaries[wait.boundary]
    details.update(edge_id=boundary.edge_id, interrupting=boundary.interrupting)
    step.add_entry(HistoryKind.TIMER_FIRED, wait.node_id, wait.token_id, details)
    if boundary.interrupting:
        execution = step.executions.get(wait.token_id)
        if execution is not None:
            reason = f"boundary timer fired ({boundary.timer.describe()}): the token took edge {boundary.edge_id!r}"
            step.update_execution(execution, status=ExecutionStatus.CANCELLED, error=reason)
            step.record(HistoryKind.EXECUTION_CANCELLED, node_id=wait.node_id, execution_id=execution.id,
                        reason=reason)
        step.remove_token(wait.token_id)  # its other timers go with it
    else:
        step.remove_wait(wait.id)
    step.leave(wait.node_id, edges=((boundary.edge_id, boundary.target_id),))


def claim_task(bp: CompiledBlueprint, state: InstanceState, execution: Execution, user: str, event: Event,
               forced: bool = False) -> Transition:
    """``user`` claims a person's task: the execution's assignee becomes ``user`` (taking it over from someone
    else only ``forced``, recorded with whose it was)."""
    _refuse(claim_refusal(Action.CLAIM, state.status, execution, user, forced))
    step = _Step(bp, state, event)
    step.update_execution(execution, assignee=user, lease_owner=execution.lease_owner,
                          lease_until=execution.lease_until, next_attempt_at=execution.next_attempt_at)
    step.record(HistoryKind.TASK_CLAIMED, node_id=execution.node_id, execution_id=execution.id, assignee=user,
                previous=execution.assignee, forced=bool(forced and execution.assignee))
    return step.finish()


def release_task(bp: CompiledBlueprint, state: InstanceState, execution: Execution, user: str, event: Event,
                 forced: bool = False) -> Transition:
    """The assignee (or, ``forced``, anyone) gives a claimed task back: it has no assignee again."""
    _refuse(claim_refusal(Action.RELEASE, state.status, execution, user, forced))
    step = _Step(bp, state, event)
    step.update_execution(execution, assignee=None, lease_owner=execution.lease_owner,
                          lease_until=execution.lease_until, next_attempt_at=execution.next_attempt_at)
    step.record(HistoryKind.TASK_RELEASED, node_id=execution.node_id, execution_id=execution.id,
                previous=execution.assignee, forced=bool(forced and execution.assignee != user))
    return step.finish()


def claim_is_current(execution: Execution, claim: int) -> bool:
    """Whether a worker's report under fencing token ``claim`` may change ``execution``: its claim is the
    latest one and its holder still holds the lease. A newer claim, a release (the runtime stopped), the
    holder's own failure report and an operator's fail each end a claim (the last three drop the lease);
    a stuck mark does not."""
    return execution.claim == claim and execution.lease_owner is not None


def stale_report(bp: CompiledBlueprint, state: InstanceState, execution: Execution, report: str, claim: int,
                 event: Event, **details: Any) -> Transition:
    """Record a worker's ``report`` ("completion", "failure" or "renewal") under a claim that is no longer
    current: nothing changes but the history, which says whose claim is current now."""
    step = _Step(bp, state, event)
    step.record(HistoryKind.STALE_REPORT, node_id=execution.node_id, execution_id=execution.id, report=report,
                claim=claim, current_claim=execution.claim if execution.lease_owner is not None else None,
                current_owner=execution.lease_owner, status=execution.status.value, **details)
    return step.finish()


def stuck_joins(bp: CompiledBlueprint, state: InstanceState) -> list[tuple[str, str]]:
    """Parallel joins of an ACTIVE instance that can no longer fire: (join node id, reason) pairs.

    A join is stuck when the tokens that have arrived at it plus the most that the other tokens could
    still bring are fewer than its incoming edges. A join already marked (its tokens all STUCK) is not
    found again until a new token arrives.
    """
    if state.status is not InstanceStatus.ACTIVE:
        return []
    found: list[tuple[str, str]] = []
    arrived: dict[str, int] = {}
    unmarked: set[str] = set()
    for token in state.tokens.values():
        if token.status is TokenStatus.WAITING or (token.status is TokenStatus.STUCK
                                                   and _waits(bp, token.node_id)):
            arrived[token.node_id] = arrived.get(token.node_id, 0) + 1
            if token.status is TokenStatus.WAITING:
                unmarked.add(token.node_id)
    for join_id in sorted(unmarked):
        needed = len(bp.incoming[join_id])
        most = most_arrivals(bp, join_id)
        could_arrive = sum(most.get(t.node_id, 0) for t in state.tokens.values() if t.node_id != join_id)
        if arrived[join_id] + could_arrive < needed:
            others = "no other token can still reach it" if not could_arrive else \
                f"the other tokens can bring at most {could_arrive} more"
            found.append((join_id, f"parallel join {join_id!r} has {arrived[join_id]} of {needed} branches "
                                   f"and {others}"))
    return found


def mark_join_stuck(bp: CompiledBlueprint, state: InstanceState, join_id: str, reason: str,
                    event: Event) -> Transition:
    """Mark the tokens waiting at a join that can no longer fire as STUCK, recording it once."""
    step = _Step(bp, state, event)
    for token in state.tokens.values():
        if token.node_id == join_id and token.status is TokenStatus.WAITING:
            step.set_token_status(token.id, TokenStatus.STUCK)
    step.record(HistoryKind.JOIN_STUCK, node_id=join_id, reason=reason)
    return step.finish()


def most_arrivals(bp: CompiledBlueprint, join_id: str) -> dict[str, float]:
    """The most tokens one token leaving each node could still bring to ``join_id``.

    A node that passes its token down every edge (a task, a parallel split, ...) adds its edges' counts
    up; an exclusive split takes one edge, so its best one counts; an edge into the join counts one. A
    node on a loop that can reach the join counts as unbounded (``inf``): it is never the cause of a stuck
    report. Nodes that cannot reach the join are left out (zero).
    """
    reach: set[str] = set()  # the nodes with a path to the join (not through it)
    stack = [join_id]
    while stack:
        for edge in bp.incoming.get(stack.pop(), []):
            if edge.source_id not in reach and edge.source_id != join_id:
                reach.add(edge.source_id)
                stack.append(edge.source_id)
    # In reverse topological order (Kahn's algorithm): a node is counted once every node it leads to
    # within ``reach`` is; what is never counted lies on, or leads into, a loop.
    pending = {n: sum(1 for e in bp.outgoing.get(n, []) if e.target_id in reach) for n in reach}
    ready = [n for n, count in pending.items() if count == 0]
    most: dict[str, float] = {}
    while ready:
        node = ready.pop()
        counts = [1 if e.target_id == join_id else most.get(e.target_id, 0) for e in bp.outgoing.get(node, [])]
        most[node] = max(counts, default=0) if _chooses(bp, node) else sum(counts)
        for edge in bp.incoming.get(node, []):
            if edge.source_id in pending:
                pending[edge.source_id] -= 1
                if pending[edge.source_id] == 0:
                    ready.append(edge.source_id)
    for node in reach:
        most.setdefault(node, float("inf"))
    return most


def _chooses(bp: CompiledBlueprint, node_id: str) -> bool:
    """Whether the node's kind takes one outgoing edge, chosen by conditions (an exclusive split)."""
    return spec(bp.kinds[node_id]).chooses


def _waits(bp: CompiledBlueprint, node_id: str) -> bool:
    """Whether the node's kind makes tokens wait for each other (a parallel join)."""
    return spec(bp.kinds[node_id]).waits


def _refuse(reason: str | None) -> None:
    """Raise the refusal of an operator action (see :mod:`engine.actions`), if there is one."""
    if reason is not None:
        raise InvalidStateError(reason)


def _require_instance(state: InstanceState, status: InstanceStatus) -> None:
    if state.status is not status:
        raise InvalidStateError(f"instance {state.id} is {state.status.value}, not {status.value}")


def _payload(execution: Execution) -> TaskPayload:
    return _make_payload({"execution_id": execution.id, "instance_id": execution.instance_id,
                          "node_id": execution.node_id, "task_id": execution.task_id,
                          "inputs": dict(execution.inputs), "attempt": execution.attempt})


class _Step:
    """Working copy of one instance during one event; records every change as it is made."""

    def __init__(self, bp: CompiledBlueprint, state: InstanceState, event: Event) -> None:
        self.plans = bp.plans
        self.state = state
        self.event = event
        self.status = state.status
        self.error = state.error
        self.ended_at = state.ended_at
        self.context = dict(state.context)
        self.tokens = dict(state.tokens)
        self.executions = dict(state.executions)
        self.waits: dict[str, Wait] = {w.id: w for w in state.waits} if state.waits else {}
        if _CHANGE_SET_IS_PLAIN:  # ChangeSet(instance_id=state.id) at half the cost: one per step
            self.changes = changes = _new(ChangeSet)
            changes.__dict__.update({
                "instance_id": state.id, "new_instance": None, "status": None, "error": None, "clear_error": False,
                "ended_at": None, "context": {}, "tokens_added": [], "tokens_removed": [], "token_status": {},
                "executions_added": [], "executions_updated": [], "history": [], "context_removed": [],
                "version": None, "waits_added": [], "waits_removed": [],
            })
        else:
            self.changes = ChangeSet(instance_id=state.id)
        self.history = self.changes.history  # only ever appended to, never replaced
        self.dispatch: list[TaskPayload] = []
        self.failure: WorkflowError | None = None
        self.arrivals = 0
        # Every entry of a step shares its time, actor and instance: the fields of a HistoryEntry, in order.
        self._entry = {"kind": None, "at": event.at, "node_id": None, "execution_id": None, "details": None,
                       "actor": event.actor, "seq": None, "instance_id": state.id}

    # -- recording -------------------------------------------------------------------------------

    def record(self, kind: HistoryKind, node_id: str | None = None, execution_id: str | None = None,
               **details: Any) -> None:
        self.add_entry(kind, node_id, execution_id, details)

    def add_entry(self, kind: HistoryKind, node_id: str | None, execution_id: str | None,
                  details: dict[str, Any]) -> None:
        """:meth:`record` with ``details`` as a dict: the hot paths skip packing keyword arguments."""
        if _HISTORY_ENTRY_IS_PLAIN:  # a step records about ten entries: skip the frozen __init__
            entry = _new(HistoryEntry)
            fields = entry.__dict__
            fields.update(self._entry)
            fields["kind"] = kind
            fields["node_id"] = node_id
            fields["execution_id"] = execution_id
            fields["details"] = details
        else:
            entry = HistoryEntry(kind=kind, at=self.event.at, node_id=node_id, execution_id=execution_id,
                                 details=details, actor=self.event.actor, instance_id=self.state.id)
        self.history.append(entry)

    def set_context(self, values: dict[str, Any], execution_id: str | None = None, record: bool = True) -> None:
        if not values:
            return
        self.context.update(values)
        self.changes.context.update(values)
        if record:
            self.add_entry(_CONTEXT_SET_ENTRY, None, execution_id, {"values": values})

    def unset_context(self, keys: list[str]) -> None:
        for key in keys:
            del self.context[key]
            self.changes.context.pop(key, None)
        self.changes.context_removed.extend(keys)
        self.record(HistoryKind.CONTEXT_UNSET, keys=keys)

    def set_status(self, status: InstanceStatus, kind: HistoryKind, clear_error: bool = False,
                   **details: Any) -> None:
        self.status = status
        self.changes.status = status
        if status in (InstanceStatus.COMPLETED, InstanceStatus.CANCELLED):
            self.ended_at = self.event.at
            self.changes.ended_at = self.event.at
        if clear_error:
            self.error = None
            self.changes.clear_error = True
        self.record(kind, **details)

    # -- tokens and executions -------------------------------------------------------------------

    def add_token(self, token_id: str, node_id: str, status: TokenStatus) -> None:
        token = _make_token({"id": token_id, "node_id": node_id, "status": status, "created_at": self.event.at})
        self.tokens[token_id] = token
        self.changes.tokens_added.append(token)
        self.add_entry(_TOKEN_CREATED_ENTRY, node_id, None,
                       {"token_id": token_id, "status": _TOKEN_STATUS_TEXT[status]})

    def remove_token(self, token_id: str) -> None:
        token = self.tokens.pop(token_id)
        changes = self.changes
        for added in changes.tokens_added:
            if added.id == token_id:  # added earlier in this step (at a join): the store never sees it
                changes.tokens_added = [t for t in changes.tokens_added if t.id != token_id]
                break
        else:
            changes.tokens_removed.append(token_id)
        if changes.token_status:
            changes.token_status.pop(token_id, None)
        if self.waits:  # a token's timers end with it
            for wait in [w for w in self.waits.values() if w.token_id == token_id]:
                self.remove_wait(wait.id)
        self.add_entry(_TOKEN_REMOVED_ENTRY, token.node_id, None, {"token_id": token_id})

    def add_wait(self, wait: Wait) -> None:
        self.waits[wait.id] = wait
        self.changes.waits_added.append(wait)
        details: dict[str, Any] = {"wait_id": wait.id, "kind": wait.kind.value, "token_id": wait.token_id}
        if wait.due_at is not None:
            details["due_at"] = wait.due_at.isoformat()
        if wait.boundary is not None:
            details["boundary"] = wait.boundary
        if wait.message is not None:
            details["message"] = wait.message
        self.add_entry(HistoryKind.TIMER_SET, wait.node_id, None, details)

    def remove_wait(self, wait_id: str) -> None:
        del self.waits[wait_id]
        changes = self.changes
        if any(w.id == wait_id for w in changes.waits_added):  # added in this step: the store never sees it
            changes.waits_added = [w for w in changes.waits_added if w.id != wait_id]
        else:
            changes.waits_removed.append(wait_id)

    def set_token_status(self, token_id: str, status: TokenStatus) -> None:
        token = self.tokens[token_id]
        self.tokens[token_id] = _replace(token, status=status)
        self.changes.token_status[token_id] = status
        self.record(HistoryKind.TOKEN_STATUS, node_id=token.node_id, token_id=token_id, status=status.value)

    def create_execution(self, node_id: str, attempt: int = 1, retry_of: Execution | None = None) -> str:
        plan = self.plans[node_id]
        at = self.event.at
        execution_id = f"{self.state.id}:{node_id}:{self.event.new_uuid()}"
        context = self.context
        inputs = {local: context.get(ctx_key) for local, ctx_key in plan.inputs} if plan.inputs else {}
        fields = {
            "id": execution_id, "instance_id": self.state.id, "node_id": node_id, "task_id": plan.task_id,
            "inputs": inputs, "status": _EXECUTION_ACTIVE, "attempt": attempt, "created_at": at,
            "updated_at": at,
        }
        details: dict[str, Any] = {"task_id": plan.task_id, "inputs": inputs, "attempt": attempt}
        if retry_of is not None:
            details["retry_of"] = retry_of.id
        if plan.deadline is not None or plan.people is not None or (
                retry_of is not None and (retry_of.assignee or retry_of.due_at)):
            self._task_terms(plan, fields, details, retry_of)
        execution = _make_execution(fields)
        self.executions[execution_id] = execution
        self.changes.executions_added.append(execution)
        self.add_entry(_EXECUTION_CREATED_ENTRY, node_id, execution_id, details)
        self.add_token(execution_id, node_id, _TOKEN_ACTIVE)
        if plan.boundaries:
            self._set_boundaries(plan, execution_id)
        self.dispatch.append(_payload(execution))
        return execution_id

    def _task_terms(self, plan: NodePlan, fields: dict[str, Any], details: dict[str, Any],
                    retry_of: Execution | None) -> None:
        """A task's deadline (a retry keeps its execution's) and who does it: into the execution's fields and
        the EXECUTION_CREATED entry (a deadline the context cannot give is left out, the reason recorded)."""
        if plan.deadline is not None:
            if retry_of is not None:
                due_at = retry_of.due_at
            else:
                try:
                    due_at = plan.deadline.due(self.event.at, self.context)
                except TimerValueError as problem:
                    due_at = None
                    details["deadline_problem"] = str(problem)
            if due_at is not None:
                fields["due_at"] = due_at
                details["due_at"] = due_at.isoformat()
        assignee, group = plan.people.resolve(self.context) if plan.people is not None else (None, None)
        if retry_of is not None and retry_of.assignee:
            assignee = retry_of.assignee  # whoever worked on it keeps it
        if assignee:
            fields["assignee"] = details["assignee"] = assignee
        if group:
            fields["candidate_group"] = details["candidate_group"] = group

    def _set_boundaries(self, plan: NodePlan, execution_id: str) -> None:
        """The boundary timers of a new execution: a wait each on the task's token (they end with it)."""
        for index, boundary in enumerate(plan.boundaries):
            try:
                due_at = boundary.timer.due(self.event.at, self.context)
            except TimerValueError as problem:
                self.record(HistoryKind.CONDITION_ERROR, node_id=plan.id, edge_id=boundary.edge_id,
                            error=f"boundary timer {index} not set: {problem}")
                continue
            self.add_wait(Wait(id=f"{execution_id}~b{index}", kind=WaitKind.BOUNDARY, node_id=plan.id,
                               token_id=execution_id, created_at=self.event.at, due_at=due_at, boundary=index))

    def update_execution(self, execution: Execution, **fields: Any) -> None:
        if fields.get("status", execution.status) is not _EXECUTION_ACTIVE:
            fields = {"lease_owner": None, "lease_until": None, "next_attempt_at": None, **fields}
        fields["updated_at"] = self.event.at
        updated = _replaced(execution, fields)
        if updated.status in OPEN_EXECUTION:
            self.executions[execution.id] = updated
        else:
            self.executions.pop(execution.id, None)
        changes = self.changes
        added = changes.executions_added
        for index, earlier in enumerate(added):
            if earlier.id == execution.id:  # created in this step: the store gets its final version only
                added[index] = updated
                return
        if changes.executions_updated and any(e.id == execution.id for e in changes.executions_updated):
            # updated twice in this step: the store gets the last version only
            changes.executions_updated = [e for e in changes.executions_updated if e.id != execution.id]
        changes.executions_updated.append(updated)

    def clear_tokens(self, reason: str) -> None:
        """Remove every token; open executions are cancelled with ``reason``."""
        for execution in list(self.executions.values()):
            self.update_execution(execution, status=ExecutionStatus.CANCELLED, error=reason)
            self.record(HistoryKind.EXECUTION_CANCELLED, node_id=execution.node_id,
                        execution_id=execution.id, reason=reason)
        for token_id in list(self.tokens):
            self.remove_token(token_id)
        self.dispatch.clear()

    # -- moving tokens ---------------------------------------------------------------------------

    def leave(self, node_id: str, reenter: bool = False,
              edges: tuple[tuple[str, str], ...] | None = None) -> None:
        """Move a token out of ``node_id`` along its outgoing edges (only ``edges``, when given; with ``reenter``,
        arrive at ``node_id`` again instead), and on until every token rests."""
        queue: deque[str] = deque()
        if reenter:
            queue.append(node_id)
        else:
            self.follow(node_id, self.plans[node_id].edges if edges is None else edges, queue)
        # A FAILED split does not stop the other tokens of this step: they come to rest as usual, so
        # that retry_instance can resume the instance with nothing lost.
        while queue and self.status in _MOVING:
            self._arrive(queue.popleft(), queue)
        if self.status is _INSTANCE_ACTIVE and not self.tokens:
            self.set_status(InstanceStatus.COMPLETED, HistoryKind.INSTANCE_COMPLETED,
                            reason="no tokens left")

    def follow(self, node_id: str, edges: tuple[tuple[str, str], ...], queue: deque[str]) -> None:
        """Take ``edges``, (edge id, target node id) pairs of :attr:`NodePlan.edges`, out of ``node_id``."""
        for edge_id, target_id in edges:
            self.add_entry(_EDGE_TAKEN_ENTRY, target_id, None, {"edge_id": edge_id, "source_id": node_id})
            queue.append(target_id)

    def _arrive(self, node_id: str, queue: deque[str]) -> None:
        self.arrivals += 1
        if self.arrivals > MAX_ARRIVALS_PER_EVENT:
            raise WorkflowError(f"instance {self.state.id}: more than {MAX_ARRIVALS_PER_EVENT} node "
                                "arrivals in one step; the blueprint loops without waiting for a task")
        plan = self.plans[node_id]
        plan.arrive(self, plan, queue)  # the kind's entry in engine.kinds says what a token arriving does

    # -- what the kinds' arrivals call (engine.kinds) ----------------------------------------------------

    def end_instance(self, node_id: str, queue: deque[str]) -> None:
        """An END: every other token is removed, and the instance is COMPLETED."""
        self.clear_tokens(reason=f"instance completed at END {node_id!r}")
        # END ends the whole instance, a no-match earlier in this step included: nothing left to raise.
        self.failure = self.changes.error = None
        self.set_status(InstanceStatus.COMPLETED, HistoryKind.INSTANCE_COMPLETED, node_id=node_id,
                        clear_error=self.error is not None)
        queue.clear()

    def exclusive_split(self, plan: NodePlan, queue: deque[str]) -> None:
        """The first true condition's edge, else the default; with neither the instance stops FAILED here."""
        node_id = plan.id
        default = None
        problems: list[str] = []
        for edge_id, target_id, condition in plan.branches:
            if condition is None:
                default = default or (edge_id, target_id)
                continue
            try:
                taken = condition.evaluate(self.context)
            except ConditionEvaluationError as error:
                problems.append(f"edge {edge_id!r}: {error}")
                self.record(HistoryKind.CONDITION_ERROR, node_id=node_id, edge_id=edge_id, error=str(error))
                continue
            if taken:
                self.follow(node_id, ((edge_id, target_id),), queue)
                return
        if default is not None:
            self.follow(node_id, (default,), queue)
            return
        reason = f"no condition matched at exclusive split {node_id!r} and it has no default edge"
        if problems:
            reason += " (" + "; ".join(problems) + ")"
        self.halt(node_id, reason, NoMatchingConditionError)

    def halt(self, node_id: str, reason: str, error: type[NoMatchingConditionError]) -> None:
        """The token cannot go on at ``node_id`` (a kind that ``halts``): it stays there FAILED and the instance
        stops FAILED with ``reason``, until an operator resumes it (:func:`retry_instance`)."""
        self.add_token(f"{self.state.id}:{node_id}:{self.event.new_uuid()}", node_id, TokenStatus.FAILED)
        self.error = reason
        self.changes.error = reason
        self.set_status(InstanceStatus.FAILED, HistoryKind.INSTANCE_FAILED, node_id=node_id, reason=reason)
        self.failure = error(f"instance {self.state.id}: {reason}", self.state.id, node_id)

    def wait_message(self, plan: NodePlan) -> None:
        """A message event: the token waits there until a message of its name is sent to the instance
        (:func:`receive_message`)."""
        token_id = f"{self.state.id}:{plan.id}:{self.event.new_uuid()}"
        self.add_token(token_id, plan.id, _TOKEN_ACTIVE)
        self.add_wait(Wait(id=token_id, kind=WaitKind.MESSAGE, node_id=plan.id, token_id=token_id,
                           created_at=self.event.at, message=plan.message))

    def wait_timer(self, plan: NodePlan, queue: deque[str]) -> None:
        """A timer event: the token waits there until its due time, when the runtime fires it (:func:`fire_timer`).
        A due time the context cannot give (a missing key, a value that is no time) halts the instance there."""
        node_id = plan.id
        try:
            due_at = plan.timer.due(self.event.at, self.context)
        except TimerValueError as problem:
            self.halt(node_id, f"timer {node_id!r}: {problem}", UnreadableTimerError)
            return
        token_id = f"{self.state.id}:{node_id}:{self.event.new_uuid()}"
        self.add_token(token_id, node_id, _TOKEN_ACTIVE)
        self.add_wait(Wait(id=token_id, kind=WaitKind.TIMER, node_id=node_id, token_id=token_id,
                           created_at=self.event.at, due_at=due_at))

    def parallel_join(self, plan: NodePlan, queue: deque[str]) -> None:
        """The token waits; once as many wait as the join has incoming edges, they go on as one."""
        node_id = plan.id
        self.add_token(f"{self.state.id}:{node_id}:{self.event.new_uuid()}", node_id, _TOKEN_WAITING)
        waiting = []
        for token in self.tokens.values():  # tokens marked STUCK at the join have arrived all the same
            if token.node_id == node_id and (token.status is _TOKEN_WAITING or token.status is _TOKEN_STUCK):
                waiting.append(token)
        needed = plan.join_needed
        if len(waiting) < needed:
            return
        waiting.sort(key=_created_at)  # stable, as sorted() was: the earliest arrivals fire the join
        for token in waiting[:needed]:
            self.remove_token(token.id)
        self.add_entry(_JOIN_FIRED_ENTRY, node_id, None, {"arrived": needed})
        self.follow(node_id, plan.edges, queue)

    # -- result ----------------------------------------------------------------------------------

    def finish(self) -> Transition:
        if self.event.batch_id is not None and self.history:
            self.record(HistoryKind.BATCH_ITEM, batch_id=self.event.batch_id)
        new_state = _replaced(self.state, {
            "status": self.status, "error": self.error, "ended_at": self.ended_at, "context": self.context,
            "tokens": self.tokens, "executions": self.executions, "updated_at": self.event.at,
            "waits": tuple(self.waits.values()) if self.waits else (),
        })
        dispatch = self.dispatch if self.status is _INSTANCE_ACTIVE else []
        return _make_transition({"state": new_state, "changes": self.changes, "dispatch": dispatch,
                                 "error": self.failure})
