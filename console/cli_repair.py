"""Repair subcommands: ``move`` (tokens), ``migrate`` (to another version) and ``batch`` (an action on every
instance a filter matches), through the engine's :class:`~engine.operations.Operations`.

Each change is checked before it is applied (a join that could never fire, a token without its siblings, an
instance that could never finish): ``--dry-run`` shows the result and the findings and changes nothing; a
change that would leave the instance unable to finish is refused (exit 1) unless ``--force``, which the
history records.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.text import Text

from console.cli_input import BadInputError, filter_text, open_operations, parse_assignments
from console.cli_instances import InstanceArgument, parse_status
from console.cli_operate import render_result
from console.cli_options import ActorOption, DbOption, JsonOption, WorkflowFilterOption, actor_name, db_path
from console.cli_tables import stdout_console
from console.output import print_notice, write_json
from engine.errors import WorkflowError
from engine.ports import InstanceQuery
from engine.repair import RepairRefusedError
from engine.repair_ops import RepairPreview
from engine.text import visible

ForceOption = Annotated[bool, typer.Option("--force", help="Apply it even if the instance could then never "
                                                           "finish (recorded as forced).")]
DryRunOption = Annotated[bool, typer.Option("--dry-run", help="Show what it would do and what is wrong with the "
                                                              "result; change nothing.")]


class BatchRefusedError(WorkflowError):
    """Some instances of a batch were refused (the others were done)."""


def preview_doc(preview: RepairPreview) -> dict[str, Any]:
    return {"instance_id": preview.instance_id, "tokens": [{"node_id": n, "status": s} for n, s in preview.tokens],
            "executions_created": preview.created, "executions_cancelled": preview.cancelled,
            "status": preview.status, "version": preview.version, "refused": preview.refused,
            "problems": [{"kind": f.kind, "node_id": f.node_id, "message": f.message, "blocking": f.blocking}
                         for f in preview.findings]}


def print_preview(preview: RepairPreview) -> None:
    console = stdout_console()
    tokens = ", ".join(f"{node} ({status})" for node, status in preview.tokens) or "none"
    console.print(Text(visible(f"would leave instance {preview.instance_id[:8]} {preview.status} on version "
                               f"{preview.version} with tokens at {tokens}")), soft_wrap=True)
    if preview.created:
        console.print(Text(visible(f"  new executions at {', '.join(preview.created)}")), soft_wrap=True)
    if preview.cancelled:
        console.print(Text(visible(f"  cancelled executions at {', '.join(preview.cancelled)}")), soft_wrap=True)
    for finding in preview.findings:
        style = "bold red" if finding.blocking else "yellow"
        console.print(Text(visible(f"  {'refused' if finding.blocking else 'warning'}: {finding}"), style=style),
                      soft_wrap=True)
    verdict = "it would be refused (--force applies it)" if preview.refused else "nothing changed (dry run)"
    console.print(Text(verdict, style="dim"))


def move_command(
    ctx: typer.Context, instance: InstanceArgument,
    remove: Annotated[list[str] | None, typer.Option("--from", "--remove", metavar="NODE", show_default=False,
                                                     help="Remove the token(s) at this node (repeatable).")] = None,
    add: Annotated[list[str] | None, typer.Option("--to", "--add", metavar="NODE", show_default=False,
                                                  help="Place a token on this node (repeatable); a task gets a new "
                                                       "execution.")] = None,
    force: ForceOption = False, dry_run: DryRunOption = False,
    db: DbOption = None, actor: ActorOption = None, as_json: JsonOption = False,
) -> None:
    """Move tokens in one step: remove the tokens at --from nodes, place tokens on --to nodes.

    Skip ahead (--from review --to ship), go back (--from ship --to review), add a token (--to NODE alone) or
    remove one (--from NODE alone). A task a token is placed on gets a new execution, its inputs built from the
    current context.

    Example:  wfconsole move 3fa85f64 --from manual_review --to disburse_funds --dry-run
    """
    removing, adding = [n.strip() for n in remove or []], [n.strip() for n in add or []]
    if not removing and not adding:
        raise BadInputError("give --from NODE (remove the token there), --to NODE (place one there), or both")
    with open_operations(db_path(ctx, db), actor=actor_name(actor)) as ops:
        instance_id = ops.resolve_instance(instance)
        if dry_run:
            _show_preview(ops.preview_move(instance_id, removing, adding), as_json)
            return
        with _force_hint():
            result = ops.move_tokens(instance_id, removing, adding, forced=force)
        render_result(ops, result, as_json, removed=removing, added=adding, forced=force)


def migrate_command(
    ctx: typer.Context, instance: InstanceArgument,
    to_version: Annotated[int, typer.Option("--to-version", "-v", min=1, metavar="N", show_default=False,
                                            help="The version of the workflow to move to.")],
    mapping: Annotated[list[str] | None, typer.Option("--map", metavar="OLD=NEW", show_default=False,
                                                      help="Where tokens on a node renamed or removed go "
                                                           "(repeatable).")] = None,
    force: ForceOption = False, dry_run: DryRunOption = False,
    db: DbOption = None, actor: ActorOption = None, as_json: JsonOption = False,
) -> None:
    """Move an instance to another version of its workflow: each token to the node of the same id, or --map.

    A token whose node is gone in that version refuses the migration, naming it, until you map it.

    Example:  wfconsole migrate 3fa85f64 --to-version 2 --map credit_check=bureau_check --dry-run
    """
    nodes = parse_mapping(mapping or [])
    with open_operations(db_path(ctx, db), actor=actor_name(actor)) as ops:
        instance_id = ops.resolve_instance(instance)
        if dry_run:
            _show_preview(ops.preview_migration(instance_id, to_version, nodes), as_json)
            return
        with _force_hint():
            result = ops.migrate(instance_id, to_version, nodes, forced=force)
        render_result(ops, result, as_json, to_version=to_version, mapping=nodes, forced=force)


@contextmanager
def _force_hint() -> Iterator[None]:
    """A refusal that forcing would override says how to force it here: --force."""
    try:
        yield
    except RepairRefusedError as error:
        raise RepairRefusedError(error.findings, hint="--force applies it all the same (recorded as forced)") from None


def parse_mapping(items: list[str]) -> dict[str, str]:
    """``["a=b", ...]`` -> ``{"a": "b"}``; :class:`BadInputError` for an item that is not OLD=NEW."""
    found: dict[str, str] = {}
    for item in items:
        old, sep, new = item.partition("=")
        if not sep or not old.strip() or not new.strip():
            raise BadInputError(f"--map {item!r}: expected OLD=NEW, two node ids")
        found[old.strip()] = new.strip()
    return found


def _show_preview(preview: RepairPreview, as_json: bool) -> None:
    if as_json:
        write_json({"dry_run": True, **preview_doc(preview)})
    else:
        print_preview(preview)


def batch_command(
    ctx: typer.Context,
    action: Annotated[str, typer.Argument(metavar="ACTION", show_default=False,
                                          help="cancel, retry, resume, migrate, set or move.")],
    status: Annotated[str | None, typer.Option("--status", "-s", metavar="STATUS",
                                               help="Only instances in this status.")] = None,
    workflow: WorkflowFilterOption = None,
    version: Annotated[int | None, typer.Option("--version", metavar="N", help="Only instances of this version "
                                                                               "of --workflow.")] = None,
    search: Annotated[str | None, typer.Option("--search", "-q", metavar="TEXT", help="As `list --search`.")] = None,
    task: Annotated[str | None, typer.Option("--task", "-t", metavar="TASK", help="As `list --task`.")] = None,
    ids: Annotated[str | None, typer.Option("--ids", metavar="FILE", help="Instance ids, one a line (- for stdin), "
                                                                          "instead of a filter.")] = None,
    reason: Annotated[str | None, typer.Option("--reason", "-r", metavar="TEXT", help="For cancel.")] = None,
    to_version: Annotated[int | None, typer.Option("--to-version", metavar="N", help="For migrate.")] = None,
    mapping: Annotated[list[str] | None, typer.Option("--map", metavar="OLD=NEW", help="For migrate.")] = None,
    values: Annotated[list[str] | None, typer.Option("--value", metavar="KEY=JSON", help="For set.")] = None,
    remove: Annotated[list[str] | None, typer.Option("--from", metavar="NODE", help="For move.")] = None,
    add: Annotated[list[str] | None, typer.Option("--to", metavar="NODE", help="For move.")] = None,
    force: ForceOption = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Act without asking (the count is still shown).")] = False,
    resume: Annotated[str | None, typer.Option("--resume", metavar="BATCH_ID",
                                               help="Go on with a batch that was stopped: skip what it did.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count and list what it would act on.")] = False,
    db: DbOption = None, actor: ActorOption = None, as_json: JsonOption = False,
) -> None:
    """Do one action to every instance a filter matches (or a list of ids), each in its own transaction.

    The instances are chosen before it starts; the count is shown, and asked about unless --yes. Each one is
    recorded in its history with the actor and the batch id. Ctrl-C stops it between two instances; `--resume
    BATCH_ID` goes on without doing any twice. Refusals are reported per instance (exit 1).

    Example:  wfconsole batch cancel --workflow loan_approval --status FAILED --reason "bad rates" --yes

    Example:  wfconsole batch migrate --workflow loan_approval --version 1 --to-version 2 --dry-run
    """
    options = {} if dry_run else _batch_options(action, reason, to_version, mapping, values, remove, add, force)
    query = InstanceQuery(status=parse_status(status) if status else None, workflow_id=workflow, version=version,
                          text=filter_text("--search", search), task_id=filter_text("--task", task))
    with open_operations(db_path(ctx, db), actor=actor_name(actor)) as ops:
        act = ops.batch_action(action, **options)
        if workflow:
            ops.require_workflow(workflow)
        chosen = _read_ids(ops, ids) if ids else ops.matching_ids(query)
        if dry_run or not chosen:
            _print_chosen(chosen, action, as_json)
            return
        if not yes and not _confirmed(action, len(chosen)):
            raise typer.Exit(1)
        with _interruptible() as stop:
            result = ops.batch(chosen, act, batch_id=resume, should_stop=stop, progress=None if as_json else _progress)
    if not as_json and sys.stderr.isatty():
        sys.stderr.write("\n")
    document = {"batch_id": result.batch_id, "matched": len(chosen), "done": result.done, "skipped": result.skipped,
                "refused": [{"instance_id": i, "reason": r} for i, r in result.refused], "stopped": result.stopped}
    if as_json:
        write_json(document)
    else:
        stdout_console().print(Text(visible(
            f"batch {result.batch_id}: {action} done on {len(result.done)} of {len(chosen)}"
            + (f", {len(result.skipped)} done before" if result.skipped else "")
            + (f", stopped (wfconsole batch {action} ... --resume {result.batch_id} goes on)" if result.stopped
               else ""))))
    if result.refused:
        listed = "; ".join(f"{i[:8]}: {r}" for i, r in result.refused[:5])
        more = f"; and {len(result.refused) - 5} more" if len(result.refused) > 5 else ""
        raise BatchRefusedError(f"{len(result.refused)} of {len(chosen)} refused: {listed}{more}")


def _batch_options(action: str, reason: str | None, to_version: int | None, mapping: list[str] | None,
                   values: list[str] | None, remove: list[str] | None, add: list[str] | None,
                   force: bool) -> dict[str, Any]:
    """The options ``action`` needs, each checked before anything is chosen."""
    if action == "cancel":
        if not reason or not reason.strip():
            raise BadInputError("batch cancel needs --reason TEXT (kept in each instance's history)")
        return {"reason": reason}
    if action == "migrate":
        if to_version is None:
            raise BadInputError("batch migrate needs --to-version N")
        return {"to_version": to_version, "mapping": parse_mapping(mapping or []), "forced": force}
    if action == "set":
        if not values:
            raise BadInputError("batch set needs --value KEY=JSON (repeatable)")
        return {"values": parse_assignments(values)}
    if action == "move":
        if not remove and not add:
            raise BadInputError("batch move needs --from NODE and/or --to NODE")
        return {"remove": list(remove or []), "add": list(add or []), "forced": force}
    return {}


def _read_ids(ops: Any, source: str) -> list[str]:
    from console.cli_input import read_text_file

    lines = [line.strip() for line in read_text_file(source, "id list").splitlines() if line.strip()]
    return list(dict.fromkeys(ops.resolve_instance(line) for line in lines))


def _print_chosen(chosen: list[str], action: str, as_json: bool) -> None:
    if as_json:
        write_json({"dry_run": True, "action": action, "matched": len(chosen), "instance_ids": chosen})
        return
    console = stdout_console()
    for instance_id in chosen[:20]:
        console.print(instance_id)
    if len(chosen) > 20:
        console.print(Text(f"… and {len(chosen) - 20} more", style="dim"))
    console.print(Text(f"{len(chosen)} instance(s) match; {action} would act on each; nothing changed", style="dim"))


def _confirmed(action: str, count: int) -> bool:
    if not sys.stdin.isatty():
        raise BadInputError(f"{action} would act on {count} instance(s): add --yes to do it without a terminal "
                            "to ask on")
    answer = input(f"{action} {count} instance(s)? [y/N] ").strip().lower()
    if answer not in ("y", "yes"):
        print_notice("nothing done")
        return False
    return True


@contextmanager
def _interruptible() -> Iterator[Callable[[], bool]]:
    """Ctrl-C during a batch stops it between two instances (the one in its transaction finishes): yields
    whether it was pressed; the usual handler is back afterwards."""
    asked: list[bool] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: asked.append(True))
    try:
        yield lambda: bool(asked)
    finally:
        signal.signal(signal.SIGINT, previous)


def _progress(number: int, total: int) -> None:
    if sys.stderr.isatty() and (number % 50 == 0 or number == total):
        sys.stderr.write(f"\r{number:,} of {total:,}")
        sys.stderr.flush()
