"""Batch actions of the Instances view, mixed into :class:`~console.screens.instances_screen.InstancesScreen`:
``space`` marks rows, ``b`` acts on the marked rows or on every instance the filter matches.

The set is fixed (and counted) before the confirmation, so acting cannot move rows in or out of it; then the
batch runs in a thread worker, one transaction per instance (:meth:`engine.operations.Operations.batch`), with
progress, a key to stop it and each refusal named at the end.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import work

from console.formatting import short_id
from console.screens.batch_modal import ACTIONS, BatchModal, BatchRequest
from console.screens.batch_progress_modal import BatchProgressModal
from console.screens.confirm_modal import ConfirmModal
from console.screens.migrate_modal import FromNode, MigrateModal, MigrateRequest
from console.widgets.instances_table import InstancesTable
from engine.ports import InstanceQuery
from engine.repair_ops import BatchResult
from engine.text import visible

if TYPE_CHECKING:
    from console.backend import ConsoleBackend, InstancesPage
    from engine import InstanceSummary

LISTED = 10  # instance ids listed in the confirmation


@dataclass(frozen=True)
class BatchContext:
    """What the batch dialogs need to know, read in a worker: the one workflow the instances belong to (if
    one), its stored versions, the nodes of those versions (first kind seen) and the versions the instances
    are on."""

    workflow_id: str | None
    versions: list[int]
    nodes: list[FromNode]
    source_versions: set[int]


def filter_words(query: InstanceQuery) -> str:
    """The listing's filters in words: ``status=FAILED workflow=loan_approval search='x'`` (empty: none)."""
    parts = [f"status={query.status}" if query.status else "",
             f"workflow={query.workflow_id}" if query.workflow_id else "",
             f"version={query.version}" if query.version else "",
             f"task={query.task_id}" if query.task_id else "",
             f"search={query.text!r}" if query.text else ""]
    return " ".join(p for p in parts if p)


