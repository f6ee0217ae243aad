"""The detail of one instance: token graph, executions, context and history, and the operator actions."""

from __future__ import annotations

import json
from typing import Any

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Header
from textual.worker import get_current_worker

from console import keymap
from console.backend import InstanceDetail
from console.formatting import pretty_json, short_id
from console.screens.confirm_modal import ConfirmModal
from console.screens.execution_modal import ExecutionModal
from console.screens.history_search_screen import HistorySearchScreen
from console.screens.instance_claim_actions import InstanceClaimActions
from console.screens.instance_repair_actions import InstanceRepairActions
from console.screens.live_screen import LiveScreen
from console.screens.mark_done_flow import ask_completion, conditions_reading
from console.screens.reason_modal import ReasonModal
from console.screens.variable_modal import VariableModal
from console.widgets.console_footer import ConsoleFooter
from console.widgets.context_tree import ContextTree
from console.widgets.executions_table import ExecutionsTable
from console.widgets.history_timeline import HistoryTimeline
from console.widgets.instance_header import InstanceHeader
from console.widgets.nav_bar import NavBar
from console.widgets.runtime_bar import RuntimeBar
from console.widgets.token_graph import GraphDrawing, TokenGraph
from engine import Execution, UnknownInstanceError
from engine.actions import EXECUTION_ACTIONS, Action, Permissions
from engine.text import visible, visible_json


