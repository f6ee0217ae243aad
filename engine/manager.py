"""``WorkflowManager``: the engine's public API (SPEC §5 and §6).

Each operation is one write transaction: load the instance, let the pure state machine compute the
transition, apply its change set, commit. Task handlers and the completion handler run only after the
commit; an exception in a handler is logged and recorded in the history, never rolls anything back.
"""

from __future__ import annotations

import getpass
import logging
import os
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from engine import machine, repair
from engine.actions import Action, claim_refusal
from engine.errors import (
    BlueprintConflictError,
    InvalidStateError,
    InvalidValueError,
    MalformedExecutionIdError,
    MessageNotDeliveredError,
    NoMatchingConditionError,
    StaleClaimError,
    UnknownExecutionError,
    UnknownInstanceError,
    UnknownWorkflowError,
)
from engine.graph import CompiledBlueprint
from engine.model import (
    Execution,
    ExecutionStatus,
    HistoryEntry,
    HistoryKind,
    InstanceState,
    InstanceStatus,
    TaskPayload,
    Transition,
)
from engine.outcomes import (
    Completion,
    applied_completion,
    ignored_completion,
    stale_claim_message,
    stale_completion,
)
from engine.ports import InstanceQuery, InstanceSummary, InstanceView, Store
from engine.text import unsafe_character
from engine.validate import BlueprintSource, compile_blueprint
from engine.values import check_json_object

log = logging.getLogger("wfconsole.engine")
_BATCH: ContextVar[str | None] = ContextVar("wfconsole_batch", default=None)  # the batch a step belongs to

Clock = Callable[[], datetime]
TaskHandler = Callable[[TaskPayload], Any]
CompletionHandler = Callable[[InstanceView], Any]


def _claim_is_stale(state: InstanceState, execution: Execution, claim: int) -> bool:
    """Whether a worker's report under ``claim`` would change an open execution of an ACTIVE instance,
    but the claim is no longer current (any other report is ignored or refused as it would be anyway)."""
    return (state.status is InstanceStatus.ACTIVE and execution.status in machine.OPEN_EXECUTION
            and not machine.claim_is_current(execution, claim))


def utc_now() -> datetime:
    return datetime.now(UTC)


def default_actor() -> str:
    """The current user, the default actor of operator actions (and whose tasks "mine" lists):
    ``$WFCONSOLE_USER``, else the OS user."""
    named = os.environ.get("WFCONSOLE_USER", "").strip()
    if named:
        return named
    try:
        return getpass.getuser()
    except Exception:  # no user name in this environment (e.g. a container without passwd entry)
        return "unknown"


def parse_execution_id(execution_id: str) -> tuple[str, str]:
    """Split ``<instance_id>:<node_id>:<uuid>`` into (instance_id, node_id); node ids may hold ':'."""
    if not isinstance(execution_id, str):
        raise MalformedExecutionIdError(f"execution id must be a string, got {type(execution_id).__name__}")
    first, last = execution_id.find(":"), execution_id.rfind(":")
    if first <= 0 or last <= first + 1:
        raise MalformedExecutionIdError(
            f"malformed execution id {execution_id!r}: expected <instance_id>:<node_id>:<uuid>")
    if _CANONICAL_UUID.fullmatch(execution_id, last + 1) is None:  # the usual form, at a fifth of the cost
        try:
            uuid.UUID(execution_id[last + 1:])  # the other forms uuid.UUID takes (no hyphens, braces, ...)
        except ValueError:
            raise MalformedExecutionIdError(
                f"malformed execution id {execution_id!r}: {execution_id[last + 1:]!r} is not a UUID") from None
    return execution_id[:first], execution_id[first + 1:last]


_CANONICAL_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def check_actor(actor: str) -> None:
    """Refuse an actor holding a control, bidi or line-separator character (:class:`InvalidValueError`,
    naming it and its position): an actor is shown on operators' terminals and searched by what they type."""
    if actor.isprintable():  # the usual case, one C-speed check
        return
    found = unsafe_character(actor)
    if found is not None:
        kind, char, position = found
        raise InvalidValueError(f"actor {actor!r} holds {kind}s ({char!r} at position {position})")