class InstancesBatchActions:
    """Mixed into the instances screen, which provides ``backend``, ``page``, ``listing_query``, ``ask`` and
    the table."""

    backend: ConsoleBackend
    page: InstancesPage | None

    def action_mark(self) -> None:
        """Mark the row under the cursor for a batch action (or unmark it) and move down."""
        self.query_one(InstancesTable).toggle_mark()

    def unmark_all(self) -> bool:
        """Unmark every row; whether any was marked."""
        table = self.query_one(InstancesTable)
        had = bool(table.marked)
        table.clear_marks()
        return had

    def marks_line(self) -> Text | None:
        """What the line under the counts says while rows are marked, else ``None``."""
        marked = len(self.query_one(InstancesTable).marked)
        if not marked:
            return None
        line = Text(f" {marked} marked", style="bold yellow")
        line.append(" · b acts on them · space marks or unmarks · Esc unmarks all", style="dim")
        return line

    def action_batch(self) -> None:
        """Cancel, retry, resume, migrate, set a variable or move a token on the marked rows or on every
        instance the filter matches."""
        marked = dict(self.query_one(InstancesTable).marked)
        if not marked and (self.page is None or not self.page.total):
            self.notify("no instance to act on: the listing is empty", severity="warning")
            return
        self._prepare_batch(marked, replace(self.listing_query(), offset=0))  # every filter, from the first row

    @work(thread=True, exclusive=True, group="batch-prepare", exit_on_error=False)
    def _prepare_batch(self, marked: dict[str, InstanceSummary], query: InstanceQuery) -> None:
        try:
            context = self._batch_context(marked, query)
        except Exception as error:  # noqa: BLE001
            self.notify_error_from_thread(error, "Batch")
            return
        self.app.call_from_thread(self._batch_flow, marked, query, context)

    def _batch_context(self, marked: dict[str, InstanceSummary], query: InstanceQuery) -> BatchContext:
        workflows = {row.workflow_id for row in marked.values()} if marked else \
            {query.workflow_id} if query.workflow_id else set()
        if len(workflows) != 1:
            return BatchContext(None, [], [], set())
        [workflow_id] = workflows
        ops = self.backend.ops
        versions = sorted(b.version for b in ops.blueprints() if b.workflow_id == workflow_id)
        nodes: dict[str, FromNode] = {}
        for version in versions:
            compiled = ops.workflow(workflow_id, version)
            for node in compiled.blueprint.nodes:
                nodes.setdefault(node.id, FromNode(node.id, compiled.kinds[node.id]))
        sources = {row.version for row in marked.values()} if marked else \
            {query.version} if query.version else set(versions)
        return BatchContext(workflow_id, versions, list(nodes.values()), sources)

    @work(exclusive=True, group="dialog")
    async def _batch_flow(self, marked: dict[str, InstanceSummary], query: InstanceQuery,
                          context: BatchContext) -> None:
        matching = self.page.total if self.page is not None else 0
        request: BatchRequest | None = await self.ask(BatchModal(
            len(marked), filter_words(query), matching, [n.node_id for n in context.nodes] or None))
        if request is None:
            return
        if request.action == "migrate":
            options = await self._migrate_options(context)
            if options is None:
                return
            request = BatchRequest(request.scope, "migrate", options)
        ops = self.backend.ops
        ids = list(marked) if request.scope == "marked" else await asyncio.to_thread(ops.matching_ids, query)
        if not ids:
            self.notify("no instance matches the filter any more", severity="warning")
            return
        words = dict(ACTIONS)[request.action]
        if not await self.ask(ConfirmModal(f"{words.capitalize()}: {len(ids):,} instance(s)?",
                                           self._confirm_body(request, ids, query), words.capitalize())):
            return
        act = ops.batch_action(request.action, **request.options)
        result: BatchResult | None = await self.ask(BatchProgressModal(
            f"{words.capitalize()}: {len(ids):,} instance(s)", ids,
            lambda chosen, batch_id, stop, progress: ops.batch(chosen, act, batch_id=batch_id, should_stop=stop,
                                                               progress=progress)))
        self.unmark_all()
        self.reload()
        if result is not None:
            self.notify(f"batch {result.batch_id}: {words} done on {len(result.done):,}, {len(result.refused):,} "
                        f"refused" + (", stopped" if result.stopped else ""), title="Batch",
                        severity="warning" if result.refused or result.stopped else "information")

    async def _migrate_options(self, context: BatchContext) -> dict[str, Any] | None:
        if context.workflow_id is None:
            self.notify("migrate one workflow at a time: filter by a workflow (w) or mark rows of one",
                        severity="warning")
            return None
        targets = [v for v in context.versions if {v} != context.source_versions]
        if not targets:
            self.notify(f"only version {context.versions[0] if context.versions else '?'} of "
                        f"{context.workflow_id} is stored: load another version to migrate to", severity="warning")
            return None
        ops, workflow_id = self.backend.ops, context.workflow_id
        sources = ", ".join(str(v) for v in sorted(context.source_versions))
        migrate: MigrateRequest | None = await self.ask(MigrateModal(
            f"Migrate instances of {workflow_id} (version {sources}) to another version", context.nodes, targets,
            lambda version: ops.workflow(workflow_id, version), None, only_missing=True,
            explanation="Tokens go to the node of the same id; pick a node for each node the target version does "
                        "not have. Each instance is checked when the batch reaches it; refusals are listed at the "
                        "end."))
        if migrate is None:
            return None
        return {"to_version": migrate.to_version, "mapping": migrate.mapping, "forced": migrate.forced}

    @staticmethod
    def _confirm_body(request: BatchRequest, ids: list[str], query: InstanceQuery) -> Text:
        text = Text()
        words = filter_words(query)
        scope = "the marked rows" if request.scope == "marked" else \
            f"every instance matching {words}" if words else "every instance (no filter)"
        text.append(visible(f"{len(ids):,} instance(s): {scope}, fixed now (instances that match later are "
                            "left out).\n"), style="")
        options = {k: v for k, v in request.options.items() if v not in (None, [], {}, False)}
        if options:
            text.append(visible(f"with {options}\n"), style="dim")
        text.append("Each in its own transaction, recorded in its history with the batch id and you as the "
                    "actor; refusals are listed at the end; Esc stops it between two instances.\n\n", style="dim")
        for instance_id in ids[:LISTED]:
            text.append(f"• {short_id(instance_id)}\n", style="bold")
        if len(ids) > LISTED:
            text.append(f"… and {len(ids) - LISTED:,} more\n", style="dim")
        return text
