"""The tabs of the console's views, with their keys: ``1`` Overview … ``6`` Tasks (clickable too)."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from console.widgets.runtime_bar import RuntimeStatus

# (mode, key, title): the app's modes, in the order of their keys.
VIEWS: tuple[tuple[str, str, str], ...] = (
    ("overview", "1", "Overview"),
    ("instances", "2", "Instances"),
    ("incidents", "3", "Incidents"),
    ("blueprints", "4", "Blueprints"),
    ("history", "5", "History"),
    ("tasks", "6", "Tasks"),
)


class NavBar(Static):
    """The view this screen belongs to is highlighted; the incidents tab carries the open incident count."""

    DEFAULT_CSS = """
    NavBar { height: 1; padding: 0 1; background: $panel; }
    """

    _status: RuntimeStatus | None = None

    def on_mount(self) -> None:
        self.mode = self.app.current_mode  # a screen is mounted in the mode it belongs to
        self.watch(self.app, "runtime_status", self._show, init=True)

    def on_resize(self) -> None:
        self._show(self._status)

    def _show(self, status: RuntimeStatus | None) -> None:
        self._status = status
        counts = status.counts if status is not None else None
        incidents = counts.failed + counts.stuck if counts is not None else 0
        width = (self.size.width or self.app.size.width) - 2  # the padding
        # Roomy tabs where they fit; in a narrow terminal (80 columns) only the current one is padded, and the
        # gaps shrink before anything is cut.
        for padded, gap in ((True, "  "), (False, "  "), (False, " ")):
            tabs = [self._tab(mode, key, title, incidents, padded) for mode, key, title in VIEWS]
            if sum(len(plain) for _, plain in tabs) + len(gap) * (len(tabs) - 1) <= width:
                break
        self.update(Content.from_markup(gap.join(markup for markup, _ in tabs)))

    def _tab(self, mode: str, key: str, title: str, incidents: int, padded: bool) -> tuple[str, str]:
        """The tab's markup (constants only: nothing typed by anyone is read as markup here) and its text."""
        badge = f" ({incidents:,})" if mode == "incidents" and incidents else ""
        current = mode == self.mode
        pad = " " if padded or current else ""
        style = "reverse " if current else ""
        markup_badge = f" [$error b]{badge.strip()}[/]" if badge else ""
        return (f"[{style}@click=app.go('{mode}')]{pad}[b]{key}[/b] {title}{markup_badge}{pad}[/]",
                f"{pad}{key} {title}{badge}{pad}")
