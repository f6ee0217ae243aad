"""The wfconsole Textual app: wires the views, the worker runtime, the live change signal and the app-wide keys.

Each view is a Textual *mode* with its own screen stack (``1`` Overview, ``2`` Instances, ``3`` Incidents,
``4`` Blueprints, ``5`` History, ``6`` Tasks), so an instance opened from the incidents comes back to the incidents.
``run(db_path, workers_module)`` is what the ``wfconsole`` command calls; tests construct
:class:`WfConsoleApp` with their own manager and a fixed clock.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar

from textual import events, on, work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.logging import TextualHandler
from textual.notifications import SeverityLevel
from textual.reactive import reactive
from textual.screen import ModalScreen, Screen
from textual.worker import get_current_worker

from console import keymap
from console.backend import ConsoleBackend
from console.cli_input import require_terminal
from console.commands import ScreenActions
from console.formatting import ConsoleClock
from console.messages import DataChanged, OpenInstance, WorkerOutcome
from console.rendering_errors import SurvivesRenderingErrors
from console.saved_views import NAME, SavedViews
from console.screens.blueprints_screen import BlueprintsScreen
from console.screens.command_line import COMMANDS, CommandLineScreen
from console.screens.help_screen import HelpScreen
from console.screens.history_search_screen import HistorySearchScreen
from console.screens.incidents_screen import IncidentsScreen
from console.screens.instance_detail_screen import InstanceDetailScreen
from console.screens.instances_screen import InstancesScreen
from console.screens.live_screen import LiveScreen
from console.screens.overview_screen import OverviewScreen
from console.screens.tasks_screen import TasksScreen
from console.view_filters import VIEW_NAMES, FilterError, ViewFilter, did_you_mean, parse_command
from console.widgets.nav_bar import VIEWS
from console.widgets.runtime_bar import RuntimeStatus
from engine import WorkflowError, WorkflowManager
from engine.conditions import load_evaluator
from engine.model import Execution
from engine.runtime import Outcome, WorkerRuntime
from engine.text import visible
from engine.workers import WorkerRegistry, load_workers

POLL_SECONDS = 1.0
SHORT_TERMINAL_ROWS = 30
STATUS_SECONDS = 5.0  # the header is recounted this often even without commits: leases lapse silently
STOP_GRACE_SECONDS = 5.0  # on quit, running attempts get this long to finish; the rest's leases are released
SCREENS_BY_MODE: dict[str, type[Screen]] = {
    "overview": OverviewScreen, "instances": InstancesScreen, "incidents": IncidentsScreen,
    "blueprints": BlueprintsScreen, "history": HistorySearchScreen, "tasks": TasksScreen,
}


class WfConsoleApp(SurvivesRenderingErrors, App[None]):
    """The operations console on one wfconsole database, optionally running task workers in-process.

    A rendering error does not end it (:mod:`console.rendering_errors`); every notification shows its
    text as it is (:meth:`notify`).
    """

    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute, so subclasses elsewhere find it
    TITLE = "wfconsole"
    COMMANDS = App.COMMANDS | {ScreenActions}
    MODES: ClassVar[dict[str, Any]] = dict(SCREENS_BY_MODE)
    BINDINGS: ClassVar[list[BindingType]] = [
        *(Binding(key, f"go('{mode}')", title, show=False) for mode, key, title in VIEWS),
        *keymap.APP,
    ]

    runtime_status: reactive[RuntimeStatus] = reactive(RuntimeStatus)

    def __init__(self, db_path: str | None = None, manager: WorkflowManager | None = None, *,
                 clock: ConsoleClock | None = None, actor: str | None = None,
                 poll_seconds: float = POLL_SECONDS, workers: WorkerRegistry | None = None,
                 runtime_options: dict[str, Any] | None = None, start_mode: str = "overview",
                 config_dir: Path | None = None, readonly: bool = False) -> None:
        """Open ``db_path`` (unless a ``manager`` is given) and, with ``workers``, run them in-process.

        ``clock``, ``actor``, ``runtime_options`` (passed to :class:`WorkerRuntime`), ``start_mode`` and
        ``config_dir`` (where the saved views are; default: the platform's, see :mod:`console.saved_views`)
        are for tests. ``readonly``: every change is refused by the engine, and shown disabled.
        """
        super().__init__()
        if readonly and workers is not None:
            raise ValueError("a read-only console cannot run workers: they complete and fail tasks")
        if manager is None:
            if db_path is None:
                raise ValueError("WfConsoleApp needs a db_path or a manager")
            self.backend = ConsoleBackend.open(db_path, actor, readonly=readonly)
        else:
            self.backend = ConsoleBackend(manager, actor, readonly=readonly)
        self._owns_store = manager is None  # a store handed in is closed by whoever opened it
        self.clock = clock or ConsoleClock()
        self.poll_seconds = poll_seconds
        self.start_mode = start_mode
        # A file by its name; a URL as the store shows it (without its password).
        self.sub_title = visible(Path(db_path).name if db_path and "://" not in db_path else self.backend.ops.source)
        if readonly:
            self.title = "wfconsole (read-only)"
        self.live_screens: weakref.WeakSet[LiveScreen] = weakref.WeakSet()
        self.saved_views = SavedViews(config_dir)
        self.workflow_ids: list[str] = []  # for the : line's completion, read in a worker
        self._data_version: int | None = None
        self.runtime: WorkerRuntime | None = None
        self._runtime_stopped = False
        if workers is not None:
            self.runtime = WorkerRuntime(self.backend.manager, workers, on_outcome=self._on_outcome,
                                         **(runtime_options or {}))

    def on_mount(self) -> None:
        self._fit_terminal()
        self.switch_mode(self.start_mode)
        for warning in self.backend.ops.store_warnings:  # e.g. a database others can read
            self.notify(warning, title="Database file", severity="warning", timeout=20, markup=False)
        if self.saved_views.problem:
            self.notify(self.saved_views.problem, title="Saved views", severity="warning", timeout=20)
        self._read_workflow_ids()
        if self.runtime is not None:
            self.runtime.start()
        self.refresh_runtime_status()
        if self.poll_seconds > 0:
            self.set_interval(self.poll_seconds, self._watch_database)
            self.set_interval(STATUS_SECONDS, self.refresh_runtime_status)
        # The condition evaluator is imported on first use (~0.1 s): once the first screen is up, so that
        # opening the first instance does not wait for it, and the first screen did not either.
        self.set_timer(1.0, self._load_condition_evaluator)

    def on_resize(self) -> None:
        self._fit_terminal()

    def _fit_terminal(self) -> None:
        # A short terminal (80x24) gets the short layout of app.tcss: one header line of counts, a smaller
        # graph without its legend, the overview's charts on one line each.
        self.set_class(self.size.height < SHORT_TERMINAL_ROWS, "-short")

    @work(thread=True, group="warm-up", exit_on_error=False)
    def _load_condition_evaluator(self) -> None:
        load_evaluator()

    def on_unmount(self) -> None:
        if self.runtime is not None and not self._runtime_stopped:
            self._runtime_stopped = True
            self.runtime.stop(grace=0)  # quit without q (e.g. Ctrl+C): release the leases at least
        if self._owns_store:
            self.backend.close()

    # -- live updates -----------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="data-version", exit_on_error=False)
    def _watch_database(self) -> None:
        """Read ``PRAGMA data_version`` (microseconds) and tell the visible screens when it moved."""
        try:
            version = self.backend.ops.change_token()
        except Exception:  # noqa: BLE001 - a missed tick is retried a second later
            return
        if version is None or version == self._data_version:
            return
        first = self._data_version is None
        self._data_version = version
        if not first:
            self.call_from_thread(self.announce_change)

    def announce_change(self) -> None:
        """Post :class:`DataChanged` to the screens that can be seen; mark the others stale (they reload
        when they come back), and count the header again."""
        visible: set[Screen] = set()
        for screen in reversed(self.screen_stack):
            visible.add(screen)
            if not isinstance(screen, ModalScreen):
                break  # an opaque screen hides everything under it
        for screen in list(self.live_screens):
            if screen in visible:
                screen.post_message(DataChanged())
            else:
                screen.data_stale = True
        self.refresh_runtime_status()

    @work(thread=True, exclusive=True, group="runtime-status", exit_on_error=False)
    def refresh_runtime_status(self) -> None:
        """Count the open executions for the header, off the event loop."""
        runtime = self.runtime
        task_ids = tuple(runtime.registry.task_ids) if runtime is not None else ()
        workers = "none" if runtime is None else "running" if runtime.running else "stopping"
        try:
            counts, problem = self.backend.ops.execution_counts(task_ids, self.clock.now()), None
        except Exception as error:  # noqa: BLE001 - shown in the header line, retried at the next change
            counts, problem = None, f"cannot count: {error}"
        stats = runtime.stats if runtime is not None else None
        status = RuntimeStatus(workers, task_ids, counts, stats.completed if stats else 0,
                               stats.failed if stats else 0, problem,
                               zombies=runtime.zombie_count if runtime is not None else 0)
        if not get_current_worker().is_cancelled:  # a newer count is on its way
            self.call_from_thread(setattr, self, "runtime_status", status)

    # -- the worker runtime -----------------------------------------------------------------------

    def _on_outcome(self, execution: Execution, outcome: Outcome, elapsed: float, error: str | None) -> None:
        # Runs in a worker thread: post_message is thread-safe and never waits for the event loop.
        if outcome is Outcome.FAILED:
            self.post_message(WorkerOutcome(execution, outcome.value, error))

    @on(WorkerOutcome)
    def _worker_failed(self, message: WorkerOutcome) -> None:
        execution = message.execution
        self.notify(f"{execution.task_id} at {execution.node_id} of instance {execution.instance_id[:8]} failed "
                    f"after {execution.attempt} attempt(s): {message.error}. Press 3 for the incidents.",
                    title="New incident", severity="warning", timeout=8)

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = True) -> None:
        """Show a notification (thread-safe). Its message and title are shown as the characters they are,
        never read as markup (``markup`` is ignored): notifications quote reasons, ids and errors. Control
        and bidi characters are made visible; a newline stays a line break."""
        super().notify(visible(str(message), multiline=True), title=visible(str(title)), severity=severity,
                       timeout=timeout, markup=False)

    async def on_event(self, event: events.Event) -> None:
        # Pasted text is outside text: its control and bidi characters arrive in a form field as visible
        # escapes, never raw (a field shows its text as it is). Keys cannot type them (Textual inserts
        # only printable characters). Line breaks and tabs stay: a pasted JSON document keeps its layout.
        if isinstance(event, events.Paste) and not event.is_forwarded and not event.text.isprintable():
            event.text = "\t".join(visible(part, multiline=True) for part in event.text.split("\t"))
        await super().on_event(event)

    async def action_quit(self) -> None:
        """Quit; with workers running here, first let their running attempts finish (a few seconds)."""
        runtime = self.runtime
        if runtime is None or self._runtime_stopped:
            self.exit()
            return
        self._runtime_stopped = True
        running = runtime.running_count
        self.notify(f"stopping the workers: waiting up to {STOP_GRACE_SECONDS:g}s for {running} running "
                    "attempt(s)…" if running else "stopping the workers…", title="Quit", timeout=STOP_GRACE_SECONDS)
        self._stop_runtime_then_exit(runtime)

    @work(thread=True, group="quit", exit_on_error=False)
    def _stop_runtime_then_exit(self, runtime: WorkerRuntime) -> None:
        self.call_from_thread(setattr, self, "runtime_status",
                              RuntimeStatus("stopping", self.runtime_status.task_ids, self.runtime_status.counts))
        try:
            runtime.stop(grace=STOP_GRACE_SECONDS)
        finally:
            self.call_from_thread(self.exit)

    # -- views, app-wide messages and keys --------------------------------------------------------

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Textual's palette entries, less "Keys" and "Quit": the console's own (``Console: Keys``,
        ``Console: Quit``) are listed already."""
        for command in super().get_system_commands(screen):
            if command.title not in ("Keys", "Quit"):
                yield command

    def action_go(self, mode: str) -> None:
        """Show a view; its own key again goes back to its first screen (e.g. from an instance to the list)."""
        if isinstance(self.screen, ModalScreen):
            self.bell()  # a dialog is waiting for an answer: Esc closes it
            return
        if mode != self.current_mode:
            self.switch_mode(mode)
            return
        while len(self.screen_stack) > 1 and not isinstance(self.screen, ModalScreen):
            self.pop_screen()

    def show_instances(self, status: str | None = None, workflow_id: str | None = None,
                       task_id: str | None = None, version: int | None = None, waiting: bool = False) -> None:
        """Show the instances view filtered by ``status``, ``workflow_id`` (``version`` of it), an open
        execution of ``task_id`` (``None``: every one) and, if ``waiting``, a task waiting for a person."""
        self.action_go("instances")
        listing = self.screen_stack[0]
        if isinstance(listing, InstancesScreen):
            listing.apply_filters(status, workflow_id, task_id, version, waiting)

    @on(OpenInstance)
    def _open_instance(self, message: OpenInstance) -> None:
        self.push_screen(InstanceDetailScreen(message.instance_id, message.execution_id))

    # -- the : command line and saved views ---------------------------------------------------------

    def action_command_line(self) -> None:
        """Open the ``:`` line: a view (filtered), a saved view, ``save NAME``, ``instance ID``, ``quit``."""
        if isinstance(self.screen, ModalScreen):
            self.bell()
            return
        self._read_workflow_ids()  # for the next completion; the line opens at once with what is known
        self.push_screen(CommandLineScreen(self.saved_views.views, self.workflow_ids), self._command_entered)

    @work(thread=True, exclusive=True, group="workflow-ids", exit_on_error=False)
    def _read_workflow_ids(self) -> None:
        try:
            workflow_ids = self.backend.ops.workflow_ids()
        except Exception:  # noqa: BLE001 - completion goes without them
            return
        self.call_from_thread(setattr, self, "workflow_ids", workflow_ids)

    def _command_entered(self, line: str | None) -> None:
        if line:
            self.run_worker(self.run_command(line), group="command", exit_on_error=False)

    async def run_command(self, line: str) -> None:
        """Do what a ``:`` line says; a mistake is one notification naming the nearest valid word."""
        word, _, rest = line.strip().partition(" ")
        command, rest = word.lower(), rest.strip()
        if command in ("q", "quit"):
            await self.action_quit()
        elif command == "help":
            self.action_help()
        elif command == "save":
            self.save_view(rest)
        elif command == "unsave":
            removed = self.saved_views.delete(rest)
            self.notify(f"saved view {rest!r} forgotten" if removed else f"no saved view {rest!r}"
                        f"{did_you_mean(rest, self.saved_views.views) if not removed else ''}",
                        title="Saved views", severity="information" if removed else "warning")
        elif command == "instance":
            self._open_by_prefix(rest)
        elif word in self.saved_views.views:
            await self._show_command(self.saved_views.views[word], saved=word)
        else:
            await self._show_command(line)

    async def _show_command(self, line: str, saved: str | None = None) -> None:
        try:
            wanted = parse_command(line, [*self.saved_views.views, *COMMANDS])
        except FilterError as error:
            where = f"saved view {saved!r}: " if saved else ""
            self.notify(f"{where}{error}", title="Command", severity="warning", timeout=8)
            return
        await self.show_view(wanted)

    async def show_view(self, wanted: ViewFilter) -> None:
        """Show the view ``wanted`` names, filtered as it says (its first screen: the list, not an instance)."""
        if isinstance(self.screen, ModalScreen):
            self.bell()
            return
        if wanted.view != self.current_mode:
            await self.switch_mode(wanted.view)
        while len(self.screen_stack) > 1 and not isinstance(self.screen, ModalScreen):
            self.pop_screen()
        listing = self.screen_stack[0]
        apply_view = getattr(listing, "apply_view", None)
        if apply_view is not None:
            try:
                apply_view(wanted.terms, wanted.text)
            except FilterError as error:
                self.notify(str(error), title="Command", severity="warning", timeout=8)

    def current_view(self) -> ViewFilter:
        """The view in front (its list, when an instance is open over it) with its filters."""
        listing = self.screen_stack[0] if self.screen_stack else None
        view_filter = getattr(listing, "view_filter", None)
        return view_filter() if view_filter is not None else ViewFilter(self.current_mode)

    def save_view(self, name: str) -> None:
        """Save the view in front, with its filters, as ``name`` (``:save NAME``)."""
        if not NAME.fullmatch(name) or name.lower() in (*VIEW_NAMES, *COMMANDS, "q"):
            self.notify(f"{name!r} cannot name a saved view: up to 40 letters, digits, '-' and '_', not a view's "
                        "or a command's name" if name else "save what name? :save NAME", title="Saved views",
                        severity="warning")
            return
        line = self.current_view().command()
        try:
            self.saved_views.save(name, line)
        except OSError as error:
            self.notify(f"cannot save the view in {self.saved_views.path}: {error}", title="Saved views",
                        severity="error", timeout=10)
            return
        self.notify(f"saved {name!r}: {line} — :{name} or the command palette opens it", title="Saved views")

    @work(thread=True, group="open-instance", exit_on_error=False)
    def _open_by_prefix(self, prefix: str) -> None:
        try:
            instance_id = self.backend.ops.resolve_instance(prefix)
        except WorkflowError as error:
            self.call_from_thread(self.notify, str(error), title="Command", severity="warning")
            return
        self.call_from_thread(self.post_message, OpenInstance(instance_id))

    def action_help(self) -> None:
        """Show every key, the current screen's first."""
        current = self.screen if not isinstance(self.screen, ModalScreen) else None
        sections = [(self._screen_title(current), current.BINDINGS)] if current is not None else []
        sections.append(("Everywhere (the views and the console)", self.BINDINGS))
        for screen_class in (*SCREENS_BY_MODE.values(), InstanceDetailScreen):
            if current is None or type(current) is not screen_class:
                sections.append((self._screen_title(screen_class), screen_class.BINDINGS))
        self.push_screen(HelpScreen(sections))

    @staticmethod
    def _screen_title(screen: Screen | type[Screen]) -> str:
        group = getattr(screen, "PALETTE_GROUP", None) or getattr(screen, "__name__", type(screen).__name__)
        return f"{group} screen"


def _log_to_textual() -> None:
    """While the console runs, the runtime's log lines go to Textual's log, not over the screen."""
    for name, level in (("wfconsole", logging.WARNING), ("apscheduler", logging.ERROR)):
        logger = logging.getLogger(name)
        logger.handlers[:] = [TextualHandler()]
        logger.setLevel(level)
        logger.propagate = False


def run(db_path: str, workers_module: str | None = None, readonly: bool = False) -> int:
    """Open the console on ``db_path`` (created if missing) and run it until the operator quits; return the
    exit status: 0, or 1 when the console ended on an error (Textual shows it as it exits).

    With ``workers_module`` (a dotted name or a ``.py`` path) its workers and the stuck-token check run
    in-process while the console is open. A module that cannot be loaded raises ``WorkerLoadError``
    before anything is shown (the CLI prints it on one line, exit code 2); a database that cannot be
    used exits with its message, not a traceback.
    """
    registry = load_workers(workers_module) if workers_module else None
    require_terminal()  # before the database is opened (and created)
    try:
        app = WfConsoleApp(db_path=db_path, workers=registry, readonly=readonly)
    except WorkflowError as error:
        raise SystemExit(f"wfconsole: {error}") from None
    _log_to_textual()
    app.run()
    return app.return_code or 0
