"""A batch running: its progress, a key to stop it between two instances, and at the end what was done and each
refusal with its instance. A stopped batch can be resumed from here: the instances it did are skipped."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, ProgressBar, Static
from textual.worker import get_current_worker

from console.formatting import short_id, shown
from console.widgets.columned_table import ColumnedTable
from engine.repair_ops import BatchResult

RunBatch = Callable[[list[str], "str | None", Callable[[], bool], Callable[[int, int], None]], BatchResult]
"""``run(instance_ids, batch_id, should_stop, progress)``: :meth:`engine.operations.Operations.batch` with the
action bound (blocking: called in a thread worker)."""

PROGRESS_SECONDS = 0.1  # the bar is redrawn at most this often


class RefusalsTable(ColumnedTable):
    """One row per instance the batch refused, with the engine's reason."""

    DEFAULT_CSS = "RefusalsTable { height: auto; max-height: 12; }"
    COLUMNS = ("INSTANCE", "WHY IT WAS REFUSED")

    def show(self, refused: list[tuple[str, str]]) -> None:
        self.ensure_columns()
        self.clear()
        for instance_id, reason in refused:
            self.add_row(short_id(instance_id), " ".join(reason.split()), key=instance_id)


class BatchProgressModal(ModalScreen[BatchResult | None]):
    """Runs the batch at once. Esc stops it after the instance in hand; at the end ``R`` resumes a stopped
    batch and Esc closes, returning the last :class:`BatchResult`."""

    BINDINGS = [
        Binding("escape", "escape", "Stop / Close"),
        Binding("R", "resume", "Resume"),  # R resumes, as on the instance screen
    ]

    DEFAULT_CSS = """
    BatchProgressModal { align: center middle; }
    BatchProgressModal > Vertical {
        width: 110; max-width: 100%; height: auto; max-height: 100%; overflow-y: auto;
        border: thick $warning; background: $surface; padding: 0 1;
    }
    BatchProgressModal #batch-run-title { text-style: bold; }
    BatchProgressModal #batch-bar { margin: 1 0 0 0; }
    BatchProgressModal #batch-counts { height: auto; }
    BatchProgressModal .hint { color: $text-muted; }
    BatchProgressModal RefusalsTable { display: none; }
    BatchProgressModal #batch-run-buttons { height: auto; align-horizontal: right; dock: bottom; }
    BatchProgressModal Button { margin-left: 1; }
    """

    def __init__(self, title: str, instance_ids: list[str], run: RunBatch) -> None:
        super().__init__()
        self.title_text = title
        self.instance_ids = instance_ids
        self.run = run
        self.result: BatchResult | None = None
        self.running = False
        self._stop = threading.Event()
        self._last_drawn = 0.0

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(shown(self.title_text), id="batch-run-title")
            yield ProgressBar(total=len(self.instance_ids), show_eta=False, id="batch-bar")
            yield Static("", id="batch-counts")
            yield RefusalsTable(id="batch-refusals")
            yield Static("", id="batch-hint", classes="hint")
            with Horizontal(id="batch-run-buttons"):
                yield Button("Stop (Esc)", id="stop", variant="error")
                yield Button("Resume (R)", id="resume", variant="warning")
                yield Button("Close (Esc)", id="close")

    def on_mount(self) -> None:
        self._start(None)

    def _start(self, batch_id: str | None) -> None:
        self._stop.clear()
        self.running = True
        self._show_buttons()
        self.query_one("#batch-hint", Static).update("Esc stops it after the instance in hand")
        self._run(batch_id)

    def _show_buttons(self) -> None:
        stopped = self.result is not None and self.result.stopped
        self.query_one("#stop").display = self.running
        self.query_one("#resume").display = not self.running and stopped
        self.query_one("#close").display = not self.running

    @work(thread=True, exclusive=True, group="batch-run", exit_on_error=False)
    def _run(self, batch_id: str | None) -> None:
        try:
            result: BatchResult | str = self.run(self.instance_ids, batch_id, self._stop.is_set, self._progress)
        except Exception as error:  # noqa: BLE001 - the batch could not start (e.g. the database is gone)
            result = f"{type(error).__name__}: {error}"
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._finished, result)

    def _progress(self, number: int, total: int) -> None:
        """Called by the batch after each instance (in its thread): the bar, at most every 0.1 s."""
        now = time.monotonic()
        if number == total or now - self._last_drawn >= PROGRESS_SECONDS:
            self._last_drawn = now
            self.app.call_from_thread(self._draw_progress, number, total)

    def _draw_progress(self, number: int, total: int) -> None:
        self.query_one(ProgressBar).update(progress=number)
        self.query_one("#batch-counts", Static).update(f"{number:,} of {total:,} instances")

    def _finished(self, result: BatchResult | str) -> None:
        self.running = False
        if isinstance(result, str):
            self.query_one("#batch-counts", Static).update(Text(result, style="bold red"))
            self.query_one("#batch-hint", Static).update("nothing more was done")
            self._show_buttons()
            return
        self.result = result
        reached = result.total + len(result.skipped)
        self.query_one(ProgressBar).update(progress=reached)
        counts = Text()
        counts.append(f"batch {result.batch_id}: ", style="bold")
        counts.append(f"{len(result.done):,} done", style="green")
        if result.skipped:
            counts.append(f" · {len(result.skipped):,} done before (skipped)", style="dim")
        counts.append(f" · {len(result.refused):,} refused", style="bold red" if result.refused else "dim")
        counts.append(f" · {reached:,} of {len(self.instance_ids):,} reached", style="dim")
        if result.stopped:
            counts.append("  stopped", style="bold yellow")
        self.query_one("#batch-counts", Static).update(counts)
        table = self.query_one(RefusalsTable)
        table.display = bool(result.refused)
        table.show(result.refused)
        hint = "R resumes it: the instances it did are skipped · " if result.stopped else ""
        self.query_one("#batch-hint", Static).update(f"{hint}each one is in its history with the batch id · "
                                                     "Esc closes")
        self._show_buttons()

    def action_stop(self) -> None:
        if self.running:
            self._stop.set()
            self.query_one("#batch-hint", Static).update("stopping after the instance in hand…")

    def action_resume(self) -> None:
        if not self.running and self.result is not None and self.result.stopped:
            self._start(self.result.batch_id)

    def action_escape(self) -> None:
        if self.running:
            self.action_stop()
        else:
            self.dismiss(self.result)

    @on(Button.Pressed, "#stop")
    def _stop_pressed(self) -> None:
        self.action_stop()

    @on(Button.Pressed, "#resume")
    def _resume_pressed(self) -> None:
        self.action_resume()

    @on(Button.Pressed, "#close")
    def _close_pressed(self) -> None:
        self.dismiss(self.result)
