"""Instances by workflow and by status, with a total row: Enter on a cell lists those instances."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.message import Message
from textual.widgets import DataTable

from console import keymap
from console.formatting import STATUS_STYLES, shown
from console.widgets.columned_table import ColumnedTable
from engine.model import InstanceStatus

STATUSES = tuple(status.value for status in InstanceStatus)
ALL_WORKFLOWS = "all workflows"


class WorkflowCountsTable(ColumnedTable):
    """One row per workflow and a total row; one column per instance status and the total."""

    DEFAULT_CSS = """
    WorkflowCountsTable { height: auto; max-height: 100%; }
    """

    BINDINGS = keymap.LIST_THESE

    class Chosen(Message):
        """List the instances of ``workflow_id`` (``None``: every workflow) in ``status`` (``None``: any)."""

        def __init__(self, workflow_id: str | None, status: str | None) -> None:
            super().__init__()
            self.workflow_id = workflow_id
            self.status = status

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id, cursor_type="cell", zebra_stripes=True)
        self._workflows: list[str | None] = []

    def add_columns_once(self) -> None:
        self.add_column("WORKFLOW", key="workflow")
        for status in STATUSES:
            self.add_column(Text(status, justify="right"), key=status)
        self.add_column(Text("TOTAL", justify="right"), key="total")

    def show(self, by_workflow: dict[str, dict[str, int]]) -> None:
        """Replace the rows, keeping the cursor where it was."""
        row, column = self.cursor_coordinate
        self.ensure_columns()  # after reading the cursor: new columns clear the rows, and the cursor goes to 0
        self.clear()
        self._workflows = []
        totals: dict[str, int] = {}
        for workflow_id in sorted(by_workflow):
            counts = by_workflow[workflow_id]
            for status, count in counts.items():
                totals[status] = totals.get(status, 0) + count
            self._add(workflow_id, counts, bold=False)
        self._add(None, totals, bold=True)
        self.move_cursor(row=min(row, self.row_count - 1), column=column, animate=False)

    def _add(self, workflow_id: str | None, counts: dict[str, int], bold: bool) -> None:
        cells: list[Text] = [shown(workflow_id or ALL_WORKFLOWS, style="bold" if bold else "")]
        for status in STATUSES:
            count = counts.get(status, 0)
            style = STATUS_STYLES.get(status, "") if count else "dim"
            cells.append(Text(f"{count:,}", style=f"{style} bold" if bold and count else style, justify="right"))
        cells.append(Text(f"{sum(counts.values()):,}", style="bold", justify="right"))
        self._workflows.append(workflow_id)
        self.add_row(*cells)

    @on(DataTable.CellSelected)
    def _chosen(self, event: DataTable.CellSelected) -> None:
        event.stop()
        row, column = event.coordinate
        if not 0 <= row < len(self._workflows):
            return
        status = STATUSES[column - 1] if 1 <= column <= len(STATUSES) else None
        self.post_message(self.Chosen(self._workflows[row], status))
