"""What an engine call did, as the transaction that did it saw it.

A caller is told the truth only by the transaction that did the work: a read before or after it can be
overtaken by another operator, worker or host. So ``task_done`` returns a :class:`Completion` made inside its
transaction, and an operator action either returns or raises the refusal it met there.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from engine.actions import Action
from engine.errors import NoMatchingConditionError
from engine.model import Execution, ExecutionStatus, InstanceState, InstanceStatus


class Ignored(StrEnum):
    """Why a completion changed nothing (SPEC §3: a duplicate or late completion is not an error)."""

    ALREADY_COMPLETED = "already_completed"  # the execution was completed before (a duplicate)
    EXECUTION_CANCELLED = "execution_cancelled"  # cancelled with its instance, or by a repair
    EXECUTION_RETRIED = "execution_retried"  # replaced by a new attempt (retry) before the completion came
    INSTANCE_NOT_ACTIVE = "instance_not_active"  # the instance is COMPLETED, CANCELLED or stopped FAILED
    UNKNOWN_EXECUTION = "unknown_execution"  # the instance exists but has no execution with this id
    STALE_CLAIM = "stale_claim"  # a worker whose claim on the execution is no longer the current one


@dataclass(frozen=True)
class Completion:
    """The outcome of ``task_done``: ``applied``, or ignored with ``ignored`` saying why and ``message``
    saying it for a person. ``instance_status`` is the instance's status once the call is over."""

    execution_id: str
    instance_id: str
    applied: bool
    instance_status: InstanceStatus
    ignored: Ignored | None = None
    message: str = ""
    resolved_incident: bool = False  # an applied completion of a FAILED or STUCK execution


def applied_completion(execution_id: str, state: InstanceState, resolved_incident: bool) -> Completion:
    """An applied completion; ``state`` is the instance after the step."""
    return Completion(execution_id, state.id, True, state.status, resolved_incident=resolved_incident,
                      message=f"execution {execution_id} completed")


def ignored_completion(execution_id: str, state: InstanceState, execution: Execution | None) -> Completion:
    """Why a completion of ``execution_id`` (``execution`` as stored, or ``None``) changed nothing in ``state``."""
    if execution is None:
        reason, text = Ignored.UNKNOWN_EXECUTION, f"unknown execution {execution_id!r} of instance {state.id}"
    elif execution.status is ExecutionStatus.COMPLETED:
        reason, text = Ignored.ALREADY_COMPLETED, f"execution {execution_id} is already COMPLETED"
    elif execution.status is ExecutionStatus.CANCELLED:
        reason, text = Ignored.EXECUTION_CANCELLED, f"execution {execution_id} is already CANCELLED"
    elif execution.status is ExecutionStatus.RETRIED:
        reason, text = Ignored.EXECUTION_RETRIED, f"execution {execution_id} was retried (a new attempt replaced it)"
    else:  # open, but the instance does not move
        reason = Ignored.INSTANCE_NOT_ACTIVE
        text = f"instance {state.id} is {state.status.value}: the completion was ignored"
    return Completion(execution_id, state.id, False, state.status, ignored=reason, message=f"{text}: nothing changed")


def stale_claim_message(execution: Execution, claim: int) -> str:
    """Why a worker's report under fencing token ``claim`` of ``execution`` (as stored) is stale."""
    if execution.lease_owner is not None:
        now = f"claim {execution.claim} of {execution.lease_owner} is the current one"
    elif execution.status is ExecutionStatus.ACTIVE:
        now = "its lease was given up and it waits for a new claim"
    else:
        now = f"it is {execution.status.value} and nobody holds a claim on it"
    return f"claim {claim} of execution {execution.id} is no longer current: {now}"


def stale_completion(execution: Execution, state: InstanceState, claim: int) -> Completion:
    """A worker's completion under a claim that is no longer current: ignored, recorded as stale."""
    return Completion(execution.id, state.id, False, state.status, ignored=Ignored.STALE_CLAIM,
                      message=f"{stale_claim_message(execution, claim)}: the completion was ignored")


@dataclass(frozen=True)
class ActionResult:
    """What an operator action did, for both front ends: ``message`` is the one sentence they show.

    ``applied`` is ``False`` only for a completion that changed nothing (a repeat, or one that another
    operator or worker got in first; ``message`` says which); a refused action raises instead.
    ``stopped`` is set when the change was stored but the instance then stopped FAILED at an exclusive split
    with no match: it needs a person again.
    """

    action: Action
    instance_id: str
    applied: bool
    message: str
    execution_id: str | None = None
    new_execution_id: str | None = None
    stopped: NoMatchingConditionError | None = None
    completion: Completion | None = None  # for Action.COMPLETE
