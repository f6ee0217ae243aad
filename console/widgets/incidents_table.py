"""The incidents table: every FAILED and STUCK token, oldest first, with a selection for bulk actions."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.message import Message
from textual.widgets import DataTable

from console import keymap
from console.formatting import ConsoleClock, short_id, shown
from console.widgets.columned_table import ColumnedTable
from engine.reports import Incident

KIND_LABELS = {"FAILED": ("failed", "bold red"), "STUCK": ("stuck", "bold magenta"),
               "NO_MATCH": ("no match at split", "bold red"), "JOIN_STUCK": ("join stuck", "bold magenta")}
MARK = "●"


class IncidentsTable(ColumnedTable):
    """Incidents oldest first. Space marks rows (``●``); the bulk actions apply to the marked rows, or to
    the row under the cursor when none is marked. Enter posts :class:`IncidentsTable.Opened`."""

    DEFAULT_CSS = """
    IncidentsTable { height: 1fr; }
    """

    BINDINGS = keymap.OPEN_INSTANCE

    COLUMNS = ("", "WHAT", "SINCE", "WORKFLOW", "INSTANCE", "NODE", "TASK", "TRY", "ERROR / REASON")
    NARROW_COLUMNS = ("", "WHAT", "SINCE", "INSTANCE", "NODE", "ERROR / REASON")  # the rest is in the detail

    class Opened(Message):
        """The operator wants to see the instance of an incident."""

        def __init__(self, instance_id: str) -> None:
            super().__init__()
            self.instance_id = instance_id

    class SelectionChanged(Message):
        """Rows were marked or unmarked."""

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self._incidents: list[Incident] = []
        self.marked: set[str] = set()
        self._clock: ConsoleClock | None = None

    @property
    def current(self) -> Incident | None:
        """The incident under the cursor."""
        if not self._incidents or not 0 <= self.cursor_row < len(self._incidents):
            return None
        return self._incidents[self.cursor_row]

    def chosen(self) -> list[Incident]:
        """The marked incidents in table order, or the one under the cursor when none is marked."""
        if self.marked:
            return [incident for incident in self._incidents if incident.key in self.marked]
        return [self.current] if self.current is not None else []

    def show(self, incidents: list[Incident], clock: ConsoleClock) -> None:
        """Replace the rows; marks and the cursor stay on incidents that are still listed."""
        keep = self.current.key if self.current is not None else None
        row_index = self.cursor_row
        self.ensure_columns()  # after reading the cursor: new columns clear the rows, and the cursor goes to 0
        self._incidents = list(incidents)
        keys = [incident.key for incident in incidents]
        self.marked &= set(keys)
        self.clear()
        self._clock = clock
        for incident in incidents:
            self.add_cells(self._cells(incident, clock), key=incident.key)
        if keep in keys:
            row_index = keys.index(keep)
        if incidents:
            self.move_cursor(row=min(max(row_index, 0), len(incidents) - 1), animate=False)

    def _cells(self, incident: Incident, clock: ConsoleClock) -> dict[str, object]:
        label, style = KIND_LABELS.get(incident.kind, (incident.kind.lower(), "bold"))
        return {
            "": Text(MARK if incident.key in self.marked else " ", style="bold yellow"),
            "WHAT": Text(label, style=style),
            "SINCE": clock.age(incident.since),
            "WORKFLOW": f"{incident.workflow_id}@{incident.version}",
            "INSTANCE": short_id(incident.instance_id),
            "NODE": incident.node_id,
            "TASK": incident.task_id or "—",
            "TRY": str(incident.attempt) if incident.attempt is not None else "",
            "ERROR / REASON": shown(" ".join(incident.reason.split()), overflow="ellipsis", no_wrap=True),
        }

    def on_resize(self) -> None:
        if self._clock is not None and [k.value for k in self.columns] != [c or "mark" for c in self.shown_columns()]:
            self.show(self._incidents, self._clock)  # the columns for the new width

    def toggle_mark(self) -> None:
        """Mark or unmark the row under the cursor, then move down (space, space, space marks a run)."""
        incident = self.current
        if incident is None:
            return
        self.marked.symmetric_difference_update({incident.key})
        self.update_cell(incident.key, "mark", Text(MARK if incident.key in self.marked else " ", style="bold yellow"))
        if self.cursor_row < self.row_count - 1:
            self.move_cursor(row=self.cursor_row + 1, animate=False)
        self.post_message(self.SelectionChanged())

    def mark_all(self) -> None:
        """Mark every row, or unmark all when every row is marked already."""
        keys = {incident.key for incident in self._incidents}
        self.marked = set() if keys and self.marked >= keys else keys
        for incident in self._incidents:
            self.update_cell(incident.key, "mark",
                             Text(MARK if incident.key in self.marked else " ", style="bold yellow"))
        self.post_message(self.SelectionChanged())

    def clear_marks(self) -> None:
        """Unmark every row."""
        if self.marked:
            self.marked = set()
            for incident in self._incidents:
                self.update_cell(incident.key, "mark", Text(" "))
            self.post_message(self.SelectionChanged())

    @on(DataTable.RowSelected)
    def _opened(self, event: DataTable.RowSelected) -> None:
        event.stop()
        incident = self.current
        if incident is not None:
            self.post_message(self.Opened(incident.instance_id))
