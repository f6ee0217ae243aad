"""The ``/`` line of a list view: it filters as you type (after a short pause), Enter keeps it, Esc clears it.

What it holds is read by :mod:`console.view_filters`: ``key=value`` terms (``status=failed``) and free words.
The view does the reading and the loading (in a worker); the line only says what was typed, when.
"""

from __future__ import annotations

from textual import on
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Input

from console import keymap

DEBOUNCE_SECONDS = 0.25  # typing "loan" loads once, not four times


class FilterLine(Input):
    """Shown while it is focused or holds a filter. Posts :class:`FilterLine.Filtered` a moment after the
    typing stops, :class:`FilterLine.Done` on Enter (focus goes back to the list) and on Esc (emptied)."""

    DEFAULT_CSS = """
    FilterLine, FilterLine:focus { border: none; height: 1; padding: 0 1; background: $boost; }
    FilterLine { display: none; }
    FilterLine.-open { display: block; }
    """

    BINDINGS = keymap.FILTER_LINE

    class Filtered(Message):
        """Filter by ``text`` now (``""``: no filter)."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    class Done(Message):
        """The operator left the line: ``submitted`` with Enter (else cleared with Esc)."""

        def __init__(self, text: str, submitted: bool) -> None:
            super().__init__()
            self.text = text
            self.submitted = submitted

    def __init__(self, placeholder: str, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(placeholder=f"/ {placeholder} — filters as you type · Enter keeps it · Esc clears", id=id)
        self._pending: Timer | None = None
        self._sent: str | None = None

    def open(self, text: str | None = None) -> None:
        """Show the line (holding ``text``, when given) and focus it."""
        if text is not None:
            self.value = text
            self._sent = text
        self.add_class("-open")
        self.focus()

    def set_text(self, text: str) -> None:
        """Show ``text`` as the filter in force (from the ``:`` line or a saved view), without a Changed."""
        self._sent = text
        self.value = text
        self.set_class(bool(text), "-open")

    @on(Input.Changed)
    def _typed(self, event: Input.Changed) -> None:
        event.stop()
        if self._pending is not None:
            self._pending.stop()
        self._pending = self.set_timer(DEBOUNCE_SECONDS, self._send)

    def _send(self) -> None:
        self._pending = None
        text = self.value.strip()
        if text != self._sent:
            self._sent = text
            self.post_message(self.Filtered(text))

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self._pending is not None:
            self._pending.stop()
        self._send()
        self.set_class(bool(self.value.strip()), "-open")
        self.post_message(self.Done(self.value.strip(), submitted=True))

    def action_clear(self) -> None:
        """Empty the filter and leave the line."""
        if self._pending is not None:
            self._pending.stop()
            self._pending = None
        self.value = ""
        self._send()
        self.remove_class("-open")
        self.post_message(self.Done("", submitted=False))
