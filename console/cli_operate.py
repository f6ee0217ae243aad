"""Operator subcommands: ``done``, ``fail``, ``retry``, ``retry-instance``, ``cancel``, ``set``, ``unset`` and
``retry-failed`` (every incident at once), through the engine's :class:`~engine.operations.Operations`.

Each is one engine transaction recorded in the instance's history with the actor (``--actor``, default
$WFCONSOLE_USER, else the OS user). An action asked of something in the wrong state is refused with exit code 1
and nothing changes.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.text import Text

from console.cli_input import BadInputError, open_operations, parse_assignments, parse_json_object
from console.cli_instances import InstanceArgument, no_match_hint, report
from console.cli_options import ActorOption, DbOption, JsonOption, WorkflowFilterOption, actor_name, db_path
from console.cli_tables import stdout_console
from console.output import EXIT_DONE_WITH_INCIDENT, print_error, print_notice, short_id, write_json
from engine.actions import Action
from engine.errors import NoMatchingConditionError, UnknownExecutionError, WorkflowError
from engine.operations import Operations
from engine.outcomes import ActionResult, Ignored
from engine.repair_ops import UnmappedOutputsError
from engine.reports import Incident
from engine.text import visible

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
    allow_unmapped: Annotated[bool, typer.Option(
        "--allow-unmapped", help="Accept output keys the task's output mapping does not map (dropped).")] = False,
    force: Annotated[bool, typer.Option("--force",
                                        help="Complete a task someone else has claimed (recorded).")] = False,
    db: DbOption = None, actor: ActorOption = None, as_json: JsonOption = False,
) -> None:
    """Complete an open execution with its outputs; the instance moves on.

    An output the task's output mapping does not map is refused, naming the nearest mapped one (a typo would
    otherwise be dropped silently), unless --allow-unmapped. When the next split tests a variable that neither
    the context nor the outputs set, a warning says so. Completing a FAILED or STUCK execution resolves its
    incident. Completing an execution that is already
    finished (or whose instance is no longer ACTIVE) changes nothing and says so (exit 0: safe to repeat).

    Example:  wfconsole done 3fa85f64:manual_review --outputs '{"decision": "approved"}'
    """
    values: dict[str, Any] = parse_json_object(outputs, "--outputs") if outputs is not None else {}
    with open_operations(db_path(ctx, db), actor=actor_name(actor)) as ops:
        execution_id = ops.resolve_execution(execution)
        try:
            result = ops.complete(execution_id, values, allow_unmapped=allow_unmapped, force=force)
        except UnmappedOutputsError as error:
            raise UnmappedOutputsError(f"{error}; --allow-unmapped sends them all the same", error.keys) from None
        if result.applied and not as_json:
            for warning in ops.completion_warnings(execution_id, values):
                print_notice(f"warning: {warning}")
        if result.completion is not None and result.completion.ignored is Ignored.UNKNOWN_EXECUTION:
            raise UnknownExecutionError(result.message)  # a mistyped id, not a repeat
        if not result.applied and not as_json:  # exit 0: repeating a completion is safe (SPEC §3)
            print_notice(result.message)
        render_result(ops, result, as_json, applied=result.applied, note=None if result.applied else result.message)


def fail_command(ctx: typer.Context, execution: ExecutionArgument, reason: ReasonOption,
                 db: DbOption = None, actor: ActorOption = None, as_json: JsonOption = False) -> None:
    """Mark an open execution FAILED: the instance keeps running its other branches and carries an incident.

    Example:  wfconsole fail 3fa85f64:charge_payment --reason "card declined by the bank"
    """
    _reason(reason)
    with open_operations(db_path(ctx, db), actor=actor_name(actor)) as ops:
        render_result(ops, ops.fail(ops.resolve_execution(execution), reason), as_json)


def retry_command(ctx: typer.Context, execution: ExecutionArgument,
                  db: DbOption = None, actor: ActorOption = None, as_json: JsonOption = False) -> None:
    """Retry a FAILED (or STUCK) execution: a new attempt with inputs rebuilt from the current context.

    Example:  wfconsole retry 3fa85f64:charge_payment
    """
    with open_operations(db_path(ctx, db), actor=actor_name(actor)) as ops:
        render_result(ops, ops.retry(ops.resolve_execution(execution)), as_json)


def retry_instance_command(ctx: typer.Context, instance: InstanceArgument,
                           db: DbOption = None, actor: ActorOption = None, as_json: JsonOption = False) -> None:
    """Evaluate again the exclusive split where a FAILED instance stopped; resume it if a condition now holds.

    Usually after `set` has given the conditions what they need.

    Example:  wfconsole set 3fa85f64 amount=2500 && wfconsole retry-instance 3fa85f64
    """
    with open_operations(db_path(ctx, db), actor=actor_name(actor)) as ops:
        instance_id = ops.resolve_instance(instance)
        try:
            result = ops.resume(instance_id)
        except NoMatchingConditionError as error:  # nothing changed: still the same way out
            raise NoMatchingConditionError(no_match_hint(error, "still: "), error.instance_id,
                                           error.node_id) from None
        render_result(ops, result, as_json)


def cancel_command(ctx: typer.Context, instance: InstanceArgument, reason: ReasonOption,
                   db: DbOption = None, actor: ActorOption = None, as_json: JsonOption = False) -> None:
    """Cancel an ACTIVE or FAILED instance: its open executions are cancelled and its tokens removed.

    Example:  wfconsole cancel 3fa85f64 --reason "customer withdrew the order"
    """
    _reason(reason)
    with open_operations(db_path(ctx, db), actor=actor_name(actor)) as ops:
        render_result(ops, ops.cancel(ops.resolve_instance(instance), reason), as_json)


ForceClaimOption = Annotated[bool, typer.Option(
    "--force", help="Act on a task someone else has claimed (recorded as forced).")]


def claim_command(ctx: typer.Context, execution: ExecutionArgument, force: ForceClaimOption = False,
                  db: DbOption = None, actor: ActorOption = None, as_json: JsonOption = False) -> None:
    """Claim a person's task: you (--actor, $WFCONSOLE_USER or your login name) become its assignee.

    A task someone else claimed is refused unless --force (recorded with whose claim it was).

    Example:  wfconsole claim 3fa85f64:manual_review
    """
    with open_operations(db_path(ctx, db), actor=actor_name(actor)) as ops:
        render_result(ops, ops.claim(ops.resolve_execution(execution), force=force), as_json)


def release_command(ctx: typer.Context, execution: ExecutionArgument, force: ForceClaimOption = False,
                    db: DbOption = None, actor: ActorOption = None, as_json: JsonOption = False) -> None:
    """Give a task you claimed back, so that anyone of its group may claim it (someone else's: --force).

    Example:  wfconsole release 3fa85f64:manual_review
    """
    with open_operations(db_path(ctx, db), actor=actor_name(actor)) as ops:
        render_result(ops, ops.release(ops.resolve_execution(execution), force=force), as_json)


def send_command(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help="The message's name, as the message event writes it.")],
    to: Annotated[str | None, typer.Option("--to", metavar="ID", help="The instance (id or a unique prefix).")] = None,
    key: Annotated[str | None, typer.Option("--key", metavar="KEY=VALUE",
                                            help="The waiting instance whose context holds this value (JSON; a "
                                                 "bare word is a string).")] = None,
    payload: Annotated[str, typer.Option("--payload", metavar="JSON",
                                         help="The message's payload, mapped into the context as the message "
                                              "event's output_mapping says.")] = "{}",
    db: DbOption = None, actor: ActorOption = None, as_json: JsonOption = False,
) -> None:
    """Deliver a message to the instance waiting for it at a message event: by --to ID or --key K=V.

    A message no instance waits for is refused (exit 1) and not kept: send it again once the instance waits.

    Example:  wfconsole send payment_received --key order_id=SO-1 --payload '{"amount": 120}'
    """
    if (to is None) == (key is None):
        raise BadInputError("give the instance: --to ID or --key KEY=VALUE (one of them)")
    body = parse_json_object(payload, "--payload")
    with open_operations(db_path(ctx, db), actor=actor_name(actor)) as ops:
        correlation = ops.resolve_instance(to) if to is not None else parse_assignments([key or ""])
        render_result(ops, ops.send_message(name, correlation, body), as_json)


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
    with open_operations(db_path(ctx, db), actor=actor_name(actor)) as ops:
        render_result(ops, ops.set_variables(ops.resolve_instance(instance), values), as_json, values=values)


def unset_command(
    ctx: typer.Context, instance: InstanceArgument,
    keys: Annotated[list[str], typer.Argument(metavar="KEY", show_default=False, help="Variables to delete.")],
    db: DbOption = None, actor: ActorOption = None, as_json: JsonOption = False,
) -> None:
    """Delete variables of an instance's global context (ACTIVE or FAILED instances).

    A variable the instance does not have is refused (nothing changes), naming the nearest one it has.

    Example:  wfconsole unset 3fa85f64 iban
    """
    names = [key.strip() for key in keys]
    if any(not name for name in names):
        raise BadInputError("a variable name must not be empty")
    with open_operations(db_path(ctx, db), actor=actor_name(actor)) as ops:
        render_result(ops, ops.unset_variables(ops.resolve_instance(instance), names), as_json, keys=names)


def render_result(ops: Operations, result: ActionResult, as_json: bool, **fields: Any) -> None:
    """Print what an operator action did and where the instance now stands (the JSON of it with ``--json``);
    when the instance then stopped at a split with no match, the way out on stderr and exit code 3."""
    document: dict[str, Any] = {"action": _ACTION_NAMES[result.action], "applied": result.applied,
                                "message": result.message}
    if result.execution_id:
        document["execution_id"] = result.execution_id
    if result.new_execution_id:
        document["new_execution_id"] = result.new_execution_id
    document.update(fields)
    headline = result.message if result.applied else None
    if result.new_execution_id and not as_json:
        headline = f"{headline}\nnew execution {result.new_execution_id}"
    report(ops, result.instance_id, as_json, headline, **document)
    if result.stopped is not None:
        print_error(no_match_hint(result.stopped, _RECORDED[result.action]))
        raise typer.Exit(EXIT_DONE_WITH_INCIDENT)


# What was stored when the instance then stopped at a split with no match.
_RECORDED = {Action.COMPLETE: "the completion was recorded, but ", Action.START: "the instance was started, but ",
             Action.RESUME: "the instance was resumed, but "}

# The ``action`` field of --json documents: the command's name, as scripts have read it.
_ACTION_NAMES = {Action.COMPLETE: "done", Action.FAIL: "fail", Action.RETRY: "retry", Action.CANCEL: "cancel",
                 Action.SET_VARIABLES: "set", Action.UNSET_VARIABLES: "unset", Action.RESUME: "retry_instance",
                 Action.START: "start", Action.MOVE_TOKENS: "move", Action.MIGRATE: "migrate",
                 Action.SEND_MESSAGE: "send", Action.CLAIM: "claim", Action.RELEASE: "release"}


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
    with open_operations(db_path(ctx, db), actor=actor_name(actor)) as ops:
        chosen = ops.retryable_incidents(task_id=task, workflow_id=workflow, stuck=stuck, limit=limit)
        result = None if dry_run else ops.bulk(chosen, lambda i: ops.retry(i.execution_id), lambda i: i.execution_id)
    retried = [{"execution_id": r.execution_id, "new_execution_id": r.new_execution_id}
               for r in (result.results if result else [])]
    refused = [{"execution_id": label, "reason": reason} for label, reason in (result.refused if result else [])]
    if as_json:
        write_json({"dry_run": dry_run, "matched": [i.execution_id for i in chosen], "retried": retried,
                    "refused": refused})
    else:
        _print_retried(chosen, retried, dry_run, stuck)
    if refused:
        listed = "; ".join(f"{r['execution_id']}: {r['reason']}" for r in refused[:5])
        more = f"; and {len(refused) - 5} more" if len(refused) > 5 else ""
        raise RetriesRefusedError(f"{len(refused)} of {len(chosen)} refused: {listed}{more}")


def _print_retried(chosen: list[Incident], retried: list[dict[str, str]], dry_run: bool, stuck: bool) -> None:
    console = stdout_console()
    if not chosen:
        console.print("no FAILED or STUCK executions match" if stuck else "no FAILED executions match")
    elif dry_run:
        for i in chosen:
            console.print(f"would retry {escape(visible(_reference(i.execution_id)))}  ({i.kind}, attempt {i.attempt})",
                          soft_wrap=True)
        console.print(Text(f"{len(chosen)} execution(s) would be retried; nothing changed", style="dim"))
    else:
        for item in retried:
            console.print(f"retried {escape(visible(_reference(item['execution_id'])))}  new execution "
                          f"{escape(visible(item['new_execution_id']))}", soft_wrap=True)
        console.print(Text(f"{len(retried)} of {len(chosen)} retried", style="dim"))
