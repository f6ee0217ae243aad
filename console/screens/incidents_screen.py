"""Incidents and stuck work: every FAILED and STUCK token, oldest first, and the actions that resolve them."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.widgets import DataTable, Header, Static
from textual.worker import get_current_worker

from console import keymap
from console.bulk import summary
from console.formatting import short_id
from console.messages import OpenInstance
from console.screens.confirm_modal import ConfirmModal
from console.screens.instance_repair_actions import SplitFormActions
from console.screens.live_screen import LiveScreen
from console.screens.mark_done_flow import ListMarkDone
from console.screens.reason_modal import ReasonModal
from console.view_filters import FilterError, ViewFilter, format_terms, parse_terms
from console.widgets.console_footer import ConsoleFooter
from console.widgets.filter_line import FilterLine
from console.widgets.incidents_table import IncidentsTable
from console.widgets.nav_bar import NavBar
from console.widgets.runtime_bar import RuntimeBar
from engine.actions import Action
from engine.outcomes import ActionResult
from engine.reports import Incident, IncidentFilter, IncidentKind, IncidentPage
from engine.text import visible

LIMIT = 500
REMEDIES = {
    "FAILED": "r retries it (a new attempt) · d marks it done by hand with its outputs · x cancels the instance · "
              "Enter opens it",
    "STUCK": "r retries it (a new attempt) · f fails it with a reason · d marks it done by hand · x cancels the "
             "instance",
    "NO_MATCH": "e sets the variables the split tests (their current values filled in) and resumes it · r "
                "evaluates the split again as it is · Enter opens it · x cancels",
    "JOIN_STUCK": "a branch the join waits for can no longer arrive: Enter opens the instance to see which · "
                  "x cancels it",
}


def incident_label(incident: Incident) -> str:
    """``3fa85f64 pack``: how a row is named in confirmations and notifications (control and bidi
    characters made visible)."""
    return visible(f"{short_id(incident.instance_id)} {incident.node_id}")


def listing_text(chosen: list[Incident], explanation: str, page: IncidentPage | None) -> Text:
    """The body of a bulk confirmation: what happens, the first rows, and whether more exist than are listed."""
    text = Text(explanation + "\n\n", style="dim")
    for incident in chosen[:15]:
        text.append(f"• {incident_label(incident)}  ", style="bold")
        text.append(visible(f"{incident.workflow_id}  {' '.join(incident.reason.split())[:60]}") + "\n", style="dim")
    if len(chosen) > 15:
        text.append(f"… and {len(chosen) - 15} more\n", style="dim")
    if page is not None and page.total > len(page.incidents):  # `a` marks what is listed, not every one
        text.append(f"\nOnly the {len(page.incidents):,} oldest of {page.total:,} incidents are listed here; "
                    "`wfconsole retry-failed` retries every failed execution.\n", style="yellow")
    return text


class IncidentsScreen(ListMarkDone, SplitFormActions, LiveScreen):
    """Incidents oldest first. Actions apply to the rows marked with space, or to the row under the cursor."""

    BINDINGS = keymap.INCIDENTS
    AUTO_FOCUS = "IncidentsTable"
    PALETTE_GROUP = "Incidents"
    VIEW = "incidents"
    WRITE_ACTIONS = frozenset({"retry", "mark_done", "fail", "cancel_instances", "split_variables"})

    def __init__(self) -> None:
        super().__init__()
        self.page: IncidentPage | None = None
        self.only = IncidentFilter()
        self._terms: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        yield NavBar()
        yield RuntimeBar()
        yield Static(id="incidents-summary")
        yield FilterLine("kind=failed|stuck|no_match|join_stuck workflow=ID task=ID, or words of an id, node or "
                         "reason", id="filter")
        yield Static("", id="empty")
        yield IncidentsTable(id="incidents")
        yield Static("", id="incident-detail")
        yield ConsoleFooter()

    def on_mount(self) -> None:
        self.query_one("#incident-detail").border_title = "Selected incident"
        self.query_one(FilterLine).set_text(format_terms(self._terms, self.only.text))

    # -- loading ----------------------------------------------------------------------------------

    def reload(self) -> None:
        self.load_started(self._load(self.only))

    @work(thread=True, exclusive=True, group="incidents-load", exit_on_error=False)
    def _load(self, only: IncidentFilter) -> None:
        try:
            page = self.backend.ops.incidents(LIMIT, only)
            if not get_current_worker().is_cancelled:
                self.app.call_from_thread(self._show, page, only)
        except Exception as error:  # noqa: BLE001
            self.notify_error_from_thread(error, "Cannot list the incidents")
        finally:
            self.load_finished_from_thread()

    def _show(self, page: IncidentPage, only: IncidentFilter | None = None) -> None:
        if only is not None and only != self.only:
            return  # the filter changed while it loaded; a newer load is on its way
        self.page = page
        self.query_one(IncidentsTable).show(page.incidents, self.clock)
        self._draw_detail()
        self.query_one(IncidentsTable).display = bool(page.incidents)  # no column labels over nothing
        empty = self.query_one("#empty", Static)
        empty.display = not page.incidents
        empty.update("No incident matches this filter: / changes it, Esc clears it." if self.only else
                     "No incidents: nothing has failed and nothing is stuck. Failed and stuck executions, "
                     "instances stopped at a split and joins that cannot fire show up here, oldest first.")
        self._draw_summary()

    def redraw(self) -> None:
        if self.page is not None:
            self.query_one(IncidentsTable).show(self.page.incidents, self.clock)

    @on(IncidentsTable.SelectionChanged)
    def _draw_summary(self) -> None:
        page = self.page
        line = Text()
        if page is not None:
            line.append(f" {page.failed:,} failed", style="bold red" if page.failed else "dim")
            line.append(" · ", style="dim")
            line.append(f"{page.stuck:,} stuck", style="bold magenta" if page.stuck else "dim")
            if self.only:
                line.append("  match the filter", style="bold")
            if page.total > len(page.incidents):
                line.append(f"  (the {len(page.incidents):,} oldest shown)", style="dim")
            marked = len(self.query_one(IncidentsTable).marked)
            line.append("  │  ", style="dim")
            if marked:
                line.append(f"{marked} marked", style="bold yellow")
                line.append(": r f x act on the marked rows, d on the row under the cursor; Esc unmarks", style="dim")
            else:
                line.append("space marks rows to act on several at once; r d f x act on the row under the cursor",
                            style="dim")
        self.query_one("#incidents-summary", Static).update(line)

    @on(DataTable.RowHighlighted)
    def _draw_detail(self) -> None:
        incident = self.query_one(IncidentsTable).current
        detail = self.query_one("#incident-detail", Static)
        detail.display = incident is not None
        if incident is None:
            return
        text = Text()
        text.append(visible(f"{incident.workflow_id}@{incident.version}  "), style="bold")
        text.append(visible(f"instance {incident.instance_id}  node {incident.node_id}"), style="")
        if incident.execution_id:
            text.append(f"  execution …{incident.execution_id.rsplit(':', 1)[-1][:8]}", style="dim")
        if incident.attempt:
            text.append(f"  attempt {incident.attempt}", style="dim")
        text.append(f"  since {self.clock.stamp(incident.since)}\n", style="dim")
        failed = incident.kind in (IncidentKind.FAILED, IncidentKind.NO_MATCH)
        text.append(visible(incident.reason, multiline=True) + "\n", style="red" if failed else "magenta")
        text.append(REMEDIES.get(incident.kind, ""), style="bold")
        detail.update(text)

    # -- opening and marking ----------------------------------------------------------------------

    @on(IncidentsTable.Opened)
    def _opened(self, event: IncidentsTable.Opened) -> None:
        self.post_message(OpenInstance(event.instance_id))

    def action_open(self) -> None:
        """Open the instance of the incident under the cursor."""
        incident = self.query_one(IncidentsTable).current
        if incident is not None:
            self.post_message(OpenInstance(incident.instance_id))

    def action_mark(self) -> None:
        """Mark the row under the cursor (or unmark it) and move down."""
        self.query_one(IncidentsTable).toggle_mark()

    def action_mark_all(self) -> None:
        """Mark every row, or unmark them all."""
        self.query_one(IncidentsTable).mark_all()

    def action_clear(self) -> None:
        """Unmark every row and clear the filter."""
        self.query_one(IncidentsTable).clear_marks()
        if self.only:
            self.apply_view({})

    # -- the filter -------------------------------------------------------------------------------

    def view_filter(self) -> ViewFilter:
        """The filter in force, as the ``:`` line and saved views write it."""
        return ViewFilter(self.VIEW, dict(self._terms), self.only.text)

    def apply_view(self, terms: dict[str, str], text: str = "", *, typed: bool = False) -> None:
        """Show the incidents the terms (``kind``, ``workflow``, ``task``) and words keep."""
        kind = terms.get("kind")
        self._terms = dict(terms)
        self.only = IncidentFilter(IncidentKind(kind.upper()) if kind else None, terms.get("workflow"),
                                   terms.get("task"), text)
        if self.is_mounted:
            if not typed:
                self.query_one(FilterLine).set_text(format_terms(terms, text))
            self.reload()

    def action_filter(self) -> None:
        """Open the filter line (it filters as you type)."""
        self.query_one(FilterLine).open()

    @on(FilterLine.Filtered)
    def _filter_changed(self, event: FilterLine.Filtered) -> None:
        try:
            terms, text = parse_terms(self.VIEW, event.text)
        except FilterError:
            return  # half typed: the filter before stays; Enter says what is wrong
        self.apply_view(terms, text, typed=True)

    @on(FilterLine.Done)
    def _filter_done(self, event: FilterLine.Done) -> None:
        self.query_one(IncidentsTable).focus()
        if event.submitted:
            try:
                parse_terms(self.VIEW, event.text)
            except FilterError as error:
                self.notify(str(error), title="Filter", severity="warning", timeout=8)

    # -- actions ----------------------------------------------------------------------------------

    def _chosen(self) -> list[Incident]:
        chosen = self.query_one(IncidentsTable).chosen()
        if not chosen:
            self.notify("no incident to act on", severity="warning")
        return chosen

    def action_retry(self) -> None:
        """Retry the failed or stuck executions (a new attempt each); evaluate a split again."""
        chosen = self._chosen()
        if chosen:
            self._confirm_then(chosen, "retry", "retried", self.backend.ops.retry_incident,
                               "Each failed or stuck execution gets a new attempt (dispatched to its worker); an "
                               "instance stopped at a split has the split evaluated again.")

    def action_fail(self) -> None:
        """Fail stuck executions with a reason: they become incidents to retry or complete later."""
        chosen = self._chosen()
        refusals = [self.backend.ops.incident_refusal(incident, Action.FAIL) for incident in chosen]
        if chosen and all(refusals):
            self.notify(refusals[0] if len(set(refusals)) == 1 else "; ".join(sorted(set(refusals))),
                        severity="warning")
            return
        if chosen:
            self._fail_flow(chosen)

    def action_cancel_instances(self) -> None:
        """Cancel the instances of the chosen incidents, with one reason."""
        chosen = self._chosen()
        if chosen:
            self._cancel_flow(chosen)

    @work(exclusive=True, group="dialog")
    async def _confirm_then(self, chosen: list[Incident], verb: str, done: str,
                            action: Callable[[Incident], ActionResult], explanation: str) -> None:
        body = listing_text(chosen, explanation, self.page)
        if len(chosen) > 1 and not await self.ask(
                ConfirmModal(f"{verb.capitalize()} {len(chosen)} incidents?", body, verb.capitalize())):
            return
        self._bulk(chosen, done, action)

    @work(exclusive=True, group="dialog")
    async def _fail_flow(self, chosen: list[Incident]) -> None:
        stuck = [i for i in chosen if self.backend.ops.incident_refusal(i, Action.FAIL) is None]
        title = f"Fail {incident_label(stuck[0])}?" if len(stuck) == 1 else f"Fail {len(stuck)} stuck executions?"
        skipped = len(chosen) - len(stuck)
        left = f" The other {skipped} marked row(s) are not stuck executions and are left as they are." \
            if skipped else ""
        reason = await self.ask(ReasonModal(
            title, "Each stuck execution becomes FAILED (an incident) with this reason; it can be retried or marked "
            f"done later.{left}", "Fail", "e.g. worker host lost"))
        if reason is not None:
            self._bulk(stuck, "failed", lambda incident: self.backend.ops.fail_incident(incident, reason),
                       noun="executions")

    @work(exclusive=True, group="dialog")
    async def _cancel_flow(self, chosen: list[Incident]) -> None:
        instances = list(dict.fromkeys(incident.instance_id for incident in chosen))
        title = (f"Cancel instance {short_id(instances[0])}?" if len(instances) == 1
                 else f"Cancel {len(instances)} instances?")
        reason = await self.ask(ReasonModal(
            title, "Each instance becomes CANCELLED: its open executions are cancelled and every token is removed. "
            "This cannot be undone. The reason is recorded in each instance's history.", "Cancel instances"
            if len(instances) > 1 else "Cancel instance", "e.g. duplicate order"))
        if reason is not None:
            self._bulk(instances, "cancelled", lambda instance_id: self.backend.ops.cancel(instance_id, reason),
                       label=short_id, noun="instances")

    @work(thread=True, group="action", exit_on_error=False)
    def _bulk(self, rows: list, done: str, action: Callable[[object], ActionResult],
              label: Callable[[object], str] = incident_label, noun: str = "incidents") -> None:
        """Act on each row in its own transaction; one notification says what was done and what refused."""
        result = self.backend.ops.bulk(rows, action, label)
        title, message, severity = summary(done, result, noun)
        self.app.call_from_thread(self.notify, message, title=title, severity=severity,
                                  timeout=6 if severity == "information" else 15)
        self.app.call_from_thread(self.query_one(IncidentsTable).clear_marks)
        self.app.call_from_thread(self.reload)
        self.app.call_from_thread(self.console.refresh_runtime_status)

    def action_split_variables(self) -> None:
        """For an instance stopped at a split: the variables its conditions read, filled with their values."""
        incident = self.query_one(IncidentsTable).current
        if incident is None:
            return
        if incident.kind is not IncidentKind.NO_MATCH:
            self.notify("e is for an instance stopped at a split (no match); this one is "
                        f"{incident.kind.lower().replace('_', ' ')}: Enter opens it", severity="warning")
            return
        self.open_split_form(incident.instance_id)

    # -- mark done ----------------------------------------------------------------------------------

    def action_mark_done(self) -> None:
        """Complete the execution under the cursor with outputs typed in a form (one at a time)."""
        incident = self.query_one(IncidentsTable).current
        if incident is None:
            return
        refusal = self.backend.ops.incident_refusal(incident, Action.COMPLETE)
        if refusal is not None:
            self.notify(refusal, severity="warning")
            return
        self.mark_done_listed(incident.execution_id or "", incident.workflow_id, incident.version)
