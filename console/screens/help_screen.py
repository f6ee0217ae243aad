"""``?``: every key of the console, generated from the screens' own ``BINDINGS``."""

from __future__ import annotations

from collections.abc import Iterable

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

HelpSection = tuple[str, Iterable[BindingType]]

NAVIGATION: list[tuple[str, str]] = [
    ("↑ ↓  j k  PgUp PgDn", "move in a list, a table or a tree"),
    ("g G  Home End", "the first row, the last row"),
    ("/", "filter the list as you type: words, and key=value terms (status=failed workflow=ID); Enter keeps "
          "it (one match opens at once), Esc clears it"),
    (":", "the command line: a view, filtered (:instances status=failed, :history kind=EXECUTION_FAILED), "
          ":save NAME, a saved view by its name, :instance ID, :quit; Tab completes"),
    ("← ↓ ↑ →  h j k l", "in the token graph (Shift+Tab to it): from node to node; Enter: the node's newest "
                        "execution; z: full labels, short labels, symbols"),
    ("Tab  Shift+Tab", "move between panes and form fields"),
    ("Enter", "open the selected instance (or execution, in full); submit a form"),
    ("Ctrl+S", "send a form (mark done, start an instance)"),
    ("Esc", "back / close a form without sending"),
    ("mouse", "click rows and buttons, scroll with the wheel"),
]


class HelpScreen(ModalScreen[None]):
    """The keys of every screen; the current screen's first. Any of ?, Esc or q closes it. It is as wide as the
    terminal allows (90 columns at most: the descriptions wrap) and scrolls."""

    BINDINGS = [Binding("escape,question_mark,q", "dismiss(None)", "Close")]

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 90; max-width: 100%; height: auto; max-height: 90%; border: round $primary; background: $surface;
        padding: 0 1;
    }
    HelpScreen Static { margin-bottom: 1; }
    """

    def __init__(self, sections: list[HelpSection]) -> None:
        super().__init__()
        self.sections = sections

    def compose(self) -> ComposeResult:
        with VerticalScroll() as scroll:
            scroll.border_title = "Keys  (Esc to close)"
            scroll.border_subtitle = "↑ ↓ PgUp PgDn scroll"
            for title, bindings in self.sections:
                yield Static(self._table(title, self._rows(bindings)))
            yield Static(self._table("Moving around", NAVIGATION))

    def _rows(self, bindings: Iterable[BindingType]) -> list[tuple[str, str]]:
        rows: list[tuple[str, str]] = []
        for binding in Binding.make_bindings(bindings):
            if not binding.description:
                continue
            key = self.app.get_key_display(binding)
            if rows and rows[-1][1] == binding.description:  # "n,escape" is made into two bindings
                rows[-1] = (f"{rows[-1][0]}  {key}", binding.description)
            else:
                rows.append((key, binding.description))
        return rows

    @staticmethod
    def _table(title: str, rows: list[tuple[str, str]]) -> Table:
        table = Table(title=Text(title, style="bold"), title_justify="left", show_header=False, box=None,
                      padding=(0, 2), expand=True)
        table.add_column("key", style="bold cyan", min_width=26, no_wrap=True)
        table.add_column("does", ratio=1)
        for key, description in rows:
            table.add_row(Text(key), Text(description))  # never read as markup
        return table
