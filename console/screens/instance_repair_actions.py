"""The repairs of the instance screen, mixed into :class:`~console.screens.instance_detail_screen.
InstanceDetailScreen`: move tokens (``m``), migrate to another version (``M``), set what a stopped split reads
(``e`` on such an instance) and a variable's history (``v``, from the variables pane).

Every read and every action goes through the engine's Operations in thread workers; the dialogs preview what
a change would leave before it is applied.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual import work

from console.formatting import short_id
from console.screens.confirm_modal import ConfirmModal
from console.screens.migrate_modal import FromNode, MigrateModal, MigrateRequest
from console.screens.move_tokens_modal import MoveRequest, MoveTokensModal
from console.screens.split_variables_modal import SplitVariables, SplitVariablesModal
from console.screens.variable_history_modal import VariableHistoryModal
from console.widgets.context_tree import ContextTree
from console.widgets.token_graph import TokenGraph
from engine.actions import Action
from engine.outcomes import ActionResult
from engine.text import visible

if TYPE_CHECKING:
    from console.backend import ConsoleBackend, InstanceDetail
    from engine.graph import CompiledBlueprint


def split_conditions(compiled: CompiledBlueprint, split_ids: list[str]) -> dict[str, list[str]]:
    """For each split, its edges as ``condition → target`` (``otherwise → target`` for the default)."""
    found: dict[str, list[str]] = {}
    for split_id in split_ids:
        if split_id in compiled.nodes:
            found[split_id] = [f"{edge.condition or 'otherwise'} → {edge.target_id}"
                               for edge in compiled.outgoing.get(split_id, [])]
    return found


class SplitFormActions:
    """The form of an instance stopped at a split, for any screen with ``backend``, ``ask`` and ``perform``
    (the instance screen and the incidents)."""

    backend: ConsoleBackend

    def open_split_form(self, instance_id: str) -> None:
        """The variables the split's conditions read, with their current values, in one form."""
        self._load_split_variables(instance_id)

    @work(thread=True, exclusive=True, group="split-load", exit_on_error=False)
    def _load_split_variables(self, instance_id: str) -> None:
        ops = self.backend.ops
        try:
            splits = ops.split_variables(instance_id)
            view = ops.instance(instance_id, history_limit=0)
            conditions = split_conditions(ops.workflow(view.workflow_id, view.version), list(splits))
        except Exception as error:  # noqa: BLE001
            self.notify_error_from_thread(error, "Cannot read the split")
            return
        if not splits:
            self.app.call_from_thread(self.notify, f"instance {short_id(instance_id)} is not stopped at a split",
                                      severity="warning")
            return
        self.app.call_from_thread(self._split_flow, instance_id, splits, dict(view.context), conditions)

    @work(exclusive=True, group="dialog")
    async def _split_flow(self, instance_id: str, splits: dict[str, dict[str, Any]], context: dict[str, Any],
                          conditions: dict[str, list[str]]) -> None:
        answer: SplitVariables | None = await self.ask(SplitVariablesModal(instance_id, splits, context,
                                                                           conditions))
        if answer is None:
            return
        ops = self.backend.ops

        def set_then_resume() -> ActionResult:
            result = ops.set_variables(instance_id, answer.values) if answer.values else None
            if not answer.resume:
                return result
            resumed = ops.resume(instance_id)
            if result is not None:
                return ActionResult(resumed.action, instance_id, resumed.applied,
                                    f"{result.message}; {resumed.message}", stopped=resumed.stopped)
            return resumed

        self.perform(set_then_resume, "Resume" if answer.resume else "Set variables")


