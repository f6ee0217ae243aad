"""Helpers for the pilots that drive the real console app: an async runner, a recording app, settling."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable, Coroutine
from typing import Any

from textual import events
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, TextArea

from console.app import WfConsoleApp

SIZE = (160, 48)


def run_async(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an ``async`` test in its own event loop (no asyncio pytest plugin is installed)."""

    @functools.wraps(test)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return wrapper


class RecordingApp(WfConsoleApp):
    """The console, remembering every notification it showed as (severity, title, message)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.notes: list[tuple[str, str]] = []
        self.titled_notes: list[tuple[str, str, str]] = []

    def notify(self, message: str, *args: Any, severity: str = "information", title: str = "",
               **kwargs: Any) -> None:
        self.notes.append((severity, str(message)))
        self.titled_notes.append((severity, title, str(message)))
        super().notify(message, *args, severity=severity, title=title, **kwargs)


async def settle(pilot: Pilot) -> None:
    """Wait until no loading or action worker runs (dialog workers wait for the operator), and every table
    has measured the rows it got: a DataTable sizes its columns on its next Idle, which can come after the
    pilot's pause (a snapshot then caught the columns at their labels' widths)."""
    for _ in range(300):
        await pilot.pause()
        if all(worker.is_finished or worker.group in ("dialog", "quit") for worker in pilot.app.workers):
            break
        await asyncio.sleep(0.01)
    for _ in range(300):
        await pilot.pause()
        if not any(table._require_update_dimensions or table._new_rows  # Textual's pending measurements
                   for table in pilot.app.screen.query(DataTable)):
            break
        await asyncio.sleep(0.01)
    for field in [*pilot.app.screen.query(Input), *pilot.app.screen.query(TextArea)]:  # cursors steady, not mid-blink
        field.cursor_blink = False
    await pilot.pause()


async def wait_until(pilot: Pilot, condition: Callable[[], bool], timeout: float = 60.0) -> bool:
    """Poll ``condition`` while the app runs, at most ``timeout`` seconds; return whether it came true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await pilot.pause()
        if condition():
            return True
        await asyncio.sleep(0.05)
    return condition()


async def paste(pilot: Pilot, text: str) -> None:
    """Paste ``text`` into the focused field, as a terminal sends a paste (one bracketed-paste event): what a
    person does with a path or a long line, and one event instead of a key press per character."""
    pilot.app.post_message(events.Paste(text))
    await pilot.pause()
