"""The stored blueprints: one row per version, grouped by workflow, the newest version first."""

from __future__ import annotations

from rich.text import Text

from console import keymap
from console.formatting import STATUS_STYLES, shown
from console.widgets.columned_table import ColumnedTable
from engine.model import InstanceStatus
from engine.ports import BlueprintSummary

STATUS_COLUMNS = tuple((status.value, status.value) for status in InstanceStatus)


class BlueprintsTable(ColumnedTable):
    """Workflows and their versions with nodes, edges, warnings and instances per status."""

    DEFAULT_CSS = """
    BlueprintsTable { height: auto; max-height: 40%; }
    """

    BINDINGS = keymap.LIST_ITS

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self._rows: list[BlueprintSummary] = []

    def add_columns_once(self) -> None:
        self.add_column("WORKFLOW", key="workflow")
        self.add_column("VER", key="version")
        for label in ("NODES", "EDGES", "WARN"):
            self.add_column(Text(label, justify="right"), key=label)
        for _, label in STATUS_COLUMNS:
            self.add_column(Text(label, justify="right"), key=label)

    @property
    def selected(self) -> BlueprintSummary | None:
        """The version under the cursor."""
        if not self._rows or not 0 <= self.cursor_row < len(self._rows):
            return None
        return self._rows[self.cursor_row]

    def newest_version(self, workflow_id: str) -> int:
        """The newest stored version of ``workflow_id`` (what a new instance runs)."""
        return max((row.version for row in self._rows if row.workflow_id == workflow_id), default=0)

    def show(self, summaries: list[BlueprintSummary], select: tuple[str, int] | None = None) -> None:
        """Replace the rows (workflows by id, each one's newest version first); keep the cursor on the same
        version, or move it to ``select``."""
        self.ensure_columns()
        keep = select or ((self.selected.workflow_id, self.selected.version) if self.selected else None)
        rows = sorted(summaries, key=lambda s: (s.workflow_id, -s.version))
        self._rows = rows
        self.clear()
        previous = None
        for summary in rows:
            first = summary.workflow_id != previous
            previous = summary.workflow_id
            name = shown(summary.workflow_id, style="bold") if first else Text("  └", style="dim")
            cells: list[object] = [name, f"v{summary.version}", *(Text(str(n), justify="right") for n in (
                summary.nodes, summary.edges)),
                Text(str(summary.warnings), style="yellow" if summary.warnings else "dim", justify="right")]
            for status, _ in STATUS_COLUMNS:
                count = summary.instances.get(status, 0)
                cells.append(Text(f"{count:,}", style=STATUS_STYLES.get(status, "") if count else "dim",
                                  justify="right"))
            self.add_row(*cells, key=f"{summary.workflow_id}@{summary.version}")
        keys = [(row.workflow_id, row.version) for row in rows]
        if keep in keys:
            self.move_cursor(row=keys.index(keep), animate=False)
