"""The tabs of the console's views, with their keys: ``1`` Overview … ``5`` History (clickable too)."""

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
)


class NavBar(Static):
    """The view this screen belongs to is highlighted; the incidents tab carries the open incident count."""

    DEFAULT_CSS = """
    NavBar { height: 1; padding: 0 1; background: $panel; }
    """

    def on_mount(self) -> None:
        self.mode = self.app.current_mode  # a screen is mounted in the mode it belongs to
        self.watch(self.app, "runtime_status", self._show, init=True)

    def _show(self, status: RuntimeStatus | None) -> None:
        counts = status.counts if status is not None else None
        incidents = counts.failed + counts.stuck if counts is not None else 0
        parts = []
        for mode, key, title in VIEWS:  # constants only: nothing typed by anyone is read as markup here
            badge = f" [$error b]({incidents:,})[/]" if mode == "incidents" and incidents else ""
            style = "reverse " if mode == self.mode else ""
            parts.append(f"[{style}@click=app.go('{mode}')] [b]{key}[/b] {title}{badge} [/]")
        self.update(Content.from_markup("  ".join(parts)))
