"""Marking an execution done by hand, as the instance and incidents screens both do it: the form (strict about
unmapped keys, the engine's check in a worker), then a confirmation that shows the engine's warnings (a split
ahead testing a variable that neither the context nor these outputs set). A "no" goes back to the filled form.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rich.console import RenderableType
from rich.text import Text
from textual import work

from console.formatting import compact_json, short_id
from console.screens.confirm_modal import ConfirmModal
from console.screens.mark_done_modal import CheckOutputs, CompletionForm, MarkDoneModal
from engine import Execution
from engine.text import visible

if TYPE_CHECKING:
    from console.backend import ConsoleBackend
    from console.screens.live_screen import LiveScreen
    from engine.graph import CompiledBlueprint
    from engine.operations import Operations


def outputs_check(ops: Operations, execution_id: str) -> CheckOutputs:
    """The engine's check of outputs typed by hand (blocking): unmapped keys refused unless allowed, then the
    warnings about the completion."""

    def check(outputs: dict[str, Any], allow_unmapped: bool) -> list[str]:
        if outputs and not allow_unmapped:
            ops.check_outputs(execution_id, outputs)
        return ops.completion_warnings(execution_id, outputs)

    return check


def with_warnings(body: RenderableType, form: CompletionForm) -> RenderableType:
    """The confirmation's body with the completion's warnings and the unmapped keys' fate added."""
    if not form.warnings and not form.allow_unmapped:
        return body
    text = body.copy() if isinstance(body, Text) else Text(visible(str(body), multiline=True))
    for warning in form.warnings:
        text.append("\nwarning: ", style="bold yellow")
        text.append(visible(warning), style="yellow")
    if form.allow_unmapped:
        text.append("\nkeys the output mapping does not map are dropped", style="yellow")
    return text


async def ask_completion(screen: LiveScreen, execution: Execution, label: str, mapping: dict[str, str],
                         conditions: list[str], title: str,
                         summary: Callable[[dict[str, Any]], RenderableType]) -> CompletionForm | None:
    """The form, then the confirmation (``title``, ``summary(outputs)`` and the warnings); the form's answer
    when confirmed, ``None`` when the operator backed out."""
    form: CompletionForm | None = None
    while True:
        form = await screen.ask(MarkDoneModal(
            execution, label, mapping, conditions, form.outputs if form else None,
            check=outputs_check(screen.backend.ops, execution.id), allow_unmapped=bool(form and form.allow_unmapped)))
        if form is None:
            return None
        if await screen.ask(ConfirmModal(title, with_warnings(summary(form.outputs), form), "Mark done")):
            return form


def conditions_reading(compiled: CompiledBlueprint, keys: set[str]) -> list[str]:
    """The edge conditions of the blueprint that mention one of the context ``keys``, in blueprint order."""
    found: list[str] = []
    for edge in compiled.blueprint.edges:
        condition = edge.condition or ""
        if condition and condition not in found and any(re.search(rf"\b{re.escape(k)}\b", condition) for k in keys):
            found.append(condition)
    return found


class ListMarkDone:
    """``d`` on a list row (an incident, a person's task): read the execution and its blueprint in a worker, then
    the form and the confirmation, then the completion in a worker (mixed into a :class:`LiveScreen`)."""

    backend: ConsoleBackend

    @work(thread=True, exclusive=True, group="mark-done-load", exit_on_error=False)
    def mark_done_listed(self, execution_id: str, workflow_id: str, version: int) -> None:
        """Open the mark-done form for the execution ``execution_id`` of an instance of that workflow version."""
        try:
            execution = self.backend.ops.execution(execution_id)
            compiled = self.backend.ops.workflow(workflow_id, version)
        except Exception as error:  # noqa: BLE001
            self.notify_error_from_thread(error, "Cannot mark done")  # type: ignore[attr-defined]
            return
        node = compiled.node(execution.node_id)
        mapping = dict(node.output_mapping)
        self.app.call_from_thread(self._mark_done_flow, execution, node.label, mapping,  # type: ignore[attr-defined]
                                  conditions_reading(compiled, set(mapping.values())))

    @work(exclusive=True, group="dialog")
    async def _mark_done_flow(self, execution: Execution, label: str, mapping: dict[str, str],
                              conditions: list[str]) -> None:
        title = f"Mark done: {label}, instance {short_id(execution.instance_id)}"
        form = await ask_completion(self, execution, label, mapping, conditions, title,  # type: ignore[arg-type]
                                    lambda outputs: Text.assemble(("outputs  ", "dim"), compact_json(outputs, 10_000),
                                                                  "\n", ("as  ", "dim"), visible(self.backend.actor)))
        if form is not None:
            self.perform(lambda: self.backend.ops.complete(  # type: ignore[attr-defined]
                execution.id, form.outputs, allow_unmapped=form.allow_unmapped), "Mark done")
