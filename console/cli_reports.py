"""The read-only views of the console as subcommands: ``incidents``, ``history`` (a search across instances)
and ``blueprints``. Each prints a table, or one JSON document with ``--json``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from console.cli_input import BadInputError, filter_text, open_operations
from console.cli_options import DbOption, JsonOption, db_path
from console.cli_tables import STATUS_STYLES, blueprints_table, history_details, stdout_console, styled, when
from console.formatting import ConsoleClock, shown
from console.output import blueprint_summary_doc, history_doc, iso, short_id, write_json
from console.time_input import HINT, parse_time_bound
from engine.model import HistoryKind
from engine.reports import HistoryQuery, IncidentKind

LimitOption = Annotated[int, typer.Option("--limit", "-n", min=1, max=10_000, help="At most this many rows.")]


def incidents_command(ctx: typer.Context, limit: LimitOption = 200, db: DbOption = None,
                      as_json: JsonOption = False) -> None:
    """List what needs a person, oldest first: failed and stuck executions, instances stopped at a split with
    no matching condition, parallel joins that can no longer fire.

    The ACT ON column is what `done`, `fail` and `retry` take (an execution) or `retry-instance` and `cancel`
    (an instance).

    Example:  wfconsole incidents

    Example:  wfconsole incidents --json | jq -r '.incidents[] | select(.kind == "FAILED") | .execution_id'
    """
    with open_operations(db_path(ctx, db)) as ops:
        page = ops.incidents(limit)
        # What each stopped split tests, and the values it has now: what to set before retry-instance.
        needs = {i.key: ops.split_variables(i.instance_id).get(i.node_id, {}) for i in page.incidents
                 if i.kind is IncidentKind.NO_MATCH}
    if as_json:
        write_json({"incidents": [{
            "kind": i.kind, "instance_id": i.instance_id, "short_id": short_id(i.instance_id),
            "workflow_id": i.workflow_id, "version": i.version, "node_id": i.node_id, "since": iso(i.since),
            "reason": i.reason, "execution_id": i.execution_id, "task_id": i.task_id, "attempt": i.attempt,
            **({"variables": needs[i.key]} if i.key in needs else {}),
        } for i in page.incidents], "total": page.total, "failed": page.failed, "stuck": page.stuck})
        return
    console = stdout_console()
    if not page.incidents:
        console.print("no incidents")
        return
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    for name in ("KIND", "ACT ON", "SINCE (UTC)"):
        table.add_column(name, no_wrap=True)
    table.add_column("WORKFLOW", overflow="fold")
    table.add_column("TRY", justify="right")
    table.add_column("REASON", overflow="fold", ratio=1)
    for i in page.incidents:
        # An execution's incident is acted on with the execution (done, fail, retry), the others with the
        # instance (retry-instance, cancel), whose node is then shown beside it.
        target = (f"{short_id(i.instance_id)}:{i.node_id}" if i.execution_id
                  else f"{short_id(i.instance_id)} at {i.node_id}")
        reason = i.reason
        if i.key in needs:
            tested = ", ".join(f"{name}={json.dumps(value, ensure_ascii=False)}"
                               for name, value in needs[i.key].items())
            reason += f" · it tests {tested}" if tested else ""
        table.add_row(Text(_INCIDENT_LABELS[i.kind], style=STATUS_STYLES[_INCIDENT_STATUS[i.kind]]), shown(target),
                      _short_time(i.since), shown(f"{i.workflow_id} v{i.version}"), str(i.attempt or ""),
                      shown(reason))
    console.print(table)
    console.print(Text(f"{len(page.incidents)} of {page.total} incident(s) shown · failed {page.failed}, "
                       f"stuck {page.stuck}", style="dim"))


# Incident kinds as shown, coloured as the status of the token that cannot move on.
_INCIDENT_LABELS = {IncidentKind.FAILED: "FAILED", IncidentKind.STUCK: "STUCK", IncidentKind.NO_MATCH: "NO MATCH",
                    IncidentKind.JOIN_STUCK: "JOIN STUCK"}
_INCIDENT_STATUS = {IncidentKind.FAILED: "FAILED", IncidentKind.STUCK: "STUCK", IncidentKind.NO_MATCH: "FAILED",
                    IncidentKind.JOIN_STUCK: "STUCK"}


def _short_time(moment: datetime) -> str:
    """``MM-DD HH:MM:SS`` in UTC: the year costs a column and rarely tells anything here."""
    return when(moment)[5:]


def _history_kind(text: str) -> HistoryKind:
    """A history kind from its name in any case, spaces or dashes for underscores."""
    name = text.strip().upper().replace(" ", "_").replace("-", "_")
    try:
        return HistoryKind(name)
    except ValueError:
        choices = ", ".join(k.value for k in HistoryKind)
        raise BadInputError(f"--kind: {text!r} is not a history kind; expected one of {choices}") from None


def history_command(
    ctx: typer.Context,
    instance: Annotated[str | None, typer.Option("--instance", "-i", metavar="ID",
                                                 help="Only this instance (an id or a unique prefix).")] = None,
    kind: Annotated[str | None, typer.Option("--kind", "-k", metavar="KIND",
                                             help="Only entries of this kind, e.g. EXECUTION_FAILED.")] = None,
    node: Annotated[str | None, typer.Option("--node", metavar="TEXT",
                                             help="Only entries at a node whose id holds TEXT (any case).")] = None,
    actor: Annotated[str | None, typer.Option("--actor", metavar="TEXT",
                                              help="Only entries by an actor whose name holds TEXT.")] = None,
    since: Annotated[str | None, typer.Option("--since", metavar="TIME",
                                              help=f"From this time (UTC): {HINT}.")] = None,
    until: Annotated[str | None, typer.Option("--until", metavar="TIME",
                                              help="Before this time (UTC), same forms as --since.")] = None,
    limit: LimitOption = 200, db: DbOption = None, as_json: JsonOption = False,
) -> None:
    """Search the history of every instance, newest first: what happened, where, by whom, when.

    Example:  wfconsole history --kind EXECUTION_FAILED --since 1d

    Example:  wfconsole history --actor ada --since 2h --json
    """
    clock = ConsoleClock(tz=UTC)
    bounds = {}
    for option, text in (("--since", since), ("--until", until)):
        if text is not None:
            try:
                bounds[option] = parse_time_bound(text, clock)
            except ValueError as error:
                raise BadInputError(f"{option}: {error}") from None
    if bounds.get("--since") and bounds.get("--until") and bounds["--since"] >= bounds["--until"]:
        raise BadInputError(f"--since {since!r} is not before --until {until!r}: nothing could match")
    query_kind = _history_kind(kind) if kind is not None else None
    with open_operations(db_path(ctx, db)) as ops:
        instance_id = ops.resolve_instance(instance) if instance is not None else None
        hits = ops.search_history(HistoryQuery(
            instance_id=instance_id, kind=query_kind, node=filter_text("--node", node),
            actor=filter_text("--actor", actor), since=bounds.get("--since"), until=bounds.get("--until"),
            limit=limit))
    if as_json:
        write_json({"entries": [{**history_doc(h.entry), "instance_id": h.entry.instance_id,
                                 "workflow_id": h.workflow_id} for h in hits]})
        return
    console = stdout_console()
    if not hits:
        console.print("no history entries match")
        return
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    for name in ("AT (UTC)", "INSTANCE", "EVENT"):
        table.add_column(name, no_wrap=True)
    for name in ("WORKFLOW", "NODE", "BY"):
        table.add_column(name, overflow="fold")
    table.add_column("DETAILS", overflow="fold", ratio=1)
    for hit in hits:
        h = hit.entry
        table.add_row(_short_time(h.at), shown(short_id(h.instance_id or "")), str(h.kind), shown(hit.workflow_id),
                      shown(h.node_id or ""), shown(h.actor or ""), shown(history_details(h.details)))
    console.print(table)
    console.print(Text(f"{len(hits)} entr{'y' if len(hits) == 1 else 'ies'}, newest first"
                       + (" (the limit; --limit shows more)" if len(hits) >= limit else ""), style="dim"))


def blueprints_command(ctx: typer.Context, db: DbOption = None, as_json: JsonOption = False) -> None:
    """List the stored blueprints, every version, with their instances per status.

    Example:  wfconsole blueprints

    Example:  wfconsole blueprints --json | jq -r '.blueprints[].workflow_id'
    """
    with open_operations(db_path(ctx, db)) as ops:
        summaries = ops.blueprints()
        starts = ops.timer_starts()
    newest = {}
    for s in summaries:
        newest[s.workflow_id] = max(newest.get(s.workflow_id, 0), s.version)
    if as_json:
        docs = []
        for s in summaries:
            doc = blueprint_summary_doc(s)
            if s.workflow_id in starts and s.version == newest[s.workflow_id]:
                schedule, due = starts[s.workflow_id]
                doc["timer_start"] = {"schedule": schedule, "next_due": iso(due)}
            docs.append(doc)
        write_json({"blueprints": docs})
        return
    console = stdout_console()
    if not summaries:
        console.print("no blueprints; `wfconsole load FILE...` stores some")
        return
    shown_starts = {wf: f"{schedule} · next {when(due) if due else 'when a runtime first looks'}"
                    for wf, (schedule, due) in starts.items()}
    console.print(blueprints_table(summaries, {(wf, newest[wf]): text for wf, text in shown_starts.items()}))


def overview_command(ctx: typer.Context, db: DbOption = None, as_json: JsonOption = False) -> None:
    """The console's Overview: instances per status and workflow, open executions per task, incidents, and
    what started and finished in the last hour.

    Example:  wfconsole overview

    Example:  wfconsole overview --json | jq '.incidents.failed + .incidents.stuck'
    """
    clock = ConsoleClock(tz=UTC)
    now = clock.now()
    with open_operations(db_path(ctx, db)) as ops:
        counts = ops.execution_counts((), now)  # this command runs no workers
        activity = ops.activity(now)
    executions = {"running": counts.running, "waiting": counts.waiting}
    # As `incidents` and the console count them: an instance stopped at a split is a FAILED incident too.
    incidents = {"failed": counts.failed, "stuck": counts.stuck}
    last_hour = {"since": iso(activity.since), "instances_started": sum(activity.started),
                 "instances_completed": sum(activity.completed), "tasks_completed": sum(activity.tasks_completed)}
    if as_json:
        write_json({
            "instances": activity.by_status, "by_workflow": activity.by_workflow, "executions": executions,
            "incidents": incidents,
            "open_tasks": [{"task_id": t.task_id, "running": t.running, "waiting": t.waiting, "failed": t.failed,
                            "stuck": t.stuck, "overdue": t.overdue, "oldest_waiting": iso(t.oldest)}
                           for t in activity.open_tasks],
            "last_hour": {**last_hour, "per_minute": {"instances_started": activity.started,
                                                      "instances_completed": activity.completed,
                                                      "tasks_completed": activity.tasks_completed}},
        })
        return
    console = stdout_console()
    total = sum(activity.by_status.values())
    console.print(Text.assemble(("instances   ", "bold"), f"{total} · ", *_joined(activity.by_status)))
    console.print(Text.assemble(("executions  ", "bold"), f"{counts.running} running · {counts.waiting} waiting"))
    console.print(Text.assemble(("incidents   ", "bold"), styled("FAILED").append(f" {counts.failed}"), " · ",
                                styled("STUCK").append(f" {counts.stuck}")))
    console.print(Text.assemble(("last hour   ", "bold"),
                                f"{last_hour['instances_started']} started · {last_hour['instances_completed']} "
                                f"completed · {last_hour['tasks_completed']} tasks completed"))
    if activity.by_workflow:
        table = Table(show_header=True, header_style="bold", box=None, pad_edge=False, title_justify="left")
        statuses = sorted({s for by in activity.by_workflow.values() for s in by})
        table.add_column("WORKFLOW", overflow="fold")
        for status in statuses:
            table.add_column(status, justify="right")
        for workflow_id, by in sorted(activity.by_workflow.items()):
            table.add_row(shown(workflow_id), *(str(by.get(s, 0)) for s in statuses))
        console.print()
        console.print(table)
    if activity.open_tasks:
        table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
        table.add_column("OPEN TASK", overflow="fold")
        late = any(t.overdue for t in activity.open_tasks)  # the column only when some task is late
        for name in ("RUNNING", "WAITING", "FAILED", "STUCK", *(("OVERDUE",) if late else ())):
            table.add_column(name, justify="right")
        table.add_column("OLDEST WAITING (UTC)", no_wrap=True)
        for t in activity.open_tasks:
            table.add_row(shown(t.task_id), str(t.running), str(t.waiting), str(t.failed), str(t.stuck),
                          *((str(t.overdue),) if late else ()), _short_time(t.oldest) if t.oldest else "")
        console.print()
        console.print(table)


def _joined(by_status: dict[str, int]) -> list[Text | str]:
    """``ACTIVE 5 · COMPLETED 4``, each status in its colour."""
    parts: list[Text | str] = []
    for status, count in sorted(by_status.items()):
        if parts:
            parts.append(" · ")
        parts.append(styled(status).append(f" {count}"))
    return parts or ["none"]
