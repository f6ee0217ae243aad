"""The ``:`` command line (as in k9s and vim): jump to a view, filtered (``:instances status=failed``), save
the view in front (``:save NAME``) or open a saved one (``:NAME``). It completes what is typed: view names,
saved views, each view's filter keys and their values (statuses, kinds, workflow ids).

It only reads and returns the line; :meth:`console.app.WfConsoleApp.run_command` does what it says.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.suggester import Suggester
from textual.widgets import Input, Static

from console import keymap
from console.view_filters import VIEW_KEYS

COMMANDS = ("save", "unsave", "instance", "help", "quit")
"""The words of the ``:`` line that are not views: ``save NAME``, ``unsave NAME``, ``instance ID``, ``help``,
``quit``."""


class CommandSuggester(Suggester):
    """Completes the word being typed: a view, command or saved view first; then the view's filter keys
    (``status=``) and, after ``=``, that key's values."""

    def __init__(self, saved: Iterable[str], workflow_ids: Sequence[str]) -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self.saved = sorted(saved)
        self.workflow_ids = list(workflow_ids)

    def candidates(self, words: list[str]) -> list[str]:
        """What the last of ``words`` may become."""
        if len(words) == 1:
            return [*VIEW_KEYS, *COMMANDS, *self.saved]
        first = words[0].lower()
        if first in ("save", "unsave"):
            return self.saved if len(words) == 2 else []
        keys = VIEW_KEYS.get(first, {})
        key, equals, _ = words[-1].partition("=")
        if not equals:
            return [f"{name}=" for name in keys]
        values = keys.get(key.lower())
        if values is None and key.lower() == "workflow":
            values = tuple(self.workflow_ids)
        return [f"{key}={value}" for value in values or ()]

    async def get_suggestion(self, value: str) -> str | None:
        words = value.split(" ")
        if not words or not words[-1]:
            return None
        typed = words[-1]
        for candidate in self.candidates(words):
            if candidate.lower().startswith(typed.lower()) and len(candidate) > len(typed):
                return " ".join([*words[:-1], candidate])
        return None


class CommandLine(Input):
    """The line itself: Tab takes the completion shown (as → does), Esc closes."""

    DEFAULT_CSS = """
    CommandLine, CommandLine:focus { border: none; height: 1; padding: 0 1; background: $boost; }
    """

    BINDINGS = [*keymap.COMMAND_LINE, ("tab", "complete", "Complete")]

    def action_complete(self) -> None:
        """Take the completion shown, if any, and stay on the line."""
        if self._suggestion and self._suggestion != self.value:
            self.value = self._suggestion
            self.cursor_position = len(self.value)

    def action_close(self) -> None:
        self.screen.dismiss(None)


class CommandLineScreen(ModalScreen[str | None]):
    """Returns the line typed (Enter), or ``None`` (Esc)."""

    DEFAULT_CSS = """
    CommandLineScreen { align: left bottom; background: $background 0%; }
    CommandLineScreen > Vertical { height: auto; width: 100%; background: $surface; }
    CommandLineScreen #command-hint { height: auto; padding: 0 1; color: $text-muted; }
    """

    def __init__(self, saved: Iterable[str], workflow_ids: Sequence[str]) -> None:
        super().__init__()
        self.saved = sorted(saved)
        self.workflow_ids = list(workflow_ids)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self._hint(), id="command-hint")
            yield CommandLine(placeholder="instances status=failed · incidents · history kind=EXECUTION_FAILED · "
                                          "save NAME", suggester=CommandSuggester(self.saved, self.workflow_ids),
                              id="command")

    def _hint(self) -> Text:
        hint = Text()
        hint.append(": ", style="bold")
        hint.append("views ", style="dim")
        hint.append(" ".join(VIEW_KEYS))
        if self.saved:
            hint.append("  │  saved ", style="dim")
            hint.append(" ".join(self.saved))  # names are checked when saved: letters, digits, - and _
        hint.append("  │  Tab completes · Enter goes · Esc closes", style="dim")
        return hint

    def on_mount(self) -> None:
        self.query_one(CommandLine).focus()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value.strip() or None)
