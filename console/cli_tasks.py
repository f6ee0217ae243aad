"""``wfconsole tasks``: the person's tasks, as Camunda Tasklist lists them: every open one, yours (``--mine``)
or those nobody holds (``--unassigned``), oldest first, with their deadlines and who may claim them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from console.cli_input import BadInputError, filter_text, open_operations
from console.cli_options import ActorOption, DbOption, JsonOption, actor_name, db_path
from console.cli_tables import stdout_console, when
from console.formatting import due_text, duration, shown, task_references
from console.output import iso, write_json
from engine.ports import PersonTask, TaskPage, TaskQuery, WaitingFor


def tasks_command(
    ctx: typer.Context,
    mine: Annotated[bool, typer.Option(
        "--mine", help="Only the tasks assigned to you (--actor, $WFCONSOLE_USER or your login name).")] = False,
    unassigned: Annotated[bool, typer.Option(
        "--unassigned", help="Only the tasks assigned to nobody: anyone may claim them (`wfconsole claim`).")] = False,
    group: Annotated[str | None, typer.Option(
        "--group", "-g", metavar="GROUP", help="Only the tasks whose candidate group is GROUP.")] = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="Only the tasks past their deadline.")] = False,
    workflow: Annotated[str | None, typer.Option(
        "--workflow", "-w", metavar="WORKFLOW", help="Only the tasks of instances of this workflow_id.")] = None,
    task: Annotated[str | None, typer.Option(
        "--task", "-t", metavar="TASK", help="Only the executions of this task_id.")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=10_000, help="At most this many rows.")] = 50,
    db: DbOption = None, actor: ActorOption = None, as_json: JsonOption = False,
) -> None:
    """List the tasks waiting for a person, oldest first, with ids that `done`, `claim` and `release` accept.

    A person's task is an ACTIVE execution no worker runs: what the console's header counts as waiting for a person.

    Oldest first: who has waited longest comes first, as in a queue; DUE says how late each one is.

    Example:  wfconsole tasks --mine                  (assigned to you)

    Example:  wfconsole tasks --unassigned --group loan-officers   (yours to claim)

    Example:  wfconsole tasks --overdue --json | jq -r '.tasks[].execution_id'
    """
    if mine and unassigned:
        raise BadInputError("give --mine or --unassigned, not both: a task assigned to you is not unassigned")
    group_name, task_id = filter_text("--group", group), filter_text("--task", task)
    with open_operations(db_path(ctx, db), actor=actor_name(actor)) as ops:
        if workflow:
            ops.require_workflow(workflow)
        if task_id:
            ops.require_task(task_id)
        now = datetime.now(UTC)
        query = TaskQuery(WaitingFor(now), assignee=ops.actor if mine else None, unassigned=unassigned,
                          candidate_group=group_name, overdue_at=now if overdue else None, workflow_id=workflow,
                          task_id=task_id, limit=limit)
        page = ops.tasks(query)
    if as_json:
        write_json(tasks_doc(page, now))
        return
    console = stdout_console()
    if not page.tasks:
        console.print(Text(f"no open tasks{searched(query)}", style="dim"), soft_wrap=True)
        return
    console.print(tasks_table(page.tasks, now, console.width))
    console.print(Text(f"{len(page.tasks)} of {page.total} open task(s) shown{searched(query)}, oldest first",
                       style="dim"), soft_wrap=True)


def searched(query: TaskQuery) -> str:
    """What a task query looked for, in words: `` assigned to alice in group ops past their deadline``."""
    parts = [f" assigned to {query.assignee}" if query.assignee else "",
             " assigned to nobody" if query.unassigned else "",
             f" in group {query.candidate_group}" if query.candidate_group else "",
             f" of workflow {query.workflow_id}" if query.workflow_id else "",
             f" of task {query.task_id}" if query.task_id else "",
             " past their deadline" if query.overdue_at is not None else ""]
    return "".join(parts)


NARROW_WIDTH = 100  # columns: under this the workflow goes and the group takes the assignee's place


def tasks_table(tasks: list[PersonTask], now: datetime, width: int = 400) -> Table:
    """One row per task: the id to act on, task, workflow, who has it, who may claim it, deadline, how long it
    has waited and since when. The group and deadline columns only when a row has one (a Go blueprint's tasks have
    neither); under :data:`NARROW_WIDTH` columns no workflow and no start, and the group in the assignee's place
    (``(finance)``)."""
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    narrow = width < NARROW_WIDTH
    groups = not narrow and any(task.execution.candidate_group for task in tasks)
    deadlines = any(task.execution.due_at for task in tasks)
    table.add_column("TASK ID", no_wrap=True)
    table.add_column("TASK", overflow="fold", ratio=1)
    if not narrow:
        table.add_column("WORKFLOW", no_wrap=True)
    table.add_column("ASSIGNEE", overflow="fold")
    if groups:
        table.add_column("GROUP", overflow="fold")
    if deadlines:
        table.add_column("DUE", no_wrap=True)
    table.add_column("WAITING", no_wrap=True, justify="right")
    if not narrow:
        table.add_column("SINCE (UTC)", no_wrap=True)
    references = task_references([task.execution.id for task in tasks])
    for task in tasks:
        execution = task.execution
        cells: list[Any] = [shown(references[execution.id]), shown(task.name or execution.task_id)]
        if not narrow:
            cells.append(shown(f"{task.workflow_id} v{task.version}"))
        if execution.assignee or not narrow or not execution.candidate_group:
            cells.append(shown(execution.assignee or "—"))
        else:
            cells.append(shown(f"({execution.candidate_group})", style="dim"))
        if groups:
            cells.append(shown(execution.candidate_group or ""))
        if deadlines:
            late = due_text(execution.due_at, now)
            cells.append(Text(late, style="bold red" if late.startswith("late") else ""))
        cells.append(duration(now - execution.created_at))
        if not narrow:
            cells.append(when(execution.created_at))
        table.add_row(*cells)
    return table


def tasks_doc(page: TaskPage, now: datetime) -> dict[str, Any]:
    """``wfconsole tasks --json``: each task with the id to act on, and how many match in all."""
    references = task_references([task.execution.id for task in page.tasks])
    return {"tasks": [{
        "execution_id": task.execution.id,
        "reference": references[task.execution.id],
        "instance_id": task.execution.instance_id,
        "node_id": task.execution.node_id,
        "task_id": task.execution.task_id,
        "name": task.name,
        "workflow_id": task.workflow_id,
        "version": task.version,
        "instance_status": str(task.instance_status),
        "assignee": task.execution.assignee,
        "candidate_group": task.execution.candidate_group,
        "due_at": iso(task.execution.due_at),
        "overdue": task.execution.due_at is not None and now >= task.execution.due_at,
        "waiting_since": iso(task.execution.created_at),
        "attempt": task.execution.attempt,
    } for task in page.tasks], "total": page.total}
