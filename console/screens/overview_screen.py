"""The first screen: the last hour per minute, instances by workflow and status, and what needs a person."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Header, Static
from textual.worker import get_current_worker

from console import keymap
from console.screens.live_screen import LiveScreen
from console.widgets.activity_chart import ActivityChart
from console.widgets.console_footer import ConsoleFooter
from console.widgets.nav_bar import NavBar
from console.widgets.open_tasks_table import OpenTasksTable
from console.widgets.runtime_bar import RuntimeBar, RuntimeStatus
from console.widgets.workflow_counts_table import WorkflowCountsTable
from engine.reports import Activity

CHARTS = (("started", "instances started"), ("completed", "instances completed"),
          ("tasks_completed", "tasks completed"))


class OverviewScreen(LiveScreen):
    """How busy the system is and what waits for an operator; ``2`` lists the instances."""

    BINDINGS = keymap.OVERVIEW
    AUTO_FOCUS = "WorkflowCountsTable"
    PALETTE_GROUP = "Overview"
    MIN_RELOAD_SECONDS = 2.0

    def __init__(self) -> None:
        super().__init__()
        self.activity: Activity | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield NavBar()
        yield RuntimeBar()
        with Vertical(id="overview-charts"):
            for key, label in CHARTS:
                yield ActivityChart(label, id=f"chart-{key}")
            yield Static(id="chart-axis")
        yield Static(id="attention")
        with Horizontal(id="overview-tables"):
            with Vertical(id="overview-counts"):
                yield WorkflowCountsTable(id="by-workflow")
            with Vertical(id="overview-tasks"):
                yield OpenTasksTable(id="open-tasks")
        yield Static("No instances yet. 4 opens the blueprints: L loads a blueprint file, s starts an instance of "
                     "the selected one.", id="overview-hint")
        yield ConsoleFooter()

    def on_mount(self) -> None:
        self.query_one("#overview-charts").border_title = "Last hour, per minute"
        self.query_one("#overview-counts").border_title = "Instances by workflow and status  (Enter lists them)"
        self.query_one("#overview-tasks").border_title = "Open tasks  (Enter lists their instances)"
        self.watch(self.app, "runtime_status", self._show_attention, init=True)

    # -- loading ----------------------------------------------------------------------------------

    def reload(self) -> None:
        self.load_started(self._load())

    @work(thread=True, exclusive=True, group="overview-load", exit_on_error=False)
    def _load(self) -> None:
        try:
            activity = self.backend.ops.activity(self.clock.now())
            if not get_current_worker().is_cancelled:
                self.app.call_from_thread(self._show, activity)
        except Exception as error:  # noqa: BLE001
            self.notify_error_from_thread(error, "Cannot read the overview")
        finally:
            self.load_finished_from_thread()

    def _show(self, activity: Activity) -> None:
        self.activity = activity
        for key, _ in CHARTS:
            self.query_one(f"#chart-{key}", ActivityChart).show(getattr(activity, key))
        since = self.clock.local(activity.since)
        axis = Text(f"{since:%H:%M}".ljust(27) + "-30m".ljust(30) + "now", style="dim", no_wrap=True)
        self.query_one("#chart-axis", Static).update(axis)
        self.query_one(WorkflowCountsTable).show(activity.by_workflow)
        runtime = self.console.runtime
        local = set(runtime.registry.task_ids) if runtime is not None else set()
        self.query_one(OpenTasksTable).show(activity.open_tasks, local, self.clock)
        self.query_one("#overview-hint").display = not activity.by_workflow  # a new database: where to begin

    def _show_attention(self, status: RuntimeStatus) -> None:
        counts = status.counts
        line = Text()
        if counts is None:
            line.append("counting open work…", style="dim italic")
        elif not (counts.failed or counts.stuck or counts.waiting):
            line.append("✓ nothing waits for an operator: no incident, nothing stuck, no task waiting for a person",
                        style="green")
        else:
            line.append("Needs a person:  ", style="bold")
            if counts.failed or counts.stuck:
                line.append(f"{counts.failed:,} failed", style="bold red" if counts.failed else "dim")
                line.append(" · ", style="dim")
                line.append(f"{counts.stuck:,} stuck", style="bold magenta" if counts.stuck else "dim")
                line.append(" → i", style="dim")
            if counts.waiting:
                if counts.failed or counts.stuck:
                    line.append("   │   ", style="dim")
                line.append(f"{counts.waiting:,} task(s) waiting for a person", style="bold orange1")
                if counts.overdue:
                    line.append(f" ({counts.overdue:,} overdue)", style="bold red")
                line.append(" → 6 lists the tasks (c claims, d marks done); w their instances", style="dim")
        self.query_one("#attention", Static).update(line)

    # -- actions ----------------------------------------------------------------------------------

    @on(WorkflowCountsTable.Chosen)
    def _chosen(self, event: WorkflowCountsTable.Chosen) -> None:
        self.console.show_instances(event.status, event.workflow_id)

    @on(OpenTasksTable.Chosen)
    def _task_chosen(self, event: OpenTasksTable.Chosen) -> None:
        self.console.show_instances(task_id=event.task_id)

    def action_list_cell(self) -> None:
        """List the instances of the workflow and status under the cursor."""
        self.query_one(WorkflowCountsTable).action_select_cursor()

    def action_list_incidents(self) -> None:
        """Show the incidents and stuck executions."""
        self.console.action_go("incidents")

    def action_list_waiting(self) -> None:
        """List the instances with a task waiting for a person (the header's count), and only those."""
        self.console.show_instances(waiting=True)
