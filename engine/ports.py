"""The storage interface the engine needs, and the reports the front ends read. ``store/`` implements them,
one implementation per database; the engine knows no SQL.

A write is a unit of work: :meth:`Store.write` opens one transaction that takes the database's write lock
before reading (``BEGIN IMMEDIATE`` on SQLite), so what is read cannot change before the change set made
from it is written. Either the whole change set is stored or none of it.
"""

from __future__ import annotations

from collections.abc import Collection
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from engine.blueprint import Blueprint
from engine.errors import InvalidValueError, Problem
from engine.model import (
    ChangeSet,
    Execution,
    ExecutionStatus,
    HistoryEntry,
    InstanceState,
    InstanceStatus,
    Token,
    Wait,
)
from engine.reports import MINUTES, Activity, ExecutionCounts, HistoryHit, HistoryQuery, IncidentPage

_OPEN = (ExecutionStatus.ACTIVE, ExecutionStatus.FAILED, ExecutionStatus.STUCK)


@dataclass(frozen=True)
class StoredBlueprint:
    """A blueprint as stored, with the warnings found when it was loaded."""

    blueprint: Blueprint
    warnings: list[Problem]
    created_at: datetime


@dataclass(frozen=True)
class BlueprintSummary:
    """One version of a workflow, for listings."""

    workflow_id: str
    version: int
    name: str | None
    nodes: int
    edges: int
    warnings: int
    created_at: datetime
    instances: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class InstanceSummary:
    """One row of an instance listing: no context, no history."""

    id: str
    workflow_id: str
    version: int
    status: InstanceStatus
    created_at: datetime
    updated_at: datetime
    ended_at: datetime | None
    error: str | None
    token_nodes: list[str]
    token_statuses: list[str] = field(default_factory=list)  # parallel to token_nodes

    @property
    def has_incident(self) -> bool:
        """A token of the instance is FAILED or STUCK: an operator has to act."""
        return any(status in ("FAILED", "STUCK") for status in self.token_statuses)


@dataclass(frozen=True)
class InstanceView:
    """Everything about one instance: what ``get_status`` returns."""

    id: str
    workflow_id: str
    version: int
    status: InstanceStatus
    context: dict[str, Any]
    tokens: list[Token]
    executions: list[Execution]
    history: list[HistoryEntry]
    created_at: datetime
    updated_at: datetime
    ended_at: datetime | None = None
    error: str | None = None
    waits: list[Wait] = field(default_factory=list)  # the timers the instance's tokens wait for

    @property
    def incidents(self) -> list[Execution]:
        """The FAILED executions of the instance, waiting for an operator."""
        return [e for e in self.executions if e.status == "FAILED"]

    def state(self) -> InstanceState:
        """What the state machine needs of this instance (its open executions only), for a step computed from a
        read: a preview, never applied."""
        return InstanceState(
            id=self.id, workflow_id=self.workflow_id, version=self.version, status=self.status,
            context=dict(self.context), tokens={t.id: t for t in self.tokens},
            executions={e.id: e for e in self.executions if e.status in _OPEN},
            created_at=self.created_at, updated_at=self.updated_at, error=self.error, ended_at=self.ended_at,
            waits=tuple(self.waits))


INSTANCE_ORDERS: dict[str, str] = {"-started": "newest first", "started": "oldest first"}
"""The orders of an instance listing every store serves from an index (the start time's, read either way),
however many instances there are. Other columns (last change, status, workflow) have no index to serve a
sorted page without reading every matching row, so they are not offered."""


@dataclass(frozen=True)
class WaitingFor:
    """Keep the instances with a task waiting for a person: an ACTIVE execution nobody holds a lease on at
    ``now``, of a task none of ``local_task_ids`` (the tasks run by workers here) is: the executions the
    header counts as "waiting for a person" (:meth:`Reports.execution_counts`)."""

    now: datetime
    local_task_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class InstanceQuery:
    """Filters of an instance listing. ``text`` matches id, workflow, node or a variable's value; ``task_id``
    keeps the instances with an open (ACTIVE, FAILED or STUCK) execution of that task; ``waiting`` those with
    a task waiting for a person. ``order`` is one of :data:`INSTANCE_ORDERS`."""

    status: InstanceStatus | None = None
    workflow_id: str | None = None
    text: str | None = None
    task_id: str | None = None
    version: int | None = None  # of ``workflow_id``'s blueprint
    overdue_at: datetime | None = None  # keep the instances with an ACTIVE execution whose deadline is before this
    assignee: str | None = None  # keep the instances with an open execution assigned to this user
    limit: int = 50
    offset: int = 0
    waiting: WaitingFor | None = None
    order: str = "-started"

    def __post_init__(self) -> None:
        if self.order not in INSTANCE_ORDERS:
            raise InvalidValueError(f"instances cannot be listed in order {self.order!r}: the orders a store serves "
                                    f"from an index are {', '.join(INSTANCE_ORDERS)}")


