"""Operator subcommands: ``done``, ``fail``, ``retry``, ``retry-instance``, ``cancel``, ``set`` and
``retry-failed`` (every incident at once).

Each is one engine transaction recorded in the instance's history with the actor (``--actor``, default
the OS user). An action asked of something in the wrong state is refused with exit code 1 and nothing
changes.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.text import Text

from console.bulk import run_bulk
from console.cli_input import (
    BadInputError,
    open_manager,
    parse_assignments,
    parse_json_object,
    resolve_execution_id,
    resolve_instance_id,
)
from console.cli_instances import OPEN_EXECUTION_STATUSES, InstanceArgument, no_match_hint, report
from console.cli_options import ActorOption, DbOption, JsonOption, WorkflowFilterOption, actor_name, db_path
from console.cli_tables import stdout_console
from console.output import EXIT_DONE_WITH_INCIDENT, print_error, print_notice, short_id, write_json
from engine.errors import NoMatchingConditionError, UnknownWorkflowError, WorkflowError
from engine.text import visible
from store import reports

ExecutionArgument = Annotated[
    str, typer.Argument(metavar="EXECUTION", show_default=False,
                        help="Execution id as `show` prints it, or <instance-prefix>:<node_id> for the one open "
                             "execution at that node (3fa85f64:manual_review)."),
]
ReasonOption = Annotated[str, typer.Option("--reason", "-r", metavar="TEXT", help="Why: kept in the history.",
                                           show_default=False)]


def _reference(execution_id: str) -> str:
    """``<instance-prefix>:<node_id>``, as the other commands take an execution."""
    instance_id, node_id = execution_id.split(":")[:2]
    return f"{short_id(instance_id)}:{node_id}"


class RetriesRefusedError(WorkflowError):
    """Some of the executions ``retry-failed`` chose were refused (the others were retried)."""


def _reason(text: str) -> str:
    if not text.strip():
        raise BadInputError("--reason must not be empty")
    return text.strip()


def done_command(
    ctx: typer.Context, execution: ExecutionArgument,
    outputs: Annotated[str | None, typer.Option("--outputs", "-o", metavar="JSON",
                                                help="The task's outputs, a JSON object.")] = None,
    db: DbOption = None, actor: ActorOption = None, as_json: JsonOption = False,
) -> None:
    """Complete an open execution with its outputs; the instance moves on.

    Completing a FAILED or STUCK execution resolves its incident. Completing an execution that is already
    finished (or whose instance is no longer ACTIVE) changes nothing and says so (exit 0: safe to repeat).

    Example:  wfconsole done 3fa85f64:manual_review --outputs '{"decision": "approved"}'
    """
    values: dict[str, Any] = parse_json_object(outputs, "--outputs") if outputs is not None else {}
    with open_manager(db_path(ctx, db)) as wm:
        execution_id = resolve_execution_id(wm, execution)
        before = wm.get_execution(execution_id)
        instance = wm.get_status(before.instance_id, history_limit=0)
        ignored = None
        if before.status not in OPEN_EXECUTION_STATUSES:
            ignored = f"execution {execution_id} is already {before.status}: nothing changed"
        elif instance.status != "ACTIVE":
            ignored = f"instance {instance.id} is {instance.status}: the completion was ignored, nothing changed"
        else:
            try:
                wm.task_done(execution_id, values, actor=actor_name(actor))
            except NoMatchingConditionError as error:
                report(wm, before.instance_id, as_json, f"Completed {execution_id}", action="done",
                       execution_id=execution_id, applied=True, note=None)
                print_error(no_match_hint(error, "the completion was recorded, but "))
                raise typer.Exit(EXIT_DONE_WITH_INCIDENT) from None
        if ignored and not as_json:
            print_notice(ignored)
        report(wm, before.instance_id, as_json, None if ignored else f"Completed {execution_id}",
               action="done", execution_id=execution_id, applied=ignored is None, note=ignored)


def fail_command(ctx: typer.Context, execution: ExecutionArgument, reason: ReasonOption,
                 db: DbOption = None, actor: ActorOption = None, as_json: JsonOption = False) -> None:
    """Mark an open execution FAILED: the instance keeps running its other branches and carries an incident.

    Example:  wfconsole fail 3fa85f64:charge_payment --reason "card declined by the bank"
    """
    why = _reason(reason)
    with open_manager(db_path(ctx, db)) as wm:
        execution_id = resolve_execution_id(wm, execution)
        wm.fail_task(execution_id, why, actor=actor_name(actor))
        instance_id = wm.get_execution(execution_id).instance_id
        report(wm, instance_id, as_json, f"Failed {execution_id}", action="fail", execution_id=execution_id)


def retry_command(ctx: typer.Context, execution: ExecutionArgument,
                  db: DbOption = None, actor: ActorOption = None, as_json: JsonOption = False) -> None:
    """Retry a FAILED (or STUCK) execution: a new attempt with inputs rebuilt from the current context.

    Example:  wfconsole retry 3fa85f64:charge_payment
    """
    with open_manager(db_path(ctx, db)) as wm:
        execution_id = resolve_execution_id(wm, execution)
        new_id = wm.retry(execution_id, actor=actor_name(actor))
        instance_id = wm.get_execution(new_id).instance_id
        report(wm, instance_id, as_json, f"Retried {execution_id}\nnew execution {new_id}", action="retry",
               execution_id=execution_id, new_execution_id=new_id)


def retry_instance_command(ctx: typer.Context, instance: InstanceArgument,
                           db: DbOption = None, actor: ActorOption = None, as_json: JsonOption = False) -> None:
    """Evaluate again the exclusive split where a FAILED instance stopped; resume it if a condition now holds.

    Usually after `set` has given the conditions what they need.

    Example:  wfconsole set 3fa85f64 amount=2500 && wfconsole retry-instance 3fa85f64
    """
    with open_manager(db_path(ctx, db)) as wm:
        instance_id = resolve_instance_id(wm, instance)
        try:
            wm.retry_instance(instance_id, actor=actor_name(actor))
        except NoMatchingConditionError as error:  # nothing changed: still the same way out
            raise NoMatchingConditionError(no_match_hint(error, "still: "), error.instance_id,
                                           error.node_id) from None
        report(wm, instance_id, as_json, f"Resumed instance {instance_id}", action="retry_instance")


def cancel_command(ctx: typer.Context, instance: InstanceArgument, reason: ReasonOption,
                   db: DbOption = None, actor: ActorOption = None, as_json: JsonOption = False) -> None:
    """Cancel an ACTIVE or FAILED instance: its open executions are cancelled and its tokens removed.

    Example:  wfconsole cancel 3fa85f64 --reason "customer withdrew the order"
    """
    why = _reason(reason)
    with open_manager(db_path(ctx, db)) as wm:
        instance_id = resolve_instance_id(wm, instance)
        wm.cancel(instance_id, why, actor=actor_name(actor))
        report(wm, instance_id, as_json, f"Cancelled instance {instance_id}", action="cancel")


def set_command(
    ctx: typer.Context, instance: InstanceArgument,
    assignments: Annotated[list[str], typer.Argument(metavar="KEY=JSON", show_default=False,
                                                     help="Values to write; a bare word is a string.")],
    db: DbOption = None, actor: ActorOption = None, as_json: JsonOption = False,
) -> None:
    """Write variables of an instance's global context (ACTIVE or FAILED instances).

    Each value is JSON (5000, true, null, {"a": 1}, ["x"]); a bare word is a string, so status=approved
    sets "approved". Quote a JSON string to keep digits as text: zip='"01234"'.

    Example:  wfconsole set 3fa85f64 amount=2500 approved=true reviewer=alice
    """
    values = parse_assignments(assignments)
    with open_manager(db_path(ctx, db)) as wm:
        instance_id = resolve_instance_id(wm, instance)
        wm.set_variables(instance_id, values, actor=actor_name(actor))
        report(wm, instance_id, as_json, f"Set {', '.join(sorted(values))} on instance {instance_id}",
               action="set", values=values)


def retry_failed_command(
    ctx: typer.Context,
    task: Annotated[str | None, typer.Option("--task", "-t", metavar="TASK",
                                             help="Only executions of this task_id.")] = None,
    workflow: WorkflowFilterOption = None,
    stuck: Annotated[bool, typer.Option("--stuck", help="Retry STUCK executions too.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would be retried; change nothing.")] = False,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=10_000,
                                       help="At most this many, oldest incident first.")] = 1000,
    db: DbOption = None, actor: ActorOption = None, as_json: JsonOption = False,
) -> None:
    """Retry every FAILED execution (and STUCK ones with --stuck), oldest first, each in its own transaction:
    the console's "mark all, retry" on the incidents. One refusal does not stop the rest; if any is refused
    the command says which and why, and exits 1.

    Example:  wfconsole retry-failed --task charge_payment --dry-run

    Example:  wfconsole retry-failed --workflow order_fulfilment --stuck --actor ops-ada
    """
    kinds = {"FAILED", "STUCK"} if stuck else {"FAILED"}
    with open_manager(db_path(ctx, db)) as wm:
        if workflow and wm.store.get_blueprint(workflow) is None:
            raise UnknownWorkflowError(f"unknown workflow {workflow!r}")
        if task and not any(node.task_id == task for summary in wm.store.list_blueprints()
                            for node in wm.get_workflow(summary.workflow_id, summary.version).nodes.values()):
            raise WorkflowError(f"unknown task {task!r}: no stored blueprint has a node with that task_id")
        page = reports.list_incidents(wm.store, limit=1_000_000)
        chosen = [i for i in page.incidents if i.kind in kinds and i.execution_id is not None
                  and (task is None or i.task_id == task) and (workflow is None or i.workflow_id == workflow)]
        chosen = chosen[:limit]
        retried: list[dict[str, str]] = []
        if dry_run:
            result = None
        else:
            who = actor_name(actor)

            def retry_one(incident: reports.Incident) -> None:
                new_id = wm.retry(incident.execution_id, actor=who)
                retried.append({"execution_id": incident.execution_id, "new_execution_id": new_id})

            result = run_bulk(chosen, retry_one, lambda incident: incident.execution_id)
    refused = [{"execution_id": label, "reason": reason} for label, reason in (result.refused if result else [])]
    if as_json:
        write_json({"dry_run": dry_run, "matched": [i.execution_id for i in chosen], "retried": retried,
                    "refused": refused})
    else:
        console = stdout_console()
        if not chosen:
            console.print("no " + " or ".join(sorted(kinds, reverse=True)) + " executions match")
        elif dry_run:
            for i in chosen:
                console.print(f"would retry {escape(visible(_reference(i.execution_id)))}  ({i.kind}, "
                              f"attempt {i.attempt})", soft_wrap=True)
            console.print(Text(f"{len(chosen)} execution(s) would be retried; nothing changed", style="dim"))
        else:
            for item in retried:
                console.print(f"retried {escape(visible(_reference(item['execution_id'])))}  new execution "
                              f"{escape(visible(item['new_execution_id']))}", soft_wrap=True)
            console.print(Text(f"{len(retried)} of {len(chosen)} retried", style="dim"))
    if refused:
        listed = "; ".join(f"{r['execution_id']}: {r['reason']}" for r in refused[:5])
        more = f"; and {len(refused) - 5} more" if len(refused) > 5 else ""
        raise RetriesRefusedError(f"{len(refused)} of {len(chosen)} refused: {listed}{more}")
