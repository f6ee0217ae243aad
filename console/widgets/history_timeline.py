"""An instance's history as a timeline: one entry per event, the newest at the top."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text
from textual.widgets import OptionList

from console import keymap
from console.formatting import LONG_IDS, ConsoleClock, compact_json, short_execution_id
from engine.text import visible

KIND_STYLES = {
    "INSTANCE_STARTED": "bold dodger_blue1", "INSTANCE_COMPLETED": "bold green", "INSTANCE_FAILED": "bold red",
    "INSTANCE_CANCELLED": "bold yellow", "INSTANCE_RESUMED": "bold dodger_blue1",
    "EXECUTION_CREATED": "dodger_blue1", "EXECUTION_COMPLETED": "green", "EXECUTION_FAILED": "red",
    "EXECUTION_RETRIED": "yellow", "EXECUTION_CANCELLED": "dim yellow", "EXECUTION_STUCK": "magenta",
    "EXECUTION_ATTEMPT_FAILED": "dark_orange", "CONTEXT_SET": "cyan", "CONTEXT_UNSET": "cyan",
    "CONDITION_ERROR": "red", "HANDLER_ERROR": "red", "JOIN_STUCK": "magenta", "JOIN_FIRED": "orange1",
    "STALE_REPORT": "dark_orange",
}
# Token bookkeeping: shown on one dim line, so the events an operator looks for stand out.
_QUIET_KINDS = {"TOKEN_CREATED", "TOKEN_REMOVED", "TOKEN_STATUS", "EDGE_TAKEN"}


class HistoryTimeline(OptionList):
    """The history entries of an instance, newest first (what just happened is what an operator looks for)."""

    DEFAULT_CSS = """
    HistoryTimeline { height: 1fr; }
    """
    BINDINGS = keymap.TREE_MOTION

    def show(self, history: list[Any], clock: ConsoleClock) -> None:
        """Replace the entries with ``history`` (given oldest first), keeping the highlight's position."""
        highlighted = self.highlighted
        self.clear_options()
        lines: list[Table] = []
        newest_first = list(reversed(history))
        for index, entry in enumerate(newest_first):
            local = clock.local(entry.at)
            # The date on the top line and where the day changes, the time of day on every line.
            new_day = index == 0 or clock.local(newest_first[index - 1].at).date() != local.date()
            lines.append(entry_text(entry, local.strftime("%m-%d %H:%M:%S" if new_day else "%H:%M:%S")))
        self.add_options(lines)
        if lines:
            self.highlighted = min(highlighted or 0, len(lines) - 1)


def entry_text(entry: Any, stamp: str) -> Table:
    """One history entry: the time, then event, node and actor, with its details wrapped beneath them."""
    kind = str(entry.kind)
    quiet = kind in _QUIET_KINDS
    body = Text()
    body.append(kind.lower().replace("_", " "), style="dim" if quiet else KIND_STYLES.get(kind, "bold"))
    if entry.node_id:
        body.append(f"  {visible(entry.node_id)}", style="dim" if quiet else "bold")
    if entry.actor:
        body.append(f"  by {visible(entry.actor)}", style="dim italic")
    details = entry_details(entry)
    if details and not quiet:
        body.append("\n")
        body.append(details)
    grid = Table.grid(padding=(0, 1), expand=True)
    grid.add_column(width=14, justify="right", style="dim", no_wrap=True)
    grid.add_column(ratio=1)
    grid.add_row(stamp, body)
    return grid


def entry_details(entry: Any) -> str:
    """The interesting part of an entry's details, on one line, its control and bidi characters visible."""
    details = dict(entry.details or {})
    parts: list[str] = []
    if entry.execution_id:
        parts.append(f"#{short_execution_id(entry.execution_id)}")
    for key in ("reason", "error"):
        if key in details:
            parts.append(f"{key}: {details.pop(key)}")
    if details:  # the long ids last, so that the line's cut takes them and not the rest
        parts.append(compact_json({key: value for key, value in sorted(details.items(),
                                                                        key=lambda item: item[0] in LONG_IDS)}, 160))
    return visible("  ".join(parts))
