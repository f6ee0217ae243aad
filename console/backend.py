"""What the console asks of the engine, in one place: blocking calls, to be run in Textual workers only.

:class:`ConsoleBackend` holds the engine's :class:`~engine.operations.Operations` (the door the command line
uses too) and adds what only the console needs. Every method does database work and may take a while on a
large database, so screens call it from ``@work(thread=True)`` workers and never from the event loop.
Operator actions record the operator as ``actor`` so the history says who did what.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from console.cli_input import BadInputError, read_text_file
from console.widgets.token_graph import GraphDrawing, render_blueprint_graph, render_token_graph
from engine import InstanceQuery, InstanceSummary, InstanceView, WorkflowError, WorkflowManager
from engine.errors import BlueprintError, Problem
from engine.graph import CompiledBlueprint
from engine.operations import Operations
from engine.ports import BlueprintSummary
from engine.sources import compile_text, validate_text
from store import open_store


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
    """The engine as the console uses it: :class:`~engine.operations.Operations` (``ops``) for every read and
    action, plus what only the console needs (graphs drawn off the event loop, pages with their counts). All
    methods block; call them from thread workers."""

    def __init__(self, manager: WorkflowManager, actor: str | None = None, *, readonly: bool = False) -> None:
        self.ops = Operations(manager, actor, readonly=readonly)

    @classmethod
    def open(cls, db_path: str, actor: str | None = None, *, readonly: bool = False) -> ConsoleBackend:
        """Open (creating if missing) the database at ``db_path``; raises ``StoreError``."""
        return cls(WorkflowManager(open_store(db_path)), actor, readonly=readonly)

    @property
    def manager(self) -> WorkflowManager:
        """The engine, for the worker runtime the console may run."""
        return self.ops.manager

    @property
    def actor(self) -> str:
        """Who the console's actions are recorded as."""
        return self.ops.actor

    def close(self) -> None:
        """Release the database."""
        self.ops.close()

    # -- reading ----------------------------------------------------------------------------------

    def instances_page(self, query: InstanceQuery) -> InstancesPage:
        """The instances matching ``query`` (one page, newest first) and the counts by status."""
        return InstancesPage(query=query, rows=self.ops.instances(query), counts=self.ops.count_instances(query))

    def instance_detail(self, instance_id: str, history_limit: int = 500,
                        now: datetime | None = None) -> InstanceDetail:
        """The instance, its blueprint and its rendered token graph (an open task's deadline as how late it is,
        or is due in, at ``now``); raises ``UnknownInstanceError``."""
        view = self.ops.instance(instance_id, history_limit=history_limit)
        try:
            compiled = self.ops.workflow(view.workflow_id, view.version)
        except WorkflowError as error:
            return InstanceDetail(view=view, compiled=None, problem=str(error))
        return InstanceDetail(view=view, compiled=compiled, drawing=render_token_graph(compiled, view, now))

    def blueprint_detail(self, summary: BlueprintSummary, newest_version: int) -> BlueprintDetail:
        """The compiled blueprint of ``summary``, its graph (drawn here, off the event loop) and warnings."""
        try:
            compiled = self.ops.workflow(summary.workflow_id, summary.version)
        except WorkflowError as error:
            return BlueprintDetail(summary, None, [], GraphDrawing(None, problem=str(error)), newest_version)
        stored = self.ops.stored_blueprint(summary.workflow_id, summary.version)
        warnings = list(stored.warnings) if stored is not None else list(compiled.warnings)
        return BlueprintDetail(summary, compiled, warnings, render_blueprint_graph(compiled), newest_version)

    def load_blueprint_file(self, path: str) -> LoadedBlueprint:
        """Validate the blueprint file at ``path`` (JSON, or BPMN 2.0 XML) and store it.

        Raises :class:`BlueprintRefused` listing every problem when it has errors (nothing is stored),
        ``BadInputError`` when the file cannot be read, ``BlueprintConflictError`` when another blueprint
        is stored under the same workflow id and version.
        """
        if path.strip() in ("", "-"):
            raise BadInputError("type the path of a blueprint file (JSON or BPMN)")
        if any(c in path for c in "*?[") and not Path(path.strip()).expanduser().exists():
            raise BadInputError(f"{path.strip()}: one file at a time here; `wfconsole load {path.strip()}` loads "
                                "every file that matches, all or none")
        text = read_text_file(path.strip(), "blueprint file")
        try:
            compiled = compile_text(text, path)
        except BlueprintError:
            raise BlueprintRefused(path, validate_text(text, path)) from None
        [(version, created)] = self.ops.load_blueprints([(compiled.blueprint, path)])
        return LoadedBlueprint(path, compiled.workflow_id, version, created, list(compiled.warnings))
