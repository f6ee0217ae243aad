"""The executions of one instance: every visit of a token to a task, the open ones first to act on."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text

from console import keymap
from console.formatting import (
    ConsoleClock,
    compact_json,
    due_text,
    error_note,
    short_execution_id,
    shown,
    status_text,
)
from console.widgets.columned_table import ColumnedTable
from engine import Execution, HistoryEntry
from engine.actions import INCIDENT
from engine.model import ExecutionStatus

OPEN_STATUSES = (*INCIDENT, ExecutionStatus.ACTIVE)  # the order the cursor looks for one in: incidents first


def status_cell(execution: Execution, clock: ConsoleClock) -> Text:
    """The status, and for an open execution with a deadline how late it is (``ACTIVE late 12m``)."""
    cell = status_text(execution.status)
    due = due_text(execution.due_at, clock.now(), execution.status in OPEN_STATUSES)
    if due:
        cell.append(f" {due}", style="bold red" if due.startswith("late") else "dim")
    return cell


def task_cell(execution: Execution) -> Text:
    """The task, and who works on it or may claim it (``review_claim @alice``, ``review_claim (loan-officers)``)."""
    cell = shown(execution.task_id)
    if execution.assignee:
        cell.append(f" @{execution.assignee}", style="bold cyan")
    elif execution.candidate_group:
        cell.append(f" ({execution.candidate_group})", style="dim")
    return cell


class ExecutionsTable(ColumnedTable):
    """Executions in the order they were created; the cursor picks the one the actions apply to."""

    DEFAULT_CSS = """
    ExecutionsTable { height: 1fr; }
    """

    BINDINGS = keymap.OPEN_EXECUTION

    COLUMNS = ("STATUS", "NODE", "TASK", "TRY", "EXECUTION", "AGE", "CHANGED", "OUTPUTS / ERROR")
    NARROW_COLUMNS = ("STATUS", "NODE", "TRY", "CHANGED", "OUTPUTS / ERROR")

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self._executions: list[Execution] = []
        self._shown: tuple[ConsoleClock, Sequence[HistoryEntry]] | None = None

    def on_resize(self) -> None:
        if self._shown is not None and [k.value for k in self.columns] != list(self.shown_columns()):
            self.show(self._executions, *self._shown)  # the columns for the new width

    @property
    def selected_execution(self) -> Execution | None:
        """The execution under the cursor, or ``None`` when there is none."""
        if not self._executions or not 0 <= self.cursor_row < len(self._executions):
            return None
        return self._executions[self.cursor_row]

    def show(self, executions: list[Execution], clock: ConsoleClock, history: Sequence[HistoryEntry] = ()) -> None:
        """Replace the rows. The cursor stays on the same execution while it is open (or was never open);
        otherwise it goes to the first open one (FAILED, STUCK, then ACTIVE), the one an operator most
        likely wants to act on next. An error of an earlier attempt is shown as that attempt's
        (:func:`~console.formatting.error_note`, which reads ``history``)."""
        self._shown = (clock, history)
        previous = self.selected_execution  # before the columns for a new width clear the rows (and the cursor)
        self.ensure_columns()
        self._executions = list(executions)
        self.clear()
        for execution in executions:
            detail = shown(error_note(execution, history)) if execution.error else (
                compact_json(execution.outputs, 48) if execution.outputs is not None else "")
            self.add_cells({
                "STATUS": status_cell(execution, clock), "NODE": execution.node_id, "TASK": task_cell(execution),
                "TRY": str(execution.attempt), "EXECUTION": short_execution_id(execution.id),
                "AGE": clock.age(execution.created_at), "CHANGED": clock.ago(execution.updated_at),
                "OUTPUTS / ERROR": detail,
            }, key=execution.id)
        ids = [e.id for e in executions]
        now = {e.id: e for e in executions}
        if previous is not None and previous.id in now and (
                now[previous.id].status in OPEN_STATUSES or previous.status not in OPEN_STATUSES):
            self.move_cursor(row=ids.index(previous.id), animate=False)
        elif executions:
            self.move_cursor(row=self._first_open_row(), animate=False)

    def select(self, execution_id: str) -> bool:
        """Put the cursor on the execution ``execution_id``; ``False`` (cursor unmoved) when it is not listed."""
        ids = [execution.id for execution in self._executions]
        if execution_id in ids:
            self.move_cursor(row=ids.index(execution_id), animate=False)
        return execution_id in ids

    def select_newest(self, node_id: str) -> bool:
        """Put the cursor on the newest execution at ``node_id``; ``False`` (cursor unmoved) when none ran there."""
        rows = [index for index, execution in enumerate(self._executions) if execution.node_id == node_id]
        if rows:
            self.move_cursor(row=rows[-1], animate=False)
        return bool(rows)

    def _first_open_row(self) -> int:
        for status in OPEN_STATUSES:
            for index, execution in enumerate(self._executions):
                if execution.status == status:
                    return index
        return len(self._executions) - 1
