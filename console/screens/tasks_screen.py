"""The person's tasks, as Camunda Tasklist lists them: every open one, yours, or those nobody holds (``S``
switches the scope), oldest first, with who has each and how late it is; ``c`` claims or releases, ``d`` marks
done, Enter opens the instance with the task's execution selected."""

from __future__ import annotations

from dataclasses import dataclass, replace

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Header, Static
from textual.worker import get_current_worker

from console import keymap
from console.messages import OpenInstance
from console.screens.instance_claim_actions import ClaimActions
from console.screens.live_screen import LiveScreen
from console.screens.mark_done_flow import ListMarkDone
from console.view_filters import FilterError, ViewFilter, format_terms, parse_terms
from console.widgets.console_footer import ConsoleFooter
from console.widgets.filter_line import FilterLine
from console.widgets.nav_bar import NavBar
from console.widgets.runtime_bar import RuntimeBar
from console.widgets.tasks_table import TasksTable
from engine.actions import Action
from engine.ports import TASK_SCOPES, PersonTask, TaskPage, TaskQuery, WaitingFor

LIMIT = 500  # the oldest tasks listed; the line above the list says when there are more
SCOPES = TASK_SCOPES  # S goes round them in this order
FILTER_HINT = "scope=mine|claimable|all group=G workflow=ID task=ID overdue=yes, or words of a task, id or assignee"
COUNTED = {"all": "{n} open task(s)", "mine": "{n} assigned to you", "claimable": "{n} assigned to nobody"}
EMPTY = {
    "all": "No task waits for a person: every open execution is a worker's. A task no worker runs (a person's) "
           "shows up here, oldest first.",
    "mine": "Nothing is assigned to you ({actor}). S shows the tasks nobody holds; c on one claims it.",
    "claimable": "No task is free to claim: every open task is assigned to someone. S shows them all.",
}


@dataclass(frozen=True)
class _Loaded:
    query: TaskQuery
    page: TaskPage


def matches(task: PersonTask, words: list[str]) -> bool:
    """Whether every word is in the task's name, task id, node, execution id, workflow, assignee or group."""
    execution = task.execution
    text = " ".join(part or "" for part in (task.name, execution.task_id, execution.node_id, execution.id,
                                            task.workflow_id, execution.assignee, execution.candidate_group)).lower()
    return all(word.lower() in text for word in words)


