"""The person's tasks: one row per task waiting for a person, oldest first, with who has it and how late it is."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.message import Message
from textual.widgets import DataTable

from console import keymap
from console.formatting import ConsoleClock, due_text, short_id, shown, task_references
from console.widgets.columned_table import ColumnedTable
from engine.ports import PersonTask

NARROW_NAME = 26  # characters of a task's name under 120 columns: the deadline and the wait keep their room
NARROW_WHO = 16


def clip(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters with an ellipsis."""
    return text if len(text) <= width else text[: width - 1] + "…"


def who_cell(task: PersonTask, actor: str, with_group: bool) -> Text:
    """Who has the task (``alice``, bold when it is you), else the group that may claim it (``(claims)``, dim)
    when ``with_group``, else ``—``."""
    assignee, group = task.execution.assignee, task.execution.candidate_group
    width = NARROW_WHO if with_group else 10_000
    if assignee:
        return shown(clip(f"{assignee} (you)" if assignee == actor else assignee, width),
                     style="bold cyan" if assignee == actor else "cyan")
    if with_group and group:
        return shown(clip(f"({group})", width), style="dim")
    return Text("—", style="dim")


def due_cell(task: PersonTask, clock: ConsoleClock) -> Text:
    """``late 3m`` in red, ``due in 2h05m`` dim, nothing without a deadline."""
    due = due_text(task.execution.due_at, clock.now())
    return Text(due, style="bold red" if due.startswith("late") else "dim")


class TasksTable(ColumnedTable):
    """The tasks of the scope and filter in force. Enter (or a click on the selected row) posts
    :class:`TasksTable.Opened` with the task's instance and execution."""

    DEFAULT_CSS = """
    TasksTable { height: 1fr; }
    """

    BINDINGS = keymap.OPEN_INSTANCE

    COLUMNS = ("TASK", "TASK ID", "WORKFLOW", "ASSIGNEE", "GROUP", "DUE", "WAITING", "SINCE")
    # Under 120 columns: the instance's short id for the task's (whose node the name says), names cut to fit, and
    # the group in the assignee's place while nobody holds the task.
    NARROW_COLUMNS = ("TASK", "INSTANCE", "ASSIGNEE", "DUE", "WAITING")

    class Opened(Message):
        """The operator chose a task: show its instance with the task's execution selected."""

        def __init__(self, task: PersonTask) -> None:
            super().__init__()
            self.task = task

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's own name
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self._rows: list[PersonTask] = []
        self._shown: tuple[ConsoleClock, str] | None = None

    def on_resize(self) -> None:
        if self._shown is not None and [k.value for k in self.columns] != list(self.shown_columns()):
            self.show(self._rows, *self._shown)  # the columns for the new width

    @property
    def selected(self) -> PersonTask | None:
        """The task under the cursor, or ``None`` when none is listed."""
        if not self._rows or not 0 <= self.cursor_row < len(self._rows):
            return None
        return self._rows[self.cursor_row]

    def show(self, tasks: list[PersonTask], clock: ConsoleClock, actor: str) -> None:
        """Replace the rows, keeping the cursor on the same task while it is listed (``actor``: you)."""
        self._shown = (clock, actor)
        keep = self.selected.execution.id if self.selected is not None else None
        row_index = self.cursor_row
        self.ensure_columns()  # after reading the cursor: new columns clear the rows, and the cursor goes to 0
        self._rows = list(tasks)
        self.clear()
        narrow = "GROUP" not in self.shown_columns()
        references = task_references([task.execution.id for task in tasks])
        for task in tasks:
            execution = task.execution
            name = task.name or execution.task_id
            self.add_cells({
                "TASK": shown(clip(name, NARROW_NAME) if narrow else name, style="bold"),
                "TASK ID": references[execution.id],
                "INSTANCE": short_id(execution.instance_id),
                "WORKFLOW": f"{task.workflow_id}@{task.version}",
                "ASSIGNEE": who_cell(task, actor, with_group=narrow),
                "GROUP": execution.candidate_group or "",
                "DUE": due_cell(task, clock),
                "WAITING": Text(clock.age(execution.created_at), justify="right"),
                "SINCE": clock.stamp(execution.created_at),
            }, key=execution.id)
        ids = [task.execution.id for task in tasks]
        if keep in ids:
            row_index = ids.index(keep)
        if tasks:
            self.move_cursor(row=min(max(row_index, 0), len(tasks) - 1), animate=False)

    @on(DataTable.RowSelected)
    def _opened(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if self.selected is not None:
            self.post_message(self.Opened(self.selected))
