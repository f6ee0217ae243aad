"""The form for an instance stopped at an exclusive split: the variables the split's conditions read, with their
current values, ready to be set (and the instance resumed) in one go.

What the split reads comes from its compiled conditions (:meth:`engine.operations.Operations.split_variables`),
so the form opens on the names that matter, not on an empty key field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from console.formatting import compact_json, shown
from console.values import ValueParseError, parse_value
from engine import WorkflowError
from engine.text import visible
from engine.values import check_json_object


@dataclass(frozen=True)
class SplitVariables:
    """The values to set (only those the operator changed) and whether to resume the instance after."""

    values: dict[str, Any]
    resume: bool


class SplitVariablesModal(ModalScreen[SplitVariables | None]):
    """One field per variable the split's conditions read, filled with its current value as JSON (empty when
    it is not set). Enter or Ctrl+S sets the changed ones; Ctrl+R sets them and resumes the instance."""

    BINDINGS = [
        Binding("ctrl+s", "submit(False)", "Set"),
        Binding("ctrl+r", "submit(True)", "Set and resume"),
        Binding("escape", "dismiss(None)", "Back"),
    ]

    DEFAULT_CSS = """
    SplitVariablesModal { align: center middle; }
    SplitVariablesModal > Vertical {
        width: 100; max-width: 100%; height: auto; max-height: 100%; overflow-y: auto;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    SplitVariablesModal #split-title { text-style: bold; }
    SplitVariablesModal .hint { color: $text-muted; }
    SplitVariablesModal #split-fields { height: auto; max-height: 14; }
    SplitVariablesModal .field { height: auto; }
    SplitVariablesModal .field-label { width: 24; padding: 1 1 0 0; text-align: right; }
    SplitVariablesModal .field Input { width: 1fr; }
    SplitVariablesModal .field-error { width: 30; max-width: 30%; padding: 1 0 0 1; color: $error; }
    SplitVariablesModal #split-buttons { height: auto; align-horizontal: right; dock: bottom; }
    SplitVariablesModal Button { margin-left: 1; }
    """

    def __init__(self, instance_id: str, splits: dict[str, dict[str, Any]], context: dict[str, Any],
                 conditions: dict[str, list[str]] | None = None) -> None:
        """``splits`` is :meth:`~engine.operations.Operations.split_variables`' answer; ``conditions`` the
        conditions of each split's edges (``decision == 'approve' → pay``), shown as a hint."""
        super().__init__()
        self.instance_id = instance_id
        self.splits = splits
        self.context = context
        self.conditions = conditions or {}
        self.names = list(dict.fromkeys(name for names in splits.values() for name in names))

    def compose(self) -> ComposeResult:
        with Vertical():
            where = ", ".join(repr(split) for split in self.splits)
            yield Label(shown(f"Instance {self.instance_id[:8]} stopped at {where}: no condition matched"),
                        id="split-title")
            for split, lines in self.conditions.items():
                text = Text(visible(f"{split} tests  "), style="dim")
                text.append(visible("   ".join(lines)))
                yield Static(text, classes="hint")
            yield Static("Values are JSON (42, true, null, \"text\"); a bare word is a string. Only the fields you "
                         "change are set.", classes="hint")
            with VerticalScroll(id="split-fields"):
                if not self.names:
                    yield Static("Its conditions read no variable: resume it, or move its token (m).",
                                 classes="hint")
                for index, name in enumerate(self.names):
                    with Horizontal(classes="field"):
                        yield Label(shown(name), classes="field-label")
                        yield Input(self._initial(name), id=f"var-{index}",
                                    placeholder="not set" if name not in self.context else "null")
                        yield Static("", id=f"var-{index}-error", classes="field-error")
            yield Static("", id="split-error", classes="field-error")
            with Horizontal(id="split-buttons"):
                yield Button("Back (Esc)", id="back")
                yield Button("Set (Ctrl+S)", id="set", variant="primary")
                yield Button("Set and resume (Ctrl+R)", id="resume", variant="success")

    def _initial(self, name: str) -> str:
        return compact_json(self.context[name], 10_000) if name in self.context else ""

    def on_mount(self) -> None:
        if self.names:
            self.query_one("#var-0", Input).focus()

    def collect(self) -> dict[str, Any] | None:
        """The changed values, or ``None`` after showing each error beside its field."""
        values: dict[str, Any] = {}
        ok = True
        for index, name in enumerate(self.names):
            text = self.query_one(f"#var-{index}", Input).value
            error_line = self.query_one(f"#var-{index}-error", Static)
            error_line.update("")
            if text == self._initial(name) or not text.strip():
                continue
            try:
                value = parse_value(text)
                if value == "":
                    raise ValueParseError("an empty value: type null to clear it")
                check_json_object({name: value}, "variables")
            except (ValueParseError, WorkflowError) as error:
                error_line.update(shown(error))
                ok = False
                continue
            values[name] = value
        return values if ok else None

    def action_submit(self, resume: bool) -> None:
        values = self.collect()
        if values is None:
            return
        if not values and not resume:
            self.query_one("#split-error", Static).update("nothing changed: change a value, or Ctrl+R to resume "
                                                         "as it is")
            return
        self.dismiss(SplitVariables(values, resume))

    @on(Input.Submitted)
    def _field_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == f"var-{len(self.names) - 1}":
            self.action_submit(False)
        else:
            self.focus_next()

    @on(Button.Pressed, "#set")
    def _set(self) -> None:
        self.action_submit(False)

    @on(Button.Pressed, "#resume")
    def _resume(self) -> None:
        self.action_submit(True)

    @on(Button.Pressed, "#back")
    def _back(self) -> None:
        self.dismiss(None)
