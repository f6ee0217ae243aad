"""A modal that asks for a reason (to fail an execution, to cancel an instance)."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from console.formatting import shown


class ReasonModal(ModalScreen[str | None]):
    """Returns the reason typed (never empty), or ``None`` when the operator backs out. The title and the
    explanation (they name nodes and instances) are shown as the characters they are."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Back")]

    DEFAULT_CSS = """
    ReasonModal { align: center middle; }
    ReasonModal > Vertical {
        width: 84; max-width: 100%; height: auto; border: thick $error; background: $surface; padding: 1 2;
    }
    ReasonModal #reason-title { text-style: bold; }
    ReasonModal #reason-explanation { margin: 1 0; color: $text-muted; }
    ReasonModal #reason-error { color: $error; height: auto; }
    ReasonModal Horizontal { height: auto; align-horizontal: right; margin-top: 1; }
    ReasonModal Button { margin-left: 2; }
    """

    def __init__(self, title: str, explanation: str, action_label: str, placeholder: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.explanation = explanation
        self.action_label = action_label
        self.placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(shown(self.title_text), id="reason-title")
            yield Static(shown(self.explanation), id="reason-explanation")
            yield Label("Reason (recorded in the history):")
            yield Input(placeholder=self.placeholder, id="reason")
            yield Static("", id="reason-error")
            with Horizontal():
                yield Button("Back (Esc)", id="back")
                yield Button(f"{self.action_label} (Enter)", id="go", variant="error")

    def on_mount(self) -> None:
        self.query_one("#reason", Input).focus()

    @on(Input.Submitted)
    @on(Button.Pressed, "#go")
    def _submit(self) -> None:
        reason = self.query_one("#reason", Input).value.strip()
        if not reason:
            self.query_one("#reason-error", Static).update("a reason is required")
            return
        self.dismiss(reason)

    @on(Button.Pressed, "#back")
    def _back(self) -> None:
        self.dismiss(None)
