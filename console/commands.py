"""The command palette (Ctrl+P): one entry per action of the screen it is opened on.

Entries are made from the screen's ``BINDINGS``, so the palette, the footer and the ``?`` help all list
the same actions under the same names.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider


class ScreenActions(Provider):
    """Every described binding of the calling screen, run as an action on that screen."""

    def _entries(self) -> Iterator[tuple[str, str, str]]:
        screen = self.screen
        seen: set[str] = set()
        for binding in Binding.make_bindings(getattr(type(screen), "BINDINGS", [])):
            if not binding.description or binding.action in seen:
                continue
            seen.add(binding.action)
            title = f"{getattr(screen, 'PALETTE_GROUP', type(screen).__name__)}: {binding.description}"
            yield title, f"key {self.app.get_key_display(binding)}", binding.action

    async def discover(self) -> Hits:
        for title, help_text, action in self._entries():
            yield DiscoveryHit(title, partial(self.screen.run_action, action), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, action in self._entries():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), partial(self.screen.run_action, action), text=title,
                          help=help_text)
