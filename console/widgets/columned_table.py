"""A DataTable whose columns exist before its first rows and whose rows are drawn at the measured widths."""

from __future__ import annotations

from typing import Any

from textual.widgets import DataTable
from textual.widgets.data_table import CellType, ColumnKey, RowKey

from console import keymap
from console.formatting import shown

NARROW_BELOW = 120  # terminal columns: under this the tables show their NARROW_COLUMNS


class ColumnedTable(DataTable[object]):
    """The console's tables.

    - The columns are added once, at Mount or at the first :meth:`ensure_columns` (a ``show``), whichever
      comes first: a page loaded by a thread worker can arrive before this widget's Mount is handled.
    - Rows drawn before DataTable measured them are drawn again. DataTable sizes its columns on its next
      Idle, after a frame may already have cached the new rows cut at the old widths, and (Textual 8.2)
      it keeps those cached lines: the instances list could stay cut to its labels' widths ("ID" two
      characters wide) until the cursor moved.

    - A cell given as a ``str`` is drawn as the characters it is (DataTable would read it as markup:
      ``price [/] qty`` in a reason raised MarkupError, ``[a-z]`` vanished), its control and bidi
      characters made visible (:func:`~console.formatting.shown`).

    Subclasses list ``COLUMNS`` (each label is its key; an empty label's key is ``mark``) or override
    :meth:`add_columns_once` (DataTable has an ``add_columns`` of its own). ``NARROW_COLUMNS``, when given,
    are the columns that matter, shown in a terminal under :data:`NARROW_BELOW` columns; rows given to
    :meth:`add_cells` by column key fit either set.
    """

    COLUMNS: tuple[str, ...] = ()
    NARROW_COLUMNS: tuple[str, ...] = ()
    # j k g G and Home End move as in k9s and lazygit (DataTable scrolls sideways with Home and End).
    BINDINGS = keymap.LIST_MOTION

    def on_mount(self) -> None:
        self.ensure_columns()

    def shown_columns(self) -> tuple[str, ...]:
        """The column labels for the terminal's width."""
        narrow = self.NARROW_COLUMNS and self.app.size.width < NARROW_BELOW
        return self.NARROW_COLUMNS if narrow else self.COLUMNS

    def ensure_columns(self) -> None:
        """Add the columns, or put those for the terminal's width in place (the rows go with them)."""
        if self.columns and [key.value for key in self.columns] == [label or "mark" for label in self.shown_columns()]:
            return
        if self.columns:
            self.clear(columns=True)
        self.add_columns_once()

    def add_columns_once(self) -> None:
        for label in self.shown_columns():
            self.add_column(label, key=label or "mark")

    def add_cells(self, cells: dict[str, CellType], key: str) -> RowKey:
        """Add a row given as ``{column label: cell}``: the columns shown take theirs."""
        return self.add_row(*(cells[label] for label in self.shown_columns()), key=key)

    def add_row(self, *cells: CellType, height: int | None = 1, key: str | None = None,
                label: Any = None) -> RowKey:
        """Add a row; ``str`` cells are plain text (see the class docstring)."""
        return super().add_row(*(_plain(cell) for cell in cells), height=height, key=key, label=label)

    def update_cell(self, row_key: RowKey | str, column_key: ColumnKey | str, value: CellType, *,
                    update_width: bool = False) -> None:
        """Replace a cell; a ``str`` is plain text (see the class docstring)."""
        super().update_cell(row_key, column_key, _plain(value), update_width=update_width)

    def _update_dimensions(self, new_rows: Any) -> None:
        widths = [column.content_width for column in self.columns.values()]
        super()._update_dimensions(new_rows)
        if widths != [column.content_width for column in self.columns.values()]:
            self._clear_caches()  # DataTable's own (private) caches of rendered rows
            self.refresh()


def _plain(cell: Any) -> Any:
    return shown(cell) if isinstance(cell, str) else cell
