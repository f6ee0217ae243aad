"""The header line under the title: the workers of this console and the open executions by what they wait for.

The app computes a :class:`RuntimeStatus` off the event loop whenever the database changes (and every
few seconds, as leases lapse without a commit) and every screen's :class:`RuntimeBar` draws it.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.widgets import Static

from engine.reports import ExecutionCounts
from engine.text import visible


@dataclass(frozen=True)
class RuntimeStatus:
    """What the header shows. ``workers`` is ``"none"``, ``"running"`` or ``"stopping"``."""

    workers: str = "none"
    task_ids: tuple[str, ...] = ()
    counts: ExecutionCounts | None = None
    completed: int = 0  # attempts this console's workers completed since it started
    failed: int = 0
    problem: str | None = None  # why the counts could not be read
    zombies: int = 0  # attempts of this console's workers given up past their timeout, their threads still running


_COUNT_STYLES = (("running", "bold dodger_blue1"), ("queued", "dodger_blue1"), ("waiting", "bold orange1"),
                 ("failed", "bold red"), ("stuck", "bold magenta"))
_COUNT_LABELS = {"running": "running", "queued": "queued", "waiting": "waiting for a person",
                 "failed": "failed", "stuck": "stuck"}


_SHORT_LABELS = {**_COUNT_LABELS, "waiting": "for a person"}


def counts_line(status: RuntimeStatus, width: int | None = None) -> Text:
    """The open executions by what they wait for, and the incidents. Where ``width`` is too narrow for every
    count, the counts that are 0 are left out, then the labels shortened, so that what needs a look (the
    incidents at the end) is not cut off."""
    counts = status.counts
    if counts is None:
        line = Text("executions  ", style="dim", no_wrap=True, overflow="ellipsis")
        line.append(visible(status.problem or "counting…"), style="italic dim" if status.problem is None else "red")
        return line
    line = _counts(status, counts, level=0)
    for level in (1, 2, 3):
        if width is None or line.cell_len <= width:
            break
        line = _counts(status, counts, level=level)
    return line


def _counts(status: RuntimeStatus, counts: ExecutionCounts, *, level: int) -> Text:
    """Level 0: every count; 1: the zeros left out (a group of zeros says ``none``); 2: shorter labels;
    3: without the group names, for the narrowest terminals."""
    skip_zeros, short, bare = level >= 1, level >= 2, level >= 3
    line = Text(no_wrap=True, overflow="ellipsis")
    if not bare:
        line.append("executions " if short else "executions  ", style="dim")
    labels = _SHORT_LABELS if short else _COUNT_LABELS
    parts = [(name, getattr(counts, name)) for name, _ in _COUNT_STYLES if name != "queued" or status.workers != "none"]
    groups = {"executions": [p for p in parts if p[0] not in ("failed", "stuck")],
              "incidents": [p for p in parts if p[0] in ("failed", "stuck")]}
    for group, members in groups.items():
        if group == "incidents":  # as the Incidents tab counts them: a split with no match is one too
            line.append(" │ " if bare else " │ incidents " if short else "  │  incidents  ", style="dim")
        shown = [(name, value) for name, value in members if value or not skip_zeros]
        if not shown:
            line.append("no incidents" if bare and group == "incidents" else "none", style="dim")
        for index, (name, value) in enumerate(shown):
            if index:
                line.append(" · ", style="dim")
            style = dict(_COUNT_STYLES)[name] if value else "dim"
            line.append(f"{value:,} ", style=style)
            line.append(labels[name], style="" if value else "dim")
            if name == "waiting" and counts.overdue:  # shown only when some are: tasks past their deadline
                line.append(" · ", style="dim")
                line.append(f"{counts.overdue:,} overdue", style="bold red")
    return line


def workers_line(status: RuntimeStatus) -> Text:
    """Whether this console runs workers, and for which tasks (cut with … when the terminal is narrow)."""
    line = Text(no_wrap=True, overflow="ellipsis")
    line.append("workers     ", style="dim")
    if status.workers == "running":
        line.append("● running here", style="bold green")
        line.append(f" ({status.completed:,} done, {status.failed:,} failed since start", style="dim")
        if status.zombies:  # each is a STUCK execution whose task may still be running here
            line.append("; ", style="dim")
            line.append(f"{status.zombies:,} zombie attempt(s) still running", style="bold red")
        line.append(")", style="dim")
        line.append(f" for {len(status.task_ids)} task(s): ", style="")
        line.append(visible(", ".join(status.task_ids)))
        line.append(" · other tasks wait for a person", style="dim")
    elif status.workers == "stopping":
        line.append("◌ stopping: letting the running attempts finish…", style="bold yellow")
    else:
        line.append("○ none in this console", style="yellow")
        line.append(" · `wfconsole --workers MODULE` runs them here, `wfconsole workers` in another process",
                    style="dim")
    return line


class RuntimeBar(Static):
    """Two lines: open executions by what they wait for; whether this console runs workers, for which tasks."""

    DEFAULT_CSS = """
    RuntimeBar { height: 2; padding: 0 1; background: $boost; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def on_mount(self) -> None:
        self.watch(self.app, "runtime_status", self._show, init=True)

    def _show(self, status: RuntimeStatus | None) -> None:
        status = status or RuntimeStatus()
        width = self.content_size.width or None
        self.update(Text("\n").join([counts_line(status, width), workers_line(status)]))

    def on_resize(self) -> None:
        self._show(self.app.runtime_status)