class InstanceRepairActions(SplitFormActions):
    """Mixed into the instance screen, which provides ``detail``, ``instance_id``, ``backend``, ``ask``,
    ``perform``, ``_instance_allows`` and the widgets."""

    detail: InstanceDetail | None
    instance_id: str
    backend: ConsoleBackend

    def _repairable(self, action: Action) -> tuple[Any, CompiledBlueprint] | None:
        """The instance's view and blueprint if ``action`` applies to it now (else notify why not)."""
        detail = self.detail
        if detail is None:
            self.notify("the instance is still loading", severity="warning")
            return None
        if not self._instance_allows(action):
            return None
        if detail.compiled is None:
            self.notify(f"its blueprint cannot be loaded: {detail.problem}", severity="error")
            return None
        return detail.view, detail.compiled

    # -- move tokens --------------------------------------------------------------------------------

    def action_move_tokens(self) -> None:
        """Remove tokens from some nodes and place tokens on others, with a preview first."""
        found = self._repairable(Action.MOVE_TOKENS)
        if found is not None:
            graph = self.query_one(TokenGraph)
            place_on = graph.selected if graph.has_focus_within else None
            self._move_flow(*found, place_on)

    @work(exclusive=True, group="dialog")
    async def _move_flow(self, view: Any, compiled: CompiledBlueprint, place_on: str | None) -> None:
        instance_id = self.instance_id
        request: MoveRequest | None = await self.ask(MoveTokensModal(
            view, compiled, lambda remove, add: self.backend.ops.preview_move(instance_id, remove, add), place_on))
        if request is not None:
            self.perform(lambda: self.backend.ops.move_tokens(
                instance_id, request.remove, request.add, forced=request.forced), "Move tokens")

    # -- migrate ------------------------------------------------------------------------------------

    def action_migrate(self) -> None:
        """Move the instance to another version of its workflow, with a node mapping and a preview."""
        found = self._repairable(Action.MIGRATE)
        if found is not None:
            self._load_versions(*found)

    @work(thread=True, exclusive=True, group="migrate-load", exit_on_error=False)
    def _load_versions(self, view: Any, compiled: CompiledBlueprint) -> None:
        try:
            versions = [b.version for b in self.backend.ops.blueprints()
                        if b.workflow_id == view.workflow_id and b.version != view.version]
        except Exception as error:  # noqa: BLE001
            self.notify_error_from_thread(error, "Cannot list the versions")
            return
        if not versions:
            self.app.call_from_thread(
                self.notify, f"only version {view.version} of {view.workflow_id} is stored: load another version "
                "of it (4, then l) to migrate to", severity="warning")
            return
        self.app.call_from_thread(self._migrate_flow, view, compiled, versions)

    @work(exclusive=True, group="dialog")
    async def _migrate_flow(self, view: Any, compiled: CompiledBlueprint, versions: list[int]) -> None:
        instance_id, ops = self.instance_id, self.backend.ops
        statuses: dict[str, list[str]] = {}
        for token in view.tokens:
            statuses.setdefault(token.node_id, []).append(str(token.status))
        nodes = [FromNode(node_id, compiled.kinds[node_id], ", ".join(found))
                 for node_id, found in statuses.items() if node_id in compiled.kinds]
        request: MigrateRequest | None = await self.ask(MigrateModal(
            f"Migrate instance {short_id(instance_id)} ({view.workflow_id}@{view.version}) to another version",
            nodes, versions, lambda version: ops.workflow(view.workflow_id, version),
            lambda version, mapping: ops.preview_migration(instance_id, version, mapping)))
        if request is not None:
            self.perform(lambda: ops.migrate(instance_id, request.to_version, request.mapping,
                                             forced=request.forced), "Migrate")

    def stopped_at_split(self) -> bool:
        """Whether the instance is FAILED at an exclusive split (resuming it applies)."""
        return self.detail is not None and self._refusal(Action.RESUME) is None

    # -- a variable's history ---------------------------------------------------------------------

    def action_variable_history(self) -> None:
        """Every change of the variable selected in the variables pane: when, how, by whom, to what."""
        tree = self.query_one(ContextTree)
        name = tree.selected_key if tree.has_focus else None
        if name is None:
            tree.focus()
            self.notify("pick a variable in the context pane (↑ ↓), then v again", severity="information")
            return
        self._load_variable_history(name)

    @work(thread=True, exclusive=True, group="variable-history", exit_on_error=False)
    def _load_variable_history(self, name: str) -> None:
        try:
            changes = self.backend.ops.variable_history(self.instance_id, name)
            view = self.backend.ops.instance(self.instance_id, history_limit=0)
        except Exception as error:  # noqa: BLE001
            self.notify_error_from_thread(error, "Variable history")
            return
        can_unset = self.backend.ops.permissions(view).allows(Action.UNSET_VARIABLES)
        self.app.call_from_thread(self._variable_history_flow, name, changes, dict(view.context),
                                  can_unset)

    @work(exclusive=True, group="dialog")
    async def _variable_history_flow(self, name: str, changes: list, context: dict[str, Any],
                                     can_unset: bool) -> None:
        answer = await self.ask(VariableHistoryModal(
            self.instance_id, name, changes, context, self.clock, can_unset=can_unset))
        if answer != "unset":
            return
        title = visible(f"Unset {name} of instance {short_id(self.instance_id)}?")
        body = "The variable is deleted from the global context (the history keeps its old values)."
        if await self.ask(ConfirmModal(title, body, "Unset")):
            instance_id = self.instance_id
            self.perform(lambda: self.backend.ops.unset_variables(instance_id, [name]),
                         "Unset variable")
