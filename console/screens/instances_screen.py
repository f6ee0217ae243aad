"""The main screen: a page of instances with counts by status, the ``/`` filter, sorting and paging."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.widgets import Header, Static
from textual.worker import get_current_worker

from console import keymap
from console.backend import InstancesPage
from console.messages import OpenInstance
from console.screens.instances_batch import InstancesBatchActions
from console.screens.live_screen import LiveScreen
from console.view_filters import FilterError, ViewFilter, format_terms, parse_terms
from console.widgets.console_footer import ConsoleFooter
from console.widgets.counts_bar import CountsBar
from console.widgets.filter_line import FilterLine
from console.widgets.instances_table import InstancesTable
from console.widgets.nav_bar import NavBar
from console.widgets.runtime_bar import RuntimeBar
from engine import InstanceQuery, InstanceStatus
from engine.ports import INSTANCE_ORDERS, WaitingFor

PAGE_SIZE = 100
FILTER_HINT = "status=failed workflow=ID task=ID waiting=person sort=started, or words of an id, node or value"


class InstancesScreen(InstancesBatchActions, LiveScreen):
    """Instances newest first, one page at a time: the listing never loads more than a page of rows.

    Every filter is on the ``/`` line (``status=failed workflow=loan_approval A-17``), which the ``:`` line
    and saved views fill too (:meth:`apply_view`).
    """

    BINDINGS = keymap.INSTANCES
    AUTO_FOCUS = "InstancesTable"
    PALETTE_GROUP = "Instances"
    VIEW = "instances"
    WRITE_ACTIONS = frozenset({"batch"})

    def __init__(self) -> None:
        super().__init__()
        self.status: InstanceStatus | None = None
        self.workflow_id: str | None = None
        self.text: str | None = None
        self.task_id: str | None = None  # instances with an open execution of this task (from the overview)
        self.version: int | None = None  # of the workflow's blueprint (from the blueprints tab)
        self.waiting = False  # only instances with a task waiting for a person (from the overview)
        self.assignee: str | None = None  # only instances with an open task assigned to this user ("me": you)
        self.overdue_since = None  # only instances with a task past its deadline at this time (overdue=yes)
        self.order = "-started"
        self.page_index = 0
        self.page: InstancesPage | None = None
        self._query: InstanceQuery | None = None  # the query of the load in progress or shown
        self._open_single = False  # Enter on the filter line: one match opens at once

    def compose(self) -> ComposeResult:
        yield Header()
        yield NavBar()
        yield RuntimeBar()
        yield CountsBar(id="counts")
        yield FilterLine(FILTER_HINT, id="filter")
        marks = Static("", id="instances-marks")
        marks.display = False  # shown while rows are marked
        yield marks
        yield Static("No instance matches. Esc clears the filter.", id="empty")
        yield InstancesTable(id="instances")
        yield ConsoleFooter()

    # -- loading ----------------------------------------------------------------------------------

    def listing_query(self) -> InstanceQuery:
        """The listing query of the filters in force and the current page."""
        waiting = None
        if self.waiting:
            runtime = self.console.runtime
            waiting = WaitingFor(self.clock.now(), tuple(runtime.registry.task_ids) if runtime is not None else ())
        return InstanceQuery(status=self.status, workflow_id=self.workflow_id, text=self.text, task_id=self.task_id,
                             version=self.version, waiting=waiting, order=self.order,
                             assignee=(self.backend.actor if self.assignee == "me" else self.assignee),
                             overdue_at=self.overdue_since,
                             limit=PAGE_SIZE, offset=self.page_index * PAGE_SIZE)

    def reload(self) -> None:
        self._draw_counts(loading=True)
        self._query = self.listing_query()
        self.load_started(self._load(self._query))

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
        if page.query != self._query:
            return  # the filters changed while it loaded; a newer load is on its way
        last_page = max(0, (page.total - 1) // PAGE_SIZE)
        if self.page_index > last_page:
            self.page_index = last_page  # the listing shrank under us
            self.reload()
            return
        self.page = page
        table = self.query_one(InstancesTable)
        table.show(page.rows, self.clock, self.order)
        empty = self.query_one("#empty", Static)
        empty.display = not page.rows
        if not page.rows:
            empty.update("No instance matches this filter: / changes it, Esc clears it." if self.filtered
                         else "No instances in this database yet.")
        self._draw_counts()
        self.refresh_bindings()
        if self._open_single:
            self._open_single = False
            if page.total == 1 and page.rows:
                self.post_message(OpenInstance(page.rows[0].id))

    @property
    def filtered(self) -> bool:
        """Whether any filter is in force."""
        return bool(self.status or self.workflow_id or self.text or self.task_id or self.waiting or self.assignee
                    or self.overdue_since)

    def redraw(self) -> None:
        if self.page is not None:
            self.query_one(InstancesTable).show(self.page.rows, self.clock, self.order)

    def _draw_counts(self, loading: bool = False) -> None:
        counts = self.page.counts if self.page is not None else {}
        total = self.page.total if self.page is not None else 0
        pages = max(1, (total + PAGE_SIZE - 1) // PAGE_SIZE)
        workflow = f"{self.workflow_id} v{self.version}" if self.workflow_id and self.version else self.workflow_id
        self.query_one(CountsBar).show(counts, str(self.status) if self.status else None, workflow,
                                       self.text, self.page_index + 1, pages, loading, task_id=self.task_id,
                                       waiting=self.waiting, order=INSTANCE_ORDERS[self.order])

    # -- filters, sorting and paging ----------------------------------------------------------------

    def view_filter(self) -> ViewFilter:
        """The filters in force, as the ``:`` line and saved views write them."""
        terms: dict[str, str] = {}
        if self.status:
            terms["status"] = self.status.value.lower()
        if self.workflow_id:
            terms["workflow"] = self.workflow_id
        if self.version is not None:
            terms["version"] = str(self.version)
        if self.task_id:
            terms["task"] = self.task_id
        if self.waiting:
            terms["waiting"] = "person"
        if self.assignee:
            terms["assignee"] = self.assignee
        if self.overdue_since is not None:
            terms["overdue"] = "yes"
        if self.order != "-started":
            terms["sort"] = self.order
        return ViewFilter(self.VIEW, terms, self.text or "")

    def apply_view(self, terms: dict[str, str], text: str = "", *, typed: bool = False) -> None:
        """Show the instances the terms (:data:`console.view_filters.VIEW_KEYS`) and words select, first page.
        Raises :class:`FilterError` for a version that is no number (nothing changes then). ``typed``: the
        filter line holds them already, as the operator typed them."""
        version = terms.get("version")
        if version is not None and not version.isdigit():
            raise FilterError(f"version={version!r} is not a whole number")
        self.status = InstanceStatus(terms["status"].upper()) if "status" in terms else None
        self.workflow_id = terms.get("workflow")
        self.version = int(version) if version is not None and self.workflow_id else None
        self.task_id = terms.get("task")
        self.waiting = "waiting" in terms
        self.assignee = terms.get("assignee")
        # the "now" of the overdue filter is fixed when it is turned on (the page's query must compare equal)
        self.overdue_since = (self.overdue_since or self.clock.now()) if "overdue" in terms else None
        self.order = terms.get("sort", "-started")
        self.text = text or None
        self.page_index = 0
        if self.is_mounted:
            if not typed:
                self.query_one(FilterLine).set_text(format_terms(self.view_filter().terms, text))
            self.reload()  # otherwise on_mount loads with these filters

    def on_mount(self) -> None:
        self.query_one(FilterLine).set_text(format_terms(self.view_filter().terms, self.text or ""))

    def apply_filters(self, status: str | None, workflow_id: str | None, task_id: str | None = None,
                      version: int | None = None, waiting: bool = False) -> None:
        """Show the instances in ``status`` of ``workflow_id`` (``version`` of it, if given; ``None``: any)
        with an open execution of ``task_id`` (``None``: any), with a task waiting for a person if
        ``waiting``: first page, no words."""
        terms = {key: value for key, value in (("status", status.lower() if status else None),
                                               ("workflow", workflow_id), ("task", task_id),
                                               ("version", str(version) if version is not None else None),
                                               ("waiting", "person" if waiting else None)) if value}
        self.apply_view(terms)

    def action_filter(self) -> None:
        """Open the filter line (it filters as you type)."""
        self.query_one(FilterLine).open()

    @on(FilterLine.Filtered)
    def _filter_changed(self, event: FilterLine.Filtered) -> None:
        try:
            terms, text = parse_terms(self.VIEW, event.text)
            self.apply_view(terms, text, typed=True)
        except FilterError:
            return  # half typed ("status=fa"): the filter before stays; Enter says what is wrong

    @on(FilterLine.Done)
    def _filter_done(self, event: FilterLine.Done) -> None:
        self.query_one(InstancesTable).focus()
        if event.submitted:
            try:
                parse_terms(self.VIEW, event.text)
            except FilterError as error:
                self.notify(str(error), title="Filter", severity="warning", timeout=8)
                return
            if self.page is not None and self.page.query == self._query and self._load_worker is None:
                if self.page.total == 1 and self.page.rows:
                    self.post_message(OpenInstance(self.page.rows[0].id))
            else:
                self._open_single = True  # once the page of this filter arrives

    def action_sort(self) -> None:
        """Newest first or oldest first (the start time is the column an index serves either way)."""
        self.order = "started" if self.order == "-started" else "-started"
        self.page_index = 0
        self.query_one(FilterLine).set_text(format_terms(self.view_filter().terms, self.text or ""))
        self.notify(f"sorted by STARTED, {INSTANCE_ORDERS[self.order]} (other columns have no index to sort a "
                    "page by)", timeout=4)
        self.reload()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "page":  # n and p show in the footer when there is another page
            total = self.page.total if self.page is not None else 0
            return total > PAGE_SIZE
        return super().check_action(action, parameters)

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

    @on(InstancesTable.MarksChanged)
    def _marks_changed(self) -> None:
        line = self.marks_line()
        marks = self.query_one("#instances-marks", Static)
        marks.display = line is not None
        marks.update(line or "")

    def action_clear_filters(self) -> None:
        """Unmark the marked rows, if any; else drop every filter."""
        if self.unmark_all():
            return
        self.apply_view({})

    @on(InstancesTable.Opened)
    def _opened(self, event: InstancesTable.Opened) -> None:
        self.post_message(OpenInstance(event.instance_id))

    def action_open(self) -> None:
        """Open the instance under the cursor."""
        instance_id = self.query_one(InstancesTable).selected_instance_id
        if instance_id is not None:
            self.post_message(OpenInstance(instance_id))
