"""One execution in full: what the executions table can only cut short (its inputs, outputs and error)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from console.formatting import ConsoleClock, error_owner, pretty_json, shown, status_text
from engine import Execution, HistoryEntry
from engine.text import visible


def execution_details(execution: Execution, label: str, clock: ConsoleClock,
                      history: Sequence[HistoryEntry] = ()) -> RenderableType:
    """Every field of ``execution``: times in the display time zone with their age, JSON indented; stored
    text with its control and bidi characters made visible (the error keeps its lines). The error of an
    earlier attempt is titled as that attempt's (``attempt 1 failed``), not as the execution's own."""
    fields = Table.grid(padding=(0, 2))
    fields.add_column(style="dim", no_wrap=True)
    fields.add_column(overflow="fold")

    def when(moment: Any) -> str:
        return f"{clock.stamp(moment)}  ({clock.ago(moment)})" if moment is not None else ""

    rows: list[tuple[str, RenderableType]] = [
        ("execution", shown(execution.id)),
        ("node", shown(execution.node_id if label == execution.node_id else f"{label}  ({execution.node_id})")),
        ("task", shown(execution.task_id)),
        ("status", status_text(execution.status)),
        ("attempt", str(execution.attempt)),
        ("created", when(execution.created_at)),
        ("changed", when(execution.updated_at)),
    ]
    if execution.lease_owner:
        rows.append(("claimed by", shown(f"{execution.lease_owner} until {clock.stamp(execution.lease_until)}")))
    if execution.next_attempt_at is not None:
        rows.append(("next attempt", when(execution.next_attempt_at)))
    for name, value in rows:
        fields.add_row(name, value)
    parts: list[RenderableType] = [fields]
    parts += _json_section("inputs", execution.inputs)
    if execution.outputs is not None:
        parts += _json_section("outputs", execution.outputs)
    if execution.error:
        whose = error_owner(execution, history)
        title = f"\nerror of an earlier attempt: {whose}" if whose else "\nerror"
        parts += [Text(title, style="bold red"), Text(visible(execution.error, multiline=True))]
    return Group(*parts)


def _json_section(title: str, value: dict[str, Any]) -> list[RenderableType]:
    text = pretty_json(value) if value else "{}  (none)"
    return [Text(f"\n{title}", style="bold"), Text(text)]


class ExecutionModal(ModalScreen[None]):
    """Read-only; Esc, Enter or q closes it."""

    BINDINGS = [Binding("escape,enter,q", "dismiss(None)", "Close")]

    DEFAULT_CSS = """
    ExecutionModal { align: center middle; }
    ExecutionModal > Vertical {
        width: 110; max-width: 100%;
        height: auto; max-height: 90%; border: thick $primary; background: $surface; padding: 1 2;
    }
    ExecutionModal #execution-title { text-style: bold; margin-bottom: 1; }
    ExecutionModal VerticalScroll { height: auto; max-height: 100%; }
    ExecutionModal #execution-hint { color: $text-muted; margin-top: 1; }
    """

    def __init__(self, execution: Execution, label: str, clock: ConsoleClock,
                 history: Sequence[HistoryEntry] = ()) -> None:
        super().__init__()
        self.execution = execution
        self.label = label
        self.history = list(history)  # the instance's entries: whose an error is
        self.clock = clock

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(shown(f"Execution of {self.label}, attempt {self.execution.attempt}"), id="execution-title")
            with VerticalScroll(can_focus=True):
                yield Static(execution_details(self.execution, self.label, self.clock, self.history),
                             id="execution-body")
            yield Label("Esc closes · ↑ ↓ scroll · the actions (d f r) are on the instance's screen",
                        id="execution-hint")

    def on_mount(self) -> None:
        self.query_one(VerticalScroll).focus()
