"""The form that starts an instance: its initial context typed as JSON, checked before anything is sent."""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static, TextArea

from console.formatting import shown
from console.values import ValueParseError, parse_object
from engine import WorkflowError
from engine.graph import CompiledBlueprint
from engine.manager import check_json_object


def context_keys(compiled: CompiledBlueprint) -> list[str]:
    """The context keys the workflow reads (task inputs, conditions) that no task writes: what the initial
    context is expected to hold."""
    read: set[str] = set()
    written: set[str] = set()
    for node in compiled.blueprint.nodes:
        read.update((node.input_mapping or {}).values())
        written.update((node.output_mapping or {}).values())
    for condition in compiled.conditions.values():
        read.update(condition.variables)
    return sorted(read - written)


class StartInstanceModal(ModalScreen[dict[str, Any] | None]):
    """Returns the initial context (a JSON object) or ``None`` when the operator backs out. Bad JSON, or
    JSON that is not an object, is shown under the editor and nothing is returned."""

    BINDINGS = [
        Binding("ctrl+s", "submit", "Start"),
        Binding("escape", "dismiss(None)", "Back"),
    ]

    DEFAULT_CSS = """
    StartInstanceModal { align: center middle; }
    StartInstanceModal > Vertical {
        width: 100; max-width: 100%;
        height: auto; max-height: 95%; border: thick $success; background: $surface; padding: 0 2;
    }
    StartInstanceModal #start-body { height: auto; max-height: 70vh; }
    StartInstanceModal #start-title { text-style: bold; margin-top: 1; }
    StartInstanceModal .hint { color: $text-muted; }
    StartInstanceModal #start-context { height: 10; max-height: 40vh; }
    StartInstanceModal #start-error { color: $error; height: auto; }
    StartInstanceModal Horizontal { height: auto; align-horizontal: right; margin-bottom: 1; }
    StartInstanceModal Button { margin-left: 2; }
    """

    def __init__(self, workflow_id: str, version: int, keys: list[str], selected_version: int | None = None,
                 initial: str = "{}") -> None:
        """``version`` is the newest version (what the instance runs); ``selected_version`` the one the
        operator was looking at, when older. ``keys`` are hints of what the context should hold."""
        super().__init__()
        self.workflow_id = workflow_id
        self.version = version
        self.keys = keys
        self.selected_version = selected_version
        self.initial = initial

    def compose(self) -> ComposeResult:
        # The body scrolls in a short terminal; the buttons (with the keys that send) stay below it, in view.
        with Vertical():
            with VerticalScroll(id="start-body"):
                yield Label(shown(f"Start an instance of {self.workflow_id}"), id="start-title")
                note = f"It runs version {self.version}, the newest, from its START node."
                if self.selected_version is not None and self.selected_version != self.version:
                    note += f" (You selected version {self.selected_version}: new instances always run the newest.)"
                yield Static(shown(note), classes="hint")
                yield Label("Initial context: a JSON object, e.g. {\"user_email\": \"ada@example.com\", "
                            "\"amount\": 120}")
                yield TextArea(self.initial, id="start-context", soft_wrap=True, show_line_numbers=True)
                yield Static("", id="start-error")
                if self.keys:
                    yield Static(shown("Keys this workflow reads that no task writes: " + ", ".join(self.keys)),
                                 classes="hint")
            with Horizontal():
                yield Button("Back (Esc)", id="back")
                yield Button("Start (Ctrl+S)", id="go", variant="success")

    def on_mount(self) -> None:
        editor = self.query_one("#start-context", TextArea)
        editor.focus()
        if self.initial.strip() == "{}":
            editor.move_cursor((0, 1))  # between the braces: ready to type the first key

    def action_submit(self) -> None:
        """Check the JSON; show what is wrong under the editor, or return the context."""
        error = self.query_one("#start-error", Static)
        try:
            context = check_json_object(parse_object(self.query_one("#start-context", TextArea).text),
                                        "initial context")
        except (ValueParseError, WorkflowError) as problem:
            error.update(shown(f"✗ {problem} — nothing was sent"))
            return
        error.update("")
        self.dismiss(context)

    @on(Button.Pressed, "#go")
    def _go(self) -> None:
        self.action_submit()

    @on(Button.Pressed, "#back")
    def _back(self) -> None:
        self.dismiss(None)
