"""The migrate dialog: move an instance (or a batch of them) to another version of its workflow, each token to
the node of the same id or to one the operator picks for a node renamed or removed, with a preview of what it
would leave (:meth:`engine.operations.Operations.preview_migration`) before anything is applied.

A token with no node in the target version refuses the migration, naming it (the engine's words, in the
preview); a migration that would leave the instance unable to finish needs the Force box ticked.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Label, Select, Static
from textual.worker import get_current_worker

from console.formatting import shown
from console.screens.move_tokens_modal import node_prompt
from console.widgets.repair_preview import RepairPreviewPane, cannot_force
from engine import WorkflowError
from engine.blueprint import NodeKind
from engine.graph import CompiledBlueprint
from engine.kinds import spec
from engine.repair_ops import RepairPreview
from engine.text import visible

LoadTarget = Callable[[int], CompiledBlueprint]
PreviewMigration = Callable[[int, dict[str, str]], RepairPreview]


@dataclass(frozen=True)
class MigrateRequest:
    """The version to migrate to, where tokens on nodes renamed or removed go (old node -> new node), and
    whether to apply it even though the engine would refuse it."""

    to_version: int
    mapping: dict[str, str] = field(default_factory=dict)
    forced: bool = False


@dataclass(frozen=True)
class FromNode:
    """A node tokens may be on before the migration: its kind and what to say of it (``ACTIVE``)."""

    node_id: str
    kind: NodeKind
    note: str = ""


class MigrateModal(ModalScreen[MigrateRequest | None]):
    """The target version, one row per node to place (a choice among the target's nodes of the same kind),
    the preview (for one instance) and a Force box. Returns a :class:`MigrateRequest` or ``None``."""

    BINDINGS = [
        Binding("ctrl+s", "submit", "Migrate"),
        Binding("escape", "dismiss(None)", "Back"),
    ]

    DEFAULT_CSS = """
    MigrateModal { align: center middle; }
    MigrateModal > Vertical {
        width: 110; max-width: 100%; height: auto; max-height: 100%; overflow-y: auto;
        border: thick $warning; background: $surface; padding: 0 1;
    }
    MigrateModal #migrate-title { text-style: bold; }
    MigrateModal .hint { color: $text-muted; }
    MigrateModal #version-row { height: auto; }
    MigrateModal #version-row Label { padding: 1 1 0 0; }
    MigrateModal #version { width: 36; }
    MigrateModal #mapping { height: auto; max-height: 12; }
    MigrateModal.-small #mapping { max-height: 6; }
    MigrateModal.-small RepairPreviewPane { max-height: 7; }
    MigrateModal .map-row { height: auto; }
    MigrateModal .map-label { width: 1fr; padding: 1 1 0 0; text-align: right; }
    MigrateModal .map-row Select { width: 1fr; }
    MigrateModal #migrate-error { color: $error; height: auto; display: none; }
    MigrateModal #migrate-bottom { height: auto; dock: bottom; }  /* the keys to send stay in view */
    MigrateModal #migrate-bottom Checkbox { width: 1fr; }
    MigrateModal Button { margin-left: 1; }
    """

    def __init__(self, title: str, from_nodes: list[FromNode], versions: list[int], load_target: LoadTarget,
                 preview: PreviewMigration | None = None, *, only_missing: bool = False,
                 explanation: str = "") -> None:
        """``versions`` are the ones to offer (the newest first is chosen); ``load_target(version)`` and
        ``preview(version, mapping)`` are called in thread workers. Without ``preview`` (a batch) nothing is
        previewed: each instance is checked when the batch reaches it. ``only_missing`` lists only the nodes
        the target version has no node of the same id for (a batch: the others keep their place)."""
        super().__init__()
        self.title_text = title
        self.from_nodes = from_nodes
        self.versions = sorted(versions, reverse=True)
        self.load_target = load_target
        self.preview_migration = preview
        self.only_missing = only_missing
        self.explanation = explanation
        self.target: CompiledBlueprint | None = None
        self.preview: RepairPreview | None = None
        self.problem: str | None = None
        self._choice: tuple | None = None
        self._row_nodes: dict[str, str] = {}  # a row's Select id -> the node it places
        self._requested: int | None = None  # the version whose rows are loading or shown
        self._rows_lock = asyncio.Lock()

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(shown(self.title_text), id="migrate-title")
            yield Static(self.explanation or "Each token goes to the node of the same id in the target version; "
                         "pick a node for one renamed or removed.", classes="hint")
            with Horizontal(id="version-row"):
                yield Label("Target version")
                yield Select([(f"version {v}" + (" (newest)" if i == 0 else ""), v)
                              for i, v in enumerate(self.versions)], id="version", allow_blank=False,
                             value=self.versions[0])
            yield VerticalScroll(id="mapping")
            if self.preview_migration is not None:
                yield RepairPreviewPane(id="migrate-preview")
            yield Static("", id="migrate-error")
            with Horizontal(id="migrate-bottom"):
                yield Checkbox("Force (recorded as forced)", id="force", disabled=self.preview_migration is not None)
                yield Button("Back (Esc)", id="back")
                yield Button("Migrate (Ctrl+S)", id="go", variant="warning")

    def on_mount(self) -> None:
        self.set_class(self.app.size.height < 30, "-small")
        self.query_one("#version", Select).focus()
        self._request(self.versions[0])

    def _request(self, version: int) -> None:
        if version != self._requested:
            self._requested, self.target = version, None
            self._load(version)

    # -- the target version and its rows ------------------------------------------------------------

    @on(Select.Changed, "#version")
    def _version_changed(self, event: Select.Changed) -> None:
        if isinstance(event.value, int):
            self._request(event.value)

    @work(thread=True, exclusive=True, group="migrate-target", exit_on_error=False)
    def _load(self, version: int) -> None:
        try:
            result: CompiledBlueprint | str = self.load_target(version)
        except WorkflowError as error:
            result = str(error)
        except Exception as error:  # noqa: BLE001 - shown in the dialog
            result = f"{type(error).__name__}: {error}"
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._show_target, version, result)

    async def _show_target(self, version: int, result: CompiledBlueprint | str) -> None:
        async with self._rows_lock:  # the rows of one version at a time, never two interleaved
            if version == self._requested:
                await self._rebuild_rows(version, result)

    async def _rebuild_rows(self, version: int, result: CompiledBlueprint | str) -> None:
        rows = self.query_one("#mapping", VerticalScroll)
        await rows.remove_children()
        self._row_nodes.clear()
        if isinstance(result, str):
            self._set_problem(result)
            return
        self.target = result
        shown_nodes = [n for n in self.from_nodes if not self.only_missing or n.node_id not in result.nodes]
        if not shown_nodes:
            await rows.mount(Static(f"Every node listed has a node of the same id in version {version}.",
                                    classes="hint"))
        for index, node in enumerate(shown_nodes):
            await rows.mount(self._row(index, node, result))
        self._choice_changed()

    def _row(self, index: int, node: FromNode, target: CompiledBlueprint) -> Horizontal:
        same = [n.id for n in target.blueprint.nodes if target.kinds[n.id] is node.kind]
        options = [(node_prompt(target, node_id), node_id) for node_id in same]
        description = spec(node.kind).description
        label = Text(visible(node.node_id), style="bold")
        label.append(f" ({description}{', ' + node.note if node.note else ''}) →", style="dim")
        kept = node.node_id if node.node_id in same else Select.NULL
        prompt = f"choose a {description} (version {target.version} has no {node.node_id!r})"
        self._row_nodes[f"map-{index}"] = node.node_id
        select = Select(options, prompt=visible(prompt), value=kept, id=f"map-{index}")
        return Horizontal(Label(label, classes="map-label"), select, classes="map-row")

    def mapping(self) -> dict[str, str]:
        """Old node -> new node, for each row whose choice differs from the node's own id."""
        found: dict[str, str] = {}
        for select in self.query("#mapping Select").results(Select):
            old = self._row_nodes.get(select.id or "")
            if old is not None and isinstance(select.value, str) and select.value != old:
                found[old] = select.value
        return found

    def unmapped(self) -> list[str]:
        """The nodes listed that have no place in the target version yet."""
        return [self._row_nodes.get(s.id or "", "") for s in self.query("#mapping Select").results(Select)
                if s.value is Select.NULL]

    # -- the preview ----------------------------------------------------------------------------------

    @on(Select.Changed, "#mapping Select")
    def _choice_changed(self) -> None:
        if self.target is None:
            return
        version, mapping = self.target.version, self.mapping()
        self._choice = (version, tuple(sorted(mapping.items())))
        self.preview, self.problem = None, None
        self._say("")
        if self.preview_migration is None:
            missing = self.unmapped()
            self.problem = (f"choose a node in version {version} for {', '.join(map(repr, missing))}"
                            if missing else None)
            return
        force = self.query_one("#force", Checkbox)
        force.value, force.disabled = False, True
        self.query_one(RepairPreviewPane).show_hint("previewing…")
        self._preview(version, mapping, self._choice)

    @work(thread=True, exclusive=True, group="migrate-preview", exit_on_error=False)
    def _preview(self, version: int, mapping: dict[str, str], choice: tuple) -> None:
        assert self.preview_migration is not None
        try:
            result: RepairPreview | str = self.preview_migration(version, mapping)
        except WorkflowError as error:
            result = str(error)
        except Exception as error:  # noqa: BLE001
            result = f"{type(error).__name__}: {error}"
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._show_preview, choice, result)

    def _show_preview(self, choice: tuple, result: RepairPreview | str) -> None:
        if choice != self._choice:
            return
        if isinstance(result, str):
            self._set_problem(result)
            return
        self.preview = result
        self.query_one(RepairPreviewPane).show_preview(result)
        force = self.query_one("#force", Checkbox)
        force.disabled = not result.refused or cannot_force(result)

    def _set_problem(self, message: str) -> None:
        self.problem = message
        if self.preview_migration is not None:
            self.query_one(RepairPreviewPane).show_problem(message)
        else:
            self._say(message)

    # -- sending --------------------------------------------------------------------------------------

    def refusal(self) -> str | None:
        """Why it cannot be sent yet, or ``None``."""
        if self.target is None:
            return self.problem or "the target version is still loading"
        if self.problem is not None:
            return self.problem
        if self.preview_migration is None:
            return None
        if self.preview is None:
            return "the preview is not ready yet"
        if cannot_force(self.preview):
            return "no token would be left, so even forcing cannot apply it"
        if self.preview.refused and not self.query_one("#force", Checkbox).value:
            return ("refused: the instance could then never finish (see the preview); tick Force to apply it all "
                    "the same, recorded as forced")
        return None

    def action_submit(self) -> None:
        refusal = self.refusal()
        if refusal is not None:
            self._say(refusal)
            return
        assert self.target is not None
        forced = self.query_one("#force", Checkbox).value
        if self.preview is not None:
            forced = forced and self.preview.refused
        self.dismiss(MigrateRequest(self.target.version, self.mapping(), forced))

    def _say(self, message: str) -> None:
        error = self.query_one("#migrate-error", Static)
        error.update(shown(message))
        error.display = bool(message)

    @on(Button.Pressed, "#go")
    def _go(self) -> None:
        self.action_submit()

    @on(Button.Pressed, "#back")
    def _back(self) -> None:
        self.dismiss(None)