class TasksScreen(ClaimActions, ListMarkDone, LiveScreen):
    """The tasks waiting for a person, oldest first (who has waited longest comes first, as in a queue)."""

    BINDINGS = keymap.TASKS
    AUTO_FOCUS = "TasksTable"
    PALETTE_GROUP = "Tasks"
    VIEW = "tasks"
    WRITE_ACTIONS = frozenset({"claim", "mark_done"})
    # A load walks the open executions' index twice (the page and the count): ~0.1 s for 22,000 waiting tasks.
    MIN_RELOAD_SECONDS = 2.0
    # What each key asks the engine before it acts: a refused one is dimmed and says why when pressed.
    _ENGINE_ACTIONS = {"claim": Action.CLAIM, "mark_done": Action.COMPLETE}

    def __init__(self) -> None:
        super().__init__()
        self.scope = "all"
        self._terms: dict[str, str] = {}
        self.text = ""
        self.overdue_since = None  # the "now" of overdue=yes, fixed when it is turned on
        self.loaded: _Loaded | None = None
        self._query: TaskQuery | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield NavBar()
        yield RuntimeBar()
        yield Static(id="tasks-summary")
        yield FilterLine(FILTER_HINT, id="filter")
        yield Static("", id="empty")
        yield TasksTable(id="tasks")
        yield ConsoleFooter()

    def on_mount(self) -> None:
        self.query_one(FilterLine).set_text(format_terms(self.view_filter().terms, self.text))

    # -- loading ----------------------------------------------------------------------------------

    def task_query(self) -> TaskQuery:
        """The engine's query of the scope and the filter terms in force (the words filter what it returns)."""
        runtime = self.console.runtime
        local = tuple(runtime.registry.task_ids) if runtime is not None else ()
        return TaskQuery(WaitingFor(self.clock.now(), local),
                         assignee=self.backend.actor if self.scope == "mine" else None,
                         unassigned=self.scope == "claimable", candidate_group=self._terms.get("group"),
                         workflow_id=self._terms.get("workflow"), task_id=self._terms.get("task"),
                         overdue_at=self.overdue_since, limit=LIMIT)

    def reload(self) -> None:
        self._query = self.task_query()
        self.load_started(self._load(self._query))

    @work(thread=True, exclusive=True, group="tasks-load", exit_on_error=False)
    def _load(self, query: TaskQuery) -> None:
        try:
            page = self.backend.ops.tasks(query)
            if not get_current_worker().is_cancelled:
                self.app.call_from_thread(self._show, _Loaded(query, page))
        except Exception as error:  # noqa: BLE001 - shown, never raised into the app
            self.notify_error_from_thread(error, "Cannot list the tasks")
        finally:
            self.load_finished_from_thread()

    def _show(self, loaded: _Loaded) -> None:
        if loaded.query is not self._query:
            return  # the scope or filter changed while it loaded; a newer load is on its way
        self.loaded = loaded
        self.redraw()
        self.refresh_bindings()

    def shown_tasks(self) -> list[PersonTask]:
        """The loaded tasks the filter's words keep."""
        if self.loaded is None:
            return []
        words = self.text.split()
        return [task for task in self.loaded.page.tasks if matches(task, words)]

    def redraw(self) -> None:
        if self.loaded is None:
            self._draw_summary([])
            return
        tasks = self.shown_tasks()
        table = self.query_one(TasksTable)
        table.show(tasks, self.clock, self.backend.actor)  # shown when empty too: it keeps the keys' focus
        empty = self.query_one("#empty", Static)
        empty.display = not tasks
        empty.update("No task matches this filter: / changes it, Esc clears it." if self.filtered
                     else EMPTY[self.scope].format(actor=self.backend.actor))
        self._draw_summary(tasks)

    @property
    def filtered(self) -> bool:
        """Whether a filter term or word narrows the scope."""
        return bool(self._terms or self.text)

    def _draw_summary(self, tasks: list[PersonTask]) -> None:
        line = Text(" Scope (S) ", style="bold")
        for scope in SCOPES:
            line.append(f" {scope} ", style="reverse bold" if scope == self.scope else "dim")
        if self.loaded is not None:
            total, listed = self.loaded.page.total, len(self.loaded.page.tasks)
            late = sum(1 for task in tasks if task.execution.due_at is not None
                       and task.execution.due_at <= self.clock.now())
            cut = total > listed  # only the oldest LIMIT are read: the words filter those
            if self.text:
                words = f"{len(tasks):,} of the {listed:,} oldest match" if cut else f"{len(tasks):,} match the filter"
                line.append(f"   {words}", style="bold")
            else:
                count = f"{listed:,} of {total:,}" if cut else f"{len(tasks):,}"
                line.append(f"   {count} match the filter" if self.filtered
                            else f"   {COUNTED[self.scope].format(n=count)}", style="bold")
                if cut:
                    line.append(", the oldest", style="dim")
            if late:
                line.append(f" · {late} late", style="bold red")
        self.query_one("#tasks-summary", Static).update(line)

    # -- scope and filter --------------------------------------------------------------------------

    def action_scope(self) -> None:
        """Every open task, then yours, then those nobody holds (and round again)."""
        self.scope = SCOPES[(SCOPES.index(self.scope) + 1) % len(SCOPES)]
        self.query_one(FilterLine).set_text(format_terms(self.view_filter().terms, self.text))
        self.reload()

    def view_filter(self) -> ViewFilter:
        """The scope and filters in force, as the ``:`` line and saved views write them."""
        terms = {"scope": self.scope} if self.scope != "all" else {}
        terms.update(self._terms)
        return ViewFilter(self.VIEW, terms, self.text)

    def apply_view(self, terms: dict[str, str], text: str = "", *, typed: bool = False) -> None:
        """Show the tasks of the scope and terms (:data:`console.view_filters.VIEW_KEYS`) the words keep."""
        self.scope = terms.get("scope", "all")
        self._terms = {key: value for key, value in terms.items() if key != "scope"}
        self.overdue_since = (self.overdue_since or self.clock.now()) if "overdue" in terms else None
        self.text = text
        if self.is_mounted:
            if not typed:
                self.query_one(FilterLine).set_text(format_terms(self.view_filter().terms, text))
            # Words filter the loaded tasks here: the list shows them at once, so a key typed right after (Esc
            # g j d) acts on the rows it will go on showing. Other terms need the load: until it comes, c and d
            # say the list is being read rather than act on a row that is about to go.
            if self.loaded is not None and self._same_query(self.loaded.query, self.task_query()):
                self.redraw()
            self.reload()

    @staticmethod
    def _same_query(one: TaskQuery, other: TaskQuery) -> bool:
        """Whether two queries ask for the same tasks (whenever they were made)."""
        return replace(one, waiting=replace(one.waiting, now=other.waiting.now)) == other

    @property
    def stale(self) -> bool:
        """Whether the rows shown are of another scope or terms than those in force (their load is on its way)."""
        return self.loaded is not None and self._query is not None and not self._same_query(self.loaded.query,
                                                                                           self._query)

    def action_filter(self) -> None:
        """Open the filter line (it filters as you type)."""
        self.query_one(FilterLine).open()

    @on(FilterLine.Filtered)
    def _filter_changed(self, event: FilterLine.Filtered) -> None:
        try:
            terms, text = parse_terms(self.VIEW, event.text)
        except FilterError:
            return  # half typed ("scope=mi"): the filter before stays; Enter says what is wrong
        self.apply_view(terms, text, typed=True)

    @on(FilterLine.Done)
    def _filter_done(self, event: FilterLine.Done) -> None:
        self.query_one(TasksTable).focus()
        if event.submitted:
            try:
                parse_terms(self.VIEW, event.text)
            except FilterError as error:
                self.notify(str(error), title="Filter", severity="warning", timeout=8)

    def action_clear_filter(self) -> None:
        """Drop the filter: every open task again (the scope is on the / line too, as the instances' sort is)."""
        self.apply_view({})

    # -- acting on the selected task -----------------------------------------------------------------

    @on(DataTable.RowHighlighted)
    def _task_highlighted(self) -> None:
        self.refresh_bindings()  # c and d are dimmed on a task that is someone else's

    def footer_label(self, action: str) -> str | None:
        """``c`` says what it does to the selected task: Release on yours, else Claim."""
        if action != "claim" or not self.is_mounted:
            return None
        task = self.query_one(TasksTable).selected
        return "Release" if task is not None and self._claim_action(task) is Action.RELEASE else "Claim"

    def _claim_action(self, task: PersonTask) -> Action:
        return Action.RELEASE if task.execution.assignee == self.backend.actor else Action.CLAIM

    def _refusal(self, action: str) -> str | None:
        """Why the key's action does not apply to the selected task now (the engine's words), or ``None``."""
        if self.stale:
            return "the list is being read for the new scope or filter: press it again once it shows"
        task = self.query_one(TasksTable).selected
        if task is None:
            return "no task selected"
        engine_action = self._ENGINE_ACTIONS[action]
        if engine_action is Action.CLAIM:
            engine_action = self._claim_action(task)
        return self.backend.ops.task_refusal(task, engine_action)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        allowed = super().check_action(action, parameters)
        if allowed and action in self._ENGINE_ACTIONS and self.is_mounted and self._refusal(action) is not None:
            return None  # shown, dimmed
        return allowed

    def on_key(self, event: events.Key) -> None:
        """A key whose action does not apply (dimmed in the footer) says why, rather than doing nothing."""
        action = next((b.action for b in self.BINDINGS if isinstance(b, Binding) and b.key == event.key), None)
        if action in self._ENGINE_ACTIONS and not self.backend.ops.readonly:
            self.act_when_its_turn_comes(event, action)  # on the row under the cursor once earlier keys moved it

    def key_refusal(self, action: str) -> str | None:
        return self._refusal(action)

    def action_claim(self) -> None:
        """Claim the selected task for yourself, or release it if it is yours."""
        task = self.query_one(TasksTable).selected
        if task is not None and self._refusal("claim") is None:
            self.claim_or_release(task.execution)

    def action_mark_done(self) -> None:
        """Complete the selected task with outputs typed in a form, after a confirmation."""
        task = self.query_one(TasksTable).selected
        if task is not None and self._refusal("mark_done") is None:
            self.mark_done_listed(task.execution.id, task.workflow_id, task.version)

    @on(TasksTable.Opened)
    def _opened(self, event: TasksTable.Opened) -> None:
        self.post_message(OpenInstance(event.task.execution.instance_id, event.task.execution.id))

    def action_open(self) -> None:
        """Open the instance of the selected task, with its execution selected."""
        task = self.query_one(TasksTable).selected
        if task is not None:
            self.post_message(OpenInstance(task.execution.instance_id, task.execution.id))