class InstanceDetailScreen(InstanceClaimActions, InstanceRepairActions, LiveScreen):
    """Everything about one instance. Execution actions apply to the row selected in the executions."""

    BINDINGS = keymap.INSTANCE
    AUTO_FOCUS = "ExecutionsTable"
    PALETTE_GROUP = "Instance"

    def __init__(self, instance_id: str, execution_id: str | None = None) -> None:
        """``execution_id``: the execution to select once the instance is shown (opened from a task list)."""
        super().__init__()
        self.instance_id = instance_id
        self.detail: InstanceDetail | None = None
        self._select_execution = execution_id

    def compose(self) -> ComposeResult:
        yield Header()
        yield NavBar()
        yield RuntimeBar()
        yield InstanceHeader("loading…", id="instance-header")
        yield TokenGraph(id="graph")
        with Horizontal(id="detail-lower"):
            yield ExecutionsTable(id="executions")
            with Vertical(id="detail-side"):
                yield ContextTree(id="context")
                yield HistoryTimeline(id="history")
        yield ConsoleFooter()

    def on_mount(self) -> None:
        for selector, title in (("#graph", "Token graph"), ("#executions", "Executions  (select one: d f r)"),
                                ("#context", "Context  (e to edit)"), ("#history", "History")):
            self.query_one(selector).border_title = title

    def action_toggle_graph(self) -> None:
        """Hide or show the token graph (the executions, context and history get its room)."""
        graph = self.query_one(TokenGraph)
        graph.display = not graph.display

    def action_zoom_graph(self) -> None:
        """The token graph's next zoom level: full labels, short labels, symbols."""
        self.query_one(TokenGraph).cycle_zoom()

    @on(TokenGraph.NodeChosen)
    def _node_chosen(self, message: TokenGraph.NodeChosen) -> None:
        """Enter on a node in the graph: its newest execution is selected in the executions, ready for the
        actions (as a flow node picked in Operate's diagram is picked in its instance history)."""
        table = self.query_one(ExecutionsTable)
        if table.select_newest(message.node_id):
            table.focus()
        else:
            self.notify(f"no execution at {self._node_label(message.node_id)!r}: only tasks that a token "
                        "reached have executions", severity="information")

    # -- loading ----------------------------------------------------------------------------------

    def reload(self) -> None:
        self.load_started(self._load(self.instance_id))

    @work(thread=True, exclusive=True, group="detail-load", exit_on_error=False)
    def _load(self, instance_id: str) -> None:
        try:
            detail = self.backend.instance_detail(instance_id, now=self.clock.now())
            if not get_current_worker().is_cancelled:
                self.app.call_from_thread(self._show, detail)
        except UnknownInstanceError as error:
            self.notify_error_from_thread(error, "Instance gone")
            self.app.call_from_thread(self.dismiss_if_shown)
        except Exception as error:  # noqa: BLE001
            self.notify_error_from_thread(error, "Cannot load the instance")
        finally:
            self.load_finished_from_thread()

    def _show(self, detail: InstanceDetail) -> None:
        self.detail = detail
        view = detail.view
        self.sub_title = visible(f"{view.workflow_id}@{view.version} · {view.id[:8]}")
        self.query_one(InstanceHeader).show(view, self.clock)
        self.query_one(TokenGraph).show(detail.drawing or GraphDrawing(None, problem=detail.problem))
        executions = self.query_one(ExecutionsTable)
        executions.show(view.executions, self.clock, view.history)
        if self._select_execution is not None:
            executions.select(self._select_execution)
            self._select_execution = None
        self.query_one(ContextTree).show(view.context)
        self.query_one(HistoryTimeline).show(view.history, self.clock)
        self.refresh_bindings()

    @on(DataTable.RowHighlighted)
    def _execution_highlighted(self) -> None:
        self.refresh_bindings()

    @on(DataTable.RowSelected, "ExecutionsTable")
    def _execution_selected(self) -> None:
        """Enter on an execution: all of it, where the table cuts its outputs or error short."""
        execution = self.query_one(ExecutionsTable).selected_execution
        if execution is not None:
            history = self.detail.view.history if self.detail is not None else ()
            self.app.push_screen(ExecutionModal(execution, self._node_label(execution.node_id), self.clock, history))

    # What the footer offers follows the engine's permissions: inapplicable keys are dimmed, "Resume" shows
    # only when the instance stopped at a split. A dimmed key still says why, when pressed.
    _ENGINE_ACTIONS = {"mark_done": Action.COMPLETE, "fail": Action.FAIL, "retry": Action.RETRY,
                       "cancel_instance": Action.CANCEL, "edit_variable": Action.SET_VARIABLES,
                       "retry_instance": Action.RESUME, "move_tokens": Action.MOVE_TOKENS,
                       "migrate": Action.MIGRATE}

    def _permissions(self) -> Permissions | None:
        if self.detail is None:
            return None
        return self.backend.ops.permissions(self.detail.view, self.query_one(ExecutionsTable).selected_execution)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "claim":
            return self.claim_shown()
        engine_action = self._ENGINE_ACTIONS.get(action)
        permissions = self._permissions()
        if engine_action is None or permissions is None:
            return True
        if engine_action is Action.RESUME:
            return permissions.allows(engine_action)
        return True if permissions.allows(engine_action) else None

    def on_key(self, event: events.Key) -> None:
        """A key whose action does not apply (dimmed in the footer) says why, rather than doing nothing."""
        action = next((b.action for b in self.BINDINGS if isinstance(b, Binding) and b.key == event.key), None)
        if action == "claim" or action in self._ENGINE_ACTIONS:
            self.act_when_its_turn_comes(event, action)  # on the execution selected once earlier keys moved it

    def key_refusal(self, action: str) -> str | None:
        if action == "claim":
            return self.claim_refusal()
        return self._refusal(self._ENGINE_ACTIONS[action])

    def _refusal(self, action: Action) -> str | None:
        """Why ``action`` does not apply now (the engine's words), or ``None``."""
        permissions = self._permissions()
        if permissions is None:
            return "the instance is still loading"
        if action in EXECUTION_ACTIONS and self.query_one(ExecutionsTable).selected_execution is None:
            return "select an execution first (Tab to the executions table)"
        return permissions.why_not(action)

    def redraw(self) -> None:
        if self.detail is not None:
            self._show(self.detail)

    def dismiss_if_shown(self) -> None:
        """Leave the screen (the instance no longer exists)."""
        if self.app.screen is self:
            self.app.pop_screen()

    def action_back(self) -> None:
        """Back to the screen the instance was opened from."""
        self.app.pop_screen()

    def action_search_history(self) -> None:
        """Search this instance's history by event, node, actor and time."""
        self.app.push_screen(HistorySearchScreen(instance_id=self.instance_id))

    # -- actions ----------------------------------------------------------------------------------

    def _allowed_execution(self, action: Action) -> Execution | None:
        """The selected execution if ``action`` applies to it; else notify why not and return ``None``."""
        refusal = self._refusal(action)
        if refusal is not None:
            self.notify(refusal, severity="warning")
            return None
        return self.query_one(ExecutionsTable).selected_execution

    def _node_label(self, node_id: str) -> str:
        if self.detail is not None and self.detail.compiled is not None and node_id in self.detail.compiled.nodes:
            return self.detail.compiled.node(node_id).label
        return node_id

    def action_mark_done(self) -> None:
        """Complete the selected execution with outputs typed in a form, after a confirmation."""
        execution = self._allowed_execution(Action.COMPLETE)
        if execution is not None and self.detail is not None:
            mapping: dict[str, str] = {}
            conditions: list[str] = []
            compiled = self.detail.compiled
            if compiled is not None and execution.node_id in compiled.nodes:
                mapping = dict(compiled.node(execution.node_id).output_mapping)
                conditions = conditions_reading(compiled, set(mapping.values()))
            self._mark_done_flow(execution, mapping, conditions)

    @work(exclusive=True, group="dialog")
    async def _mark_done_flow(self, execution: Execution, mapping: dict[str, str], conditions: list[str]) -> None:
        label = self._node_label(execution.node_id)
        title = f"Mark done: {label}, instance {short_id(self.instance_id)}"
        form = await ask_completion(self, execution, label, mapping, conditions, title,
                                    lambda outputs: self._done_summary(outputs, mapping))
        if form is not None:
            self.perform(lambda: self.backend.ops.complete(execution.id, form.outputs,
                                                           allow_unmapped=form.allow_unmapped), "Mark done")

    def _done_summary(self, outputs: dict[str, Any], mapping: dict[str, str]) -> Text:
        written = {mapping[k]: v for k, v in outputs.items() if k in mapping}
        return Text.assemble(
            ("outputs  ", "dim"), pretty_json(outputs), "\n",
            ("written to the context  ", "dim"), visible_json(json.dumps(written, ensure_ascii=False)), "\n",
            ("as  ", "dim"), visible(self.backend.actor), "\n",
            ("n goes back to the form", "dim italic"),
        )

    def action_fail(self) -> None:
        """Fail the selected execution with a reason: it becomes an incident."""
        execution = self._allowed_execution(Action.FAIL)
        if execution is not None:
            self._fail_flow(execution)

    @work(exclusive=True, group="dialog")
    async def _fail_flow(self, execution: Execution) -> None:
        label = self._node_label(execution.node_id)
        reason = await self.ask(ReasonModal(
            f"Fail {label}, instance {short_id(self.instance_id)}?",
            "The execution becomes FAILED (an incident); its token stays on the node. "
            "Other branches go on. It can be retried or marked done later.", "Fail execution",
            "e.g. customer unreachable"))
        if reason is not None:
            self.perform(lambda: self.backend.ops.fail(execution.id, reason), "Fail")

    def action_retry(self) -> None:
        """Retry the selected FAILED or STUCK execution: a new attempt is created and dispatched."""
        execution = self._allowed_execution(Action.RETRY)
        if execution is not None:
            self.perform(lambda: self.backend.ops.retry(execution.id), "Retry")

    def _instance_allows(self, action: Action) -> bool:
        """Whether ``action`` applies to the instance now (else notify why not)."""
        refusal = self._refusal(action)
        if refusal is not None:
            self.notify(refusal, severity="warning")
        return refusal is None

    def action_cancel_instance(self) -> None:
        """Cancel the whole instance with a reason."""
        if self._instance_allows(Action.CANCEL):
            self._cancel_flow()

    @work(exclusive=True, group="dialog")
    async def _cancel_flow(self) -> None:
        reason = await self.ask(ReasonModal(
            f"Cancel instance {self.instance_id[:8]}?", "The instance becomes CANCELLED: its open executions "
            "are cancelled and every token is removed. This cannot be undone.", "Cancel instance",
            "e.g. duplicate order"))
        if reason is not None:
            self.perform(lambda: self.backend.ops.cancel(self.instance_id, reason), "Cancel")

    def action_edit_variable(self) -> None:
        """Set a key of the global context (the key selected in the context tree is proposed)."""
        if self.detail is not None and self._instance_allows(Action.SET_VARIABLES):
            tree = self.query_one(ContextTree)
            if self.stopped_at_split() and not (tree.has_focus and tree.selected_key):
                self.open_split_form(self.instance_id)  # what the split's conditions read, filled with their values
                return
            self._edit_flow(dict(self.detail.view.context), tree.selected_key if tree.has_focus else None)

    @work(exclusive=True, group="dialog")
    async def _edit_flow(self, context: dict[str, Any], key: str | None) -> None:
        result = await self.ask(VariableModal(self.instance_id, context, key))
        if result is not None:
            name, value = result
            self.perform(lambda: self.backend.ops.set_variables(self.instance_id, {name: value}), "Edit variable")

    def action_retry_instance(self) -> None:
        """Resume an instance FAILED at an exclusive split (after fixing its variables)."""
        if self._instance_allows(Action.RESUME):
            self._resume_flow()

    @work(exclusive=True, group="dialog")
    async def _resume_flow(self) -> None:
        body = "The exclusive split where the instance stopped is evaluated again with the current context."
        if await self.ask(ConfirmModal(f"Resume instance {short_id(self.instance_id)}?", body, "Resume")):
            self.perform(lambda: self.backend.ops.resume(self.instance_id), "Resume")
