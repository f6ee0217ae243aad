"""A yes/no confirmation before an operator action is sent."""

from __future__ import annotations

from rich.console import RenderableType
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

from console.formatting import shown
from engine.text import visible


class ConfirmModal(ModalScreen[bool]):
    """Shows what is about to happen; returns ``True`` to go ahead (y / Enter), ``False`` otherwise.

    The title, and a body given as a ``str``, are shown as the characters they are (they name nodes and
    quote reasons), never read as markup."""

    BINDINGS = [
        Binding("y", "confirm", "Yes"),
        Binding("n,escape", "dismiss(False)", "No"),
    ]

    DEFAULT_CSS = """
    ConfirmModal { align: center middle; }
    ConfirmModal > Vertical {
        width: 80; max-width: 100%;
        height: auto; max-height: 90%; border: thick $warning; background: $surface; padding: 1 2;
    }
    ConfirmModal #confirm-title { text-style: bold; margin-bottom: 1; }
    ConfirmModal #confirm-body { height: auto; max-height: 55vh; overflow-y: auto; margin-bottom: 1; }
    ConfirmModal Horizontal { height: auto; align-horizontal: right; }
    ConfirmModal Button { margin-left: 2; }
    """

    def __init__(self, title: str, body: RenderableType, confirm_label: str = "Yes") -> None:
        super().__init__()
        self.title_text = title
        self.body = body
        self.confirm_label = confirm_label

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(shown(self.title_text), id="confirm-title")
            body = Text(visible(self.body, multiline=True)) if isinstance(self.body, str) else self.body
            yield Static(body, id="confirm-body")
            with Horizontal():
                yield Button("No (n)", id="no")
                yield Button(f"{self.confirm_label} (y)", id="yes", variant="warning")

    def on_mount(self) -> None:
        self.query_one("#yes", Button).focus()

    def action_confirm(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")
