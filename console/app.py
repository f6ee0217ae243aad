"""The wfconsole Textual app: wires the screens, the live change signal and the app-wide keys together.

``run(db_path)`` is what the ``wfconsole`` command calls; tests construct :class:`WfConsoleApp` with
their own manager and a fixed clock.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual import on, work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.screen import ModalScreen, Screen

from console.backend import ConsoleBackend
from console.commands import ScreenActions
from console.formatting import ConsoleClock
from console.messages import DataChanged, OpenInstance
from console.screens.help_screen import HelpScreen
from console.screens.instance_detail_screen import InstanceDetailScreen
from console.screens.instances_screen import InstancesScreen
from console.screens.live_screen import LiveScreen
from engine import WorkflowError, WorkflowManager

POLL_SECONDS = 1.0


class WfConsoleApp(App[None]):
    """The operations console on one wfconsole database."""

    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute, so subclasses elsewhere find it
    TITLE = "wfconsole"
    COMMANDS = App.COMMANDS | {ScreenActions}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark", "help", "Keys"),
        Binding("ctrl+p", "command_palette", "Command palette", show=False),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, db_path: str | None = None, manager: WorkflowManager | None = None, *,
                 clock: ConsoleClock | None = None, actor: str | None = None,
                 poll_seconds: float = POLL_SECONDS) -> None:
        """Open ``db_path`` (unless a ``manager`` is given). ``clock`` and ``actor`` are for tests."""
        super().__init__()
        if manager is None:
            if db_path is None:
                raise ValueError("WfConsoleApp needs a db_path or a manager")
            self.backend = ConsoleBackend.open(db_path, actor)
        else:
            self.backend = ConsoleBackend(manager, actor)
        self._owns_store = manager is None  # a store handed in is closed by whoever opened it
        self.clock = clock or ConsoleClock()
        self.poll_seconds = poll_seconds
        self.sub_title = Path(db_path).name if db_path else str(getattr(self.backend.store, "source", ""))
        self._data_version: int | None = None

    def on_mount(self) -> None:
        self.push_screen(InstancesScreen())
        if self.poll_seconds > 0:
            self.set_interval(self.poll_seconds, self._watch_database)

    def on_unmount(self) -> None:
        if self._owns_store:
            self.backend.close()

    # -- live updates -----------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="data-version", exit_on_error=False)
    def _watch_database(self) -> None:
        """Read ``PRAGMA data_version`` (microseconds) and tell the visible screens when it moved."""
        try:
            version = self.backend.data_version()
        except Exception:  # noqa: BLE001 - a missed tick is retried a second later
            return
        if version is None or version == self._data_version:
            return
        first = self._data_version is None
        self._data_version = version
        if not first:
            self.call_from_thread(self.announce_change)

    def announce_change(self) -> None:
        """Post :class:`DataChanged` to the screens that can be seen; mark the hidden ones stale."""
        visible = True
        for screen in reversed(self.screen_stack):
            if isinstance(screen, LiveScreen):
                if visible:
                    screen.post_message(DataChanged())
                else:
                    screen.data_stale = True
            if not isinstance(screen, ModalScreen):
                visible = False  # an opaque screen hides everything under it

    # -- app-wide messages and keys ---------------------------------------------------------------

    @on(OpenInstance)
    def _open_instance(self, message: OpenInstance) -> None:
        self.push_screen(InstanceDetailScreen(message.instance_id))

    def action_help(self) -> None:
        """Show every key, the current screen's first."""
        current = self.screen if not isinstance(self.screen, ModalScreen) else None
        sections = [(self._screen_title(current), current.BINDINGS)] if current is not None else []
        for screen_class in (InstancesScreen, InstanceDetailScreen):
            if current is None or type(current) is not screen_class:
                sections.append((self._screen_title(screen_class), screen_class.BINDINGS))
        sections.append(("Everywhere", self.BINDINGS))
        self.push_screen(HelpScreen(sections))

    @staticmethod
    def _screen_title(screen: Screen | type[Screen]) -> str:
        group = getattr(screen, "PALETTE_GROUP", None) or getattr(screen, "__name__", type(screen).__name__)
        return f"{group} screen"


def run(db_path: str, workers_module: str | None = None) -> None:
    """Open the console on ``db_path`` (created if missing) and run it until the operator quits.

    ``workers_module`` names the module of task workers to start in-process; not wired yet, accepted
    so the CLI can pass it. A database that cannot be used exits with its message, not a traceback.
    """
    del workers_module  # the worker runtime is started here once it exists
    try:
        app = WfConsoleApp(db_path=db_path)
    except WorkflowError as error:
        raise SystemExit(f"wfconsole: {error}") from None
    app.run()
