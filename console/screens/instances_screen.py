"""The main screen: a page of instances with counts by status, filters, search and paging."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Header, Static
from textual.worker import get_current_worker

from console.backend import InstancesPage
from console.messages import OpenInstance
from console.screens.instances_batch import InstancesBatchActions
from console.screens.live_screen import LiveScreen
from console.screens.workflow_picker import WorkflowPicker
from console.widgets.counts_bar import CountsBar
from console.widgets.instances_table import InstancesTable
from console.widgets.nav_bar import NavBar
from console.widgets.runtime_bar import RuntimeBar
from console.widgets.search_bar import SearchBar
from engine import InstanceQuery, InstanceStatus

PAGE_SIZE = 100


class InstancesScreen(InstancesBatchActions, LiveScreen):
    """Instances newest first, one page at a time: the listing never loads more than a page of rows."""

    BINDINGS = [
        Binding("enter", "open", "Open instance", show=False),  # the table's own Enter shows in the footer
        Binding("a", "status('')", "All"),
        Binding("r", "status('ACTIVE')", "Running"),
        Binding("c", "status('COMPLETED')", "Completed"),
        Binding("f", "status('FAILED')", "Failed"),
        Binding("x", "status('CANCELLED')", "Cancelled"),
        Binding("w", "workflow", "Workflow"),
        Binding("slash", "search", "Search"),
        Binding("n", "page(1)", "Next page"),
        Binding("p", "page(-1)", "Prev page"),
        Binding("space", "mark", "Mark"),
        Binding("b", "batch", "Batch action"),
        Binding("escape", "clear_filters", "Clear filters", show=False),
        Binding("g", "refresh", "Refresh", show=False),
    ]
    AUTO_FOCUS = "InstancesTable"
    PALETTE_GROUP = "Instances"

    def __init__(self) -> None:
        super().__init__()
        self.status: InstanceStatus | None = None
        self.workflow_id: str | None = None
        self.text: str | None = None
        self.task_id: str | None = None  # instances with an open execution of this task (from the overview)
        self.version: int | None = None  # of the workflow's blueprint (from the blueprints tab)
        self.page_index = 0
        self.page: InstancesPage | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield NavBar()
        yield RuntimeBar()
        yield CountsBar(id="counts")
        yield SearchBar(id="search")
        marks = Static("", id="instances-marks")
        marks.display = False  # shown while rows are marked
        yield marks
        yield Static("No instance matches. Press a to show every status, Esc to clear every filter.", id="empty")
        yield InstancesTable(id="instances")
        yield Footer()

    # -- loading ----------------------------------------------------------------------------------

    def listing_query(self) -> InstanceQuery:
        """The listing query of the filters in force and the current page."""
        return InstanceQuery(status=self.status, workflow_id=self.workflow_id, text=self.text, task_id=self.task_id,
                             version=self.version,
                             limit=PAGE_SIZE, offset=self.page_index * PAGE_SIZE)

    def reload(self) -> None:
        self._draw_counts(loading=True)
        self.load_started(self._load(self.listing_query()))

    @work(thread=True, exclusive=True, group="instances-load", exit_on_error=False)
    def _load(self, query: InstanceQuery) -> None:
        try:
            page = self.backend.instances_page(query)
            if not get_current_worker().is_cancelled:
                self.app.call_from_thread(self._show_page, page)
        except Exception as error:  # noqa: BLE001 - shown, never raised into the app
            self.notify_error_from_thread(error, "Cannot list instances")
        finally:
            self.load_finished_from_thread()

    def _show_page(self, page: InstancesPage) -> None:
        if page.query != self.listing_query():
            return  # the filters changed while it loaded; a newer load is on its way
        last_page = max(0, (page.total - 1) // PAGE_SIZE)
        if self.page_index > last_page:
            self.page_index = last_page  # the listing shrank under us
            self.reload()
            return
        self.page = page
        self.query_one(InstancesTable).show(page.rows, self.clock)
        empty = self.query_one("#empty", Static)
        empty.display = not page.rows
        if not page.rows:
            filtered = self.status or self.workflow_id or self.text or self.task_id
            empty.update("No instance matches these filters. Press a to show every status, Esc to clear every "
                         "filter." if filtered else "No instances in this database yet.")
        self._draw_counts()

    def redraw(self) -> None:
        if self.page is not None:
            self.query_one(InstancesTable).show(self.page.rows, self.clock)

    def _draw_counts(self, loading: bool = False) -> None:
        counts = self.page.counts if self.page is not None else {}
        total = self.page.total if self.page is not None else 0
        pages = max(1, (total + PAGE_SIZE - 1) // PAGE_SIZE)
        workflow = f"{self.workflow_id} v{self.version}" if self.workflow_id and self.version else self.workflow_id
        self.query_one(CountsBar).show(counts, str(self.status) if self.status else None, workflow,
                                       self.text, self.page_index + 1, pages, loading, task_id=self.task_id)

    # -- filters and paging -----------------------------------------------------------------------

    def apply_filters(self, status: str | None, workflow_id: str | None, task_id: str | None = None,
                      version: int | None = None) -> None:
        """Show the instances in ``status`` of ``workflow_id`` (``version`` of it, if given; ``None``: any)
        with an open execution of ``task_id`` (``None``: any), first page, no search."""
        self.status = InstanceStatus(status) if status else None
        self.workflow_id, self.task_id, self.text, self.page_index = workflow_id, task_id, None, 0
        self.version = version if workflow_id else None
        if self.is_mounted:
            self.reload()  # otherwise on_mount loads with these filters

    def action_status(self, status: str) -> None:
        """Show only instances in ``status`` (empty: every status)."""
        self.status = InstanceStatus(status) if status else None
        self.page_index = 0
        self.reload()

    def action_page(self, step: int) -> None:
        """Go ``step`` pages forward (or back)."""
        total = self.page.total if self.page is not None else 0
        last_page = max(0, (total - 1) // PAGE_SIZE)
        target = min(max(self.page_index + step, 0), last_page)
        if target == self.page_index:
            self.notify("no more pages" if step > 0 else "this is the first page", timeout=2)
            return
        self.page_index = target
        self.reload()

    def action_search(self) -> None:
        """Open the search line."""
        self.query_one(SearchBar).open(self.text)

    @on(InstancesTable.MarksChanged)
    def _marks_changed(self) -> None:
        line = self.marks_line()
        marks = self.query_one("#instances-marks", Static)
        marks.display = line is not None
        marks.update(line or "")

    def action_clear_filters(self) -> None:
        """Unmark the marked rows, if any; else drop the status, workflow, task and text filters."""
        if self.unmark_all():
            return
        self.status, self.workflow_id, self.text, self.task_id, self.page_index = None, None, None, None, 0
        self.version = None
        self.reload()

    def action_workflow(self) -> None:
        """Pick a workflow to show only its instances."""
        self._pick_workflow()

    @work(thread=True, exclusive=True, group="workflows", exit_on_error=False)
    def _pick_workflow(self) -> None:
        try:
            workflow_ids = self.backend.ops.workflow_ids()
        except Exception as error:  # noqa: BLE001
            self.notify_error_from_thread(error, "Cannot list workflows")
            return
        self.app.call_from_thread(self.app.push_screen, WorkflowPicker(workflow_ids, self.workflow_id),
                                  self._set_workflow)

    def _set_workflow(self, workflow_id: str | None) -> None:
        if workflow_id is None:
            return  # the picker was closed without a choice
        self.workflow_id = workflow_id or None
        self.version = None  # every version of the workflow picked
        self.page_index = 0
        self.reload()

    @on(SearchBar.Searched)
    def _searched(self, event: SearchBar.Searched) -> None:
        self.text = event.text or None
        self.page_index = 0
        self.reload()

    @on(SearchBar.Closed)
    def _search_closed(self) -> None:
        self.query_one(InstancesTable).focus()

    @on(InstancesTable.Opened)
    def _opened(self, event: InstancesTable.Opened) -> None:
        self.post_message(OpenInstance(event.instance_id))

    def action_open(self) -> None:
        """Open the instance under the cursor."""
        instance_id = self.query_one(InstancesTable).selected_instance_id
        if instance_id is not None:
            self.post_message(OpenInstance(instance_id))
