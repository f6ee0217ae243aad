"""The line above the instances table: counts by status, the filters in force and the page."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from console.formatting import STATUS_STYLES
from engine.model import InstanceStatus
from engine.text import visible

STATUS_ORDER = tuple(status.value for status in InstanceStatus)


class CountsBar(Static):
    """Counts by status (the selected status highlighted), filters and "page i of n"."""

    DEFAULT_CSS = """
    CountsBar { height: 1; padding: 0 1; background: $boost; }
    """

    def show(self, counts: dict[str, int], status: str | None, workflow_id: str | None, text: str | None,
             page: int, pages: int, loading: bool = False, task_id: str | None = None, waiting: bool = False,
             order: str = "") -> None:
        """Draw the counts of the current filters and where in the listing the operator is."""
        line = Text()
        total = sum(counts.values())
        line.append(" all ", style="reverse bold" if status is None else "bold")
        line.append(f"{total:,}  ")
        for name in STATUS_ORDER:
            label = Text(f" {name.lower()} ", style=STATUS_STYLES.get(name, ""))
            if status == name:
                label.stylize("reverse")
            line.append_text(label)
            line.append(f"{counts.get(name, 0):,}  ")
        if workflow_id:
            line.append("│ workflow ", style="dim")
            line.append(visible(workflow_id), style="bold")
            line.append("  ")
        if task_id:
            line.append("│ open task ", style="dim")
            line.append(visible(task_id), style="bold")
            line.append("  ")
        if waiting:
            line.append("│ waiting for a person  ", style="bold orange1")
        if text:
            line.append("│ search ", style="dim")
            line.append(visible(repr(text)), style="bold")
            line.append("  ")
        line.append(f"│ page {page} of {max(pages, 1)}", style="dim")
        if order:
            line.append(f" · {order}", style="dim")
        if loading:
            line.append("  loading…", style="italic dim")
        self.update(line)
