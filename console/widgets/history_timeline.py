"""An instance's history as a timeline: one entry per event, oldest at the top, newest at the bottom."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text
from textual.widgets import OptionList

from console.formatting import ConsoleClock, compact_json, short_execution_id

_KIND_STYLES = {
    "INSTANCE_STARTED": "bold dodger_blue1", "INSTANCE_COMPLETED": "bold green", "INSTANCE_FAILED": "bold red",
    "INSTANCE_CANCELLED": "bold yellow", "INSTANCE_RESUMED": "bold dodger_blue1",
    "EXECUTION_CREATED": "dodger_blue1", "EXECUTION_COMPLETED": "green", "EXECUTION_FAILED": "red",
    "EXECUTION_RETRIED": "yellow", "EXECUTION_CANCELLED": "dim yellow", "EXECUTION_STUCK": "magenta",
    "EXECUTION_ATTEMPT_FAILED": "dark_orange", "CONTEXT_SET": "cyan", "CONDITION_ERROR": "red",
    "HANDLER_ERROR": "red", "JOIN_STUCK": "magenta", "JOIN_FIRED": "orange1",
}
# Token bookkeeping: shown on one dim line, so the events an operator looks for stand out.
_QUIET_KINDS = {"TOKEN_CREATED", "TOKEN_REMOVED", "TOKEN_STATUS", "EDGE_TAKEN"}


class HistoryTimeline(OptionList):
    """The history entries of an instance (oldest first), scrolled to the newest."""

    DEFAULT_CSS = """
    HistoryTimeline { height: 1fr; }
    """

    def show(self, history: list[Any], clock: ConsoleClock) -> None:
        """Replace the entries with ``history`` and highlight the newest."""
        self.clear_options()
        previous_day: str | None = None
        lines: list[Table] = []
        for entry in history:
            local = clock.local(entry.at)
            day = local.strftime("%m-%d")
            stamp = local.strftime("%H:%M:%S") if day == previous_day else local.strftime("%m-%d %H:%M:%S")
            previous_day = day
            lines.append(entry_text(entry, stamp))
        self.add_options(lines)
        if lines:
            self.highlighted = len(lines) - 1
            self.call_after_refresh(self.scroll_end, animate=False)


def entry_text(entry: Any, stamp: str) -> Table:
    """One history entry: the time, then event, node and actor, with its details wrapped beneath them."""
    kind = str(entry.kind)
    quiet = kind in _QUIET_KINDS
    body = Text()
    body.append(kind.lower().replace("_", " "), style="dim" if quiet else _KIND_STYLES.get(kind, "bold"))
    if entry.node_id:
        body.append(f"  {entry.node_id}", style="dim" if quiet else "bold")
    if entry.actor:
        body.append(f"  by {entry.actor}", style="dim italic")
    details = _details(entry)
    if details and not quiet:
        body.append("\n")
        body.append(details)
    grid = Table.grid(padding=(0, 1), expand=True)
    grid.add_column(width=14, justify="right", style="dim", no_wrap=True)
    grid.add_column(ratio=1)
    grid.add_row(stamp, body)
    return grid


def _details(entry: Any) -> str:
    """The interesting part of an entry's details, on one line."""
    details = dict(entry.details or {})
    parts: list[str] = []
    if entry.execution_id:
        parts.append(f"#{short_execution_id(entry.execution_id)}")
    for key in ("reason", "error"):
        if key in details:
            parts.append(f"{key}: {details.pop(key)}")
    if details:
        parts.append(compact_json(details, 160))
    return "  ".join(parts)
