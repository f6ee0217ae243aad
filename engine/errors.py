"""The engine's error hierarchy.

Every error raised for a caller's mistake is a :class:`WorkflowError`; its message names the thing that is
wrong and is meant to be shown to a person as-is (the CLI prints it, the console notifies it).
"""

from __future__ import annotations

from dataclasses import dataclass


def json_kind(value: object) -> str:
    """What ``value`` is in JSON's words, for messages: "an object", "an array", "a string", "null", ..."""
    if value is None:
        return "null"
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", int: "a number",
             float: "a number"}
    return names.get(type(value), f"a {type(value).__name__} (not JSON)")


class WorkflowError(Exception):
    """Base class of every error the engine raises for a caller's mistake."""


@dataclass(frozen=True)
class Problem:
    """One finding of blueprint validation.

    ``where`` names the node, edge or field (``node 'review'``, ``edge 'e3'``, ``nodes[2].type``),
    ``message`` says what is wrong, ``severity`` is ``"error"`` or ``"warning"``.
    """

    where: str
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class BlueprintError(WorkflowError):
    """A blueprint was refused. ``problems`` holds every error found (warnings are not errors)."""

    def __init__(self, problems: list[Problem], source: str | None = None) -> None:
        self.problems = list(problems)
        self.source = source
        prefix = f"{source}: " if source else ""
        if len(self.problems) == 1:
            text = f"{prefix}invalid blueprint: {self.problems[0]}"
        else:
            listed = "; ".join(str(p) for p in self.problems)
            text = f"{prefix}invalid blueprint ({len(self.problems)} errors): {listed}"
        super().__init__(text)


class BlueprintConflictError(WorkflowError):
    """A different blueprint is already stored under the same (workflow_id, version).

    ``key`` is that (workflow_id, version) when the store knows it.
    """

    def __init__(self, message: str, key: tuple[str, int] | None = None) -> None:
        super().__init__(message)
        self.key = key


class UnknownWorkflowError(WorkflowError):
    """No blueprint is stored under that workflow id (and version)."""


class UnknownInstanceError(WorkflowError):
    """No instance has that id."""


class UnknownExecutionError(WorkflowError):
    """The execution id is well formed but no such execution exists."""


class MalformedExecutionIdError(WorkflowError):
    """The execution id is not of the form ``<instance_id>:<node_id>:<uuid>``."""


class NoMatchingConditionError(WorkflowError):
    """An exclusive split had no true condition and no default edge.

    ``committed`` tells which of two cases it is: ``True`` when the step that reached the split was stored
    and the instance is now FAILED there (an incident to resolve); ``False`` when nothing was changed (a
    resumed instance whose split still matches nothing).
    """

    def __init__(self, message: str, instance_id: str, node_id: str, committed: bool = False) -> None:
        super().__init__(message)
        self.instance_id = instance_id
        self.node_id = node_id
        self.committed = committed


class UnreadableTimerError(NoMatchingConditionError):
    """A token reached a timer whose due time the context cannot give (a missing key, a value that is neither a
    date-time nor a duration): the instance stopped FAILED there, as at a split without a match, and resumes the
    same way (set the variable, then ``retry_instance``)."""


class InvalidStateError(WorkflowError):
    """An operator action was asked of something in the wrong state; nothing was changed."""


class ReadOnlyError(InvalidStateError):
    """A change was asked of operations opened read-only (``--readonly``); nothing was changed."""


class StaleClaimError(InvalidStateError):
    """A worker reported under a claim that is no longer current (taken over, released, or ended by an
    operator): nothing was changed but the history, which records the stale report."""


class MessageNotDeliveredError(InvalidStateError):
    """A message that no instance waits for (or that several would take, where one was meant): refused, nothing
    changed. Messages are not kept for an instance that waits later: the sender tries again."""


class InvalidValueError(WorkflowError):
    """A value (outputs, context, variable) that JSON cannot hold, or a malformed argument."""


class InvalidReferenceError(InvalidValueError):
    """An instance or execution id that is malformed, or a prefix of several instances' ids."""


class StoreError(WorkflowError):
    """The database cannot be used: corrupt, read-only, locked past the timeout, or a newer schema."""


class DatabasePathError(StoreError):
    """The database path names something that is not a database file (a directory, a FIFO, a socket, a device)
    or lies in a directory that does not exist: a caller's mistake in the path, not a broken database."""


class DatabaseConnectionError(StoreError):
    """The database server cannot be used as the URL says: unreachable, a refused password, a missing database
    or user. A mistake in the URL or the server's setup, told in one line (without the password)."""
