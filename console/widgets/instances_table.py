"""The instances table: one row per instance of the current page, newest first."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.message import Message
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey

from console import keymap
from console.formatting import ConsoleClock, short_id, status_text, token_places
from console.widgets.columned_table import ColumnedTable
from engine import InstanceSummary

MARK = "●"


class InstancesTable(ColumnedTable):
    """A page of instances. Enter (or a click on the selected row) posts :class:`InstancesTable.Opened`.

    Rows can be marked (``●`` before the id) for a batch action; marks are kept by instance id across pages
    and reloads, and :class:`InstancesTable.MarksChanged` is posted when they change."""

    DEFAULT_CSS = """
    InstancesTable { height: 1fr; }
    """

    BINDINGS = keymap.OPEN_INSTANCE

    COLUMNS = ("STATUS", "ID", "WORKFLOW", "TOKENS AT", "STARTED", "LAST CHANGE", "AGE")
    NARROW_COLUMNS = ("STATUS", "ID", "WORKFLOW", "TOKENS AT", "LAST CHANGE", "STARTED")

    class Opened(Message):
        """The operator chose an instance to look at."""

        def __init__(self, instance_id: str) -> None:
            super().__init__()
            self.instance_id = instance_id

    class MarksChanged(Message):
        """Rows were marked or unmarked."""

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's own name
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self._rows: list[InstanceSummary] = []
        self.marked: dict[str, InstanceSummary] = {}  # by id, in the order they were marked
        self._shown: tuple[ConsoleClock, str] | None = None

    def on_resize(self) -> None:
        if self._shown is not None and [k.value for k in self.columns] != list(self.shown_columns()):
            self.show(self._rows, *self._shown)  # the columns for the new width

    def _id_cell(self, summary: InstanceSummary) -> object:
        if summary.id in self.marked:
            return Text(f"{MARK} {short_id(summary.id)}", style="bold yellow")
        return short_id(summary.id)

    def toggle_mark(self) -> None:
        """Mark or unmark the row under the cursor, then move down (space, space, space marks a run)."""
        if not self._rows or not 0 <= self.cursor_row < len(self._rows):
            return
        summary = self._rows[self.cursor_row]
        if self.marked.pop(summary.id, None) is None:
            self.marked[summary.id] = summary
        self.update_cell(summary.id, "ID", self._id_cell(summary), update_width=True)
        if self.cursor_row < self.row_count - 1:
            self.move_cursor(row=self.cursor_row + 1, animate=False)
        self.post_message(self.MarksChanged())

    def clear_marks(self) -> None:
        """Unmark every row."""
        if self.marked:
            self.marked.clear()
            for summary in self._rows:
                self.update_cell(summary.id, "ID", self._id_cell(summary))
            self.post_message(self.MarksChanged())

    @property
    def selected_instance_id(self) -> str | None:
        """The id of the instance under the cursor, or ``None`` on an empty page."""
        if not self._rows or not 0 <= self.cursor_row < len(self._rows):
            return None
        return self._rows[self.cursor_row].id

    def show(self, rows: list[InstanceSummary], clock: ConsoleClock, order: str = "-started") -> None:
        """Replace the rows, keeping the cursor on the same instance when it is still listed; the STARTED
        column's label says the order (``-started``: newest first)."""
        self._shown = (clock, order)
        keep = self.selected_instance_id
        row_index = self.cursor_row
        self.ensure_columns()  # after reading the cursor: new columns clear the rows, and the cursor goes to 0
        self.columns[ColumnKey("STARTED")].label = Text("STARTED " + ("▼" if order.startswith("-") else "▲"))
        self._rows = list(rows)
        self.clear()
        for summary in rows:
            if summary.id in self.marked:
                self.marked[summary.id] = summary  # its newest state, for the batch dialog
            self.add_cells({
                "STATUS": status_text(summary.status, incident=summary.has_incident),
                "ID": self._id_cell(summary),
                "WORKFLOW": f"{summary.workflow_id}@{summary.version}",
                "TOKENS AT": token_places(summary.token_nodes, statuses=summary.token_statuses) or "—",
                "STARTED": clock.stamp(summary.created_at),
                "LAST CHANGE": clock.ago(summary.updated_at),
                "AGE": clock.age(summary.created_at),
            }, key=summary.id)
        ids = [summary.id for summary in rows]
        if keep in ids:
            row_index = ids.index(keep)
        if rows:
            self.move_cursor(row=min(max(row_index, 0), len(rows) - 1), animate=False)

    @on(DataTable.RowSelected)
    def _opened(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.post_message(self.Opened(str(event.row_key.value)))
