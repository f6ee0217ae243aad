"""A modal to write one key of an instance's global context."""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from console.formatting import compact_json, shown
from console.values import ValueParseError, parse_value
from engine import WorkflowError
from engine.text import visible
from engine.values import check_json_object


class VariableModal(ModalScreen[tuple[str, Any] | None]):
    """Returns ``(key, value)`` with the value parsed as JSON (a bare word is a string), or ``None``."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Back")]

    DEFAULT_CSS = """
    VariableModal { align: center middle; }
    VariableModal > Vertical {
        width: 90; max-width: 100%; height: auto; border: thick $primary; background: $surface; padding: 1 2;
    }
    VariableModal #variable-title { text-style: bold; margin-bottom: 1; }
    VariableModal .error { color: $error; height: auto; }
    VariableModal .hint { color: $text-muted; }
    VariableModal Horizontal { height: auto; align-horizontal: right; margin-top: 1; }
    VariableModal Button { margin-left: 2; }
    """

    def __init__(self, instance_id: str, context: dict[str, Any], key: str | None = None) -> None:
        super().__init__()
        self.instance_id = instance_id
        self.context = context
        # A key with a control or bidi character cannot be typed back: it is not proposed (shown escaped,
        # it would set another key); the operator types the key to set.
        self.initial_key = key if key is not None and visible(key) == key else ""

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(shown(f"Set a variable of instance {self.instance_id[:8]}"), id="variable-title")
            yield Label("Key (a key of the global context; a new key is added):")
            yield Input(value=self.initial_key, id="key")
            yield Static("", id="key-error", classes="error")
            yield Label("Value (JSON: 42, true, null, \"text\", [1, 2], {\"a\": 1}; a bare word is a string):")
            yield Input(value=self._current_value(self.initial_key), id="value")
            yield Static("", id="value-error", classes="error")
            with Horizontal():
                yield Button("Back (Esc)", id="back")
                yield Button("Set variable (Enter)", id="go", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#value" if self.initial_key else "#key", Input).focus()

    def _current_value(self, key: str) -> str:
        return compact_json(self.context[key], 10_000) if key in self.context else ""

    @on(Input.Submitted)
    @on(Button.Pressed, "#go")
    def _submit(self) -> None:
        key = self.query_one("#key", Input).value.strip()
        key_error = self.query_one("#key-error", Static)
        value_error = self.query_one("#value-error", Static)
        key_error.update("" if key else "a key is required")
        try:
            value = parse_value(self.query_one("#value", Input).value)
            check_json_object({key: value}, "variables")  # what the engine would refuse, e.g. too large
        except (ValueParseError, WorkflowError) as error:
            value_error.update(shown(error))
            return
        value_error.update("")
        if key:
            self.dismiss((key, value))

    @on(Button.Pressed, "#back")
    def _back(self) -> None:
        self.dismiss(None)