class WorkflowManager:
    """The workflow engine over a :class:`~engine.ports.Store`."""

    def __init__(self, store: Store, *, clock: Clock = utc_now) -> None:
        self.store = store
        self.clock = clock
        self._task_handlers: list[TaskHandler] = []
        self._completion_handlers: list[CompletionHandler] = []
        self._compiled: dict[tuple[str, int], CompiledBlueprint] = {}
        self._latest: dict[str, int] = {}
        self._lock = threading.Lock()

    def with_clock(self, clock: Clock) -> WorkflowManager:
        """A manager on the same store whose events take their time from ``clock`` (no handlers registered)."""
        return WorkflowManager(self.store, clock=clock)

    # -- handlers ---------------------------------------------------------------------------------

    def register_task_handler(self, handler: TaskHandler) -> None:
        """Call ``handler(payload)`` for every new execution, after the transaction that made it commits."""
        self._task_handlers.append(handler)

    def register_completion_handler(self, handler: CompletionHandler) -> None:
        """Call ``handler(instance)`` after an instance becomes COMPLETED or FAILED."""
        self._completion_handlers.append(handler)

    # -- blueprints -------------------------------------------------------------------------------

    def add_workflow(self, blueprint: BlueprintSource, origin: str | None = None) -> int:
        """Validate and store a blueprint; return its version.

        Raises ``BlueprintError`` listing every problem, or ``BlueprintConflictError`` when a different
        blueprint is stored under the same (workflow_id, version). Storing the same one again is a no-op.
        """
        compiled = compile_blueprint(blueprint, origin)
        self._store_compiled([(compiled, origin)])
        return compiled.version

    def add_workflows(self, blueprints: list[tuple[BlueprintSource, str | None]]) -> list[tuple[int, bool]]:
        """Validate and store several (blueprint, origin) pairs, all or none, in one transaction; return each
        one's version and whether it was new (``False``: the identical blueprint was already stored).

        Every blueprint is validated first. Two different blueprints of the batch under one (workflow_id,
        version) are a ``BlueprintConflictError``, as is one that differs from what is stored.
        """
        compiled = [(compile_blueprint(source, origin), origin) for source, origin in blueprints]
        seen: dict[tuple[str, int], tuple[CompiledBlueprint, str | None]] = {}
        for bp, origin in compiled:
            key = (bp.workflow_id, bp.version)
            if key in seen and seen[key][0].blueprint != bp.blueprint:
                where = f"{origin}: " if origin else ""
                raise BlueprintConflictError(
                    f"{where}version {bp.version} of workflow {bp.workflow_id!r} is also in "
                    f"{seen[key][1] or 'another blueprint of the batch'}, with different content", key=key)
            seen.setdefault(key, (bp, origin))
        created = self._store_compiled(compiled)
        return [(bp.version, new) for (bp, _), new in zip(compiled, created, strict=True)]

    def _store_compiled(self, compiled: list[tuple[CompiledBlueprint, str | None]]) -> list[bool]:
        try:
            created = self.store.save_blueprints([(bp.blueprint, bp.warnings) for bp, _ in compiled])
        except BlueprintConflictError as error:
            origin = next((o for bp, o in compiled if (bp.workflow_id, bp.version) == error.key), None)
            raise BlueprintConflictError(f"{origin}: {error}" if origin else str(error), key=error.key) from None
        with self._lock:
            for bp, _ in compiled:
                self._compiled[(bp.workflow_id, bp.version)] = bp
                self._latest.pop(bp.workflow_id, None)
        for bp, _ in compiled:
            log.info("blueprint stored", extra={"workflow_id": bp.workflow_id, "version": bp.version})
        return created

    def get_workflow(self, workflow_id: str, version: int | None = None) -> CompiledBlueprint:
        """The compiled blueprint (the newest version when ``version`` is None); cached by version."""
        key = (workflow_id, version) if version is not None else None
        if key is not None and key in self._compiled:
            return self._compiled[key]
        stored = self.store.get_blueprint(workflow_id, version)
        if stored is None:
            which = f"version {version} of workflow" if version is not None else "workflow"
            raise UnknownWorkflowError(f"unknown {which} {workflow_id!r}")
        key = (workflow_id, stored.blueprint.version)
        with self._lock:
            if key not in self._compiled:
                self._compiled[key] = compile_blueprint(stored.blueprint)
            return self._compiled[key]

    # -- running ----------------------------------------------------------------------------------

    def start_workflow(self, workflow_id: str, initial_context: dict[str, Any] | None = None, *,
                       actor: str | None = None) -> str:
        """Start an instance of the newest version of ``workflow_id``; return its id."""
        context = check_json_object(initial_context, "initial context")
        bp = self.get_workflow(workflow_id)  # newest version, pinned for the instance's life
        instance_id = str(uuid.uuid4())
        with self.store.write() as tx:
            transition = machine.start(bp, instance_id, context, self._event(actor))
            tx.apply(transition.changes, transition.state)
        log.info("instance started", extra={"instance_id": instance_id, "workflow_id": workflow_id})
        self._after_commit(transition)
        return instance_id

    def task_done(self, execution_id: str, outputs: dict[str, Any] | None = None, *,
                  actor: str | None = None, claim: int | None = None, force: bool = False) -> Completion:
        """Complete an execution with ``outputs``; return what happened (:class:`~engine.outcomes.Completion`).

        A duplicate or late completion changes nothing and is not an error (SPEC §3): the outcome says it
        was ignored and why, as the transaction saw it. A worker passes the fencing token of its claim as
        ``claim``: when that claim is no longer current (taken over, released, or ended by an operator's
        fail), the completion is ignored (``Ignored.STALE_CLAIM``) and recorded as a ``STALE_REPORT``. A
        completion without ``claim`` (an operator's, an external handler's) is not fenced.

        A person's task claimed by someone other than ``actor`` is refused (``InvalidStateError``) unless
        ``force``; a forced completion records whose claim it overrode.
        """
        instance_id, _ = parse_execution_id(execution_id)
        outputs = check_json_object(outputs, "outputs")
        if actor is not None:
            check_actor(actor)
        # The hot path: _load, get_workflow and _event inlined (a call each per completion).
        with self.store.write() as tx:
            state = tx.load_instance(instance_id)
            if state is None:
                raise UnknownInstanceError(f"unknown instance {instance_id!r}")
            bp = self._compiled.get((state.workflow_id, state.version))
            if bp is None:
                bp = self.get_workflow(state.workflow_id, state.version)
            if claim is not None:
                execution = state.executions.get(execution_id)
                if execution is not None and _claim_is_stale(state, execution, claim):
                    stale = machine.stale_report(bp, state, execution, "completion", claim,
                                                 self._event(actor), outputs=dict(outputs))
                    tx.apply(stale.changes, stale.state)
                    outcome = stale_completion(execution, state, claim)
                    log.info("completion ignored: %s", outcome.message,
                             extra={"instance_id": instance_id, "execution_id": execution_id})
                    return outcome
            overriding = None
            if claim is None and actor is not None:
                execution = state.executions.get(execution_id)
                if execution is not None and execution.assignee and execution.assignee != actor:
                    refusal = claim_refusal(Action.COMPLETE, state.status, execution, actor, force)
                    if refusal is not None:
                        raise InvalidStateError(refusal)
                    overriding = execution.assignee
            transition = machine.task_done(bp, state, execution_id, outputs, machine.event_at(self.clock(), actor),
                                           overriding)
            if transition is None:
                outcome = ignored_completion(execution_id, state, tx.load_execution(execution_id))
                log.debug("completion ignored: %s", outcome.message,
                          extra={"instance_id": instance_id, "execution_id": execution_id})
                return outcome
            tx.apply(transition.changes, transition.state)
        outcome = applied_completion(execution_id, transition.state,
                                     state.executions[execution_id].status is not ExecutionStatus.ACTIVE)
        self._after_commit(transition)
        return outcome

    def fail_task(self, execution_id: str, error: str, *, actor: str | None = None) -> None:
        """Mark an ACTIVE execution FAILED with ``error``: the instance carries an incident."""
        self._operate_on_execution(execution_id, actor, machine.fail_task, str(error))

    def retry(self, execution_id: str, *, actor: str | None = None) -> str:
        """Replace a FAILED execution with a new ACTIVE one; return the new execution id."""
        transition = self._operate_on_execution(execution_id, actor, machine.retry)
        return transition.changes.executions_added[-1].id

    def cancel(self, instance_id: str, reason: str, *, actor: str | None = None) -> None:
        """Cancel an ACTIVE or FAILED instance: its executions are cancelled, its tokens removed."""
        self._operate(instance_id, actor, lambda bp, state, event: machine.cancel(bp, state, reason, event))

    def set_variables(self, instance_id: str, values: dict[str, Any], *, actor: str | None = None) -> None:
        """Write keys of the global context of an ACTIVE or FAILED instance."""
        values = check_json_object(values, "variables")
        if not values:
            raise InvalidValueError("set_variables needs at least one variable")
        for key, value in values.items():
            if not key.strip():
                raise InvalidValueError("a variable name must not be empty")
            if value == "":
                raise InvalidValueError(f"variable {key!r}: an empty value; set null to clear it, or unset it")
        self._operate(instance_id, actor, lambda bp, state, event: machine.set_variables(bp, state, values, event))

    def unset_variables(self, instance_id: str, keys: list[str], *, actor: str | None = None) -> None:
        """Delete keys of the global context of an ACTIVE or FAILED instance; a key it does not hold is refused
        (``InvalidStateError``, naming the nearest key it holds)."""
        if isinstance(keys, str) or not isinstance(keys, (list, tuple)) or not keys:
            raise InvalidValueError("unset_variables needs a list of at least one variable name")
        for key in keys:
            if not isinstance(key, str) or not key.strip():
                raise InvalidValueError(f"variable name {key!r} must be a non-empty string")
        self._operate(instance_id, actor,
                      lambda bp, state, event: machine.unset_variables(bp, state, list(keys), event))

    def move_tokens(self, instance_id: str, remove: list[str], add: list[str], *, actor: str | None = None,
                    forced: bool = False) -> None:
        """Remove the tokens on the nodes ``remove`` and place tokens on the nodes ``add``, in one step
        (:func:`engine.repair.move_tokens`). Raises :class:`~engine.repair.RepairRefusedError` when it would leave
        the instance unable to finish, unless ``forced`` (then recorded as forced)."""
        self._operate(instance_id, actor, lambda bp, state, event: repair.move_tokens(
            bp, state, list(remove), list(add), event, forced=forced))

    def migrate(self, instance_id: str, to_version: int, mapping: dict[str, str] | None = None, *,
                actor: str | None = None, forced: bool = False) -> None:
        """Move the instance to version ``to_version`` of its workflow; tokens go to the nodes of the same id, or
        of ``mapping`` (old node id -> new node id) for nodes renamed or removed (:func:`engine.repair.migrate`)."""
        target = self.get_workflow(self._workflow_of(instance_id), to_version)
        self._operate(instance_id, actor, lambda bp, state, event: repair.migrate(
            bp, target, state, dict(mapping or {}), event, forced=forced))

    def preview_repair(self, instance_id: str, remove: list[str] = (), add: list[str] = (), *,
                       to_version: int | None = None, mapping: dict[str, str] | None = None,
                       actor: str | None = None) -> repair.Repair:
        """What moving tokens (or, with ``to_version``, migrating) would do, applying nothing: the transition and
        the findings on the state it would leave. Refusals (an unknown node, a token with no target) raise."""
        view = self.get_status(instance_id, history_limit=0)
        state = view.state()
        bp = self.get_workflow(view.workflow_id, view.version)
        event = self._event(actor, operator=True)
        if to_version is not None:
            target = self.get_workflow(view.workflow_id, to_version)
            return repair.preview_migration(bp, target, state, dict(mapping or {}), event)
        return repair.preview(bp, state, list(remove), list(add), event)

    @contextmanager
    def batch(self, batch_id: str) -> Iterator[None]:
        """Within the block, every step this thread makes is recorded as an item of the batch ``batch_id``
        (a BATCH_ITEM entry in the instance's history, with the actor)."""
        token = _BATCH.set(batch_id)
        try:
            yield
        finally:
            _BATCH.reset(token)

    def _workflow_of(self, instance_id: str) -> str:
        return self.get_status(instance_id, history_limit=0).workflow_id

    def retry_instance(self, instance_id: str, *, actor: str | None = None) -> None:
        """Evaluate again the exclusive split where a FAILED instance stopped, and resume it if one matches."""
        self._operate(instance_id, actor, machine.retry_instance)

    # -- runtime (worker attempts and the stuck-token check) ----------------------------------------

    def fail_attempt(self, execution_id: str, error: str, next_attempt_at: datetime | None, *,
                     actor: str | None = None, claim: int | None = None, **details: Any) -> None:
        """Record a worker's failed attempt: retry at ``next_attempt_at``, or, when it is ``None``
        (attempts exhausted), mark the execution FAILED as an incident.

        With ``claim`` (the fencing token of the worker's claim), a claim that is no longer current
        changes nothing: the report is recorded as a ``STALE_REPORT`` and :class:`StaleClaimError` raised.
        """
        if next_attempt_at is None:
            self._operate_on_execution(execution_id, actor, machine.fail_task, error, claim=claim, **details)
        else:
            self._operate_on_execution(execution_id, actor, machine.attempt_failed, error, next_attempt_at,
                                       claim=claim, **details)

    def record_lost_claim(self, execution_id: str, claim: int, *, actor: str | None = None) -> bool:
        """Record that a worker's lease renewal under ``claim`` found the claim no longer current (a
        ``STALE_REPORT`` of a renewal); ``False`` (nothing recorded) when the execution has ended or the
        claim is current after all."""
        instance_id, _ = parse_execution_id(execution_id)
        with self.store.write() as tx:
            state = self._load(tx, instance_id)
            execution = tx.load_execution(execution_id)
            if execution is None or not _claim_is_stale(state, execution, claim):
                return False
            bp = self.get_workflow(state.workflow_id, state.version)
            transition = machine.stale_report(bp, state, execution, "renewal", claim, self._event(actor))
            tx.apply(transition.changes, transition.state)
        log.info("%s", stale_claim_message(execution, claim),
                 extra={"instance_id": instance_id, "execution_id": execution_id})
        return True

    def claim_task(self, execution_id: str, *, actor: str | None = None, force: bool = False) -> None:
        """``actor`` (default: the current user, :func:`default_actor`) claims a person's task: it becomes the
        execution's assignee. Taking over someone else's claim needs ``force`` (recorded)."""
        user = actor or default_actor()
        self._operate_on_execution(execution_id, user, machine.claim_task, user, forced=force)

    def release_task(self, execution_id: str, *, actor: str | None = None, force: bool = False) -> None:
        """Give a claimed task back (someone else's claim only with ``force``, recorded): anyone may claim it."""
        user = actor or default_actor()
        self._operate_on_execution(execution_id, user, machine.release_task, user, forced=force)

    def mark_stuck(self, execution_id: str, reason: str, *, actor: str | None = None) -> None:
        """Mark an ACTIVE execution STUCK with ``reason`` (recorded once in the history)."""
        self._operate_on_execution(execution_id, actor, machine.mark_stuck, reason)

    def check_joins(self, instance_id: str, *, actor: str | None = None) -> list[str]:
        """Mark the parallel joins of an instance that can no longer fire as STUCK; return their node ids."""
        with self.store.write() as tx:
            state = self._load(tx, instance_id)
            bp = self.get_workflow(state.workflow_id, state.version)
            marked = []
            for join_id, reason in machine.stuck_joins(bp, state):
                transition = machine.mark_join_stuck(bp, state, join_id, reason, self._event(actor))
                tx.apply(transition.changes, transition.state)
                state = transition.state
                marked.append(join_id)
        return marked

    def send_message(self, name: str, correlation: str | dict[str, Any], payload: dict[str, Any] | None = None, *,
                     actor: str | None = None) -> str:
        """Deliver the message ``name`` to the instance waiting for it that ``correlation`` names: an instance id,
        or ``{context_key: value}`` (the one waiting instance whose context holds that value). Its payload is
        mapped into the context as a task's outputs are, and the token goes on; return the instance's id.

        Raises :class:`MessageNotDeliveredError` (nothing changed) when no instance so named waits for it, or
        when a context value matches several waiting instances; a message is never kept for later.
        """
        if not isinstance(name, str) or not name.strip():
            raise InvalidValueError("a message needs a name")
        payload = check_json_object(payload, "payload")
        if isinstance(correlation, dict):
            if len(correlation) != 1:
                raise InvalidValueError("correlate a message by one context key and its value")
            candidates = self._correlated(name, correlation)
        elif isinstance(correlation, str) and correlation:
            candidates = [correlation]
        else:
            raise InvalidValueError("correlate a message by an instance id or a context key and value")
        for instance_id in candidates:
            if self._deliver(name, instance_id, correlation, payload, actor):
                return instance_id
        if isinstance(correlation, str):
            raise MessageNotDeliveredError(f"message {name!r} not delivered: instance {correlation} does not wait "
                                           f"for it ({self._waiting_for(correlation)}; messages are not kept: send "
                                           "it again once the instance waits)")
        who = " and ".join(f"{k} is {v!r}" for k, v in correlation.items())
        raise MessageNotDeliveredError(f"message {name!r} not delivered: no instance whose {who} waits for it "
                                       "(messages are not kept; send it again once the instance waits)")

    def _waiting_for(self, instance_id: str) -> str:
        """Where an instance a message did not reach stands: its status, or its tokens and the messages it waits
        for, for the refusal to say."""
        view = self.store.get_instance(instance_id, history_limit=0)
        if view is None:
            return "it is not stored"
        if str(view.status) != "ACTIVE":
            return f"it is {view.status}"
        nodes = ", ".join(dict.fromkeys(t.node_id for t in view.tokens)) or "no node"
        messages = sorted({w.message for w in view.waits if w.message})
        waits = f"; it waits for {', '.join(repr(m) for m in messages)}" if messages else ""
        return f"its tokens are at {nodes}{waits}"

    def _correlated(self, name: str, correlation: dict[str, Any]) -> list[str]:
        """The waiting instances whose context holds the correlation's value; refuse when several do."""
        ((key, value),) = correlation.items()
        found = []
        for instance_id, _ in self.store.message_waits(name):
            view = self.store.get_instance(instance_id, history_limit=0)
            if view is not None and key in view.context and view.context[key] == value and instance_id not in found:
                found.append(instance_id)
        if len(found) > 1:
            listed = ", ".join(i[:8] for i in found[:5]) + (", ..." if len(found) > 5 else "")
            raise MessageNotDeliveredError(f"message {name!r} not delivered: {len(found)} waiting instances have "
                                           f"{key} = {value!r} ({listed}); send it to one of them by id")
        return found

    def _deliver(self, name: str, instance_id: str, correlation: Any, payload: dict[str, Any],
                 actor: str | None) -> bool:
        with self.store.write() as tx:
            state = tx.load_instance(instance_id)
            if state is None:
                if isinstance(correlation, str):
                    raise UnknownInstanceError(f"unknown instance {instance_id!r}")
                return False
            if isinstance(correlation, dict):  # checked again under the lock: the context may have changed
                ((key, value),) = correlation.items()
                if state.context.get(key, object()) != value:
                    return False
            wait = machine.message_wait(state, name)
            if wait is None:
                return False
            bp = self.get_workflow(state.workflow_id, state.version)
            transition = machine.receive_message(bp, state, wait.id, payload, self._event(actor, operator=True))
            if transition is None:
                return False
            tx.apply(transition.changes, transition.state)
        self._after_commit(transition)
        return True

    def start_scheduled(self, workflow_id: str, *, actor: str | None = None) -> str | None:
        """Start an instance of ``workflow_id``'s newest version if its timer start is due; return its id, else
        ``None`` (not due, no timer start, or another runtime took this due time). The due time is moved on and
        the instance started in one transaction: each due time starts one instance. Due times missed while no
        runtime ran start one instance, not one each, and the schedule goes on from now."""
        bp = self.get_workflow(workflow_id)
        schedule = bp.plans[bp.start_id].schedule
        if schedule is None:
            return None
        now = self.clock()
        due = self.store.schedule_due(workflow_id)
        if due is None:  # its first: schedule it
            with self.store.write() as tx:
                tx.take_schedule(workflow_id, None, schedule.next_after(now))
            return None
        if due > now:
            return None
        instance_id = str(uuid.uuid4())
        with self.store.write() as tx:
            if not tx.take_schedule(workflow_id, due, schedule.next_after(now)):
                return None
            event = self._event(actor or f"timer start ({schedule.describe()})")
            transition = machine.start(bp, instance_id, {}, event)
            tx.apply(transition.changes, transition.state)
        log.info("instance started on schedule", extra={"instance_id": instance_id, "workflow_id": workflow_id})
        self._after_commit(transition)
        return instance_id

    def fire_timer(self, instance_id: str, wait_id: str, *, actor: str | None = None) -> bool:
        """Fire a timer of the instance that has come due, in one write transaction: its token goes on. ``False``
        (nothing changed) when the instance holds no such timer any more: another runtime fired it first, or its
        token was removed meanwhile; the write lock makes the check and the firing one step, so a timer fires
        once however many runtimes share the database."""
        with self.store.write() as tx:
            state = self._load(tx, instance_id)
            bp = self.get_workflow(state.workflow_id, state.version)
            transition = machine.fire_timer(bp, state, wait_id, self._event(actor))
            if transition is None:
                return False
            tx.apply(transition.changes, transition.state)
        self._after_commit(transition)
        return True

    # -- reading ----------------------------------------------------------------------------------

    def get_status(self, instance_id: str, history_limit: int | None = None) -> InstanceView:
        """Everything about one instance; raise ``UnknownInstanceError``."""
        view = self.store.get_instance(instance_id, history_limit)
        if view is None:
            raise UnknownInstanceError(f"unknown instance {instance_id!r}")
        return view

    def list_instances(self, query: InstanceQuery | None = None) -> list[InstanceSummary]:
        """One page of instances matching ``query`` (all filters off by default), newest first."""
        return self.store.list_instances(query or InstanceQuery())

    def count_instances(self, query: InstanceQuery | None = None) -> dict[str, int]:
        """Instances per status matching the query's filters (its status filter ignored)."""
        return self.store.count_instances(query)

    def get_execution(self, execution_id: str):
        """One execution, open or finished; raise ``UnknownExecutionError``."""
        parse_execution_id(execution_id)
        execution = self.store.get_execution(execution_id)
        if execution is None:
            raise UnknownExecutionError(f"unknown execution {execution_id!r}")
        return execution

    # -- internals --------------------------------------------------------------------------------

    def _event(self, actor: str | None, operator: bool = False) -> machine.Event:
        if operator and actor is None:
            actor = default_actor()  # the OS user, from the environment: checked like any other
        if actor is not None:
            check_actor(actor)
        event = machine.event_at(self.clock(), actor)
        batch_id = _BATCH.get()
        return event if batch_id is None else replace(event, batch_id=batch_id)

    def _load(self, tx, instance_id: str) -> InstanceState:
        state = tx.load_instance(instance_id)
        if state is None:
            raise UnknownInstanceError(f"unknown instance {instance_id!r}")
        return state

    def _operate(self, instance_id: str, actor: str | None, step) -> Transition:
        with self.store.write() as tx:
            state = self._load(tx, instance_id)
            bp = self.get_workflow(state.workflow_id, state.version)
            transition = step(bp, state, self._event(actor, operator=True))
            tx.apply(transition.changes, transition.state)
        self._after_commit(transition)
        return transition

    def _operate_on_execution(self, execution_id: str, actor: str | None, step, *args, claim: int | None = None,
                              **details) -> Transition:
        """One step on one execution; with ``claim``, a worker's failure report, fenced by its claim."""
        instance_id, _ = parse_execution_id(execution_id)
        stale = None
        with self.store.write() as tx:
            state = self._load(tx, instance_id)
            execution = tx.load_execution(execution_id)
            if execution is None:
                raise UnknownExecutionError(f"unknown execution {execution_id!r}")
            bp = self.get_workflow(state.workflow_id, state.version)
            event = self._event(actor, operator=True)
            if claim is not None and _claim_is_stale(state, execution, claim):
                transition = machine.stale_report(bp, state, execution, "failure", claim, event, error=args[0])
                stale = StaleClaimError(f"{stale_claim_message(execution, claim)}: the failure was not recorded")
            else:
                transition = step(bp, state, execution, *args, event, **details)
            tx.apply(transition.changes, transition.state)
        self._after_commit(transition)
        if stale is not None:
            raise stale
        return transition

    def _after_commit(self, transition: Transition) -> None:
        changes, state = transition.changes, transition.state
        if changes.status is not None:
            # Each record carries instance_id (and workflow_id) as attributes: a logging.Filter or a
            # structured formatter can select one instance's lines.
            log.info("instance %s is %s", state.id, state.status,
                     extra={"instance_id": state.id, "workflow_id": state.workflow_id, "status": str(state.status)})
        elif log.isEnabledFor(logging.DEBUG):
            log.debug("instance %s: %d history entries", state.id, len(changes.history),
                      extra={"instance_id": state.id, "workflow_id": state.workflow_id})
        if transition.dispatch:
            for payload in transition.dispatch:
                for handler in self._task_handlers:
                    try:  # here rather than through _call_handler: a call less per execution dispatched
                        handler(payload)
                    except Exception as error:
                        self._handler_failed(error, payload.instance_id, "task handler",
                                             payload.execution_id, payload.node_id)
        if changes.status is not None and self._completion_handlers and transition.finished:
            view = self.store.get_instance(state.id)
            for handler in self._completion_handlers:
                self._call_handler(handler, view, state.id, "completion handler")
        if transition.error is not None:
            if isinstance(transition.error, NoMatchingConditionError):
                transition.error.committed = True  # the step that reached the split is stored
            raise transition.error

    def _call_handler(self, handler, argument, instance_id: str, what: str,
                      execution_id: str | None = None, node_id: str | None = None) -> None:
        try:
            handler(argument)
        except Exception as error:
            self._handler_failed(error, instance_id, what, execution_id, node_id)

    def _handler_failed(self, error: Exception, instance_id: str, what: str, execution_id: str | None,
                        node_id: str | None) -> None:
        """Log a handler's exception and record it in the instance's history."""
        log.exception("%s raised", what, extra={"instance_id": instance_id, "execution_id": execution_id})
        entry = HistoryEntry(
            kind=HistoryKind.HANDLER_ERROR, at=self.clock(), node_id=node_id, execution_id=execution_id,
            details={"handler": what, "error": f"{type(error).__name__}: {error}"},
            instance_id=instance_id,
        )
        try:
            self.store.append_history(instance_id, [entry])
        except Exception:
            log.exception("could not record the %s error", what, extra={"instance_id": instance_id})
