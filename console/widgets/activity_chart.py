"""One row of the overview's charts: a label, a sparkline of counts per minute, and the figures behind it."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Sparkline, Static


def summary_text(series: list[int]) -> Text:
    """``36 in the hour · peak 5/min · last minute 2``: the numbers an operator reads off the chart."""
    text = Text(no_wrap=True)
    text.append(f"{sum(series):,}", style="bold")
    text.append(" in the hour · peak ", style="dim")
    text.append(f"{max(series, default=0):,}/min", style="bold")
    text.append(" · this minute ", style="dim")
    text.append(f"{series[-1] if series else 0:,}", style="bold")
    return text


class ActivityChart(Horizontal):
    """A label, a sparkline of 60 columns (one per minute, this minute on the right) and its figures."""

    DEFAULT_CSS = """
    ActivityChart { height: 2; }
    ActivityChart > .chart-label { width: 24; padding: 0 1; text-style: bold; }
    ActivityChart > Sparkline { width: 60; height: 2; margin-right: 3; }
    ActivityChart > .chart-figures { width: 1fr; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def __init__(self, label: str, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self.label = label

    def compose(self) -> ComposeResult:
        yield Static(self.label, classes="chart-label")
        yield Sparkline([0], summary_function=max)
        yield Static("", classes="chart-figures")

    def show(self, series: list[int]) -> None:
        """Draw the counts per minute (a flat line when there were none)."""
        # A constant series is drawn at the bottom; a leading 0 keeps a busy hour from looking idle.
        self.query_one(Sparkline).data = [0, *series] if series and min(series) > 0 else list(series)
        self.query_one(".chart-figures", Static).update(summary_text(series))
