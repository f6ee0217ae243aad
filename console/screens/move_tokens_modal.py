"""The move-token dialog: remove the tokens on some nodes and place tokens on others, in one step, with a live
preview of what it would leave (:meth:`engine.operations.Operations.preview_move`) before anything is applied.

"Skip to" and "go back to" are a removal and a placement together; "add a token at" and "remove the token at"
are one of them alone. A change the engine would refuse (the instance could then never finish) needs the
Force box ticked, and is recorded as forced.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Label, SelectionList, Static
from textual.widgets.selection_list import Selection
from textual.worker import get_current_worker

from console.formatting import shown
from console.widgets.repair_preview import RepairPreviewPane, cannot_force
from engine import InstanceView, WorkflowError
from engine.graph import CompiledBlueprint
from engine.kinds import spec
from engine.repair_ops import RepairPreview
from engine.text import visible

PreviewMove = Callable[[list[str], list[str]], RepairPreview]


@dataclass(frozen=True)
class MoveRequest:
    """What the operator chose: the nodes to remove the tokens from, those to place tokens on, and whether
    to apply it even though the engine would refuse it."""

    remove: list[str]
    add: list[str]
    forced: bool = False


def node_prompt(compiled: CompiledBlueprint, node_id: str, extra: str = "") -> Text:
    """``Pack parcel  pack · task`` as a line of a node list (the id shown when the node has a name)."""
    node = compiled.node(node_id)
    text = shown(node.label, style="bold")
    if node.label != node_id:
        text.append("  " + visible(node_id), style="")
    text.append(f" · {spec(compiled.kinds[node_id]).description}{extra}", style="dim")
    return text


def reaches(compiled: CompiledBlueprint, source: str, target: str) -> bool:
    """Whether a path of edges leads from ``source`` to ``target``."""
    seen, stack = set(), [edge.target_id for edge in compiled.outgoing.get(source, [])]
    while stack:
        node_id = stack.pop()
        if node_id == target:
            return True
        if node_id not in seen:
            seen.add(node_id)
            stack.extend(edge.target_id for edge in compiled.outgoing.get(node_id, []))
    return False


def describe_move(compiled: CompiledBlueprint, remove: list[str], add: list[str]) -> str:
    """The move in words: ``skip ahead from 'pack' to 'approve'``, ``go back from ...``, ``add a token at
    ...``, ``remove the token at ...``, or both lists."""
    names = lambda ids: ", ".join(repr(i) for i in ids)  # noqa: E731
    if remove and not add:
        return f"remove the token{'s' if len(remove) > 1 else ''} at {names(remove)}"
    if add and not remove:
        return f"add a token at {names(add)}" if len(add) == 1 else f"add tokens at {names(add)}"
    if len(remove) == 1 and len(add) == 1:
        ahead, back = reaches(compiled, remove[0], add[0]), reaches(compiled, add[0], remove[0])
        verb = "skip ahead" if ahead and not back else "go back" if back and not ahead else "move"
        return f"{verb} from {names(remove)} to {names(add)}"
    return f"remove the tokens at {names(remove)} and place tokens on {names(add)}"


class MoveTokensModal(ModalScreen[MoveRequest | None]):
    """Two lists (the nodes holding tokens; every node), the move in words, the preview and a Force box.
    Returns a :class:`MoveRequest`, or ``None`` when the operator backs out."""

    BINDINGS = [
        Binding("ctrl+s", "submit", "Move tokens"),
        Binding("escape", "dismiss(None)", "Back"),
    ]

    DEFAULT_CSS = """
    MoveTokensModal { align: center middle; }
    MoveTokensModal > Vertical {
        width: 120; max-width: 100%; height: auto; max-height: 100%; overflow-y: auto;
        border: thick $warning; background: $surface; padding: 0 1;
    }
    MoveTokensModal #move-title { text-style: bold; }
    MoveTokensModal .hint { color: $text-muted; }
    MoveTokensModal #move-lists { height: auto; }
    MoveTokensModal #move-lists > Vertical { width: 1fr; height: auto; }
    MoveTokensModal SelectionList { height: auto; max-height: 9; }
    MoveTokensModal.-small SelectionList { max-height: 6; }
    MoveTokensModal.-small RepairPreviewPane { max-height: 7; }
    MoveTokensModal #move-summary { text-style: bold; height: auto; }
    MoveTokensModal #move-error { color: $error; height: auto; display: none; }
    MoveTokensModal #move-bottom { height: auto; dock: bottom; }  /* the keys to send stay in view */
    MoveTokensModal #move-bottom Checkbox { width: 1fr; }
    MoveTokensModal Button { margin-left: 1; }
    """

    def __init__(self, view: InstanceView, compiled: CompiledBlueprint, preview: PreviewMove,
                 place_on: str | None = None) -> None:
        """``preview(remove, add)`` is called in a thread worker (it reads the database); ``place_on`` is a
        node to tick in the placement list at first (the one selected in the graph)."""
        super().__init__()
        self.view = view
        self.compiled = compiled
        self.preview_move = preview
        self.place_on = place_on if place_on in compiled.nodes else None
        self.preview: RepairPreview | None = None  # the newest preview, for the current choice only
        self.problem: str | None = None  # why the current choice has no preview
        self._choice: tuple[tuple[str, ...], tuple[str, ...]] | None = None

    def compose(self) -> ComposeResult:
        view, holding = self.view, self._holding()
        with Vertical():
            yield Label(shown(f"Move tokens: instance {view.id[:8]} ({view.workflow_id}@{view.version}, "
                              f"{view.status})"), id="move-title")
            yield Static("Space ticks, Tab goes on. To skip ahead or go back, remove the token where it is and "
                         "place one where it should be; a task gets a new execution.", classes="hint")
            with Horizontal(id="move-lists"):
                with Vertical():
                    yield Label("Remove the tokens at")
                    yield SelectionList[str](*(Selection(node_prompt(self.compiled, node_id, f" ({status})"),
                                                         node_id) for node_id, status in holding.items()),
                                             id="remove")
                with Vertical():
                    yield Label("Place a token on")
                    yield SelectionList[str](*(Selection(node_prompt(self.compiled, node_id), node_id,
                                                         node_id == self.place_on)
                                               for node_id in self._node_order()), id="add")
            yield Static("", id="move-summary")
            yield RepairPreviewPane(id="move-preview")
            yield Static("", id="move-error")
            with Horizontal(id="move-bottom"):
                yield Checkbox("Force (recorded as forced)", id="force", disabled=True)
                yield Button("Back (Esc)", id="back")
                yield Button("Move tokens (Ctrl+S)", id="go", variant="warning")

    def _holding(self) -> dict[str, str]:
        """The nodes holding tokens, in blueprint order, with their tokens' statuses."""
        statuses: dict[str, list[str]] = {}
        for token in self.view.tokens:
            statuses.setdefault(token.node_id, []).append(str(token.status))
        order = [n for n in self._node_order() if n in statuses] + [n for n in statuses if n not in
                                                                    self.compiled.nodes]
        return {node_id: ", ".join(statuses[node_id]) for node_id in order}

    def _node_order(self) -> list[str]:
        return [node.id for node in self.compiled.blueprint.nodes]

    def on_mount(self) -> None:
        self.set_class(self.app.size.height < 30, "-small")
        self.query_one("#remove" if self._holding() else "#add", SelectionList).focus()
        self._choice_changed()

    # -- the choice and its preview -----------------------------------------------------------------

    def chosen(self) -> tuple[list[str], list[str]]:
        """(remove, add) as ticked, in blueprint order."""
        remove = set(self.query_one("#remove", SelectionList).selected)
        add = set(self.query_one("#add", SelectionList).selected)
        order = self._node_order() + [n for n in self._holding() if n not in self.compiled.nodes]
        return [n for n in order if n in remove], [n for n in order if n in add]

    @on(SelectionList.SelectedChanged)
    def _choice_changed(self) -> None:
        remove, add = self.chosen()
        self._choice = (tuple(remove), tuple(add))
        self.preview, self.problem = None, None
        self._say("")
        force = self.query_one("#force", Checkbox)
        force.value, force.disabled = False, True
        summary = self.query_one("#move-summary", Static)
        pane = self.query_one(RepairPreviewPane)
        if not remove and not add:
            summary.update("")
            self.problem = "tick a node to remove its token from, or one to place a token on"
            pane.show_hint(self.problem)
            return
        summary.update(shown(describe_move(self.compiled, remove, add).capitalize()))
        pane.show_hint("previewing…")
        self._preview(remove, add, self._choice)

    @work(thread=True, exclusive=True, group="move-preview", exit_on_error=False)
    def _preview(self, remove: list[str], add: list[str], choice: tuple) -> None:
        try:
            result: RepairPreview | str = self.preview_move(remove, add)
        except WorkflowError as error:
            result = str(error)
        except Exception as error:  # noqa: BLE001 - shown in the dialog, never raised into the app
            result = f"{type(error).__name__}: {error}"
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._show_preview, choice, result)

    def _show_preview(self, choice: tuple, result: RepairPreview | str) -> None:
        if choice != self._choice:
            return  # the operator ticked something else meanwhile; its preview is on its way
        pane = self.query_one(RepairPreviewPane)
        force = self.query_one("#force", Checkbox)
        if isinstance(result, str):
            self.problem = result
            pane.show_problem(result)
            return
        self.preview = result
        pane.show_preview(result)
        force.disabled = not result.refused or cannot_force(result)

    # -- sending ------------------------------------------------------------------------------------

    def refusal(self) -> str | None:
        """Why the current choice cannot be sent yet, or ``None``."""
        if self.problem is not None:
            return self.problem
        if self.preview is None:
            return "the preview is not ready yet"
        if cannot_force(self.preview):
            return "no token would be left, so even forcing cannot apply it: cancel the instance instead"
        if self.preview.refused and not self.query_one("#force", Checkbox).value:
            return ("refused: the instance could then never finish (see the preview); tick Force to apply it all "
                    "the same, recorded as forced")
        return None

    def action_submit(self) -> None:
        refusal = self.refusal()
        if refusal is not None:
            self._say(refusal)
            return
        remove, add = self.chosen()
        forced = bool(self.preview and self.preview.refused and self.query_one("#force", Checkbox).value)
        self.dismiss(MoveRequest(remove, add, forced))

    def _say(self, message: str) -> None:
        error = self.query_one("#move-error", Static)
        error.update(shown(message))
        error.display = bool(message)

    @on(Button.Pressed, "#go")
    def _go(self) -> None:
        self.action_submit()

    @on(Button.Pressed, "#back")
    def _back(self) -> None:
        self.dismiss(None)
