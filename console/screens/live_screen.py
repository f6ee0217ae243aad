"""A screen that reloads its data when the database changes, but only while it can be seen."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from textual import events, on, work
from textual.binding import Binding
from textual.screen import Screen
from textual.timer import Timer
from textual.worker import Worker, get_current_worker

from console.messages import DataChanged
from engine import WorkflowError
from engine.actions import READ_ONLY_REFUSAL
from engine.outcomes import ActionResult

if TYPE_CHECKING:
    from console.app import WfConsoleApp
    from console.backend import ConsoleBackend
    from console.formatting import ConsoleClock


class LiveScreen(Screen[None]):
    """Base of the console's data screens.

    Subclasses implement :meth:`reload` (start a worker that reads and then shows). The app posts
    :class:`~console.messages.DataChanged` to the screens the operator can see; a screen hidden under
    another is marked stale and reloads when it comes back.
    """

    data_stale: bool = False
    # The screen's actions that change something: in a read-only console they are shown disabled and say why
    # when their key is pressed (the engine refuses them anyway: engine.actions.READ_ONLY_REFUSAL).
    WRITE_ACTIONS: ClassVar[frozenset[str]] = frozenset()
    REDRAW_SECONDS = 15.0  # relative times ("3m ago") are redrawn from memory this often
    # A screen whose reload costs more (a GROUP BY over every instance) reloads at most this often, however
    # fast the database changes; the reload after the last change still comes, just later.
    MIN_RELOAD_SECONDS = 0.0

    def on_mount(self) -> None:
        # Textual calls this after the subclass's own on_mount (handlers run along the MRO).
        self.set_interval(self.REDRAW_SECONDS, self.redraw)
        self.console.live_screens.add(self)
        self.reload()

    def on_unmount(self) -> None:
        self.console.live_screens.discard(self)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in self.WRITE_ACTIONS and self.backend.ops.readonly:
            return None  # shown, dimmed
        return True

    def on_key(self, event: events.Key) -> None:
        """A write action's key in a read-only console says why nothing happens."""
        if not self.WRITE_ACTIONS or not self.backend.ops.readonly:
            return
        bound = {binding.key: binding.action for binding in Binding.make_bindings(type(self).BINDINGS)}
        if bound.get(event.key) in self.WRITE_ACTIONS:
            event.stop()
            self.notify(READ_ONLY_REFUSAL, title="Read-only", severity="warning")

    # -- a key whose action is checked against the selected row ---------------------------------------

    def act_when_its_turn_comes(self, event: events.Key, action: str) -> None:
        """Handle ``event`` (bound to ``action``) after the keys typed before it have acted.

        Textual runs a key's handlers when the key reaches this screen but its binding only when it has bubbled
        up to the app: with keys typed fast (``j c`` in one write) this handler ran before ``j`` moved the
        cursor, and said the previous row's refusal (or let the key through on a row that refuses it). So the
        key's binding is not used: a call queued on the app now runs after the earlier keys' bindings, and then
        checks the row under the cursor (:meth:`key_refusal`) and notifies why, or runs the action."""
        event.stop()
        event.prevent_default()
        self.app.call_later(self._act_on_key, action)

    async def _act_on_key(self, action: str) -> None:
        if self.app.screen is not self:
            return  # a key after it opened a dialog or another screen
        refusal = self.key_refusal(action)
        if refusal is not None:
            self.notify(refusal, severity="warning")
            return
        await self.run_action(action)

    def key_refusal(self, action: str) -> str | None:
        """Why ``action`` does not apply to what is selected now (a screen that defers keys says), or ``None``."""
        return None

    def redraw(self) -> None:
        """Draw the data already loaded again (relative times move on); no database work."""

    @property
    def console(self) -> WfConsoleApp:
        return self.app  # type: ignore[return-value]

    @property
    def backend(self) -> ConsoleBackend:
        return self.console.backend

    @property
    def clock(self) -> ConsoleClock:
        return self.console.clock

    def reload(self) -> None:
        """Read what the screen shows again, in a worker."""
        raise NotImplementedError

    _load_worker: Worker | None = None  # the newest load, until it ends
    _change_pending: bool = False
    _last_load: float = float("-inf")
    _throttled: Timer | None = None

    @on(DataChanged)
    def _data_changed(self) -> None:
        if self._load_worker is not None:
            # Under a steady stream of commits, one reload after the running one, not one per tick.
            self._change_pending = True
            return
        wait = self._last_load + self.MIN_RELOAD_SECONDS - time.monotonic()
        if wait <= 0:
            self.reload()
        elif self._throttled is None:
            self._throttled = self.set_timer(wait, self._throttled_reload)

    def _throttled_reload(self) -> None:
        self._throttled = None
        self.reload()

    def load_started(self, worker: Worker) -> None:
        """Call on the event loop with the load worker just started (``self._load(...)`` returns it).

        A newer load supersedes the running one: an ``exclusive`` worker cancels the one before, possibly
        before its thread ever runs, so only the newest load's end is waited for.
        """
        self._load_worker = worker
        self._last_load = time.monotonic()

    def load_finished_from_thread(self) -> None:
        """Call from a load worker when it ends (shown, failed or cancelled)."""
        try:
            self.app.call_from_thread(self._load_finished, get_current_worker())
        except RuntimeError:
            pass  # the app is shutting down

    def _load_finished(self, worker: Worker) -> None:
        if worker is not self._load_worker:
            return  # superseded: the newer load's end counts
        self._load_worker = None
        if self._change_pending:
            self._change_pending = False
            self.reload()

    def on_screen_resume(self) -> None:
        if self.data_stale:
            self.data_stale = False
            self.reload()

    def action_refresh(self) -> None:
        """Reload now (the screen also reloads by itself when the database changes)."""
        self.reload()

    # -- operator actions, shared by the screens that offer them ------------------------------------

    async def ask(self, dialog: Screen[Any]) -> Any:
        """Show ``dialog`` over this screen and wait for its answer; ``None`` when this screen is no longer
        the one in front (the operator switched tabs before the dialog could open): a dialog must never
        open over another view, where it would seem to be about what that view shows."""
        if self.app.screen is not self:
            self.notify("The view changed before the dialog opened; nothing was done.", severity="warning")
            return None
        return await self.app.push_screen_wait(dialog)

    @work(thread=True, group="action", exit_on_error=False)
    def perform(self, what: Callable[[], ActionResult], title: str = "") -> None:
        """Run an operator action off the event loop, notify its outcome and reload.

        The notification says what the engine's :class:`~engine.outcomes.ActionResult` says; a refusal
        (a ``WorkflowError``) is shown as it is, any other error with its type, never as a traceback.
        """
        try:
            result = what()
        except WorkflowError as error:
            self.app.call_from_thread(self.notify, str(error), title=title or "Refused", severity="error",
                                      timeout=10)
        except Exception as error:  # noqa: BLE001 - the operator sees it, the console stays up
            self.app.call_from_thread(self.notify, f"{type(error).__name__}: {error}", title=title or "Error",
                                      severity="error", timeout=10)
        else:
            message, severity = result_notice(result)
            self.app.call_from_thread(self.notify, message, title=title, severity=severity,
                                      timeout=6 if severity == "information" else 12)
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self.reload)
            self.app.call_from_thread(self.console.refresh_runtime_status)

    def notify_error_from_thread(self, error: BaseException, title: str = "Error") -> None:
        """Show the failure of a read worker as a notification; call only from a worker thread."""
        text = str(error) if isinstance(error, WorkflowError) else f"{type(error).__name__}: {error}"
        self.app.call_from_thread(self.notify, text, title=title, severity="error", timeout=10)


def result_notice(result: ActionResult) -> tuple[str, str]:
    """(message, severity) of the notification of an action's result: a completion that changed nothing and a
    change after which the instance stopped at a split with no match are warnings."""
    if result.stopped is not None:
        return f"{result.message}, but {result.stopped}", "warning"
    return result.message, "information" if result.applied else "warning"
