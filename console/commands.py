"""The command palette (Ctrl+P): one entry per action of the screen it is opened on, the app's own, and each
saved view (``Saved view: failed-loans``).

Entries are made from the screen's and the app's ``BINDINGS`` (``Go to: Incidents``, ``Quit``...), so the
palette, the footer and the ``?`` help all list the same actions under the same names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.markup import escape

from engine.text import visible


class ScreenActions(Provider):
    """Every described binding of the calling screen (run on that screen), then the app's (views, keys, quit)."""

    def _entries(self) -> Iterator[tuple[str, str, Callable[[], object]]]:
        screen = self.screen
        seen: set[str] = set()
        owners = ((screen, getattr(screen, "PALETTE_GROUP", type(screen).__name__)), (self.app, "Console"))
        for owner, group in owners:
            for binding in Binding.make_bindings(getattr(type(owner), "BINDINGS", [])):
                if not binding.description or binding.action in seen or binding.action == "command_palette":
                    continue
                seen.add(binding.action)
                # The views read "Go to: Incidents"; the app's other keys "Console: Quit".
                where = "Go to" if owner is self.app and binding.action.startswith("go(") else group
                yield (f"{where}: {binding.description}", f"key {self.app.get_key_display(binding)}",
                       partial(owner.run_action, binding.action))
        saved = getattr(self.app, "saved_views", None)
        for name, line in sorted(saved.views.items()) if saved is not None else ():
            yield (f"Saved view: {name}", escape(f":{name}  ({visible(line)})"),
                   partial(self.app._command_entered, name))

    async def discover(self) -> Hits:
        for title, help_text, run in self._entries():
            yield DiscoveryHit(title, run, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, run in self._entries():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), run, text=title, help=help_text)