TASK_SCOPES: tuple[str, ...] = ("all", "mine", "claimable")
"""The scopes of a task list, as Camunda Tasklist offers them: every task waiting for a person, those assigned to
the operator (:attr:`TaskQuery.assignee`), those nobody is assigned to (:attr:`TaskQuery.unassigned`: anyone may
claim them)."""


@dataclass(frozen=True)
class TaskQuery:
    """Filters of a list of person's tasks: the ACTIVE executions :class:`WaitingFor` ``waiting`` keeps (no live
    lease at ``waiting.now``, not a task run by a local worker: the header's "waiting for a person"), oldest
    first (the order of the open executions' index: who has waited longest comes first, as in a queue).

    ``assignee`` keeps the tasks assigned to that user, ``unassigned`` those assigned to nobody (not both);
    ``candidate_group`` those of that group; ``overdue_at`` those whose deadline is before it; ``workflow_id``
    and ``task_id`` those of that workflow and task. Raises :class:`InvalidValueError` for filters that
    contradict each other or a negative limit."""

    waiting: WaitingFor
    assignee: str | None = None
    unassigned: bool = False
    candidate_group: str | None = None
    overdue_at: datetime | None = None
    workflow_id: str | None = None
    task_id: str | None = None
    limit: int = 50
    offset: int = 0

    def __post_init__(self) -> None:
        if self.assignee and self.unassigned:
            raise InvalidValueError(f"tasks cannot be both assigned to {self.assignee!r} and to nobody: give one "
                                    "of the two filters")
        if self.limit < 0 or self.offset < 0:
            raise InvalidValueError("a task list's limit and offset are whole numbers of 0 or more")


@dataclass(frozen=True)
class PersonTask:
    """One row of a task list: the execution, the instance's workflow (and version) and status, and the task's
    name (the node's, filled in by :meth:`engine.operations.Operations.tasks`; ``None`` from a store)."""

    execution: Execution
    workflow_id: str
    version: int
    instance_status: InstanceStatus
    name: str | None = None


@dataclass(frozen=True)
class TaskPage:
    """The tasks of one :class:`TaskQuery` (its limit and offset) and how many match it in all."""

    tasks: list[PersonTask]
    total: int


@dataclass(frozen=True)
class DueTimer:
    """A timer that has come due: which instance, which of its waits, and when it was due."""

    instance_id: str
    wait_id: str
    due_at: datetime


class WriteTransaction(Protocol):
    """An open write transaction. Reads see the latest committed state; nothing else can write meanwhile."""

    def load_instance(self, instance_id: str) -> InstanceState | None:
        """The instance with its context, tokens and open executions, or ``None`` if there is none."""

    def load_execution(self, execution_id: str) -> Execution | None:
        """Any execution, open or finished, or ``None``."""

    def take_schedule(self, workflow_id: str, expected: datetime | None, next_due: datetime) -> bool:
        """Move the timer start's next due time from ``expected`` (``None``: none yet) to ``next_due`` if it is
        still ``expected``; ``False`` when another transaction moved it first."""

    def apply(self, changes: ChangeSet, result: InstanceState | None = None) -> None:
        """Write a change set: instance row, context, tokens, executions and history entries.

        ``result`` is the instance's state once the change set is applied (the transition's state), if
        known: a store may keep it and hand it out as :meth:`load_instance`'s answer for as long as it can
        tell that nothing else has written to the instance since."""


class Reports(Protocol):
    """What the operations console and its subcommands read beyond single instances. Every report is bounded
    (an index range, a covering index or a limit), whatever the size of the database."""

    def execution_counts(self, local_task_ids: Collection[str], now: datetime) -> ExecutionCounts:
        """The open executions by what they wait for (``local_task_ids``: the tasks this process runs workers
        for), and the incidents counted as :meth:`list_incidents` lists them."""

    def list_incidents(self, limit: int = 500) -> IncidentPage:
        """Every FAILED or STUCK token (execution, split or join), oldest first, at most ``limit``, with the
        counts of all of them."""

    def activity(self, now: datetime, minutes: int = MINUTES) -> Activity:
        """Instances started, instances completed and tasks completed per minute over the last ``minutes``
        minutes, instances by status and workflow, and the open executions per task."""

    def blueprint_summaries(self) -> list[BlueprintSummary]:
        """Every stored version of every workflow with its instances per status, without reading every
        instance row where an index can count them."""

    def search_history(self, query: HistoryQuery) -> list[HistoryHit]:
        """The newest history entries matching ``query`` (an instance id in it is a full id), at most
        ``query.limit``."""

    def list_tasks(self, query: TaskQuery) -> TaskPage:
        """The person's tasks ``query`` keeps, oldest first (its limit and offset), with how many it keeps in all:
        the executions :meth:`execution_counts` counts as ``waiting``, read from the open executions' index."""

    def find_instance_ids(self, prefix: str, limit: int = 10) -> list[str]:
        """Ids of instances that start with ``prefix``, in id order, at most ``limit`` (for short ids)."""

    def change_token(self) -> int | None:
        """A value that changes whenever anyone (this process, another one, another host) commits; ``None``
        when the store cannot tell. Compare successive values for equality only."""


