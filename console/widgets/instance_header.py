"""The line at the top of the detail screen: which instance, of what, in what state, since when."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from console.formatting import ConsoleClock, status_text
from engine import InstanceView
from engine.text import visible


class InstanceHeader(Static):
    """Instance id, workflow and version, status, times, open incidents and the error if any."""

    DEFAULT_CSS = """
    InstanceHeader { height: auto; padding: 0 1; background: $boost; }
    """

    def show(self, view: InstanceView, clock: ConsoleClock) -> None:
        """Describe ``view``."""
        line = Text()
        line.append("instance ", style="dim")
        line.append(visible(view.id), style="bold")
        line.append("  ")
        line.append(visible(f"{view.workflow_id}@{view.version}"), style="bold")
        line.append("  ")
        line.append_text(status_text(view.status))
        line.append(f"  started {clock.stamp(view.created_at)} ({clock.ago(view.created_at)})", style="dim")
        line.append(f"  last change {clock.ago(view.updated_at)}", style="dim")
        if view.ended_at is not None:
            line.append(f"  ended {clock.stamp(view.ended_at)}", style="dim")
        incidents = len(view.incidents)
        if incidents:
            line.append(f"  {incidents} incident{'s' if incidents > 1 else ''}", style="bold red")
        if view.error:
            line.append("\n")
            line.append(visible(view.error), style="red")
        if view.status == "FAILED":
            line.append("  → set the variable the split needs (e), then resume the instance (R)", style="bold")
        elif incidents:
            line.append("\n")
            line.append("select the failed execution below: retry it (r) or mark it done by hand (d)", style="bold")
        self.update(line)
