"""Rebuild an instance's state from its history alone.

The history is append-only and complete: replayed from the start it gives the same status, context,
tokens and executions as the stored state (leases excepted: a claim is not a state change). Tests use
this as an invariant; operators can use it to audit a database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.model import HistoryEntry, HistoryKind
from engine.ports import InstanceView


@dataclass
class ReplayedExecution:
    id: str
    node_id: str
    task_id: str
    inputs: dict[str, Any]
    status: str = "ACTIVE"
    attempt: int = 1
    outputs: dict[str, Any] | None = None
    error: str | None = None
    due_at: str | None = None
    assignee: str | None = None


@dataclass
class ReplayedState:
    status: str = "ACTIVE"
    error: str | None = None
    workflow_id: str | None = None
    version: int | None = None
    context: dict[str, Any] = field(default_factory=dict)
    tokens: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (node, status)
    executions: dict[str, ReplayedExecution] = field(default_factory=dict)
    waits: dict[str, tuple[str, str, str, str | None]] = field(default_factory=dict)  # id -> (node, kind, token, due)


def replay(history: list[HistoryEntry]) -> ReplayedState:
    """Apply every entry in order; return the state they describe."""
    state = ReplayedState()
    for entry in history:
        _apply(state, entry)
    return state


def _apply(state: ReplayedState, entry: HistoryEntry) -> None:  # noqa: C901 - one branch per kind
    d, kind = entry.details, entry.kind
    execution = state.executions.get(entry.execution_id or "")
    if kind is HistoryKind.INSTANCE_STARTED:
        state.workflow_id, state.version = d["workflow_id"], d["version"]
        state.context.update(d.get("context") or {})
    elif kind is HistoryKind.CONTEXT_SET:
        state.context.update(d["values"])
    elif kind is HistoryKind.CONTEXT_UNSET:
        for key in d["keys"]:
            state.context.pop(key, None)
    elif kind is HistoryKind.TOKEN_CREATED:
        state.tokens[d["token_id"]] = (entry.node_id or "", d["status"])
    elif kind is HistoryKind.TOKEN_REMOVED:
        state.tokens.pop(d["token_id"], None)
        for wait_id in [w for w, (_, _, token, _) in state.waits.items() if token == d["token_id"]]:
            del state.waits[wait_id]  # a token's waits end with it
    elif kind is HistoryKind.TIMER_SET:
        state.waits[d["wait_id"]] = (entry.node_id or "", d["kind"], d["token_id"], d.get("due_at"))
    elif kind is HistoryKind.TIMER_FIRED or kind is HistoryKind.MESSAGE_RECEIVED:
        state.waits.pop(d["wait_id"], None)
    elif kind is HistoryKind.TOKEN_STATUS:
        node, _ = state.tokens[d["token_id"]]
        state.tokens[d["token_id"]] = (node, d["status"])
    elif kind is HistoryKind.EXECUTION_CREATED:
        state.executions[entry.execution_id] = ReplayedExecution(
            id=entry.execution_id, node_id=entry.node_id or "", task_id=d["task_id"], inputs=d["inputs"],
            attempt=d["attempt"], due_at=d.get("due_at"), assignee=d.get("assignee"))
    elif kind is HistoryKind.EXECUTION_COMPLETED:
        execution.status, execution.outputs = "COMPLETED", d["outputs"]
    elif kind is HistoryKind.EXECUTION_FAILED:
        execution.status, execution.error = "FAILED", d["error"]
    elif kind is HistoryKind.EXECUTION_ATTEMPT_FAILED:
        execution.attempt, execution.error = d["attempt"] + 1, d["error"]
    elif kind is HistoryKind.EXECUTION_RETRIED:
        execution.status = "RETRIED"
    elif kind is HistoryKind.EXECUTION_CANCELLED:
        execution.status, execution.error = "CANCELLED", d["reason"]
    elif kind is HistoryKind.TASK_CLAIMED:
        execution.assignee = d["assignee"]
    elif kind is HistoryKind.TASK_RELEASED:
        execution.assignee = None
    elif kind is HistoryKind.EXECUTION_STUCK:
        execution.status, execution.error = "STUCK", d["reason"]
    elif kind is HistoryKind.INSTANCE_COMPLETED:  # an END also ends a no-match of the same step
        state.status, state.error = "COMPLETED", None
    elif kind is HistoryKind.INSTANCE_CANCELLED:
        state.status = "CANCELLED"
    elif kind is HistoryKind.INSTANCE_FAILED:
        state.status, state.error = "FAILED", d["reason"]
    elif kind is HistoryKind.INSTANCE_RESUMED:
        state.status, state.error = "ACTIVE", None
    elif kind is HistoryKind.INSTANCE_MIGRATED:
        state.version = d["to_version"]
    # EDGE_TAKEN, JOIN_FIRED, JOIN_STUCK, CONDITION_ERROR, HANDLER_ERROR, STALE_REPORT (a worker's report
    # under a claim no longer current, ignored), INSTANCE_MODIFIED (the token moves are the entries after it)
    # and BATCH_ITEM describe; they change nothing.


def differences(view: InstanceView) -> list[str]:
    """What the stored state and the replay of its history disagree on (empty when they agree)."""
    replayed = replay(view.history)
    found: list[str] = []
    if replayed.version != view.version:
        found.append(f"version: stored {view.version}, replayed {replayed.version}")
    if replayed.status != view.status:
        found.append(f"status: stored {view.status}, replayed {replayed.status}")
    if (replayed.error or None) != (view.error or None):
        found.append(f"error: stored {view.error!r}, replayed {replayed.error!r}")
    if replayed.context != view.context:
        found.append(f"context: stored {view.context}, replayed {replayed.context}")
    stored_tokens = {t.id: (t.node_id, str(t.status)) for t in view.tokens}
    if stored_tokens != replayed.tokens:
        found.append(f"tokens: stored {stored_tokens}, replayed {replayed.tokens}")
    for execution in view.executions:
        other = replayed.executions.pop(execution.id, None)
        if other is None:
            found.append(f"execution {execution.id}: stored, never created in the history")
            continue
        stored = (str(execution.status), execution.attempt, execution.inputs, execution.outputs, execution.error,
                  execution.due_at.isoformat() if execution.due_at else None, execution.assignee)
        again = (other.status, other.attempt, other.inputs, other.outputs, other.error, other.due_at, other.assignee)
        if stored != again:
            found.append(f"execution {execution.id}: stored {stored}, replayed {again}")
    found.extend(f"execution {e}: in the history, not stored" for e in replayed.executions)
    stored_waits = {w.id: (w.node_id, str(w.kind), w.token_id, w.due_at.isoformat() if w.due_at else None)
                    for w in view.waits}
    if stored_waits != replayed.waits:
        found.append(f"waits: stored {stored_waits}, replayed {replayed.waits}")
    return found
