"""Marking an execution done by hand, as the instance and incidents screens both do it: the form (strict about
unmapped keys, the engine's check in a worker), then a confirmation that shows the engine's warnings (a split
ahead testing a variable that neither the context nor these outputs set). A "no" goes back to the filled form.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rich.console import RenderableType
from rich.text import Text

from console.screens.confirm_modal import ConfirmModal
from console.screens.mark_done_modal import CheckOutputs, CompletionForm, MarkDoneModal
from engine import Execution
from engine.text import visible

if TYPE_CHECKING:
    from console.screens.live_screen import LiveScreen
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
