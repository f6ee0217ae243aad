"""The state of an instance and the records the engine keeps, as plain immutable values.

These cross the boundary between the pure state machine, the manager and the store. Statuses are
``str`` enums, so ``inst.status == "ACTIVE"`` holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class InstanceStatus(StrEnum):
    ACTIVE = "ACTIVE"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


class TokenStatus(StrEnum):
    ACTIVE = "ACTIVE"  # at a task (its execution running or waiting for a person), or at a timer or message event
    WAITING = "WAITING"  # at a parallel join, waiting for the other branches
    FAILED = "FAILED"  # at a task whose execution failed (an incident), or at a split with no match
    STUCK = "STUCK"  # at a task whose execution the stuck-token check found overdue or abandoned


class ExecutionStatus(StrEnum):
    ACTIVE = "ACTIVE"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"  # an incident: an operator may retry it or complete it
    RETRIED = "RETRIED"  # failed (or stuck), then replaced by a new attempt
    STUCK = "STUCK"  # overdue or abandoned, found by the stuck-token check; an operator may act on it
    CANCELLED = "CANCELLED"


class HistoryKind(StrEnum):
    INSTANCE_STARTED = "INSTANCE_STARTED"
    INSTANCE_COMPLETED = "INSTANCE_COMPLETED"
    INSTANCE_FAILED = "INSTANCE_FAILED"
    INSTANCE_CANCELLED = "INSTANCE_CANCELLED"
    INSTANCE_RESUMED = "INSTANCE_RESUMED"
    TOKEN_CREATED = "TOKEN_CREATED"
    TOKEN_REMOVED = "TOKEN_REMOVED"
    TOKEN_STATUS = "TOKEN_STATUS"
    EDGE_TAKEN = "EDGE_TAKEN"
    JOIN_FIRED = "JOIN_FIRED"
    EXECUTION_CREATED = "EXECUTION_CREATED"
    EXECUTION_COMPLETED = "EXECUTION_COMPLETED"
    EXECUTION_FAILED = "EXECUTION_FAILED"
    EXECUTION_RETRIED = "EXECUTION_RETRIED"
    EXECUTION_CANCELLED = "EXECUTION_CANCELLED"
    CONTEXT_SET = "CONTEXT_SET"
    CONTEXT_UNSET = "CONTEXT_UNSET"
    INSTANCE_MODIFIED = "INSTANCE_MODIFIED"  # an operator moved tokens (the moves are the entries around it)
    INSTANCE_MIGRATED = "INSTANCE_MIGRATED"  # an operator moved the instance to another version of its workflow
    BATCH_ITEM = "BATCH_ITEM"  # the step was one item of an operator's batch (its id)
    CONDITION_ERROR = "CONDITION_ERROR"
    HANDLER_ERROR = "HANDLER_ERROR"
    EXECUTION_STUCK = "EXECUTION_STUCK"
    EXECUTION_ATTEMPT_FAILED = "EXECUTION_ATTEMPT_FAILED"
    JOIN_STUCK = "JOIN_STUCK"
    STALE_REPORT = "STALE_REPORT"  # a worker's report under a claim that is no longer current: changed nothing
    TIMER_SET = "TIMER_SET"  # a wait began: a timer (due_at) or a message subscription (message)
    TIMER_FIRED = "TIMER_FIRED"  # a timer came due and the runtime fired it (its lateness in the details)
    MESSAGE_RECEIVED = "MESSAGE_RECEIVED"  # a message was delivered to a waiting message event (its payload)
    TASK_CLAIMED = "TASK_CLAIMED"  # a person claimed a task (or took it over, forced): the execution's assignee
    TASK_RELEASED = "TASK_RELEASED"  # the assignee gave the task back: anyone of its group may claim it


@dataclass(frozen=True)
class Token:
    """A token on a node. A task's token has the id of its execution."""

    id: str
    node_id: str
    status: TokenStatus
    created_at: datetime


