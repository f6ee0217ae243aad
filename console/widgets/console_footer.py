"""The footer of every screen: the focused pane's keys first, then the screen's, then the console's.

In a narrow terminal (under :data:`WIDE` columns) it is compact and names the actions with the short words of
:data:`console.keymap.SHORT`; at any width it leaves out what does not fit, the least needed first: the console's own
keys (but ``?``, which lists them all, and ``^p``), then the screen's keys from the last of its table; the
focused pane's keys stay. Every key left out still works and is in ``?`` and the command palette.

A screen with a ``footer_label(action)`` method names a key by what it does to the selection now (``c``: Claim
or Release); ``None`` keeps the binding's words.
"""

from __future__ import annotations

from collections.abc import Iterator

from rich.cells import cell_len
from textual import events
from textual.app import App
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

from console import keymap

WIDE = 120
KEEP = ("help", "command_palette")  # the console's keys that always show: every other key is found from them


class ConsoleFooter(Footer):
    """A footer that fits: compact below :data:`WIDE` columns, trimmed at any width."""

    def __init__(self) -> None:
        super().__init__(show_command_palette=False)  # ^p is in the app's keys, trimmed like the others

    def on_mount(self) -> None:
        self.compact = self.app.size.width < WIDE

    def on_resize(self, event: events.Resize) -> None:
        compact = self.app.size.width < WIDE
        if compact != self.compact:
            self.compact = compact
            self.call_after_refresh(self.recompose)

    def compose(self) -> Iterator[Widget]:
        keys = [widget for widget in super().compose() if isinstance(widget, FooterKey)]
        label = getattr(self.screen, "footer_label", None)  # a key whose word follows the selection
        for key in keys:
            word = label(key.action) if label is not None else None
            if word is not None:
                key.description = word
        owners = {binding.action: node for node, binding, _, _ in self.screen.active_bindings.values()}
        if self.compact:
            for key in keys:
                key.description = keymap.SHORT.get(key.description, key.description)
        ranked = sorted(range(len(keys)), key=lambda index: _drop_rank(keys[index], owners, index), reverse=True)
        width = self.app.size.width - 1
        kept = set(range(len(keys)))
        for index in ranked:
            if sum(_width(keys[i], self.compact) for i in kept) <= width:
                break
            if _drop_rank(keys[index], owners, index) >= 0:
                kept.discard(index)
        yield from (key for index, key in enumerate(keys) if index in kept)


def _width(key: FooterKey, compact: bool) -> int:
    # compact: the key, a space, the description, one cell of margin; else a cell each side of the key and
    # one after the description
    return cell_len(key.key_display) + cell_len(key.description) + (2 if compact else 3)


def _drop_rank(key: FooterKey, owners: dict[str, object], index: int) -> int:
    """Higher goes first; negative never goes (the focused pane's keys, ? and ^p)."""
    owner = owners.get(key.action)
    if isinstance(owner, App):
        return -1 if key.action in KEEP else 1000 + index
    if isinstance(owner, Screen):
        return 100 + index
    return -1
