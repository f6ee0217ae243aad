"""What the operations console and its subcommands read: incidents, execution counts, activity, history search.

Plain values, made by a store's implementation of :class:`engine.ports.Reports`. Each store computes them
with bounded queries (an index range, a covering index, a ``LIMIT``); the front ends only render them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from engine.model import HistoryEntry, HistoryKind

MINUTES = 60
"""The Overview's window: counts per minute over the last hour."""


class IncidentKind(StrEnum):
    """What kind of thing an operator must resolve (:class:`Incident`)."""

    FAILED = "FAILED"  # an execution failed: retry it, complete it by hand, or cancel the instance
    STUCK = "STUCK"  # an execution found overdue or abandoned by the stuck check
    NO_MATCH = "NO_MATCH"  # the instance stopped FAILED at an exclusive split: set variables, then resume
    JOIN_STUCK = "JOIN_STUCK"  # a parallel join that can no longer fire


@dataclass(frozen=True)
class ExecutionCounts:
    """Open executions by what they wait for (the console's header line).

    ``running``: ACTIVE with a live lease (a runtime, here or elsewhere, is running it). ``queued``: ACTIVE,
    no live lease, and a worker of this process handles its task (it will be claimed). ``waiting``: ACTIVE,
    no live lease, no local worker: waiting for a person (or for a worker process elsewhere).
    ``failed`` and ``stuck``: the incidents, counted as :meth:`engine.ports.Reports.list_incidents` lists them.
    ``overdue``: ACTIVE executions whose deadline (``due_at``) has passed.
    """

    running: int = 0
    queued: int = 0
    waiting: int = 0
    failed: int = 0
    stuck: int = 0
    overdue: int = 0  # ACTIVE executions past their deadline (any of the above but failed and stuck)


@dataclass(frozen=True)
class Incident:
    """Something an operator must resolve, found by the token that cannot move on.

    ``kind`` says what it is (:class:`IncidentKind`); ``since`` is when it happened; ``reason`` the error or why.
    ``execution_id`` is set for the kinds acted on through an execution (FAILED, STUCK).
    """

    kind: IncidentKind
    key: str  # the token id: unique among incidents
    instance_id: str
    workflow_id: str
    version: int
    node_id: str
    since: datetime
    reason: str
    execution_id: str | None = None
    task_id: str | None = None
    attempt: int | None = None


@dataclass(frozen=True)
class IncidentPage:
    """The oldest incidents (at most the limit asked for) and how many there are in all."""

    incidents: list[Incident]
    failed: int
    stuck: int

    @property
    def total(self) -> int:
        return self.failed + self.stuck


@dataclass(frozen=True)
class IncidentFilter:
    """Which incidents to list: of ``kind``, ``workflow_id``, ``task_id``, and holding every word of ``text``
    (any case) in their instance id, workflow, node, task or reason. Empty: every incident."""

    kind: IncidentKind | None = None
    workflow_id: str | None = None
    task_id: str | None = None
    text: str = ""

    def __bool__(self) -> bool:
        return bool(self.kind or self.workflow_id or self.task_id or self.text.strip())

    def matches(self, incident: Incident) -> bool:
        """Whether ``incident`` is one this filter keeps."""
        if self.kind is not None and incident.kind != self.kind:
            return False
        if self.workflow_id and incident.workflow_id != self.workflow_id:
            return False
        if self.task_id and incident.task_id != self.task_id:
            return False
        haystack = " ".join((incident.instance_id, incident.workflow_id, incident.node_id, incident.task_id or "",
                             incident.reason)).lower()
        return all(word in haystack for word in self.text.lower().split())


@dataclass(frozen=True)
class OpenTask:
    """The open executions of one task: ``running`` holds a live lease, ``waiting`` does not (for a worker
    or a person), ``failed`` and ``stuck`` are incidents; ``oldest`` is when the oldest waiting one was made;
    ``overdue``: the ACTIVE ones past their deadline."""

    task_id: str
    running: int = 0
    waiting: int = 0
    failed: int = 0
    stuck: int = 0
    oldest: datetime | None = None
    overdue: int = 0


@dataclass(frozen=True)
class Activity:
    """Counts per minute over the hour before ``until`` (oldest minute first), and instances by status
    and by workflow."""

    since: datetime
    started: list[int]
    completed: list[int]
    tasks_completed: list[int]
    by_status: dict[str, int] = field(default_factory=dict)
    by_workflow: dict[str, dict[str, int]] = field(default_factory=dict)
    open_tasks: list[OpenTask] = field(default_factory=list)


@dataclass(frozen=True)
class HistoryQuery:
    """Filters of a history search. ``node`` and ``actor`` match a part of the name, any case; ``since``
    is inclusive, ``until`` exclusive."""

    instance_id: str | None = None
    kind: HistoryKind | str | None = None
    node: str | None = None
    actor: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 200


@dataclass(frozen=True)
class HistoryHit:
    """One history entry found, with its instance's workflow."""

    entry: HistoryEntry
    workflow_id: str
