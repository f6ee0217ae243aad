"""The one door of the front ends: every read and every operator action of the console and the CLI.

:class:`Operations` wraps a :class:`~engine.manager.WorkflowManager` and its store's reports. The console and
the command line call it and only render what it returns: the same ids are resolved the same way, the same
action gives the same :class:`~engine.outcomes.ActionResult` (or the same refusal, a
:class:`~engine.errors.WorkflowError`), and :meth:`Operations.permissions` says what may be done now and why
not. Every method blocks on the database: the console calls them from worker threads only.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, TypeVar

from engine.actions import (
    INCIDENT,
    OPEN,
    READ_ONLY_REFUSAL,
    Action,
    Permissions,
    claim_refusal,
    execution_refusal,
    permissions,
)
from engine.errors import (
    InvalidReferenceError,
    InvalidStateError,
    InvalidValueError,
    MalformedExecutionIdError,
    NoMatchingConditionError,
    ReadOnlyError,
    UnknownExecutionError,
    UnknownInstanceError,
    UnknownWorkflowError,
    WorkflowError,
)
from engine.graph import CompiledBlueprint
from engine.manager import WorkflowManager, default_actor, parse_execution_id
from engine.model import Execution, InstanceState, InstanceStatus
from engine.outcomes import ActionResult
from engine.ports import (
    BlueprintSummary,
    InstanceQuery,
    InstanceSummary,
    InstanceView,
    PersonTask,
    StoredBlueprint,
    TaskPage,
    TaskQuery,
)
from engine.repair_ops import RepairOperations
from engine.reports import (
    Activity,
    ExecutionCounts,
    HistoryHit,
    HistoryQuery,
    Incident,
    IncidentFilter,
    IncidentKind,
    IncidentPage,
)

_ID_PREFIX = re.compile(r"[0-9a-f-]{1,36}")
_AMBIGUOUS_SHOWN = 5
SHORT_ID_LENGTH = 8

Item = TypeVar("Item")


def short_id(instance_id: str) -> str:
    """The first 8 characters of an instance id, as the lists show it (like a git short hash)."""
    return instance_id[:SHORT_ID_LENGTH]


@dataclass
class BulkResult:
    """What an action on many items did: the labels of those done, and for each refused one, why."""

    done: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)
    results: list[ActionResult] = field(default_factory=list)
    stopped: bool = False  # asked to stop before every item was tried

    @property
    def total(self) -> int:
        return len(self.done) + len(self.refused)


class Operations(RepairOperations):
    """The engine as the console and the CLI use it; ``actor`` is recorded with every action. Opened
    ``readonly`` (``--readonly``), it reads as ever and refuses every change with :data:`READ_ONLY_REFUSAL`
    (a :class:`~engine.errors.ReadOnlyError`), which its permissions give beforehand."""

    def __init__(self, manager: WorkflowManager, actor: str | None = None, *, readonly: bool = False) -> None:
        self.manager = manager
        self.actor = actor or default_actor()
        self.readonly = readonly
        self._store = manager.store

    def writing(self) -> None:
        """Raise :class:`ReadOnlyError` when these operations are read-only; every change calls it first."""
        if self.readonly:
            raise ReadOnlyError(READ_ONLY_REFUSAL)

    @property
    def source(self) -> str:
        """Where the data lives, for people: a file path or a URL without its password."""
        return str(getattr(self._store, "source", ""))

    @property
    def store_warnings(self) -> list[str]:
        """What an operator should know about the database, one line each (see :class:`engine.ports.Store`)."""
        return list(getattr(self._store, "warnings", ()))

    def close(self) -> None:
        """Release the database."""
        self._store.close()

    # -- ids ----------------------------------------------------------------------------------------

    def resolve_instance(self, text: str) -> str:
        """A full instance id from a full id or a unique prefix of one (like a git short hash), or from a task's
        reference or execution id (``3fa85f64:review``, ``<instance>:<node>:<uuid>``): their instance.

        Raises :class:`InvalidReferenceError` for something that is not an id or is an ambiguous prefix, and
        :class:`UnknownInstanceError` when no instance id starts with it.
        """
        given = text.strip().lower()
        if ":" in given and _ID_PREFIX.fullmatch(given.split(":", 1)[0]):
            given = given.split(":", 1)[0]  # a task's reference (3fa85f64:review) or an execution id names its instance
        if not _ID_PREFIX.fullmatch(given):
            raise InvalidReferenceError(f"{text!r} is not an instance id: expected hex digits and '-' as the "
                                        "instance lists show them, e.g. 3fa85f64")
        if len(given) == 36:
            try:
                return str(uuid.UUID(given))
            except ValueError:
                raise InvalidReferenceError(f"{text!r} is not an instance id: not a UUID") from None
        matches = self._store.find_instance_ids(given, limit=_AMBIGUOUS_SHOWN + 1)
        if not matches:
            raise UnknownInstanceError(f"no instance id starts with {given!r}")
        if len(matches) > 1:
            shown = ", ".join(matches[:_AMBIGUOUS_SHOWN]) + (" and more" if len(matches) > _AMBIGUOUS_SHOWN else "")
            raise InvalidReferenceError(f"instance id prefix {given!r} is ambiguous: it matches {shown}; give more "
                                        "characters")
        return matches[0]

    def resolve_execution(self, text: str) -> str:
        """A full execution id from ``<instance_id>:<node_id>:<uuid>`` (the instance id may be a unique prefix)
        or the short ``<instance-prefix>:<node_id>``.

        The short form names the one open (ACTIVE, FAILED or STUCK) execution at that node of that instance or,
        when none is open, the newest execution there (so that a repeated completion says it is already
        COMPLETED). Raises :class:`InvalidReferenceError` for a malformed or ambiguous id and
        :class:`UnknownExecutionError` when the instance has no execution at that node.
        """
        given = text.strip()
        try:
            instance_part, _ = parse_execution_id(given)
        except MalformedExecutionIdError as error:
            malformed = error
        else:
            if len(instance_part) == 36:
                return given
            return self.resolve_instance(instance_part) + given[len(instance_part):]
        prefix, sep, node_id = given.partition(":")
        if not sep and _ID_PREFIX.fullmatch(given.lower()):  # an instance: say which of its tasks to name
            instance_id = self.resolve_instance(given)
            opened = sorted({e.node_id for e in self.instance(instance_id, history_limit=0).executions
                             if e.status in OPEN})
            tasks = ", ".join(f"{given}:{node}" for node in opened)
            raise InvalidReferenceError(f"{given!r} names an instance, not one of its tasks: "
                                        + (f"give {tasks}" if opened else "it has no open task"))
        if not sep or not node_id or not _ID_PREFIX.fullmatch(prefix.lower()):
            raise InvalidReferenceError(f"{malformed}; or give <instance-prefix>:<node_id>, e.g. "
                                        "3fa85f64:manual_review")
        instance_id = self.resolve_instance(prefix)
        view = self.instance(instance_id, history_limit=0)
        at_node = [e for e in view.executions if e.node_id == node_id]
        candidates = [e.id for e in at_node if e.status in OPEN]
        if not candidates and at_node:
            return max(at_node, key=lambda e: e.created_at).id
        if not candidates:
            nodes = sorted({e.node_id for e in view.executions if e.status in OPEN})
            open_at = f"; open executions are at {', '.join(nodes)}" if nodes else "; it has no open executions"
            raise UnknownExecutionError(f"instance {instance_id} has no open execution at node {node_id!r}{open_at}")
        if len(candidates) > 1:
            raise InvalidReferenceError(f"instance {instance_id} has {len(candidates)} open executions at node "
                                        f"{node_id!r}: {', '.join(candidates)}; give the full execution id")
        return candidates[0]

    # -- reading ------------------------------------------------------------------------------------

    def instance(self, instance_id: str, history_limit: int | None = None) -> InstanceView:
        """Everything about one instance (the newest ``history_limit`` history entries); raises
        :class:`UnknownInstanceError`."""
        return self.manager.get_status(instance_id, history_limit=history_limit)

    def execution(self, execution_id: str) -> Execution:
        """One execution as it is now; raises :class:`UnknownExecutionError`."""
        return self.manager.get_execution(execution_id)

    def instances(self, query: InstanceQuery) -> list[InstanceSummary]:
        """One page of instances matching ``query``, newest first."""
        return self.manager.list_instances(query)

    def tasks(self, query: TaskQuery) -> TaskPage:
        """The person's tasks ``query`` keeps (what the header counts as waiting for a person), oldest first,
        each with its node's name, and how many it keeps in all."""
        page = self._store.list_tasks(query)
        return TaskPage([replace(task, name=self._node_name(task.workflow_id, task.version, task.execution.node_id))
                         for task in page.tasks], page.total)

    def _node_name(self, workflow_id: str, version: int, node_id: str) -> str | None:
        """The node's name in its blueprint (the manager keeps compiled blueprints), or ``None``."""
        try:
            node = self.workflow(workflow_id, version).nodes.get(node_id)
        except WorkflowError:
            return None
        return node.name if node is not None else None

    def count_instances(self, query: InstanceQuery | None = None) -> dict[str, int]:
        """Instances per status matching the query's filters (its status filter ignored)."""
        return self.manager.count_instances(query)

    def workflow(self, workflow_id: str, version: int | None = None) -> CompiledBlueprint:
        """The compiled blueprint (the newest version when ``version`` is None); raises
        :class:`UnknownWorkflowError`."""
        return self.manager.get_workflow(workflow_id, version)

    def require_workflow(self, workflow_id: str) -> None:
        """Raise :class:`UnknownWorkflowError` unless a blueprint of ``workflow_id`` is stored."""
        if self._store.get_blueprint(workflow_id) is None:
            raise UnknownWorkflowError(f"unknown workflow {workflow_id!r}")

    def stored_blueprint(self, workflow_id: str, version: int | None = None) -> StoredBlueprint | None:
        """The blueprint as stored, with the warnings found when it was loaded; ``None`` if not stored."""
        return self._store.get_blueprint(workflow_id, version)

    def timer_starts(self) -> dict[str, tuple[str, datetime | None]]:
        """Per workflow whose newest version starts on a schedule (a timer start): the schedule as people read
        it (``cron 0 9 * * MON-FRI``, ``every PT1H``) and when it is next due (``None`` until a runtime first
        looks at it)."""
        found: dict[str, tuple[str, datetime | None]] = {}
        for workflow_id in self.workflow_ids():
            try:
                compiled = self.workflow(workflow_id)
            except WorkflowError:
                continue  # a stored blueprint this engine cannot compile: listed, without a schedule
            schedule = compiled.plans[compiled.start_id].schedule
            if schedule is not None:
                found[workflow_id] = (schedule.describe(), self._store.schedule_due(workflow_id))
        return found

    def blueprints(self) -> list[BlueprintSummary]:
        """Every stored version of every workflow with its instances per status."""
        return self._store.blueprint_summaries()

    def workflow_ids(self) -> list[str]:
        """Every stored workflow id, sorted."""
        return sorted({summary.workflow_id for summary in self._store.list_blueprints()})

    def require_task(self, task_id: str) -> None:
        """Raise :class:`WorkflowError` unless a stored blueprint has a node of ``task_id``."""
        for summary in self._store.list_blueprints():
            nodes = self.workflow(summary.workflow_id, summary.version).nodes.values()
            if any(node.task_id == task_id for node in nodes):
                return
        raise WorkflowError(f"unknown task {task_id!r}: no stored blueprint has a node with that task_id")

    def incidents(self, limit: int = 500, only: IncidentFilter | None = None) -> IncidentPage:
        """The oldest incidents, at most ``limit``, and how many there are; with ``only``, the oldest of those
        it keeps, and how many of those there are (the store reads every open incident's token either way)."""
        if not only:
            return self._store.list_incidents(limit)
        everything = self._store.list_incidents(1_000_000_000)
        kept = [incident for incident in everything.incidents if only.matches(incident)]
        failed = sum(1 for incident in kept if incident.kind in (IncidentKind.FAILED, IncidentKind.NO_MATCH))
        return IncidentPage(kept[:limit], failed, len(kept) - failed)

    def execution_counts(self, local_task_ids: Collection[str], now: datetime) -> ExecutionCounts:
        """Open executions by what they wait for (``local_task_ids``: the tasks run by workers here)."""
        return self._store.execution_counts(local_task_ids, now)

    def activity(self, now: datetime) -> Activity:
        """The last hour per minute, instances by status and workflow, the open tasks."""
        return self._store.activity(now)

    def search_history(self, query: HistoryQuery) -> list[HistoryHit]:
        """History entries matching ``query``, newest first; an instance id in it may be a unique prefix."""
        if query.instance_id:
            query = replace(query, instance_id=self.resolve_instance(query.instance_id))
        return self._store.search_history(query)

    def change_token(self) -> int | None:
        """A value that changes whenever anyone commits (see :meth:`engine.ports.Reports.change_token`)."""
        return self._store.change_token()

    def copy_from(self, source: Operations, *, force: bool = False, progress: Any = None) -> Any:
        """Copy the whole database of ``source`` (blueprints, instances, executions, full history) into this
        one, on either backend, and verify it: the row counts, and every instance reads back as in the source
        and replays. A database that is not empty is refused unless ``force`` (which deletes what it holds, in
        the copy's transaction). Returns the store's report (rows per table, instances verified)."""
        return self._store.copy_from(source._store, force=force, progress=progress)

    # -- what may be done ---------------------------------------------------------------------------

    def permissions(self, instance: InstanceView | InstanceState | InstanceSummary,
                    execution: Execution | None = None) -> Permissions:
        """The operator actions that apply now to ``instance`` (and ``execution`` of it), and why the others
        do not."""
        return permissions(instance.id, InstanceStatus(instance.status), execution, readonly=self.readonly)

    def task_refusal(self, task: PersonTask, action: Action) -> str | None:
        """Why this operator cannot ``action`` (CLAIM, RELEASE or COMPLETE) the listed ``task`` now, or ``None``
        when they may: the words the engine refuses it with (read-only, someone else's claim, ...)."""
        if self.readonly:
            return READ_ONLY_REFUSAL
        if action is Action.COMPLETE:
            refusal = execution_refusal(action, task.instance_status, task.execution)
            if refusal is not None:
                return refusal
        return claim_refusal(action, task.instance_status, task.execution, self.actor)

    def incident_refusal(self, incident: Incident, action: Action) -> str | None:
        """Why ``action`` does not resolve ``incident`` (``None`` when it may). RETRY means a new attempt of a
        failed or stuck execution, or resuming an instance stopped at a split (:meth:`retry_incident`)."""
        if self.readonly:
            return READ_ONLY_REFUSAL
        what = _INCIDENT_WORDS[incident.kind]
        if action is Action.RETRY and incident.kind is IncidentKind.JOIN_STUCK:
            return "a parallel join that can no longer fire cannot be retried: open the instance to see the " \
                   "missing branch, or cancel it"
        if action is Action.FAIL and not (incident.kind is IncidentKind.STUCK and incident.execution_id):
            return f"only a stuck execution can be failed; this one is {what}"
        if action is Action.COMPLETE and incident.execution_id is None:
            return f"only an execution can be marked done; this one is {what}: open the instance to resolve it"
        if action not in (Action.RETRY, Action.FAIL, Action.COMPLETE, Action.CANCEL):
            return f"{action} is not an action on an incident"
        return None

    def retry_incident(self, incident: Incident) -> ActionResult:
        """Retry the incident's execution, or resume its instance stopped at a split; a join is refused."""
        refusal = self.incident_refusal(incident, Action.RETRY)
        if refusal is not None:
            raise InvalidStateError(refusal)
        if incident.execution_id is not None:
            return self.retry(incident.execution_id)
        return self.resume(incident.instance_id)

    def fail_incident(self, incident: Incident, reason: str) -> ActionResult:
        """Fail the incident's stuck execution with ``reason``; any other incident is refused."""
        refusal = self.incident_refusal(incident, Action.FAIL)
        if refusal is not None:
            raise InvalidStateError(refusal)
        return self.fail(incident.execution_id or "", reason)

    # -- acting -------------------------------------------------------------------------------------

    def load_blueprints(self, blueprints: list[tuple[Any, str | None]]) -> list[tuple[int, bool]]:
        """Validate and store (blueprint, origin) pairs, all or none; each one's version and whether it was
        new (see :meth:`WorkflowManager.add_workflows`)."""
        self.writing()
        return self.manager.add_workflows(blueprints)

    def start(self, workflow_id: str, context: dict[str, Any] | None = None) -> ActionResult:
        """Start an instance of the newest version of ``workflow_id``."""
        self.writing()
        try:
            instance_id = self.manager.start_workflow(workflow_id, context, actor=self.actor)
        except NoMatchingConditionError as error:
            if not error.committed:
                raise
            return ActionResult(Action.START, error.instance_id, True, f"instance {error.instance_id} of "
                                f"{workflow_id} started", stopped=error)
        return ActionResult(Action.START, instance_id, True, f"instance {instance_id} of {workflow_id} started")

    def complete(self, execution_id: str, outputs: dict[str, Any] | None = None, *,
                 allow_unmapped: bool = False, force: bool = False) -> ActionResult:
        """Complete an open execution with ``outputs`` (resolving its incident if it is FAILED or STUCK).

        Completing by hand is strict: an output key the task's mapping does not map is refused
        (:class:`~engine.repair_ops.UnmappedOutputsError`, naming the nearest mapped key) unless
        ``allow_unmapped`` (then it is dropped, as the API's ``task_done`` drops it). A completion that changes
        nothing (already completed, retried or cancelled meanwhile, the instance not ACTIVE) is not an error:
        the result says ``applied=False`` and why, as its transaction saw it.
        """
        self.writing()
        instance_id, node_id = parse_execution_id(execution_id)
        if outputs and not allow_unmapped:
            self.check_outputs(execution_id, outputs)
        where = f"{node_id} of instance {short_id(instance_id)}"
        try:
            completion = self.manager.task_done(execution_id, outputs, actor=self.actor, force=force)
        except NoMatchingConditionError as error:
            return ActionResult(Action.COMPLETE, instance_id, True, f"{where} marked done by {self.actor}",
                                execution_id, stopped=error)
        if not completion.applied:
            return ActionResult(Action.COMPLETE, instance_id, False, completion.message, execution_id,
                                completion=completion)
        return ActionResult(Action.COMPLETE, instance_id, True, f"{where} marked done by {self.actor}",
                            execution_id, completion=completion)

    def claim(self, execution_id: str, *, force: bool = False) -> ActionResult:
        """Claim a person's task for this operator (someone else's only with ``force``, recorded)."""
        self.writing()
        instance_id, node_id = parse_execution_id(execution_id)
        self.manager.claim_task(execution_id, actor=self.actor, force=force)
        return ActionResult(Action.CLAIM, instance_id, True,
                            f"{node_id} of instance {short_id(instance_id)} claimed by {self.actor}", execution_id)

    def release(self, execution_id: str, *, force: bool = False) -> ActionResult:
        """Give a claimed task back (someone else's only with ``force``, recorded)."""
        self.writing()
        instance_id, node_id = parse_execution_id(execution_id)
        self.manager.release_task(execution_id, actor=self.actor, force=force)
        return ActionResult(Action.RELEASE, instance_id, True,
                            f"{node_id} of instance {short_id(instance_id)} released by {self.actor}", execution_id)

    def fail(self, execution_id: str, reason: str) -> ActionResult:
        """Fail an ACTIVE or STUCK execution with ``reason``: it becomes an incident."""
        self.writing()
        why = _reason(reason)
        instance_id, node_id = parse_execution_id(execution_id)
        self.manager.fail_task(execution_id, why, actor=self.actor)
        return ActionResult(Action.FAIL, instance_id, True, f"{node_id} failed on instance {short_id(instance_id)}: "
                            f"{why}", execution_id)

    def retry(self, execution_id: str) -> ActionResult:
        """Retry a FAILED or STUCK execution: a new attempt, with inputs rebuilt from the current context."""
        self.writing()
        instance_id, node_id = parse_execution_id(execution_id)
        new_id = self.manager.retry(execution_id, actor=self.actor)
        return ActionResult(Action.RETRY, instance_id, True, f"{node_id} retried on instance {short_id(instance_id)} "
                            f"as execution {new_id.rsplit(':', 1)[-1][:8]}", execution_id, new_id)

    def send_message(self, name: str, correlation: str | dict[str, Any], payload: dict[str, Any]) -> ActionResult:
        """Deliver the message ``name`` to the instance ``correlation`` names (an id, or ``{key: value}`` of its
        context); :class:`~engine.errors.MessageNotDeliveredError` when none waits for it (nothing kept)."""
        instance_id = self.manager.send_message(name, correlation, payload, actor=self.actor)
        return ActionResult(Action.SEND_MESSAGE, instance_id, True,
                            f"message {name!r} delivered to instance {short_id(instance_id)}")

    def cancel(self, instance_id: str, reason: str) -> ActionResult:
        """Cancel an ACTIVE or FAILED instance with ``reason``."""
        self.writing()
        why = _reason(reason)
        self.manager.cancel(instance_id, why, actor=self.actor)
        return ActionResult(Action.CANCEL, instance_id, True, f"instance {short_id(instance_id)} cancelled: {why}")

    def set_variables(self, instance_id: str, values: dict[str, Any]) -> ActionResult:
        """Write variables of an ACTIVE or FAILED instance's global context."""
        self.writing()
        self.manager.set_variables(instance_id, values, actor=self.actor)
        return ActionResult(Action.SET_VARIABLES, instance_id, True,
                            f"{', '.join(sorted(values))} set on instance {short_id(instance_id)}")

    def unset_variables(self, instance_id: str, keys: list[str]) -> ActionResult:
        """Delete variables of an ACTIVE or FAILED instance's global context."""
        self.writing()
        self.manager.unset_variables(instance_id, keys, actor=self.actor)
        return ActionResult(Action.UNSET_VARIABLES, instance_id, True,
                            f"{', '.join(keys)} unset on instance {short_id(instance_id)}")

    def resume(self, instance_id: str) -> ActionResult:
        """Evaluate again the exclusive split where a FAILED instance stopped; resume it if a condition holds.

        Raises :class:`NoMatchingConditionError` (nothing changed) when still none holds there.
        """
        self.writing()
        message = f"instance {short_id(instance_id)} resumed"
        try:
            self.manager.retry_instance(instance_id, actor=self.actor)
        except NoMatchingConditionError as error:
            if not error.committed:
                raise
            return ActionResult(Action.RESUME, instance_id, True, message, stopped=error)
        return ActionResult(Action.RESUME, instance_id, True, message)

    # -- many at once -------------------------------------------------------------------------------

    def bulk(self, items: Iterable[Item], act: Callable[[Item], ActionResult], label: Callable[[Item], str], *,
             should_stop: Callable[[], bool] | None = None) -> BulkResult:
        """``act(item)`` for each item, each in its own transaction, oldest first as given: one refusal does not
        stop the rest. A refusal is recorded with its message (any other error with its type too); nothing
        raises. ``should_stop`` is asked before each item."""
        self.writing()
        result = BulkResult()
        for item in items:
            if should_stop is not None and should_stop():
                result.stopped = True
                break
            try:
                outcome = act(item)
            except WorkflowError as error:
                result.refused.append((label(item), str(error)))
            except Exception as error:  # noqa: BLE001 - reported with the others; the caller goes on
                result.refused.append((label(item), f"{type(error).__name__}: {error}"))
            else:
                result.results.append(outcome)
                if outcome.applied:
                    result.done.append(label(item))
                else:
                    result.refused.append((label(item), outcome.message))
        return result

    def retryable_incidents(self, *, task_id: str | None = None, workflow_id: str | None = None,
                            stuck: bool = False, limit: int = 1000) -> list[Incident]:
        """The FAILED executions (and STUCK ones with ``stuck``) of the incident list, oldest first, filtered
        by task and workflow, at most ``limit``. An unknown task or workflow is refused."""
        if workflow_id:
            self.require_workflow(workflow_id)
        if task_id:
            self.require_task(task_id)
        kinds = {IncidentKind.FAILED, IncidentKind.STUCK} if stuck else {IncidentKind.FAILED}
        page = self.incidents(limit=1_000_000)
        chosen = [i for i in page.incidents if i.kind in kinds and i.execution_id is not None
                  and (task_id is None or i.task_id == task_id)
                  and (workflow_id is None or i.workflow_id == workflow_id)]
        return chosen[:limit]


_INCIDENT_WORDS = {IncidentKind.FAILED: "a failed execution", IncidentKind.STUCK: "a stuck execution",
                   IncidentKind.NO_MATCH: "an instance stopped at a split with no match",
                   IncidentKind.JOIN_STUCK: "a parallel join that can no longer fire"}


def _reason(text: str) -> str:
    """A reason to record in the history: stripped, never empty."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidValueError("a reason is needed: it is kept in the history")
    return text.strip()


__all__ = ["INCIDENT", "OPEN", "Action", "ActionResult", "BulkResult", "Operations", "Permissions", "short_id"]
