"""The free-text search line of the instances screen, opened with ``/``."""

from __future__ import annotations

from textual import on
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Input


class SearchBar(Input):
    """Type, Enter to search instances by id, workflow, node or a variable's value; Esc to close.

    Posts :class:`SearchBar.Searched` with the text (empty text clears the search) and
    :class:`SearchBar.Closed` when the operator leaves it.
    """

    DEFAULT_CSS = """
    SearchBar { display: none; }
    SearchBar.-open { display: block; }
    """

    BINDINGS = [Binding("escape", "close", "Close search")]

    class Searched(Message):
        """Search for ``text`` (``""``: no text filter)."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    class Closed(Message):
        """The search line was closed; focus should go back to the table."""

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(placeholder="search id, workflow, node or a variable's value — Enter to search, "
                                     "empty to clear, Esc to close", id=id)

    def open(self, text: str | None) -> None:
        """Show the search line holding ``text`` and focus it."""
        self.value = text or ""
        self.add_class("-open")
        self.focus()

    def action_close(self) -> None:
        self.remove_class("-open")
        self.post_message(self.Closed())

    @on(Input.Submitted)
    def _searched(self, event: Input.Submitted) -> None:
        event.stop()
        self.remove_class("-open")
        self.post_message(self.Searched(event.value.strip()))
        self.post_message(self.Closed())
