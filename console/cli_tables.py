"""Human output of the command line: Rich tables for problems, instance listings and one instance.

Scripts should use ``--json`` (see :mod:`console.output`); this layout may change to read better. Every
stored or typed text goes into a cell as :func:`~console.formatting.shown` text: its control and bidi
characters made visible, and never read as Rich markup.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from console.formatting import LONG_IDS, due_text, error_owner, shown, token_places
from console.output import short_id
from engine.actions import OPEN
from engine.errors import Problem
from engine.ports import BlueprintSummary, InstanceSummary, InstanceView
from engine.text import visible, visible_json

STATUS_STYLES = {
    "ACTIVE": "cyan", "WAITING": "blue", "COMPLETED": "green", "FAILED": "bold red", "CANCELLED": "dim",
    "RETRIED": "dim", "STUCK": "yellow", "error": "bold red", "warning": "yellow",
}
_VALUE_WIDTH = 60


# Output that is not a terminal (a pipe, a file) is not folded to 80 columns, where a table's last column
# shrank to nothing: a line per row, as wide as it needs, for grep and awk. $COLUMNS still wins.
PIPED_WIDTH = 400


class _StdoutConsole(Console):
    def on_broken_pipe(self) -> None:
        raise BrokenPipeError  # Rich would exit 1 ("refused"): the command line handles it as JSON output does


def stdout_console() -> Console:
    """A Rich console on the current stdout (looked up at print time, so test runners can capture it)."""
    piped = not sys.stdout.isatty() and "COLUMNS" not in os.environ
    return _StdoutConsole(highlight=False, width=PIPED_WIDTH if piped else None)


def styled(status: str) -> Text:
    """A status name in its colour."""
    return Text(visible(str(status)), style=STATUS_STYLES.get(str(status), ""))


def when(moment: datetime | None) -> str:
    """A time for people: UTC, to the second."""
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def compact_json(value: Any, width: int = _VALUE_WIDTH) -> str:
    """A JSON value on one line, cut to ``width`` characters."""
    return _clip(visible_json(json.dumps(value, ensure_ascii=False, separators=(", ", ": "))), width)


def problems_table(problems: Iterable[Problem]) -> Table:
    """Severity, where and message of each validation problem."""
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    table.add_column("SEVERITY", no_wrap=True)
    table.add_column("WHERE", overflow="fold")
    table.add_column("PROBLEM", overflow="fold")
    for problem in problems:
        table.add_row(styled(problem.severity), shown(problem.where), shown(problem.message))
    return table


def instances_table(summaries: list[InstanceSummary]) -> Table:
    """One row per instance: short id, workflow, status, where its tokens are, updated, error."""
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    table.add_column("ID", no_wrap=True)
    table.add_column("WORKFLOW", no_wrap=True)
    table.add_column("STATUS", no_wrap=True)
    table.add_column("AT", overflow="fold", min_width=16)
    table.add_column("UPDATED (UTC)", no_wrap=True)
    table.add_column("ERROR", overflow="fold")
    for s in summaries:
        table.add_row(shown(short_id(s.id)), shown(f"{s.workflow_id} v{s.version}"), styled(s.status),
                      shown(token_places(s.token_nodes, limit=60, statuses=s.token_statuses)), when(s.updated_at),
                      shown(_clip(visible(s.error or ""), 40)))
    return table


def blueprints_table(summaries: list[BlueprintSummary], starts: dict[tuple[str, int], str] | None = None) -> Table:
    """One row per stored blueprint version; ``starts``, the timer starts by (workflow, newest version): a
    column of its own when there are any."""
    starts = starts or {}
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    columns = ("WORKFLOW", "VERSION", "NAME", "NODES", "WARNINGS", "INSTANCES", *(("TIMER START",) if starts else ()))
    for name in columns:
        table.add_column(name, overflow="fold")
    for s in summaries:
        instances = " · ".join(f"{status} {count}" for status, count in sorted(s.instances.items())) or "none"
        table.add_row(shown(s.workflow_id), str(s.version), shown(s.name or ""), str(s.nodes), str(s.warnings),
                      instances, *((shown(starts.get((s.workflow_id, s.version), "")),) if starts else ()))
    return table


def print_instance(console: Console, view: InstanceView, compiled: Any = None) -> None:
    """Everything about one instance: header, tokens, executions, what it waits for, context and history
    (``compiled``, its blueprint, says which boundary timer a wait is)."""
    header = Table.grid(padding=(0, 2))
    header.add_column(style="bold")
    header.add_column(overflow="fold")
    header.add_row("Instance", shown(view.id))
    header.add_row("Workflow", shown(f"{view.workflow_id} v{view.version}"))
    header.add_row("Status", styled(view.status))
    if view.error:
        header.add_row("Error", shown(view.error))
    if view.incidents:
        header.add_row("Incidents", Text(f"{len(view.incidents)} failed execution(s): see below", style="red"))
    header.add_row("Created", when(view.created_at))
    header.add_row("Updated", when(view.updated_at))
    if view.ended_at:
        header.add_row("Ended", when(view.ended_at))
    console.print(header)
    _section(console, "Tokens", _tokens_table(view), bool(view.tokens))
    _section(console, "Executions", _executions_table(view), bool(view.executions))
    _open_execution_ids(console, view)
    if view.waits:
        _section(console, "Waits (timers and messages)", _waits_table(view, compiled), True)
    _section(console, "Context", _context_table(view.context), bool(view.context))
    _section(console, "History", _history_table(view), bool(view.history))


def _section(console: Console, title: str, table: Table, has_rows: bool) -> None:
    console.print()
    console.print(Text(title, style="bold underline"))
    console.print(table if has_rows else Text("  (none)", style="dim"))


def _tokens_table(view: InstanceView) -> Table:
    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("NODE", overflow="fold")
    table.add_column("STATUS", no_wrap=True)
    table.add_column("SINCE (UTC)", no_wrap=True)
    for token in view.tokens:
        table.add_row(shown(token.node_id), styled(token.status), when(token.created_at))
    return table


def _executions_table(view: InstanceView) -> Table:
    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("EXECUTION", no_wrap=True)
    table.add_column("TASK", overflow="fold")
    table.add_column("STATUS", no_wrap=True)
    table.add_column("TRY", justify="right")
    # Deadlines and people only when the instance has any: the usual table stays as it was.
    people = any(e.due_at or e.assignee or e.candidate_group for e in view.executions)
    if people:
        table.add_column("DUE", no_wrap=True)
        table.add_column("WHO", overflow="fold")
    table.add_column("INPUTS → OUTPUTS / ERROR", overflow="fold")
    now = datetime.now(UTC)
    for e in view.executions:
        detail = compact_json(e.inputs)
        if e.outputs is not None:
            detail += " → " + compact_json(e.outputs)
        if e.error:  # an earlier attempt's error as that attempt's ("attempt 1 failed: ..."), as the console
            owner = error_owner(e, view.history)
            mark = "–" if e.status == "CANCELLED" else "✗"  # a cancellation's reason is not a failure
            detail += f" {mark} {owner + ': ' if owner else ''}{e.error}"
        cells = [shown(f"{short_id(view.id)}:{e.node_id}"), shown(e.task_id), styled(e.status), str(e.attempt)]
        if people:
            late = due_text(e.due_at, now, e.status in OPEN)
            who = " · ".join(part for part in (e.assignee or "", f"group {e.candidate_group}" if e.candidate_group
                                                else "") if part)
            cells += [Text(late, style="bold red" if late.startswith("late") else ""), shown(who)]
        table.add_row(*cells, shown(detail))
    return table


def _waits_table(view: InstanceView, compiled: Any = None) -> Table:
    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("NODE", overflow="fold")
    table.add_column("WAITS FOR", overflow="fold")
    table.add_column("DUE (UTC)", no_wrap=True)
    for wait in view.waits:
        if wait.kind == "MESSAGE":
            what = f"message {wait.message}"
        elif wait.kind == "BOUNDARY":
            what = "boundary timer"
            plan = compiled.plans.get(wait.node_id) if compiled is not None else None
            if plan is not None and wait.boundary is not None and wait.boundary < len(plan.boundaries):
                what = plan.boundaries[wait.boundary].describe().replace("◷ ", "boundary timer ")
                what += f" → edge {plan.boundaries[wait.boundary].edge_id}"
        else:
            plan = compiled.plans.get(wait.node_id) if compiled is not None else None
            what = f"timer {plan.timer.describe()}" if plan is not None and plan.timer is not None else "timer"
        table.add_row(shown(wait.node_id), shown(what), when(wait.due_at) if wait.due_at else "")
    return table


def _open_execution_ids(console: Console, view: InstanceView) -> None:
    """The full ids of the open executions, one a line, for copying into ``done``/``fail``/``retry``."""
    opened = [e for e in view.executions if e.status in OPEN]
    if not opened:
        return
    console.print(Text("Open executions (full ids; the short form above works too):", style="dim"))
    for e in opened:
        console.print(Text.assemble("  ", styled(e.status), f" {visible(e.id)}"), soft_wrap=True)


def _context_table(context: dict[str, Any]) -> Table:
    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("KEY", overflow="fold")
    table.add_column("VALUE (JSON)", overflow="fold")
    for key, value in context.items():
        table.add_row(shown(key), shown(compact_json(value, width=200)))
    return table


def _history_table(view: InstanceView) -> Table:
    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("#", justify="right")
    table.add_column("AT (UTC)", no_wrap=True)
    table.add_column("EVENT", no_wrap=True)
    table.add_column("NODE", no_wrap=True)
    table.add_column("BY", no_wrap=True)
    table.add_column("DETAILS", overflow="fold", ratio=1)
    for h in view.history:
        table.add_row(str(h.seq or ""), when(h.at)[5:], str(h.kind), shown(h.node_id or ""), shown(h.actor or ""),
                      shown(history_details(h.details)))
    return table


def history_details(details: dict[str, Any], width: int = 160) -> str:
    """``key=value`` pairs of a history entry, without token ids (a token's node is in the NODE column);
    control and bidi characters made visible."""
    ordered = sorted((item for item in details.items() if item[0] != "token_id"),
                     key=lambda item: item[0] in LONG_IDS)  # the long ids last: what matters is not cut off
    parts = [f"{key}={value if isinstance(value, str) and len(value) <= 40 else compact_json(value, width=60)}"
             for key, value in ordered]
    return _clip(visible(", ".join(parts)), width)

