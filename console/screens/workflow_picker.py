"""A modal to choose which workflow's instances to list."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from console.formatting import shown

ALL_WORKFLOWS = ""


class WorkflowPicker(ModalScreen[str | None]):
    """Returns a workflow id, ``""`` for every workflow, or ``None`` when closed with Esc."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Close")]

    DEFAULT_CSS = """
    WorkflowPicker { align: center middle; }
    WorkflowPicker > Vertical {
        width: 60; height: auto; max-height: 80%; border: round $primary; background: $surface; padding: 0 1;
    }
    WorkflowPicker OptionList { height: auto; max-height: 30; }
    """

    def __init__(self, workflow_ids: list[str], current: str | None) -> None:
        super().__init__()
        self.workflow_ids = workflow_ids
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Show the instances of which workflow? (Enter to choose, Esc to close)")
            options = [Option("(every workflow)", id=ALL_WORKFLOWS)]
            options += [Option(shown(workflow_id), id=workflow_id) for workflow_id in self.workflow_ids]
            yield OptionList(*options)

    def on_mount(self) -> None:
        option_list = self.query_one(OptionList)
        if self.current in self.workflow_ids:
            option_list.highlighted = self.workflow_ids.index(self.current) + 1
        else:
            option_list.highlighted = 0

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id or ALL_WORKFLOWS)
