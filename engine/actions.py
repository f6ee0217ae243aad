"""Which operator actions apply now, and why the others do not: the state machine's rules, in one place.

The state machine refuses an action with the reason given here (:class:`~engine.errors.InvalidStateError`),
and the front ends ask the same functions what to offer: the console dims the keys of refused actions and
says the reason when one is pressed, the CLI prints the refusal. Nothing outside ``engine/`` knows which
statuses allow what.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from engine.model import Execution, ExecutionStatus, InstanceStatus

OPEN = (ExecutionStatus.ACTIVE, ExecutionStatus.FAILED, ExecutionStatus.STUCK)
"""The execution statuses in which an execution still holds its token: it can be completed."""
INCIDENT = (ExecutionStatus.FAILED, ExecutionStatus.STUCK)
"""The execution statuses an operator must resolve."""
_CHANGEABLE = (InstanceStatus.ACTIVE, InstanceStatus.FAILED)  # the instance statuses an operator may change


class Action(StrEnum):
    """An operator action: on an execution (:data:`EXECUTION_ACTIONS`), on an instance
    (:data:`INSTANCE_ACTIONS`), or starting one."""

    COMPLETE = "complete"  # mark done, with outputs
    FAIL = "fail"
    RETRY = "retry"
    CANCEL = "cancel"
    SET_VARIABLES = "set_variables"
    UNSET_VARIABLES = "unset_variables"
    RESUME = "resume"  # evaluate again the exclusive split where the instance stopped
    MOVE_TOKENS = "move_tokens"  # remove tokens from nodes and place tokens on others, in one step
    MIGRATE = "migrate"  # move the instance to another version of its workflow
    START = "start"  # start an instance (of a workflow, not on one: always allowed)
    SEND_MESSAGE = "send_message"  # deliver a message to an instance waiting for it
    CLAIM = "claim"  # take a person's task: its assignee becomes the operator
    RELEASE = "release"  # give a claimed task back


READ_ONLY_REFUSAL = "read-only: this session may look but not change anything (it was opened with --readonly)"
"""Why every action is refused to operations opened read-only: the same words before (permissions) and after
(the :class:`~engine.errors.ReadOnlyError` of an action tried anyway)."""

EXECUTION_ACTIONS = (Action.COMPLETE, Action.FAIL, Action.RETRY)
INSTANCE_ACTIONS = (Action.CANCEL, Action.SET_VARIABLES, Action.UNSET_VARIABLES, Action.RESUME, Action.MOVE_TOKENS,
                    Action.MIGRATE)


def describe_execution(execution: Execution) -> str:
    """``execution pack of instance 3fa85f64``: an execution as refusals name it, readable in a notification."""
    return f"execution {execution.node_id} of instance {execution.instance_id[:8]}"


def execution_refusal(action: Action, instance_status: InstanceStatus, execution: Execution) -> str | None:
    """Why ``action`` cannot be done to ``execution`` of an instance in ``instance_status`` now, or ``None``."""
    status = execution.status
    named = describe_execution(execution)
    if action is Action.COMPLETE:
        if status not in OPEN:
            return f"{named} is {status.value}: only an open (ACTIVE, FAILED or STUCK) execution can be completed"
        if instance_status is not InstanceStatus.ACTIVE:
            return f"instance {execution.instance_id[:8]} is {instance_status.value}: its executions can be " \
                   "completed only while it is ACTIVE"
        return None
    if instance_status is not InstanceStatus.ACTIVE:
        return f"instance {execution.instance_id[:8]} is {instance_status.value}, not ACTIVE"
    if action is Action.FAIL and status not in (ExecutionStatus.ACTIVE, ExecutionStatus.STUCK):
        return f"{named} is {status.value}: only an ACTIVE or STUCK execution can be failed"
    if action is Action.RETRY and status not in INCIDENT:
        return f"{named} is {status.value}: only a FAILED or STUCK execution can be retried"
    if action not in EXECUTION_ACTIONS:
        raise ValueError(f"{action} is not an action on an execution")
    return None


def claim_refusal(action: Action, instance_status: InstanceStatus, execution: Execution, user: str,
                  forced: bool = False) -> str | None:
    """Why ``user`` cannot claim, release or complete (``action``) ``execution`` now, as far as who works on it
    goes, or ``None``. A task claimed by someone else is theirs: taking it over, releasing it or completing it
    needs ``forced`` (and is recorded as forced)."""
    named = describe_execution(execution)
    assignee = execution.assignee
    if action is Action.COMPLETE:
        if assignee and assignee != user and not forced:
            return f"{named} is claimed by {assignee}: completing it as {user} needs force ({_FORCE} done --force)"
        return None
    if execution.status not in OPEN:
        return f"{named} is {execution.status.value}: only an open task can be claimed or released"
    if instance_status is not InstanceStatus.ACTIVE:
        return f"instance {execution.instance_id[:8]} is {instance_status.value}, not ACTIVE"
    if action is Action.CLAIM:
        if assignee == user:
            return f"{named} is yours already"
        if assignee and not forced:
            return (f"{named} is claimed by {assignee}: they release it, or take it over with force "
                    f"({_FORCE} claim --force)")
        return None
    if action is Action.RELEASE:
        if not assignee:
            return f"{named} is not claimed by anyone"
        if assignee != user and not forced:
            return (f"{named} is claimed by {assignee}, not {user}: releasing it needs force "
                    f"({_FORCE} release --force)")
        return None
    raise ValueError(f"{action} is not a claim action")


_FORCE = "recorded; on the command line: wfconsole"  # the console has no forcing key: the refusal says where


def instance_refusal(action: Action, instance_id: str, instance_status: InstanceStatus) -> str | None:
    """Why ``action`` cannot be done to the instance ``instance_id`` in ``instance_status`` now, or ``None``."""
    if action is Action.RESUME:
        if instance_status is not InstanceStatus.FAILED:
            return f"instance {instance_id[:8]} is {instance_status.value}: only an instance that stopped FAILED at " \
                   "an exclusive split can be resumed"
        return None
    if action not in INSTANCE_ACTIONS:
        raise ValueError(f"{action} is not an action on an instance")
    if instance_status not in _CHANGEABLE:
        rule = {Action.CANCEL: "only an ACTIVE or FAILED instance can be cancelled",
                Action.SET_VARIABLES: "variables can be set only on an ACTIVE or FAILED instance",
                Action.UNSET_VARIABLES: "variables can be unset only on an ACTIVE or FAILED instance",
                Action.MOVE_TOKENS: "tokens can be moved only in an ACTIVE or FAILED instance",
                Action.MIGRATE: "only an ACTIVE or FAILED instance can be migrated"}[action]
        return f"instance {instance_id[:8]} is {instance_status.value}: {rule}"
    return None


@dataclass(frozen=True)
class Permissions:
    """The operator actions on one instance (and, if given, one of its executions): for each, ``None`` when it
    applies now, else the reason it does not."""

    refusals: dict[Action, str | None]

    def allows(self, action: Action) -> bool:
        """Whether ``action`` applies now (``False`` also for an action not asked about)."""
        return action in self.refusals and self.refusals[action] is None

    def why_not(self, action: Action) -> str | None:
        """The reason ``action`` does not apply, or ``None`` when it does."""
        return self.refusals.get(action, f"{action} is not offered here")


def permissions(instance_id: str, instance_status: InstanceStatus, execution: Execution | None = None, *,
                readonly: bool = False) -> Permissions:
    """What an operator may do now to the instance and, when ``execution`` is given, to that execution;
    ``readonly``: nothing, for :data:`READ_ONLY_REFUSAL`."""
    if readonly:
        return Permissions({action: READ_ONLY_REFUSAL for action in (*INSTANCE_ACTIONS, *EXECUTION_ACTIONS)})
    refusals: dict[Action, str | None] = {
        action: instance_refusal(action, instance_id, instance_status) for action in INSTANCE_ACTIONS}
    for action in EXECUTION_ACTIONS:
        refusals[action] = (execution_refusal(action, instance_status, execution) if execution is not None
                            else "select an execution first")
    return Permissions(refusals)
