"""History search: events by kind, node, actor and time range, within one instance or across all of them."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.timer import Timer
from textual.widgets import Header, Input, Select, Static
from textual.worker import get_current_worker

from console import keymap
from console.messages import OpenInstance
from console.screens.live_screen import LiveScreen
from console.time_input import HINT, parse_time_bound
from console.view_filters import ViewFilter
from console.widgets.console_footer import ConsoleFooter
from console.widgets.filter_line import DEBOUNCE_SECONDS
from console.widgets.history_results_table import HistoryResultsTable
from console.widgets.nav_bar import NavBar
from console.widgets.runtime_bar import RuntimeBar
from engine.model import HistoryKind
from engine.reports import HistoryHit, HistoryQuery
from engine.text import visible

LIMIT = 200
TEXT_FIELDS = ("instance", "node", "actor", "since", "until")


class HistorySearchScreen(LiveScreen):
    """Filters across the top (Enter in any of them searches), the events found below, newest first."""

    BINDINGS = keymap.HISTORY
    AUTO_FOCUS = "HistoryResultsTable"
    PALETTE_GROUP = "History"
    VIEW = "history"
    MIN_RELOAD_SECONDS = 5.0  # a search that matches rarely reads the whole history

    def __init__(self, instance_id: str | None = None) -> None:
        """``instance_id`` starts the search within that instance (from the instance screen's ``h``)."""
        super().__init__()
        self.initial_instance = instance_id or ""
        self.query_in_force: HistoryQuery | None = None
        self._searched = False
        self.hits: list[HistoryHit] = []
        self._typing: Timer | None = None
        self._pending_view: tuple[dict[str, str], str] | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield NavBar()
        yield RuntimeBar()
        with Horizontal(id="history-filters"):
            yield Input(self.initial_instance, placeholder="instance id prefix", id="h-instance")
            yield Select([(kind.value.lower().replace("_", " "), kind.value) for kind in HistoryKind],
                         prompt="any event", id="h-kind")
            yield Input(placeholder="node (part of id)", id="h-node")
            yield Input(placeholder="actor (part of it)", id="h-actor")
            yield Input(placeholder="from: 30m, 14:05…", id="h-since")
            yield Input(placeholder="until (empty: now)", id="h-until")
        yield Static("", id="history-status")
        yield HistoryResultsTable(id="history-results")
        yield ConsoleFooter()

    def on_mount(self) -> None:
        self.query_one("#history-filters").border_title = (
            "Search the history  (searches as you type · Enter or Esc to the results · times: " + HINT + ")")
        if self._pending_view is not None:
            self.call_after_refresh(self.apply_view, *self._pending_view)
            self._pending_view = None

    # -- the query --------------------------------------------------------------------------------

    def _field(self, name: str) -> str:
        return self.query_one(f"#h-{name}", Input).value.strip()

    def read_filters(self) -> HistoryQuery | str:
        """The query the filters describe, or what is wrong with them."""
        try:
            since = parse_time_bound(self._field("since"), self.clock)
            until = parse_time_bound(self._field("until"), self.clock)
        except ValueError as error:
            return str(error)
        if since is not None and until is not None and since >= until:
            return "'from' must be before 'until'"
        kind = self.query_one("#h-kind", Select).value
        return HistoryQuery(instance_id=self._field("instance") or None,
                            kind=kind if isinstance(kind, str) else None, node=self._field("node") or None,
                            actor=self._field("actor") or None, since=since, until=until, limit=LIMIT)

    def reload(self) -> None:
        self._searched = True
        query = self.read_filters()
        if isinstance(query, str):
            self._status(Text.assemble(("✗ ", "bold red"), visible(query)))
            self.query_in_force = None  # a search still running must not show its rows under this error
            self.hits = []
            self.query_one(HistoryResultsTable).show([], self.clock)  # the old rows do not match these filters
            return
        self.query_in_force = query
        self._status(Text("searching…", style="italic dim"))
        self.load_started(self._search(query))

    @work(thread=True, exclusive=True, group="history-search", exit_on_error=False)
    def _search(self, query: HistoryQuery) -> None:
        try:
            hits = self.backend.ops.search_history(query)
            if not get_current_worker().is_cancelled:
                self.app.call_from_thread(self._show, query, hits)
        except Exception as error:  # noqa: BLE001 - an unknown instance prefix, a locked database...
            text = visible(str(error))
            self.app.call_from_thread(self._status, Text.assemble(("✗ ", "bold red"), text))
        finally:
            self.load_finished_from_thread()

    def _show(self, query: HistoryQuery, hits: list[HistoryHit]) -> None:
        if query != self.query_in_force:
            return  # the filters changed while it ran
        self.hits = hits
        self.query_one(HistoryResultsTable).show(hits, self.clock)
        scope = f"instance {visible(query.instance_id[:8])}" if query.instance_id else "every instance"
        line = Text()
        if not hits:
            where = f"of instance {visible(query.instance_id[:8])} " if query.instance_id else ""
            line.append(f"No event {where}matches these filters.", style="yellow")
        elif len(hits) >= query.limit:
            line.append(f"The {len(hits)} newest matching events of {scope}", style="bold")
            line.append(" (more match: narrow the filters or the time range for older ones)", style="dim")
        else:
            line.append(f"{len(hits)} event(s) of {scope} match", style="bold")
        line.append("  · Enter opens the event's instance", style="dim")
        self._status(line)

    def redraw(self) -> None:
        self.query_one(HistoryResultsTable).show(self.hits, self.clock)

    def _status(self, text: Text) -> None:
        self.query_one("#history-status", Static).update(text)

    # -- keys -------------------------------------------------------------------------------------

    @on(Input.Changed)
    def _typed(self, event: Input.Changed) -> None:
        """Search as the operator types, once the typing pauses (a half-typed time waits for the rest)."""
        event.stop()
        if self._typing is not None:
            self._typing.stop()
        if self.is_mounted and self._searched:
            self._typing = self.set_timer(DEBOUNCE_SECONDS, self._search_typed)

    def _search_typed(self) -> None:
        self._typing = None
        if not isinstance(self.read_filters(), str):
            self.reload()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self._typing is not None:
            self._typing.stop()
            self._typing = None
        self.reload()
        if self.query_in_force is not None and not isinstance(self.read_filters(), str):
            self.query_one(HistoryResultsTable).focus()

    @on(Select.Changed)
    def _kind_changed(self) -> None:
        if self.is_mounted and self._searched:
            self.reload()

    @on(HistoryResultsTable.Opened)
    def _opened(self, event: HistoryResultsTable.Opened) -> None:
        self.post_message(OpenInstance(event.instance_id))

    def action_filter(self) -> None:
        """Move to the filters (they search as you type)."""
        self.query_one("#h-instance", Input).focus()

    def view_filter(self) -> ViewFilter:
        """The filters in force, as the ``:`` line and saved views write them."""
        terms = {name: self._field(name) for name in TEXT_FIELDS if self._field(name)}
        kind = self.query_one("#h-kind", Select).value
        if isinstance(kind, str):
            terms = {"kind": kind, **terms}
        return ViewFilter(self.VIEW, terms)

    def apply_view(self, terms: dict[str, str], text: str = "", *, typed: bool = False) -> None:
        """Fill the filters from the terms (``kind``, ``node``, ``actor``, ``instance``, ``since``, ``until``)
        and search. Words without a key search the node."""
        if not self.is_mounted:
            self._pending_view = (terms, text)  # applied once the fields exist
            return
        with self.prevent(Input.Changed, Select.Changed):
            for name in TEXT_FIELDS:
                self.query_one(f"#h-{name}", Input).value = terms.get(name, text if name == "node" else "")
            select = self.query_one("#h-kind", Select)
            if terms.get("kind"):
                select.value = terms["kind"]
            else:
                select.clear()
        self.reload()

    def action_clear(self) -> None:
        """Empty every filter and search again (the newest events of every instance)."""
        for name in TEXT_FIELDS:
            self.query_one(f"#h-{name}", Input).value = ""
        self.query_one("#h-kind", Select).clear()
        self.reload()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "back":  # Esc goes somewhere only from a filter, or from a search opened over an instance
            return isinstance(self.focused, (Input, Select)) or len(self.app.screen_stack) > 1 or None
        return True

    def on_descendant_focus(self) -> None:
        self.refresh_bindings()

    def action_back(self) -> None:
        """From a filter to the results; from the results back to the instance this search came from."""
        if isinstance(self.focused, (Input, Select)):
            self.query_one(HistoryResultsTable).focus()
        elif len(self.app.screen_stack) > 1 and self.app.screen is self:
            self.app.pop_screen()