@dataclass(frozen=True)
class Execution:
    """One visit of a token to a TASK node."""

    id: str
    instance_id: str
    node_id: str
    task_id: str
    inputs: dict[str, Any]
    status: ExecutionStatus
    attempt: int
    created_at: datetime
    updated_at: datetime
    outputs: dict[str, Any] | None = None
    error: str | None = None
    lease_owner: str | None = None
    lease_until: datetime | None = None
    next_attempt_at: datetime | None = None
    # The fencing token of the latest claim (1 for the first, one more for each claim after it). The claim
    # is current while its holder keeps the lease: a new claim, a release, the holder's own failure report
    # or an operator's fail end it (see engine.machine.claim_is_current).
    claim: int = 0
    due_at: datetime | None = None  # the task's deadline, if its node declares one
    assignee: str | None = None  # who works on it (a person's task): claimed, or named by the blueprint
    candidate_group: str | None = None  # the group whose members may claim it


class WaitKind(StrEnum):
    TIMER = "TIMER"  # a token held at a timer event until due_at
    BOUNDARY = "BOUNDARY"  # a boundary timer on a task's execution: due_at, then the timeout edge
    MESSAGE = "MESSAGE"  # a token held at a message event until a message of that name is sent to it


@dataclass(frozen=True)
class Wait:
    """Something an instance waits for besides a task: a timer due at ``due_at``. ``token_id`` is the token that
    waits (a timer event's own token, or the task's token, whose id is its execution's, for a boundary timer):
    removing the token ends the wait. ``boundary`` is the index of a task's boundary timer."""

    id: str
    kind: WaitKind
    node_id: str
    token_id: str
    created_at: datetime
    due_at: datetime | None = None
    boundary: int | None = None
    message: str | None = None  # the message a MESSAGE wait is for


@dataclass(frozen=True)
class HistoryEntry:
    """One line of an instance's append-only history. ``seq`` is given by the store."""

    kind: HistoryKind
    at: datetime
    node_id: str | None = None
    execution_id: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    actor: str | None = None
    seq: int | None = None
    instance_id: str | None = None


@dataclass(frozen=True)
class InstanceState:
    """What the state machine needs of an instance: its row, context, tokens and open executions.

    ``executions`` holds only the executions that are still open (ACTIVE or FAILED): finished ones never
    change again, so they are not loaded.
    """

    id: str
    workflow_id: str
    version: int
    status: InstanceStatus
    context: dict[str, Any]
    tokens: dict[str, Token]
    executions: dict[str, Execution]
    created_at: datetime
    updated_at: datetime
    error: str | None = None
    ended_at: datetime | None = None
    waits: tuple[Wait, ...] = ()  # the timers (and other waits) of the instance's tokens, in the order they began


@dataclass(frozen=True)
class TaskPayload:
    """What a task handler receives: the execution to run and its inputs."""

    execution_id: str
    instance_id: str
    node_id: str
    task_id: str
    inputs: dict[str, Any]
    attempt: int = 1


@dataclass
class ChangeSet:
    """What one transition writes: the store applies it in the same transaction that read the state."""

    instance_id: str
    new_instance: InstanceState | None = None  # set when the transition created the instance
    status: InstanceStatus | None = None
    error: str | None = None
    clear_error: bool = False
    ended_at: datetime | None = None
    context: dict[str, Any] = field(default_factory=dict)
    tokens_added: list[Token] = field(default_factory=list)
    tokens_removed: list[str] = field(default_factory=list)
    token_status: dict[str, TokenStatus] = field(default_factory=dict)
    executions_added: list[Execution] = field(default_factory=list)
    executions_updated: list[Execution] = field(default_factory=list)
    history: list[HistoryEntry] = field(default_factory=list)
    context_removed: list[str] = field(default_factory=list)  # keys deleted from the context
    version: int | None = None  # set when the instance moves to another version of its workflow (a migration)
    waits_added: list[Wait] = field(default_factory=list)
    waits_removed: list[str] = field(default_factory=list)  # wait ids


@dataclass(frozen=True)
class Transition:
    """The result of one event: the new state, what to write, what to dispatch after commit."""

    state: InstanceState
    changes: ChangeSet
    dispatch: list[TaskPayload]
    error: Exception | None = None  # raised to the caller after the changes are committed

    @property
    def finished(self) -> bool:
        return self.state.status in (InstanceStatus.COMPLETED, InstanceStatus.FAILED)
