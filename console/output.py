"""The JSON documents the command line prints with ``--json``, and small helpers for plain output.

Field names here are a public interface for scripts and ``jq``: snake_case, stable, times as ISO 8601
strings in UTC, statuses as their names. They are written out explicitly (not derived from the engine's
dataclasses) so that a change inside the engine does not silently change what scripts read.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Any

from engine.errors import Problem
from engine.model import Execution, HistoryEntry, Token
from engine.ports import BlueprintSummary, InstanceSummary, InstanceView
from engine.text import visible, visible_json

SHORT_ID_LENGTH = 8


def short_id(instance_id: str) -> str:
    """The first 8 characters of an instance id, as ``list`` shows it (like a git short hash)."""
    return instance_id[:SHORT_ID_LENGTH]


def iso(moment: datetime | None) -> str | None:
    """An ISO 8601 UTC time (``2026-01-02T03:04:05.000006+00:00``), or ``None``."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat()


def problem_doc(problem: Problem) -> dict[str, Any]:
    return {"severity": problem.severity, "where": problem.where, "message": problem.message}


def token_doc(token: Token) -> dict[str, Any]:
    return {"id": token.id, "node_id": token.node_id, "status": str(token.status), "created_at": iso(token.created_at)}


def execution_doc(execution: Execution) -> dict[str, Any]:
    return {
        "id": execution.id,
        "instance_id": execution.instance_id,
        "node_id": execution.node_id,
        "task_id": execution.task_id,
        "status": str(execution.status),
        "attempt": execution.attempt,
        "inputs": execution.inputs,
        "outputs": execution.outputs,
        "error": execution.error,
        "created_at": iso(execution.created_at),
        "updated_at": iso(execution.updated_at),
        "due_at": iso(execution.due_at),
        "assignee": execution.assignee,
        "candidate_group": execution.candidate_group,
    }


def history_doc(entry: HistoryEntry) -> dict[str, Any]:
    return {
        "seq": entry.seq,
        "at": iso(entry.at),
        "kind": str(entry.kind),
        "node_id": entry.node_id,
        "execution_id": entry.execution_id,
        "actor": entry.actor,
        "details": entry.details,
    }


def instance_summary_doc(summary: InstanceSummary) -> dict[str, Any]:
    return {
        "id": summary.id,
        "short_id": short_id(summary.id),
        "workflow_id": summary.workflow_id,
        "version": summary.version,
        "status": str(summary.status),
        "token_nodes": list(summary.token_nodes),
        "token_statuses": list(summary.token_statuses),
        "has_incident": summary.has_incident,
        "error": summary.error,
        "created_at": iso(summary.created_at),
        "updated_at": iso(summary.updated_at),
        "ended_at": iso(summary.ended_at),
    }


def instance_doc(view: InstanceView) -> dict[str, Any]:
    """Everything ``show`` knows about an instance."""
    return {
        "id": view.id,
        "short_id": short_id(view.id),
        "workflow_id": view.workflow_id,
        "version": view.version,
        "status": str(view.status),
        "error": view.error,
        "created_at": iso(view.created_at),
        "updated_at": iso(view.updated_at),
        "ended_at": iso(view.ended_at),
        "context": view.context,
        "tokens": [token_doc(t) for t in view.tokens],
        "executions": [execution_doc(e) for e in view.executions],
        "incidents": [e.id for e in view.incidents],
        "waits": [{"id": w.id, "kind": str(w.kind), "node_id": w.node_id, "token_id": w.token_id,
                   "due_at": iso(w.due_at)} for w in view.waits],
        "history": [history_doc(h) for h in view.history],
    }


def blueprint_summary_doc(summary: BlueprintSummary) -> dict[str, Any]:
    return {
        "workflow_id": summary.workflow_id,
        "version": summary.version,
        "name": summary.name,
        "nodes": summary.nodes,
        "edges": summary.edges,
        "warnings": summary.warnings,
        "created_at": iso(summary.created_at),
        "instances": dict(summary.instances),
    }


def write_json(document: Any) -> None:
    """Print one JSON document on stdout (indented, UTF-8, newline-terminated).

    Text that is not valid Unicode (a file name of undecodable bytes) is written as ``\\udcxx`` escapes,
    so that the output stays valid UTF-8 for strict JSON readers. DEL, C1, bidi and line-separator
    characters are ``\\u0085``-style escapes too (``json`` escapes C0 itself): a terminal showing the
    document acts on none of them, and it parses to the same values.
    """
    text = visible_json(json.dumps(document, indent=2, ensure_ascii=False, sort_keys=False))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(document, indent=2, ensure_ascii=True, sort_keys=False)
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


# The exit code of a command whose change was made, after which the instance stopped FAILED at an exclusive
# split with no match (an incident): not 0, since the instance needs a person, and not 1, since something
# did change. Its output is printed as on success.
EXIT_DONE_WITH_INCIDENT = 3


def one_line(message: str) -> str:
    """``message`` folded onto one line: operators read one line per error, scripts ``grep`` it. Control and
    bidi characters (a file name, a reason quoted in the message) are made visible."""
    folded = " ".join(part.strip() for part in str(message).splitlines() if part.strip()) or "unknown error"
    return visible(folded)


def print_error(message: str) -> None:
    """Print ``wfconsole: error: <message>`` as one line on stderr."""
    sys.stderr.write(f"wfconsole: error: {one_line(message)}\n")
    sys.stderr.flush()


def print_notice(message: str) -> None:
    """Print a one-line remark on stderr that is not an error (e.g. a duplicate completion was ignored)."""
    sys.stderr.write(f"wfconsole: {one_line(message)}\n")
    sys.stderr.flush()
