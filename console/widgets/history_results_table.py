"""The results of a history search: one row per event, newest first, with its instance and workflow."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.message import Message
from textual.widgets import DataTable

from console import keymap
from console.formatting import ConsoleClock, short_id
from console.widgets.columned_table import ColumnedTable
from console.widgets.history_timeline import KIND_STYLES, entry_details
from engine.reports import HistoryHit


class HistoryResultsTable(ColumnedTable):
    """History entries found; Enter posts :class:`HistoryResultsTable.Opened` for the row's instance."""

    DEFAULT_CSS = """
    HistoryResultsTable { height: 1fr; }
    """

    BINDINGS = keymap.OPEN_INSTANCE

    COLUMNS = ("TIME", "INSTANCE", "WORKFLOW", "EVENT", "NODE", "ACTOR", "DETAILS")

    class Opened(Message):
        """Show the instance of an event."""

        def __init__(self, instance_id: str) -> None:
            super().__init__()
            self.instance_id = instance_id

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self._hits: list[HistoryHit] = []

    def show(self, hits: list[HistoryHit], clock: ConsoleClock) -> None:
        """Replace the rows, keeping the cursor on the same event when it is still listed."""
        keep = self._hits[self.cursor_row].entry.seq if self._hits and 0 <= self.cursor_row < len(self._hits) else None
        self.ensure_columns()  # after reading the cursor: new columns clear the rows, and the cursor goes to 0
        self._hits = list(hits)
        self.clear()
        for hit in hits:
            entry = hit.entry
            kind = str(entry.kind)
            self.add_row(
                clock.stamp(entry.at),
                short_id(entry.instance_id or ""),
                hit.workflow_id,
                Text(kind.lower().replace("_", " "), style=KIND_STYLES.get(kind, "")),
                entry.node_id or "",
                entry.actor or "",
                Text(" ".join(entry_details(entry).split()), no_wrap=True, overflow="ellipsis"),
                key=str(entry.seq),
            )
        seqs = [hit.entry.seq for hit in hits]
        if keep in seqs:
            self.move_cursor(row=seqs.index(keep), animate=False)

    @on(DataTable.RowSelected)
    def _opened(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if 0 <= self.cursor_row < len(self._hits):
            self.post_message(self.Opened(self._hits[self.cursor_row].entry.instance_id or ""))
