"""Blueprints: each workflow and its versions, the graph and warnings of the selected one; start and load."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.widgets import DataTable, Header, Static
from textual.worker import get_current_worker

from console import keymap
from console.backend import BlueprintDetail
from console.formatting import shown
from console.messages import OpenInstance
from console.screens.live_screen import LiveScreen, result_notice
from console.screens.load_blueprint_modal import LoadBlueprintModal
from console.screens.start_instance_modal import StartInstanceModal, context_keys
from console.view_filters import ViewFilter
from console.widgets.blueprints_table import BlueprintsTable
from console.widgets.console_footer import ConsoleFooter
from console.widgets.filter_line import FilterLine
from console.widgets.nav_bar import NavBar
from console.widgets.runtime_bar import RuntimeBar
from console.widgets.token_graph import TokenGraph
from engine import WorkflowError
from engine.ports import BlueprintSummary
from engine.text import visible


class BlueprintsScreen(LiveScreen):
    """Stored blueprints. The graph below follows the version under the cursor."""

    BINDINGS = keymap.BLUEPRINTS
    AUTO_FOCUS = "BlueprintsTable"
    PALETTE_GROUP = "Blueprints"
    VIEW = "blueprints"
    WRITE_ACTIONS = frozenset({"start", "load"})
    MIN_RELOAD_SECONDS = 5.0  # the instance counts are a GROUP BY over the instances

    def __init__(self) -> None:
        super().__init__()
        self.summaries: list[BlueprintSummary] = []
        self.details: dict[tuple[str, int], BlueprintDetail] = {}  # a stored version never changes
        self.shown: tuple[str, int] | None = None
        self._select: tuple[str, int] | None = None
        self._last_path = ""
        self.text = ""  # the / filter: words of a workflow's id or name

    def compose(self) -> ComposeResult:
        yield Header()
        yield NavBar()
        yield RuntimeBar()
        yield FilterLine("words of a workflow's id or name", id="filter")
        yield Static("", id="empty")
        yield BlueprintsTable(id="blueprints")
        yield TokenGraph(id="blueprint-graph", choosable=False)
        yield Static("", id="blueprint-info")
        yield ConsoleFooter()

    def on_mount(self) -> None:
        self.query_one("#blueprints").border_title = "Workflows and versions  (s start an instance · L load a file)"
        self.query_one("#blueprint-graph").border_title = "Graph"
        self.query_one("#blueprint-info").border_title = "Validation warnings"
        self.query_one(FilterLine).set_text(self.text)

    # -- the filter (in memory: a database holds a few hundred blueprints at most) ---------------------

    def view_filter(self) -> ViewFilter:
        """The filter in force, as the ``:`` line and saved views write it."""
        return ViewFilter(self.VIEW, {}, self.text)

    def apply_view(self, terms: dict[str, str], text: str = "", *, typed: bool = False) -> None:
        """Show the workflows whose id or name holds every word of ``text``."""
        self.text = text
        if self.is_mounted:
            if not typed:
                self.query_one(FilterLine).set_text(text)
            self._show(self.summaries)

    def action_filter(self) -> None:
        """Open the filter line (it filters as you type)."""
        self.query_one(FilterLine).open()

    def action_clear_filter(self) -> None:
        """Show every workflow."""
        self.apply_view({})

    @on(FilterLine.Filtered)
    def _filter_changed(self, event: FilterLine.Filtered) -> None:
        self.apply_view({}, event.text, typed=True)

    @on(FilterLine.Done)
    def _filter_done(self) -> None:
        self.query_one(BlueprintsTable).focus()

    def action_zoom_graph(self) -> None:
        """The graph's next zoom level: full labels, short labels, symbols."""
        self.query_one(TokenGraph).cycle_zoom()

    # -- loading ----------------------------------------------------------------------------------

    def reload(self) -> None:
        self.load_started(self._load())

    @work(thread=True, exclusive=True, group="blueprints-load", exit_on_error=False)
    def _load(self) -> None:
        try:
            summaries = self.backend.ops.blueprints()
            if not get_current_worker().is_cancelled:
                self.app.call_from_thread(self._show, summaries)
        except Exception as error:  # noqa: BLE001
            self.notify_error_from_thread(error, "Cannot list the blueprints")
        finally:
            self.load_finished_from_thread()

    def _show(self, summaries: list[BlueprintSummary]) -> None:
        self.summaries = summaries
        words = self.text.lower().split()
        kept = [s for s in summaries if all(w in f"{s.workflow_id} {s.name or ''}".lower() for w in words)]
        table = self.query_one(BlueprintsTable)
        table.show(kept, self._select)
        self._select = None
        empty = self.query_one("#empty", Static)
        empty.display = not kept
        empty.update("No workflow matches this filter: / changes it, Esc clears it." if summaries else
                     "No blueprints yet. Press L to load a blueprint file (for example "
                     "sample_data/order_fulfilment.json).")
        if not kept:
            self.query_one(TokenGraph).show_nothing("no blueprint")
        self._follow_cursor()

    @on(DataTable.RowHighlighted)
    def _follow_cursor(self) -> None:
        selected = self.query_one(BlueprintsTable).selected
        if selected is None:
            return
        key = (selected.workflow_id, selected.version)
        newest = self.query_one(BlueprintsTable).newest_version(selected.workflow_id)
        if key in self.details:
            self._show_detail(self.details[key], selected)
        elif key != self.shown:
            self.query_one("#blueprint-graph").border_title = shown(f"Graph of {selected.workflow_id} "
                                                                    f"v{selected.version}")
            self._load_detail(selected, newest)

    @work(thread=True, exclusive=True, group="blueprint-detail", exit_on_error=False)
    def _load_detail(self, summary: BlueprintSummary, newest: int) -> None:
        try:
            detail = self.backend.blueprint_detail(summary, newest)  # layout and drawing happen here
        except Exception as error:  # noqa: BLE001
            self.notify_error_from_thread(error, "Cannot load the blueprint")
            return
        self.app.call_from_thread(self._detail_loaded, detail)

    def _detail_loaded(self, detail: BlueprintDetail) -> None:
        key = (detail.summary.workflow_id, detail.summary.version)
        self.details[key] = detail
        selected = self.query_one(BlueprintsTable).selected
        if selected is not None and (selected.workflow_id, selected.version) == key:
            self._show_detail(detail, selected)

    def _show_detail(self, detail: BlueprintDetail, summary: BlueprintSummary) -> None:
        self.shown = (summary.workflow_id, summary.version)
        name = f" — {summary.name}" if summary.name else ""
        self.query_one("#blueprint-graph").border_title = shown(f"Graph of {summary.workflow_id} "
                                                                f"v{summary.version}{name}")
        self.query_one(TokenGraph).show(detail.drawing)
        info = Text()
        for problem in detail.warnings:
            info.append("! ", style="bold yellow")
            info.append(f"{visible(problem.where)}: ", style="bold")
            info.append(f"{visible(problem.message)}\n")
        if not detail.warnings:
            info.append("✓ no warnings\n", style="green")
        if detail.compiled is not None:
            tasks = sorted({n.task_id for n in detail.compiled.blueprint.nodes if n.task_id})
            info.append("tasks ", style="dim")
            info.append(visible(", ".join(tasks)) or "none")
            keys = context_keys(detail.compiled)
            if keys:
                info.append("   context it expects ", style="dim")
                info.append(visible(", ".join(keys)))
        if summary.version != detail.newest_version:
            info.append(f"\nnew instances run v{detail.newest_version}, the newest; this version's "
                        "instances keep running on it", style="dim italic")
        self.query_one("#blueprint-info", Static).update(info)
        self.query_one("#blueprint-info").border_title = (
            f"Validation warnings ({len(detail.warnings)})" if detail.warnings else "Validation warnings")

    # -- start an instance ------------------------------------------------------------------------

    def action_start(self) -> None:
        """Start an instance of the selected workflow, with an initial context typed as JSON."""
        table = self.query_one(BlueprintsTable)
        selected = table.selected
        if selected is None:
            self.notify("no blueprint to start: load one first (l)", severity="warning")
            return
        self._prepare_start(selected.workflow_id, selected.version)

    @work(thread=True, exclusive=True, group="start-prepare", exit_on_error=False)
    def _prepare_start(self, workflow_id: str, selected: int) -> None:
        try:
            newest = self.backend.ops.workflow(workflow_id)  # what the instance will run
        except Exception as error:  # noqa: BLE001
            self.notify_error_from_thread(error, "Cannot start")
            return
        self.app.call_from_thread(self._start_flow, workflow_id, newest.version, context_keys(newest), selected)

    @work(exclusive=True, group="dialog")
    async def _start_flow(self, workflow_id: str, newest: int, keys: list[str], selected: int) -> None:
        context = await self.ask(StartInstanceModal(workflow_id, newest, keys, selected))
        if context is not None:
            self._start(workflow_id, context)

    @work(thread=True, group="action", exit_on_error=False)
    def _start(self, workflow_id: str, context: dict[str, Any]) -> None:
        try:
            result = self.backend.ops.start(workflow_id, context)
        except WorkflowError as error:
            self.app.call_from_thread(self.notify, str(error), title="Not started", severity="error", timeout=10)
            return
        except Exception as error:  # noqa: BLE001
            self.notify_error_from_thread(error, "Not started")
            return
        message, severity = result_notice(result)
        self.app.call_from_thread(self.notify, message, severity=severity,
                                  title="Started, but stopped at a split" if result.stopped else "Started",
                                  timeout=12 if result.stopped else 6)
        instance_id = result.instance_id
        self.app.call_from_thread(self.post_message, OpenInstance(instance_id))
        self.app.call_from_thread(self.console.refresh_runtime_status)

    # -- load a blueprint file --------------------------------------------------------------------

    def action_load(self) -> None:
        """Load a blueprint file: stored when valid, otherwise every problem is listed."""
        self._load_flow()

    @work(exclusive=True, group="dialog")
    async def _load_flow(self) -> None:
        loaded = await self.ask(LoadBlueprintModal(self.backend, self._last_path))
        if loaded is None:
            return
        self._last_path = loaded.path
        what = f"{loaded.workflow_id} v{loaded.version}"
        warned = f" with {len(loaded.warnings)} warning(s), shown below the graph" if loaded.warnings else ""
        self.notify(f"{what} stored{warned}" if loaded.created else f"{what} was already stored, unchanged",
                    title="Blueprint loaded", severity="warning" if loaded.warnings else "information")
        self._select = (loaded.workflow_id, loaded.version)
        self.reload()

    @on(DataTable.RowSelected)
    def _row_chosen(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_list_instances()

    def action_list_instances(self) -> None:
        """List the instances of the selected version of a workflow (those its row counts)."""
        selected = self.query_one(BlueprintsTable).selected
        if selected is not None:
            self.console.show_instances(None, selected.workflow_id, version=selected.version)
