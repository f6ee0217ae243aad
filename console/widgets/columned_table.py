"""A DataTable whose columns exist before its first rows and whose rows are drawn at the measured widths."""

from __future__ import annotations

from typing import Any

from textual.binding import Binding
from textual.widgets import DataTable


class ColumnedTable(DataTable[object]):
    """The console's tables.

    - The columns are added once, at Mount or at the first :meth:`ensure_columns` (a ``show``), whichever
      comes first: a page loaded by a thread worker can arrive before this widget's Mount is handled.
    - Rows drawn before DataTable measured them are drawn again. DataTable sizes its columns on its next
      Idle, after a frame may already have cached the new rows cut at the old widths, and (Textual 8.2)
      it keeps those cached lines: the instances list could stay cut to its labels' widths ("ID" two
      characters wide) until the cursor moved.

    Subclasses list ``COLUMNS`` (each label is its key) or override :meth:`add_columns_once` (DataTable
    has an ``add_columns`` of its own).
    """

    COLUMNS: tuple[str, ...] = ()
    # Home and End go to the first and last row, as the help says (DataTable scrolls sideways with them).
    BINDINGS = [Binding("home", "scroll_top", "First row", show=False),
                Binding("end", "scroll_bottom", "Last row", show=False)]

    def on_mount(self) -> None:
        self.ensure_columns()

    def ensure_columns(self) -> None:
        if not self.columns:
            self.add_columns_once()

    def add_columns_once(self) -> None:
        for label in self.COLUMNS:
            self.add_column(label, key=label)

    def _update_dimensions(self, new_rows: Any) -> None:
        widths = [column.content_width for column in self.columns.values()]
        super()._update_dimensions(new_rows)
        if widths != [column.content_width for column in self.columns.values()]:
            self._clear_caches()  # DataTable's own (private) caches of rendered rows
            self.refresh()
