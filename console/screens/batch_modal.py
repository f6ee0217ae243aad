"""The batch dialog of the Instances view: which instances (the marked rows, or every instance the filter
matches) and what to do to each (cancel, retry, resume, migrate, set a variable, move a token), with what the
action needs. The count is confirmed afterwards, once the set is fixed; migrating asks for its version and
mapping in the migrate dialog next.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from difflib import get_close_matches
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, RadioButton, RadioSet, Static

from console.formatting import shown
from console.values import ValueParseError, parse_value
from engine import WorkflowError
from engine.values import check_json_object

ACTIONS = (("cancel", "cancel"), ("retry", "retry failed and stuck executions"), ("resume", "resume at a split"),
           ("migrate", "migrate to another version"), ("set", "set a variable"), ("move", "move a token"))
"""(batch action, how the dialog says it), as :meth:`engine.operations.Operations.batch_action` names them."""


@dataclass(frozen=True)
class BatchRequest:
    """The scope (``marked`` or ``filter``), the action and its options for ``batch_action``."""

    scope: str
    action: str
    options: dict[str, Any] = field(default_factory=dict)


def node_list(text: str) -> list[str]:
    """``"a, b c"`` -> ``["a", "b", "c"]``."""
    return [part for part in text.replace(",", " ").split() if part]


class BatchModal(ModalScreen[BatchRequest | None]):
    """Scope, action and the action's fields. Returns a :class:`BatchRequest` or ``None``."""

    BINDINGS = [
        Binding("ctrl+s", "submit", "Next"),
        Binding("escape", "dismiss(None)", "Back"),
    ]

    DEFAULT_CSS = """
    BatchModal { align: center middle; }
    BatchModal > Vertical {
        width: 110; max-width: 100%; height: auto; max-height: 100%; overflow-y: auto;
        border: thick $warning; background: $surface; padding: 0 1;
    }
    BatchModal #batch-title { text-style: bold; }
    BatchModal .hint { color: $text-muted; }
    BatchModal #batch-choices { height: auto; }
    BatchModal #scope { width: 1fr; }
    BatchModal #action { width: 36; }
    BatchModal .option { height: auto; display: none; }
    BatchModal .option.shown { display: block; }
    BatchModal .option-row { height: auto; }
    BatchModal .option-row Label { width: 22; padding: 1 1 0 0; text-align: right; }
    BatchModal .option-row Input { width: 1fr; }
    BatchModal #batch-error { color: $error; height: auto; }
    BatchModal #batch-buttons { height: auto; align-horizontal: right; dock: bottom; }
    BatchModal Button { margin-left: 1; }
    """

    def __init__(self, marked: int, filter_text: str, matching: int, nodes: list[str] | None = None) -> None:
        """``marked`` rows are marked; ``matching`` instances match ``filter_text`` (the count when listed; it
        is counted again when confirmed; an empty text: no filter). ``nodes`` are the node ids a move may name
        (``None``: unknown)."""
        super().__init__()
        self.marked = marked
        self.filter_text = filter_text
        self.matching = matching
        self.nodes = nodes

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Batch action (each instance in its own transaction)", id="batch-title")
            with Horizontal(id="batch-choices"):
                with RadioSet(id="scope"):
                    yield RadioButton(f"the {self.marked:,} marked instance(s)", value=self.marked > 0,
                                      disabled=not self.marked, id="scope-marked")
                    words = (f"all {self.matching:,} matching {self.filter_text}" if self.filter_text else
                             f"every instance: {self.matching:,}")
                    yield RadioButton(shown(words), value=not self.marked, id="scope-filter")
                with RadioSet(id="action"):
                    for index, (action, words) in enumerate(ACTIONS):
                        yield RadioButton(words, value=index == 0, id=f"action-{action}")
            with Vertical(classes="option shown", id="option-cancel"):
                with Horizontal(classes="option-row"):
                    yield Label("Reason")
                    yield Input(placeholder="kept in each instance's history, e.g. duplicate orders", id="reason")
            with Vertical(classes="option", id="option-set"):
                with Horizontal(classes="option-row"):
                    yield Label("Variable")
                    yield Input(placeholder="a key of the global context", id="set-key")
                with Horizontal(classes="option-row"):
                    yield Label("Value (JSON)")
                    yield Input(placeholder="42, true, null, \"text\"; a bare word is a string", id="set-value")
            with Vertical(classes="option", id="option-move"):
                with Horizontal(classes="option-row"):
                    yield Label("Remove the tokens at")
                    yield Input(placeholder="node ids, comma-separated (or none)", id="move-from")
                with Horizontal(classes="option-row"):
                    yield Label("Place a token on")
                    yield Input(placeholder="node ids, comma-separated (or none)", id="move-to")
                yield Checkbox("Force where an instance could then never finish (recorded as forced)",
                               id="move-force")
            yield Static("Retry: every failed or stuck execution of each instance gets a new attempt. Resume: an "
                         "instance stopped at a split has it evaluated again. Migrate: the version and the node "
                         "mapping come next.", classes="hint")
            yield Static("", id="batch-error")
            with Horizontal(id="batch-buttons"):
                yield Button("Back (Esc)", id="back")
                yield Button("Next (Ctrl+S)", id="go", variant="warning")

    def on_mount(self) -> None:
        self.query_one("#action", RadioSet).focus()

    @property
    def action(self) -> str:
        pressed = self.query_one("#action", RadioSet).pressed_button
        return (pressed.id or "action-cancel").removeprefix("action-") if pressed is not None else "cancel"

    @property
    def scope(self) -> str:
        pressed = self.query_one("#scope", RadioSet).pressed_button
        return "marked" if pressed is not None and pressed.id == "scope-marked" else "filter"

    @on(RadioSet.Changed, "#action")
    def _action_changed(self) -> None:
        action = self.action
        for option in self.query(".option"):
            option.set_class(option.id == f"option-{action}", "shown")
        self.query_one("#batch-error", Static).update("")

    def options(self) -> dict[str, Any]:
        """What the action needs, checked; raises ``ValueError`` with what is wrong."""
        action = self.action
        if action == "cancel":
            reason = self.query_one("#reason", Input).value.strip()
            if not reason:
                raise ValueError("a reason is needed: it is kept in each instance's history")
            return {"reason": reason}
        if action == "set":
            return self._set_options()
        if action == "move":
            return self._move_options()
        return {}

    def _set_options(self) -> dict[str, Any]:
        key = self.query_one("#set-key", Input).value.strip()
        if not key:
            raise ValueError("name the variable to set")
        text = self.query_one("#set-value", Input).value
        if not text.strip():
            raise ValueError("type its value (null clears it)")
        try:
            value = parse_value(text)
            check_json_object({key: value}, "variables")
        except (ValueParseError, WorkflowError) as error:
            raise ValueError(f"value: {error}") from None
        return {"values": {key: value}}

    def _move_options(self) -> dict[str, Any]:
        remove = node_list(self.query_one("#move-from", Input).value)
        add = node_list(self.query_one("#move-to", Input).value)
        if not remove and not add:
            raise ValueError("name a node to remove the tokens at, or one to place a token on")
        if self.nodes is not None:
            for node_id in (*remove, *add):
                if node_id not in self.nodes:
                    close = get_close_matches(node_id, self.nodes, n=1)
                    raise ValueError(f"the workflow has no node {node_id!r}"
                                     + (f"; did you mean {close[0]!r}?" if close else ""))
        return {"remove": remove, "add": add, "forced": self.query_one("#move-force", Checkbox).value}

    def action_submit(self) -> None:
        try:
            options = self.options()
        except ValueError as error:
            self.query_one("#batch-error", Static).update(shown(error))
            return
        if self.scope == "filter" and not self.matching:
            self.query_one("#batch-error", Static).update("no instance matches the filter")
            return
        self.dismiss(BatchRequest(self.scope, self.action, options))

    @on(Input.Submitted)
    def _input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_submit()

    @on(Button.Pressed, "#go")
    def _go(self) -> None:
        self.action_submit()

    @on(Button.Pressed, "#back")
    def _back(self) -> None:
        self.dismiss(None)
