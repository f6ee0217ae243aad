"""The console goes on after an error in drawing text: the operator is told, the broken screen is rebuilt.

Textual ends the whole app on any exception no handler caught. Stored text never reaches a widget as
markup (every widget is given :func:`console.formatting.shown` text), so a markup or style error means a
bug of ours on some unexpected data, and the rest of the console still works: it must not take the
console, and the operator's place in it, down. :class:`SurvivesRenderingErrors` is mixed into the app:

- a rendering error (Rich's ``ConsoleError`` family, Textual's ``MarkupError``, alone or as the cause of a
  failed worker) is notified, logged, and the console goes on; in an action (a key, a click, a palette
  entry: they run in the app's own message loop) it is caught around the action;
- the message loop that raised it has stopped if it was a screen's or a widget's handler (Textual stops a
  message pump on an error in a handler): that screen is replaced — a pushed screen or dialog is closed,
  a view's first screen is built anew — so that no frozen screen is left on display;
- any other error, an error in the app's own message loop (which Textual has stopped already), or more
  than :data:`MAX_ERRORS` rendering errors within :data:`ERROR_WINDOW_SECONDS` (the same broken text
  drawn again and again) end the console as Textual does, with exit status 1.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from rich.errors import ConsoleError
from textual._context import active_message_pump
from textual.app import App
from textual.markup import MarkupError
from textual.message_pump import MessagePump
from textual.screen import Screen
from textual.worker import WorkerFailed

log = logging.getLogger("wfconsole.console")

MAX_ERRORS = 5
ERROR_WINDOW_SECONDS = 30.0
RENDERING_ERRORS: tuple[type[Exception], ...] = (ConsoleError, MarkupError)


def rendering_error(error: BaseException) -> Exception | None:
    """The rendering error ``error`` is or was caused by (a failed worker wraps it), else ``None``."""
    cause = error.error if isinstance(error, WorkerFailed) else error
    return cause if isinstance(cause, RENDERING_ERRORS) else None


class SurvivesRenderingErrors(App):
    """Mixed into the console's app: see the module's docstring. ``survived_errors`` lists every rendering
    error the console went on after (tests read it)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.survived_errors: list[Exception] = []
        self._error_times: list[float] = []

    async def run_action(self, action: Any, default_namespace: Any = None, namespaces: Any = None) -> bool:
        """Run an action (a key binding, a click, a palette entry): in the app's own message loop, where a
        rendering error would end the console, so it is caught here."""
        try:
            return await super().run_action(action, default_namespace, namespaces)
        except RENDERING_ERRORS as error:
            if self._too_many_errors():
                raise
            self._survived(error)
            return True

    def _handle_exception(self, error: Exception) -> None:
        cause = rendering_error(error)
        pump = active_message_pump.get(None)
        if cause is None or pump is self or not self.is_running or self._too_many_errors():
            super()._handle_exception(error)  # Textual ends the app; `run` exits with its status, 1
            return
        self._survived(cause)
        self.call_later(self._replace_stopped_screen, pump)

    def _survived(self, error: Exception) -> None:
        self.survived_errors.append(error)
        log.error("rendering error, the console goes on: %s", error, exc_info=error)
        self.notify(f"{type(error).__name__}: {error}. The console goes on; please report this with the text "
                    "that was on screen.", title="Something could not be drawn", severity="error", timeout=15)

    def _too_many_errors(self) -> bool:
        now = time.monotonic()
        self._error_times = [t for t in self._error_times if now - t < ERROR_WINDOW_SECONDS]
        self._error_times.append(now)
        return len(self._error_times) > MAX_ERRORS

    async def _replace_stopped_screen(self, pump: MessagePump | None) -> None:
        """Replace the screen whose message loop (its own or one of its widgets') the error stopped."""
        if pump is None or pump.is_running:
            return  # raised while drawing or in a worker: nothing stopped
        screen = pump if isinstance(pump, Screen) else getattr(pump, "screen", None)
        if not isinstance(screen, Screen) or screen not in self.screen_stack:
            return
        if screen is not self.screen_stack[0]:
            while self.screen is not screen:
                await self.pop_screen()
            await self.pop_screen()
            return
        mode = self.current_mode
        factory = self.MODES.get(mode)  # the view's first screen: built anew, in another view's absence
        others = [other for other in self.MODES if other != mode]
        if factory is None or not others:
            return
        await self.switch_mode(others[0])
        await self.remove_mode(mode)
        self.add_mode(mode, factory)
        await self.switch_mode(mode)