class Store(Reports, Protocol):
    """Durable storage of blueprints and instances, and the reports on them.

    ``source`` says where the data lives, for people (a path, or a URL without its password); ``warnings``
    lists, one line each, what an operator should know about the database it opened (e.g. a file other
    users can read). Front ends show them; they never stop the store from working.
    """

    source: str
    warnings: list[str]

    def save_blueprint(self, blueprint: Blueprint, warnings: list[Problem]) -> bool:
        """Store a blueprint; ``False`` when the identical one was already stored.

        Raises ``BlueprintConflictError`` when a different blueprint has the same id and version.
        """

    def save_blueprints(self, blueprints: list[tuple[Blueprint, list[Problem]]]) -> list[bool]:
        """Store several blueprints in one transaction, all or none: :meth:`save_blueprint` for each."""

    def get_blueprint(self, workflow_id: str, version: int | None = None) -> StoredBlueprint | None:
        """The given version, or the newest when ``version`` is ``None``; ``None`` if not stored."""

    def list_blueprints(self) -> list[BlueprintSummary]:
        """Every stored version of every workflow, with instance counts per status."""

    def write(self) -> AbstractContextManager[WriteTransaction]:
        """Open one write transaction; commit on normal exit, roll back on an exception."""

    def append_history(self, instance_id: str, entries: list[HistoryEntry]) -> None:
        """Append entries in a transaction of their own (e.g. a handler's error after the commit)."""

    def get_instance(self, instance_id: str, history_limit: int | None = None) -> InstanceView | None:
        """Everything about one instance (the newest ``history_limit`` entries), or ``None``."""

    def get_execution(self, execution_id: str) -> Execution | None:
        """One execution, or ``None``."""

    def list_instances(self, query: InstanceQuery) -> list[InstanceSummary]:
        """Instances matching ``query``, newest first."""

    def count_instances(self, query: InstanceQuery | None = None) -> dict[str, int]:
        """Instances per status matching the query's workflow and text (its status is ignored)."""

    def list_executions(self, statuses: list[str], limit: int = 200) -> list[Execution]:
        """Executions in the given statuses, oldest first."""

    def message_waits(self, name: str, limit: int = 1000) -> list[tuple[str, str]]:
        """(instance id, wait id) of the ACTIVE instances waiting for the message ``name``, oldest first."""

    def schedule_due(self, workflow_id: str) -> datetime | None:
        """When the timer start of ``workflow_id`` is next due, or ``None`` before its first schedule."""

    def copy_from(self, source: Store, *, force: bool = False, progress: Any = None) -> Any:
        """Copy everything ``source`` (a store of any backend) holds into this database, verified afterwards;
        refuse a database that is not empty unless ``force``."""

    def close(self) -> None:
        """Release the database."""


class RuntimeStore(Store, Protocol):
    """What the worker runtime needs beyond :class:`Store`: leases and the scans of the stuck check.

    A store that can tell when another process or host creates work may also have
    ``wait_for_work(timeout: float) -> bool`` (True when work came within ``timeout`` seconds; PostgreSQL's
    LISTEN/NOTIFY): the runtime then polls at once instead of at its next ``poll_interval``.
    """

    def claim_execution(self, execution_id: str, owner: str, now: datetime, lease_until: datetime) -> Execution | None:
        """Lease an ACTIVE execution to ``owner`` if nobody holds a live lease on it and its retry time has
        come, in one write transaction; return it, or ``None`` when it cannot be claimed now. The returned
        execution's ``claim`` is the new claim's fencing token (one more than the claim before)."""

    def renew_leases(self, owner: str, execution_ids: list[str], lease_until: datetime) -> int:
        """Extend ``owner``'s leases on those executions; return how many it still held."""

    def renew_claims(self, owner: str, claims: dict[str, int], lease_until: datetime) -> list[str]:
        """Extend the leases of ``owner``'s claims (execution id -> fencing token) that are still current;
        return the ids of those that are not (taken over, released, failed by an operator, or finished)."""

    def release_leases(self, owner: str, execution_ids: list[str] | None = None) -> int:
        """Drop ``owner``'s leases (all of them when ``execution_ids`` is None); return how many."""

    def runnable_executions(self, task_ids: list[str], now: datetime, limit: int = 100) -> list[Execution]:
        """ACTIVE executions of those tasks with no live lease whose retry time has come, oldest first."""

    def active_executions_before(self, updated_before: datetime, limit: int = 500) -> list[Execution]:
        """ACTIVE executions last changed before the given time, oldest first."""

    def instances_with_waiting_tokens(self, limit: int = 500) -> list[str]:
        """Ids of ACTIVE instances holding a token WAITING at a parallel join."""

    def due_timers(self, now: datetime, limit: int = 100) -> list[DueTimer]:
        """The timers of ACTIVE instances due at ``now`` or before, the earliest first, at most ``limit``."""

    def take_turn(self, job: str, now: datetime, period: timedelta) -> bool:
        """``True`` for one caller per ``period`` among all the runtimes on the database (on every host): the
        periodic ``job`` (the stuck check) is then run once per period for the whole cluster, by whoever
        comes first. Atomic: two callers at the same moment never both get the turn."""
