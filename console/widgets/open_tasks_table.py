"""Open executions per task: who handles the task (a worker here, or a person), running, waiting, failed."""

from __future__ import annotations

from collections.abc import Collection

from rich.text import Text
from textual import on
from textual.message import Message
from textual.widgets import DataTable

from console import keymap
from console.formatting import STATUS_STYLES, ConsoleClock, shown
from engine.reports import OpenTask


class OpenTasksTable(DataTable[object]):
    """One row per task with open executions; the tasks waiting longest for a person stand out. Enter posts
    :class:`OpenTasksTable.Chosen` with the task under the cursor."""

    BINDINGS = [*keymap.LIST_MOTION, *keymap.LIST_ITS]

    class Chosen(Message):
        """The operator chose a task: list the instances with an open execution of it."""

        def __init__(self, task_id: str) -> None:
            super().__init__()
            self.task_id = task_id

    DEFAULT_CSS = """
    OpenTasksTable { height: auto; max-height: 100%; }
    """

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        self._add_columns()

    def _add_columns(self, late: bool = False) -> None:
        self.add_column("TASK", key="task")
        self.add_column("HANDLED BY", key="by")
        for label in ("RUNNING", "WAITING", "FAILED", "STUCK", *(("OVERDUE",) if late else ())):
            self.add_column(Text(label, justify="right"), key=label)
        self.add_column(Text("OLDEST", justify="right"), key="oldest")  # how long the oldest one has waited

    def show(self, tasks: list[OpenTask], local_task_ids: Collection[str], clock: ConsoleClock) -> None:
        """Replace the rows: tasks a person must do first, the longest waiting first."""
        row = self.cursor_row
        self.clear(columns=True)  # the widths follow the tasks listed now, not every task ever listed
        late = any(task.overdue for task in tasks)  # the column only while some task is past its deadline
        self._add_columns(late)
        ordered = sorted(tasks, key=lambda t: (t.task_id in local_task_ids,
                                               -(clock.now() - t.oldest).total_seconds() if t.oldest else 0))
        for task in ordered:
            local = task.task_id in local_task_ids
            handler = (Text("worker here", style="green") if local
                       else Text("worker elsewhere", style="dodger_blue1") if task.running
                       else Text("a person", style="orange1"))
            cells: list[object] = [shown(task.task_id, style="bold"), handler]
            for value, status in ((task.running, "ACTIVE"), (task.waiting, "WAITING"), (task.failed, "FAILED"),
                                  (task.stuck, "STUCK")):
                cells.append(Text(f"{value:,}", style=STATUS_STYLES.get(status, "") if value else "dim",
                                  justify="right"))
            if late:
                cells.append(Text(f"{task.overdue:,}", style="bold red" if task.overdue else "dim", justify="right"))
            cells.append(Text(clock.age(task.oldest) if task.oldest else "", justify="right"))
            self.add_row(*cells, key=task.task_id)
        if tasks:
            self.move_cursor(row=min(row, len(tasks) - 1), animate=False)

    @on(DataTable.RowSelected)
    def _chosen(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.post_message(self.Chosen(str(event.row_key.value)))
