"""The mark-done form: the outputs of an execution, typed by an operator, checked before anything is sent.

Completing by hand is strict: an output key the task's output mapping does not map is refused in the form,
naming the nearest mapped key, unless the operator ticks "pass unmapped keys" (they are then dropped, as the
API's ``task_done`` drops them). The engine's check runs in a worker when the form is sent.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Static, TextArea
from textual.worker import get_current_worker

from console.formatting import compact_json, shown
from console.values import ValueParseError, parse_object, parse_value
from engine import Execution, WorkflowError
from engine.repair_ops import UnmappedOutputsError
from engine.text import visible
from engine.values import check_json_object

CheckOutputs = Callable[[dict[str, Any], bool], list[str]]
"""``check(outputs, allow_unmapped)``: raise the engine's refusal, else return its warnings (blocking: run in a
thread worker)."""


@dataclass(frozen=True)
class CompletionForm:
    """What the form returns: the outputs, whether unmapped keys may pass, and the engine's warnings about the
    completion (a split ahead testing a variable nobody set), to show before confirming."""

    outputs: dict[str, Any]
    allow_unmapped: bool = False
    warnings: list[str] = field(default_factory=list)


class MarkDoneModal(ModalScreen[CompletionForm | None]):
    """One field per key of the node's output mapping plus a raw JSON editor.

    Field values are JSON, a bare word being a string; an empty field is not sent. The raw editor holds
    a JSON object of further outputs; the fields override its keys. Any bad JSON is shown next to its
    field and the form stays open, and so is a key the mapping does not map (unless "pass unmapped keys" is
    ticked). Returns a :class:`CompletionForm`, or ``None`` when the operator backs out.
    """

    BINDINGS = [
        Binding("ctrl+s", "submit", "Mark done"),
        Binding("escape", "dismiss(None)", "Back"),
    ]

    DEFAULT_CSS = """
    MarkDoneModal { align: center middle; }
    MarkDoneModal > Vertical {
        width: 120; max-width: 100%;
        height: auto; max-height: 95%; border: thick $success; background: $surface; padding: 0 2;
    }
    MarkDoneModal #done-body { height: auto; max-height: 70vh; }
    MarkDoneModal #done-title { text-style: bold; }
    MarkDoneModal .hint { color: $text-muted; }
    MarkDoneModal #done-fields { height: auto; }
    MarkDoneModal .field { height: 3; }
    MarkDoneModal .field-label { width: 36; max-width: 35%; padding: 1 1 0 0; text-align: right; }
    MarkDoneModal .field Input { width: 1fr; }
    MarkDoneModal .field-error { width: 36; max-width: 25%; padding: 1 0 0 1; color: $error; }
    MarkDoneModal #raw { height: 6; }
    MarkDoneModal #raw-error { color: $error; height: auto; }
    MarkDoneModal #done-buttons { height: auto; align-horizontal: right; }
    MarkDoneModal #done-buttons Checkbox { width: 1fr; }
    MarkDoneModal Button { margin-left: 2; }
    """

    def __init__(self, execution: Execution, node_label: str, output_mapping: dict[str, str],
                 conditions: list[str] | None = None, initial: dict[str, Any] | None = None,
                 check: CheckOutputs | None = None, allow_unmapped: bool = False) -> None:
        """``conditions`` are the blueprint's edge conditions that read the mapped context keys: shown
        as a hint of the values the flow expects. ``initial`` fills the form again (after a "no" at the
        confirmation). ``check`` is the engine's check of the outputs (run in a worker when sent)."""
        super().__init__()
        self.check = check
        self.allow_unmapped = allow_unmapped
        self._checking = False
        self.initial = dict(initial or {})
        self.execution = execution
        self.node_label = node_label
        self.output_mapping = output_mapping
        self.conditions = conditions or []

    def compose(self) -> ComposeResult:
        execution = self.execution
        # The body scrolls in a short terminal; the buttons (with the keys that send) stay below it, in view.
        with Vertical():
            with VerticalScroll(id="done-body"):
                yield Label(shown(f"Mark done: {self.node_label}  (task {execution.task_id}, attempt "
                                  f"{execution.attempt}, {execution.status})"), id="done-title")
                yield Static(shown(f"execution {execution.id}"), classes="hint")
                yield Static("Outputs are JSON (42, true, null, \"text\", [1, 2], {\"a\": 1}); a bare word is a "
                             "string; an empty field is not sent.", classes="hint")
                with Vertical(id="done-fields"):
                    if not self.output_mapping:
                        yield Static("This node maps no outputs to the context.", classes="hint")
                    for index, (local, context_key) in enumerate(self.output_mapping.items()):
                        with Horizontal(classes="field"):
                            yield Label(shown(f"{local} → {context_key}"), classes="field-label")
                            yield Input(self._initial_text(local), id=f"field-{index}",
                                        placeholder=visible(f"value of {local}"))
                            yield Static("", id=f"field-{index}-error", classes="field-error")
                if self.conditions:
                    yield Static(shown("The flow then tests: " + "   ".join(self.conditions)), classes="hint",
                                 id="done-conditions")
                yield Label("Raw JSON object of outputs (optional; the fields above override its keys):")
                extra = {k: v for k, v in self.initial.items() if k not in self.output_mapping}
                yield TextArea(compact_json(extra, 1_000_000) if extra else "", id="raw", soft_wrap=True,
                               show_line_numbers=False)
                yield Static("", id="raw-error")
            with Horizontal(id="done-buttons"):
                yield Checkbox("Pass unmapped keys (they are dropped)", self.allow_unmapped, id="allow-unmapped")
                yield Button("Back (Esc)", id="back")
                yield Button("Mark done (Ctrl+S)", id="go", variant="success")

    def _initial_text(self, local: str) -> str:
        if local not in self.initial:
            return ""
        value = self.initial[local]
        # A string that reads back as itself is shown bare, as the operator typed it.
        return value if isinstance(value, str) and parse_value(value) == value else json.dumps(value)

    def on_mount(self) -> None:
        if self.output_mapping:
            self.query_one("#field-0", Input).focus()
        else:
            self.query_one("#raw", TextArea).focus()

    def collect(self) -> dict[str, Any] | None:
        """The outputs typed, or ``None`` after showing every error next to its field."""
        ok = True
        raw_error = self.query_one("#raw-error", Static)
        try:
            outputs = parse_object(self.query_one("#raw", TextArea).text)
            raw_error.update("")
        except ValueParseError as error:
            raw_error.update(shown(f"raw JSON: {error}"))
            outputs, ok = {}, False
        for index, local in enumerate(self.output_mapping):
            text = self.query_one(f"#field-{index}", Input).value
            error_line = self.query_one(f"#field-{index}-error", Static)
            error_line.update("")
            if not text.strip():
                continue
            try:
                outputs[local] = parse_value(text)
            except ValueParseError as error:
                error_line.update(shown(error))
                ok = False
        if ok:
            try:  # what the engine would refuse (too large, ...) is shown here, with the form still open
                check_json_object(outputs, "outputs")
            except WorkflowError as error:
                raw_error.update(shown(f"{error}; nothing was sent"))
                ok = False
        return outputs if ok else None

    def action_submit(self) -> None:
        outputs = self.collect()
        if outputs is None or self._checking:
            return
        allow = self.query_one("#allow-unmapped", Checkbox).value
        if self.check is None:
            self.dismiss(CompletionForm(outputs, allow))
            return
        self._checking = True
        self._check(outputs, allow)

    @work(thread=True, exclusive=True, group="done-check", exit_on_error=False)
    def _check(self, outputs: dict[str, Any], allow: bool) -> None:
        assert self.check is not None
        try:
            answer: list[str] | str = self.check(outputs, allow)
        except UnmappedOutputsError as error:
            answer = f"{error}; tick \"pass unmapped keys\" to send them all the same"
        except WorkflowError as error:
            answer = str(error)
        except Exception as error:  # noqa: BLE001 - shown in the form
            answer = f"{type(error).__name__}: {error}"
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._checked, outputs, allow, answer)

    def _checked(self, outputs: dict[str, Any], allow: bool, answer: list[str] | str) -> None:
        self._checking = False
        if isinstance(answer, str):
            self.query_one("#raw-error", Static).update(shown(answer))
            return
        self.dismiss(CompletionForm(outputs, allow, answer))

    @on(Input.Submitted)
    def _field_submitted(self, event: Input.Submitted) -> None:
        """Enter moves to the next field; on the last field it sends the form."""
        event.stop()
        last = f"field-{len(self.output_mapping) - 1}"
        if event.input.id == last:
            self.action_submit()
        else:
            self.focus_next()

    @on(Button.Pressed, "#go")
    def _submit(self) -> None:
        self.action_submit()

    @on(Button.Pressed, "#back")
    def _back(self) -> None:
        self.dismiss(None)
