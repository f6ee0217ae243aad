"""What the console asks of the engine, in one place: blocking calls, to be run in Textual workers only.

:class:`ConsoleBackend` wraps a :class:`~engine.WorkflowManager` and its store. Every method does
database work and may take a while on a large database, so screens call it from
``@work(thread=True)`` workers and never from the event loop. Operator actions pass the operator as
``actor`` so the history says who did what.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from console.cli_input import BadInputError, read_text_file
from console.widgets.token_graph import GraphDrawing, render_blueprint_graph, render_token_graph
from engine import Execution, InstanceQuery, InstanceSummary, InstanceView, WorkflowError, WorkflowManager
from engine.errors import BlueprintError, Problem, UnknownInstanceError
from engine.graph import CompiledBlueprint
from engine.manager import default_actor, parse_execution_id
from engine.ports import BlueprintSummary
from engine.validate import compile_blueprint, validate
from store import open_store, reports
from store.reports import Activity, ExecutionCounts, HistoryHit, HistoryQuery, IncidentPage

OPEN_EXECUTION_STATUSES = ("ACTIVE", "FAILED", "STUCK")


@dataclass(frozen=True)
class InstancesPage:
    """One page of the instance listing with the counts for the header."""

    query: InstanceQuery
    rows: list[InstanceSummary]
    counts: dict[str, int]  # per status, for the workflow and text filters (the status filter ignored)

    @property
    def total(self) -> int:
        """How many instances match the query, status filter included."""
        if self.query.status is not None:
            return self.counts.get(str(self.query.status), 0)
        return sum(self.counts.values())


@dataclass(frozen=True)
class InstanceDetail:
    """Everything the detail screen shows of one instance."""

    view: InstanceView
    compiled: CompiledBlueprint | None
    drawing: GraphDrawing | None = None  # the token graph, drawn in the worker
    problem: str | None = None  # why the blueprint could not be loaded


@dataclass(frozen=True)
class BlueprintDetail:
    """One stored version of a workflow as the blueprints screen shows it."""

    summary: BlueprintSummary
    compiled: CompiledBlueprint | None
    warnings: list[Problem]
    drawing: GraphDrawing
    newest_version: int


@dataclass(frozen=True)
class LoadedBlueprint:
    """A blueprint file stored (or found already stored, unchanged)."""

    path: str
    workflow_id: str
    version: int
    created: bool
    warnings: list[Problem] = field(default_factory=list)


class BlueprintRefused(WorkflowError):
    """A blueprint file with errors: nothing was stored. ``problems`` lists every error and warning."""

    def __init__(self, path: str, problems: list[Problem]) -> None:
        self.path = path
        self.problems = problems
        errors = sum(1 for p in problems if p.severity == "error")
        super().__init__(f"{path}: refused, {errors} error(s); nothing was stored")


class ConsoleBackend:
    """The engine as the console uses it. All methods block; call them from thread workers."""

    def __init__(self, manager: WorkflowManager, actor: str | None = None) -> None:
        self.manager = manager
        self.actor = actor or default_actor()

    @classmethod
    def open(cls, db_path: str, actor: str | None = None) -> ConsoleBackend:
        """Open (creating if missing) the database at ``db_path``; raises ``StoreError``."""
        return cls(WorkflowManager(open_store(db_path)), actor)

    @property
    def store(self) -> Any:
        return self.manager.store

    def close(self) -> None:
        """Release the database."""
        self.store.close()

    # -- reading ----------------------------------------------------------------------------------

    def data_version(self) -> int | None:
        """A number that changes when anyone commits to the database; ``None`` if the store can't tell."""
        reader = getattr(self.store, "data_version", None)
        return reader() if reader is not None else None

    def instances_page(self, query: InstanceQuery) -> InstancesPage:
        """The instances matching ``query`` (one page, newest first) and the counts by status."""
        rows = self.manager.list_instances(query)
        counts = self.store.count_instances(query)
        return InstancesPage(query=query, rows=rows, counts=counts)

    def workflow_ids(self) -> list[str]:
        """Every stored workflow id, sorted."""
        return sorted({summary.workflow_id for summary in self.store.list_blueprints()})

    def instance_detail(self, instance_id: str, history_limit: int = 500) -> InstanceDetail:
        """The instance, its blueprint and its rendered token graph; raises ``UnknownInstanceError``."""
        view = self.manager.get_status(instance_id, history_limit=history_limit)
        try:
            compiled = self.manager.get_workflow(view.workflow_id, view.version)
        except WorkflowError as error:
            return InstanceDetail(view=view, compiled=None, problem=str(error))
        return InstanceDetail(view=view, compiled=compiled, drawing=render_token_graph(compiled, view))

    def execution(self, execution_id: str) -> Execution:
        """One execution as it is now; raises ``UnknownExecutionError``."""
        return self.manager.get_execution(execution_id)

    # -- operator actions -------------------------------------------------------------------------

    def mark_done(self, execution_id: str, outputs: dict[str, Any]) -> str:
        """Complete an open execution with ``outputs``; return what happened, for a notification.

        The answer comes from the completion's own transaction: a completion that another operator or a
        worker got in first is reported as not applied, with why.
        """
        completion = self.manager.task_done(execution_id, outputs, actor=self.actor)
        if not completion.applied:
            raise WorkflowError(completion.message)
        return f"{parse_execution_id(execution_id)[1]} marked done by {self.actor}"

    def fail(self, execution_id: str, reason: str) -> str:
        """Fail an ACTIVE or STUCK execution with ``reason``: an incident."""
        self.manager.fail_task(execution_id, reason, actor=self.actor)
        return f"execution failed: {reason}"

    def retry(self, execution_id: str) -> str:
        """Retry a FAILED or STUCK execution; return the notification text naming the new attempt."""
        new_id = self.manager.retry(execution_id, actor=self.actor)
        return f"retried as {new_id.rsplit(':', 1)[-1][:8]}"

    def cancel(self, instance_id: str, reason: str) -> str:
        """Cancel the instance with ``reason``."""
        self.manager.cancel(instance_id, reason, actor=self.actor)
        return f"instance cancelled: {reason}"

    def set_variable(self, instance_id: str, key: str, value: Any) -> str:
        """Write one key of the instance's global context."""
        self.manager.set_variables(instance_id, {key: value}, actor=self.actor)
        return f"variable {key!r} set"

    def retry_instance(self, instance_id: str) -> str:
        """Evaluate again the exclusive split where a FAILED instance stopped."""
        self.manager.retry_instance(instance_id, actor=self.actor)
        return "instance resumed"

    # -- operations: header counts, incidents, overview, blueprints, history --------------------------

    def execution_counts(self, local_task_ids: Collection[str], now: datetime) -> ExecutionCounts:
        """Open executions by what they wait for, and the incidents (for the header line)."""
        return reports.execution_counts(self.store, local_task_ids, now)

    def incidents(self, limit: int = 500) -> IncidentPage:
        """The oldest FAILED and STUCK incidents, at most ``limit``, and how many there are."""
        return reports.list_incidents(self.store, limit)

    def activity(self, now: datetime) -> Activity:
        """Starts and completions per minute over the last hour, instances by status and by workflow."""
        return reports.activity(self.store, now)

    def blueprints(self) -> list[BlueprintSummary]:
        """Every stored version of every workflow with its instances per status."""
        return reports.blueprint_summaries(self.store)

    def blueprint_detail(self, summary: BlueprintSummary, newest_version: int) -> BlueprintDetail:
        """The compiled blueprint of ``summary``, its graph (drawn here, off the event loop) and warnings."""
        try:
            compiled = self.manager.get_workflow(summary.workflow_id, summary.version)
        except WorkflowError as error:
            return BlueprintDetail(summary, None, [], GraphDrawing(None, problem=str(error)), newest_version)
        stored = self.store.get_blueprint(summary.workflow_id, summary.version)
        warnings = list(stored.warnings) if stored is not None else list(compiled.warnings)
        return BlueprintDetail(summary, compiled, warnings, render_blueprint_graph(compiled), newest_version)

    def start_instance(self, workflow_id: str, context: dict[str, Any]) -> str:
        """Start an instance of the newest version of ``workflow_id``; return its id."""
        return self.manager.start_workflow(workflow_id, context, actor=self.actor)

    def load_blueprint_file(self, path: str) -> LoadedBlueprint:
        """Validate the blueprint file at ``path`` and store it.

        Raises :class:`BlueprintRefused` listing every problem when it has errors (nothing is stored),
        ``BadInputError`` when the file cannot be read, ``BlueprintConflictError`` when another blueprint
        is stored under the same workflow id and version.
        """
        if path.strip() in ("", "-"):
            raise BadInputError("type the path of a blueprint JSON file")
        if any(c in path for c in "*?[") and not Path(path.strip()).expanduser().exists():
            raise BadInputError(f"{path.strip()}: one file at a time here; `wfconsole load {path.strip()}` loads "
                                "every file that matches, all or none")
        text = read_text_file(path.strip(), "blueprint file")
        try:
            compiled = compile_blueprint(text, path)
        except BlueprintError:
            raise BlueprintRefused(path, validate(text, path)) from None
        existed = self.store.get_blueprint(compiled.workflow_id, compiled.version) is not None
        version = self.manager.add_workflow(compiled.blueprint, origin=path)
        return LoadedBlueprint(path, compiled.workflow_id, version, not existed, list(compiled.warnings))

    def search_history(self, query: HistoryQuery) -> list[HistoryHit]:
        """History entries matching ``query``, newest first. An instance id may be a unique prefix;
        raises ``UnknownInstanceError`` when it matches no instance or several."""
        if query.instance_id:
            query = replace(query, instance_id=self.resolve_instance(query.instance_id))
        return reports.search_history(self.store, query)

    def resolve_instance(self, prefix: str) -> str:
        """The instance whose id is ``prefix`` or starts with it; raises ``UnknownInstanceError``."""
        prefix = prefix.strip().lower()
        found = self.store.find_instance_ids(prefix, limit=6)
        if prefix in found:
            return prefix
        if not found:
            raise UnknownInstanceError(f"no instance id starts with {prefix!r}")
        if len(found) > 1:
            shown = ", ".join(i[:12] for i in found[:5])
            raise UnknownInstanceError(f"{prefix!r} matches several instances ({shown}…): type more of the id")
        return found[0]
