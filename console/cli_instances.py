"""Instance subcommands that start and read: ``start``, ``list`` and ``show``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.text import Text

from console.cli_input import BadInputError, filter_text, open_operations, parse_json_object, read_text_file
from console.cli_options import ActorOption, DbOption, JsonOption, WorkflowFilterOption, actor_name, db_path
from console.cli_tables import instances_table, print_instance, stdout_console, styled
from console.formatting import shown
from console.output import (
    EXIT_DONE_WITH_INCIDENT,
    instance_doc,
    instance_summary_doc,
    iso,
    print_error,
    short_id,
    write_json,
)
from engine.actions import OPEN
from engine.errors import NoMatchingConditionError, WorkflowError
from engine.model import InstanceStatus
from engine.operations import Operations
from engine.ports import InstanceQuery, InstanceView
from engine.text import visible
from engine.values import MAX_VALUES_BYTES

InstanceArgument = Annotated[
    str, typer.Argument(metavar="INSTANCE", help="Instance id, or a unique prefix of it as `list` shows (3fa85f64).",
                        show_default=False),
]


# -- what an operator command reports -------------------------------------------------------------


def outcome_doc(view: InstanceView) -> dict[str, Any]:
    """The state of an instance after an action: status, where its tokens are, its open executions."""
    return {
        "instance_id": view.id,
        "short_id": short_id(view.id),
        "workflow_id": view.workflow_id,
        "version": view.version,
        "status": str(view.status),
        "error": view.error,
        "token_nodes": [t.node_id for t in view.tokens],
        "open_executions": [{"id": e.id, "node_id": e.node_id, "task_id": e.task_id, "status": str(e.status)}
                            for e in view.executions if e.status in OPEN],
    }


def outcome_text(view: InstanceView) -> Text:
    """One line: ``instance 3fa85f64 (loan_approval v1) is ACTIVE; open: manual_review (FAILED)``."""
    line = Text.assemble(shown(f"instance {short_id(view.id)} ({view.workflow_id} v{view.version}) is "),
                         styled(view.status))
    opened = [f"{e.node_id} ({e.status})" for e in view.executions if e.status in OPEN]
    if opened:
        line.append_text(shown(f"; open: {', '.join(opened)}"))
    if view.error:
        line.append_text(shown(f"; {view.error}", style="red"))
    return line


def report(ops: Operations, instance_id: str, as_json: bool, headline: str | None, **fields: Any) -> None:
    """Print what an operator command did and where the instance now stands (or the JSON of it)."""
    view = ops.instance(instance_id, history_limit=0)
    if as_json:
        write_json({**fields, "instance": outcome_doc(view)})
        return
    console = stdout_console()
    if headline:
        console.print(shown(headline), soft_wrap=True)
    console.print(outcome_text(view))


def no_match_hint(error: NoMatchingConditionError, done: str = "") -> str:
    """The engine's message plus what an operator can do about an instance stopped FAILED at a node (a split no
    condition of which matched, a timer whose time the context does not give).

    ``done`` says what was nevertheless committed (e.g. ``"the execution is completed, but "``).
    """
    sid = short_id(error.instance_id)
    return (f"{done}{error}; the instance is FAILED: set the variables it needs "
            f"(wfconsole set {sid} KEY=VALUE) then run `wfconsole retry-instance {sid}`")


def parse_status(text: str) -> InstanceStatus:
    """An instance status from its name in any case; :class:`BadInputError` naming the choices otherwise."""
    try:
        return InstanceStatus(text.strip().upper())
    except ValueError:
        choices = ", ".join(s.value for s in InstanceStatus)
        raise BadInputError(f"--status: {text!r} is not an instance status; expected one of {choices}") from None


# -- commands -------------------------------------------------------------------------------------


def start_command(
    ctx: typer.Context,
    workflow: Annotated[str, typer.Argument(metavar="WORKFLOW", help="A loaded workflow_id.", show_default=False)],
    context: Annotated[str | None, typer.Option("--context", metavar="JSON",
                                                help="Initial global context, a JSON object.")] = None,
    context_file: Annotated[str | None, typer.Option("--context-file", metavar="FILE",
                                                     help="Read the initial context from a JSON file (- for stdin).",
                                                     )] = None,
    db: DbOption = None, actor: ActorOption = None, as_json: JsonOption = False,
) -> None:
    """Start an instance of the newest version of a workflow and print its id.

    Example:  wfconsole start user_onboarding --context '{"user_email": "ada@example.com"}'

    Example:  wfconsole start loan_approval --context-file application.json --json
    """
    if context is not None and context_file is not None:
        raise BadInputError("give --context or --context-file, not both")
    initial: dict[str, Any] = {}
    if context is not None:
        initial = parse_json_object(context, "--context")
    elif context_file is not None:
        text = read_text_file(context_file, "context file",
                              too_large=f"an initial context is at most {MAX_VALUES_BYTES:,} bytes of JSON")
        initial = parse_json_object(text, context_file)
    with open_operations(db_path(ctx, db), actor=actor_name(actor)) as ops:
        result = ops.start(workflow, initial)
        report(ops, result.instance_id, as_json, f"Started instance {result.instance_id}", action="start")
        if result.stopped is not None:
            print_error(no_match_hint(result.stopped, "the instance was started, but "))
            raise typer.Exit(EXIT_DONE_WITH_INCIDENT)


def list_command(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option("--status", "-s", metavar="STATUS",
                                               help="Only instances in this status: ACTIVE, COMPLETED, FAILED "
                                                    "or CANCELLED.")] = None,
    workflow: WorkflowFilterOption = None,
    search: Annotated[str | None, typer.Option(
        "--search", "-q", metavar="TEXT",
        help="Only instances whose id, workflow, current nodes or a context value holds TEXT (any case), "
             "as the console's search.")] = None,
    task: Annotated[str | None, typer.Option(
        "--task", "-t", metavar="TASK",
        help="Only instances with an open (ACTIVE, FAILED or STUCK) execution of this task_id, as Enter on the "
             "console's open tasks.")] = None,
    overdue: Annotated[bool, typer.Option(
        "--overdue", help="Only instances with an ACTIVE execution past its deadline.")] = False,
    mine: Annotated[bool, typer.Option(
        "--mine", help="Only instances with an open task assigned to you ($WFCONSOLE_USER or your login "
                       "name; claim one with `wfconsole claim`).")] = False,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=10_000, help="At most this many rows.")] = 50,
    db: DbOption = None, as_json: JsonOption = False,
) -> None:
    """List instances, newest first, with short ids (the first 8 characters) that other commands accept.

    Example:  wfconsole list --status FAILED --workflow loan_approval

    Example:  wfconsole list --task manual_review      (the instances waiting for that task)

    Example:  wfconsole list --search ada@example.com

    Example:  wfconsole list --overdue                 (tasks past their deadline)

    Example:  wfconsole list --mine                    (tasks assigned to you)

    Example:  wfconsole list --json | jq -r '.instances[].id'
    """
    wanted = parse_status(status) if status is not None else None
    text = filter_text("--search", search)
    if search is not None and not text:
        raise BadInputError("--search needs some text")
    with open_operations(db_path(ctx, db)) as ops:
        if workflow:
            ops.require_workflow(workflow)
        task_id = filter_text("--task", task)
        overdue_at = datetime.now(UTC) if overdue else None
        assignee = ops.actor if mine else None
        summaries = ops.instances(InstanceQuery(status=wanted, workflow_id=workflow, text=text, task_id=task_id,
                                                overdue_at=overdue_at, assignee=assignee, limit=limit))
        counts = ops.count_instances(InstanceQuery(workflow_id=workflow, text=text, task_id=task_id,
                                                   overdue_at=overdue_at, assignee=assignee))
    total = counts.get(str(wanted), 0) if wanted else sum(counts.values())
    if as_json:
        write_json({"instances": [instance_summary_doc(s) for s in summaries], "total": total, "counts": counts})
        return
    console = stdout_console()
    if not summaries:
        console.print(shown("no instances" + (f" in status {wanted}" if wanted else "")
                            + (f" of workflow {workflow}" if workflow else "")
                            + (f" matching {text!r}" if text else "")
                            + (f" with an open execution of task {task_id}" if task_id else "")
                            + (" with a task past its deadline" if overdue else "")
                            + (f" with a task assigned to {assignee}" if assignee else "")))
        return
    console.print(instances_table(summaries))
    by_status = ", ".join(f"{name} {count}" for name, count in sorted(counts.items()))
    console.print(Text(f"{len(summaries)} of {total} instance(s) shown · {by_status}", style="dim"))


def show_command(
    ctx: typer.Context, instance: InstanceArgument,
    history: Annotated[int | None, typer.Option("--history", metavar="N", min=0,
                                                help="Only the newest N history entries. Default: all.")] = None,
    variable: Annotated[str | None, typer.Option("--variable", metavar="NAME",
                                                 help="Only this variable's changes: when, how, by whom, "
                                                      "to what.")] = None,
    db: DbOption = None, as_json: JsonOption = False,
) -> None:
    """Show one instance: status, tokens, executions (with full ids for `done`), context and history.

    Example:  wfconsole show 3fa85f64

    Example:  wfconsole show 3fa85f64 --json | jq '.context'
    """
    with open_operations(db_path(ctx, db)) as ops:
        if variable is not None:
            instance_id = ops.resolve_instance(instance)
            _print_variable(instance_id, variable, ops.variable_history(instance_id, variable), as_json)
            return
        view = ops.instance(ops.resolve_instance(instance), history_limit=history)
        try:
            compiled = ops.workflow(view.workflow_id, view.version)  # names the boundary timers it waits for
        except WorkflowError:
            compiled = None
    if as_json:
        write_json(instance_doc(view))
        return
    print_instance(stdout_console(), view, compiled)


def _print_variable(instance_id: str, name: str, changes: list, as_json: bool) -> None:
    """A variable's changes, oldest first (``show --variable``)."""
    if as_json:
        write_json({"instance_id": instance_id, "variable": name, "changes": [
            {"at": iso(c.at), "how": c.how, "actor": c.actor, "value": c.value, "execution_id": c.execution_id}
            for c in changes]})
        return
    console = stdout_console()
    for change in changes:
        shown_value = "(unset)" if change.how == "unset" else json.dumps(change.value, ensure_ascii=False)
        by = f" by {change.actor}" if change.actor else ""
        source = f" (output of {change.execution_id.split(':')[1]})" if change.execution_id else ""
        console.print(Text(visible(f"{iso(change.at)}  {change.how:<7} {name} = {shown_value}{by}{source}")),
                      soft_wrap=True)
