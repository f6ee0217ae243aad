"""One variable's story in an instance: every change, oldest first, with when, how, who and the value it took
(:meth:`engine.operations.Operations.variable_history`)."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

from console.formatting import ConsoleClock, compact_json, short_execution_id, shown
from console.widgets.columned_table import ColumnedTable
from engine.repair_ops import VariableChange

HOW = {"started": ("started with", "green"), "set": ("set by hand", "bold yellow"), "output": ("task output", ""),
       "unset": ("unset", "bold red")}


class VariableChangesTable(ColumnedTable):
    """The changes of one variable, oldest first."""

    DEFAULT_CSS = "VariableChangesTable { height: auto; max-height: 16; }"
    COLUMNS = ("WHEN", "HOW", "BY", "VALUE", "EXECUTION")

    def show(self, changes: list[VariableChange], clock: ConsoleClock) -> None:
        self.ensure_columns()
        self.clear()
        for index, change in enumerate(changes):
            how, style = HOW.get(change.how, (change.how, ""))
            self.add_row(clock.stamp(change.at), Text(how, style=style), change.actor or "—",
                         "—" if change.how == "unset" else compact_json(change.value, 60),
                         short_execution_id(change.execution_id) if change.execution_id else "", key=str(index))


class VariableHistoryModal(ModalScreen[str | None]):
    """The table of changes and the current value. Returns ``"unset"`` when the operator asks to delete the
    variable (``u``), else ``None``."""

    BINDINGS = [
        Binding("escape,q", "dismiss(None)", "Close"),
        Binding("u", "unset", "Unset variable"),
    ]

    DEFAULT_CSS = """
    VariableHistoryModal { align: center middle; }
    VariableHistoryModal > Vertical {
        width: 110; max-width: 100%; height: auto; max-height: 100%; overflow-y: auto;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    VariableHistoryModal #varhist-title { text-style: bold; }
    VariableHistoryModal .hint { color: $text-muted; }
    VariableHistoryModal Horizontal { height: auto; align-horizontal: right; dock: bottom; }
    VariableHistoryModal Button { margin-left: 1; }
    """

    def __init__(self, instance_id: str, name: str, changes: list[VariableChange], context: dict[str, Any],
                 clock: ConsoleClock, *, can_unset: bool = True) -> None:
        super().__init__()
        self.instance_id = instance_id
        self.name_shown = name
        self.changes = changes
        self.context = context
        self.clock = clock
        self.can_unset = can_unset and name in context

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(shown(f"Variable {self.name_shown} of instance {self.instance_id[:8]}: "
                              f"{len(self.changes)} change(s)"), id="varhist-title")
            now = (compact_json(self.context[self.name_shown], 200) if self.name_shown in self.context
                   else "not set")
            yield Static(shown(f"now  {now}"), classes="hint")
            if not self.changes:
                yield Static("No change of it is in the history (it may be older than the history kept).",
                             classes="hint")
            yield VariableChangesTable(id="varhist-table")
            with Horizontal():
                if self.can_unset:
                    yield Button("Unset (u)", id="unset", variant="error")
                yield Button("Close (Esc)", id="close")

    def on_mount(self) -> None:
        table = self.query_one(VariableChangesTable)
        table.show(self.changes, self.clock)
        if self.changes:
            table.move_cursor(row=len(self.changes) - 1, animate=False)  # the newest change
        table.focus()

    def action_unset(self) -> None:
        if self.can_unset:
            self.dismiss("unset")
        else:
            self.notify("it is not set: nothing to unset", severity="warning")

    @on(Button.Pressed, "#unset")
    def _unset(self) -> None:
        self.action_unset()

    @on(Button.Pressed, "#close")
    def _close(self) -> None:
        self.dismiss(None)
