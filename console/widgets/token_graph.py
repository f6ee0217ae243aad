"""The token graph of an instance (or a blueprint): the drawing of :mod:`console.graph` in a scrollable pane,
fitted to it, with a selection that moves from node to node.

:func:`render_token_graph` and :func:`render_blueprint_graph` lay the graph out at every zoom level and
orientation and are called from worker threads (layout takes a moment on a large blueprint).
:class:`TokenGraph` only picks, on the event loop, the drawing that fits the pane: the most detailed zoom
that fits, or the zoom the operator chose with ``z``. It opens with the most urgent node selected and in
view (failed and stuck first, then active and waiting) and comes back to it whenever those move on; the
arrow keys and h/j/k/l move the selection while the graph has focus, and Enter on a node posts
:class:`TokenGraph.NodeChosen` for the screen to act on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import ScrollableContainer, Vertical
from textual.geometry import Region
from textual.message import Message
from textual.widgets import Static

from console import keymap
from console.formatting import STATUS_STYLES, shown
from engine import InstanceView
from engine.graph import CompiledBlueprint
from engine.text import visible

if TYPE_CHECKING:  # console.graph is imported when a graph is drawn, not when the console starts
    from console.graph.model import GraphModel
    from console.graph.text import Drawing

SELECTED_STYLE = "reverse"


@dataclass(frozen=True)
class DrawnView:
    """One zoom and orientation of a graph, drawn: the :class:`~console.graph.text.Drawing` and its Rich text."""

    drawing: Drawing
    text: Text


@dataclass(frozen=True)
class GraphDrawing:
    """A graph ready to show: its model and every zoom and orientation drawn; or, when it cannot be drawn,
    a plain ``graph`` text (a list of nodes) and the ``problem``."""

    graph: Text | None = None
    problem: str | None = None
    model: GraphModel | None = None
    views: Mapping[tuple[str, str], DrawnView] = field(default_factory=dict)  # by (zoom, orientation)


def draw_every_view(model: GraphModel) -> dict[tuple[str, str], DrawnView]:
    """``model`` drawn at every zoom level and orientation (the pane picks one without drawing)."""
    from console.graph.layout import Orientation
    from console.graph.text import draw, drawing_rich
    from console.graph.zoom import Zoom

    views = {}
    for zoom in Zoom:
        for orientation in Orientation:
            drawing = draw(model, zoom, orientation)
            views[(str(zoom), str(orientation))] = DrawnView(drawing, drawing_rich(drawing, notes=False))
    return views


def render_token_graph(compiled: CompiledBlueprint, view: InstanceView, now: datetime | None = None) -> GraphDrawing:
    """Draw the graph of ``view`` on its blueprint (deadlines relative to ``now`` when given). Never raises: a
    drawing problem is returned."""
    try:
        from console.graph import build_graph
    except ImportError:
        return GraphDrawing(_node_list(compiled, view))
    try:
        model = build_graph(compiled, view, now=now)
        return GraphDrawing(model=model, views=draw_every_view(model))
    except Exception as error:  # a drawing bug must not hide the executions and the actions
        return GraphDrawing(_node_list(compiled, view),
                            problem=f"cannot draw the graph: {type(error).__name__}: {error}")


def render_blueprint_graph(compiled: CompiledBlueprint) -> GraphDrawing:
    """Draw a blueprint on its own, without an instance (no node states). Never raises."""
    try:
        from console.graph import build_graph

        model = build_graph(compiled)
        return GraphDrawing(model=model, views=draw_every_view(model))
    except Exception as error:  # a drawing bug must not hide the rest of the blueprints screen
        return GraphDrawing(None, problem=f"cannot draw the graph: {type(error).__name__}: {error}")


def _node_list(compiled: CompiledBlueprint, view: InstanceView) -> Text:
    """A plain list of the nodes and their tokens, for when the graph cannot be drawn."""
    tokens: dict[str, list[str]] = {}
    for token in view.tokens:
        tokens.setdefault(token.node_id, []).append(str(token.status))
    visited = {entry.node_id for entry in view.history if entry.node_id}
    text = Text()
    for node in compiled.blueprint.nodes:
        states = tokens.get(node.id)
        if states:
            text.append("● ", style=STATUS_STYLES.get(states[0], "bold"))
            text.append(visible(node.label), style="bold")
            text.append(f"  {', '.join(states)}\n", style=STATUS_STYLES.get(states[0], ""))
        elif node.id in visited:
            text.append(f"✓ {visible(node.label)}\n", style="green")
        else:
            text.append(f"○ {visible(node.label)}\n", style="dim")
    return text


class _GraphScroll(ScrollableContainer, can_focus=True, inherit_bindings=False):
    """The scrolling part of the pane. Its keys are the graph's (move, choose, zoom), not scrolling: the
    view follows the selection."""


class TokenGraph(Vertical):
    """The drawn graph, scrollable both ways when larger than the pane, a line on the selected node and
    the legend below it."""

    DEFAULT_CSS = """
    TokenGraph { height: auto; max-height: 60%; }
    TokenGraph > _GraphScroll { height: auto; max-height: 100%; }
    TokenGraph #graph-body { width: auto; height: auto; padding: 0 0 0 1; }
    TokenGraph #graph-selection { height: 1; padding: 0 1; display: none; }
    TokenGraph #graph-selection.-shown { display: block; }
    TokenGraph #graph-legend { height: auto; padding: 0 1; color: $text-muted; }
    TokenGraph #graph-problem { height: auto; padding: 0 1; color: $error; display: none; }
    TokenGraph #graph-problem.-shown { display: block; }
    """

    BINDINGS = keymap.GRAPH

    class NodeChosen(Message):
        """Enter on a node of the graph."""

        def __init__(self, graph: TokenGraph, node_id: str) -> None:
            super().__init__()
            self.graph = graph
            self.node_id = node_id

        @property
        def control(self) -> TokenGraph:
            return self.graph

    def __init__(self, *, id: str | None = None, choosable: bool = True) -> None:  # noqa: A002
        super().__init__(id=id)
        self.choosable = choosable  # whether Enter on a node means something here
        self.drawing: GraphDrawing | None = None
        self.zoom: str | None = None  # chosen with z; None: the most detailed that fits
        self.selected: str | None = None
        self.shown: DrawnView | None = None
        self._urgent: tuple[str, ...] | None = None

    def compose(self) -> ComposeResult:
        with _GraphScroll(id="graph-scroll"):
            yield Static("loading…", id="graph-body")
        yield Static(id="graph-problem")
        yield Static(id="graph-selection")
        yield Static(id="graph-legend")

    # -- what to show -------------------------------------------------------------------------------

    def show_nothing(self, message: str) -> None:
        """No graph to draw (nothing selected): say so instead of "loading…"."""
        self.drawing, self.shown, self.selected, self._urgent = None, None, None, None
        self.query_one("#graph-body", Static).update(Text(message, "dim"))
        self.query_one("#graph-legend", Static).update("")
        self.query_one("#graph-problem", Static).set_class(False, "-shown")
        self.query_one("#graph-selection", Static).set_class(False, "-shown")

    def show(self, drawing: GraphDrawing) -> None:
        """Show ``drawing``. The most urgent node is selected and scrolled into view when the urgent
        nodes are others than last time (otherwise the operator's selection and scroll are kept)."""
        previous_model = getattr(self.drawing, "model", None)
        self.drawing = drawing
        problem_line = self.query_one("#graph-problem", Static)
        problem_line.update(shown(drawing.problem or ""))  # may quote blueprint text: escaped, never markup
        problem_line.set_class(bool(drawing.problem), "-shown")
        model = drawing.model
        if model is None or not drawing.views:
            self.shown, self.selected, self._urgent = None, None, None
            self.query_one("#graph-body", Static).update(drawing.graph or Text("no graph", "dim"))
            self.query_one("#graph-legend", Static).update("")
            self.query_one("#graph-selection", Static).set_class(False, "-shown")
            return
        urgent = model.urgent_nodes()
        node_ids = [node.id for node in model.nodes]
        same_graph = previous_model is not None and (previous_model.workflow_id, previous_model.version) == (
            model.workflow_id, model.version)
        if self.selected not in node_ids or not same_graph:
            self.selected, self._urgent = None, None
        reveal = urgent != self._urgent or self.selected is None
        if reveal:
            self._urgent = urgent
            self.selected = urgent[0] if urgent else node_ids[0] if node_ids else None
        self._refresh_view(reveal_urgent=reveal)

    def on_resize(self, event: events.Resize) -> None:
        if self.shown is not None:
            self._refresh_view(reveal_urgent=False)

    def _space(self) -> tuple[int, int]:
        """The cells the drawing may take without scrolling: the pane's width, and its height (its
        largest when it grows with its content) less the lines under the graph."""
        width = self.size.width or self.app.size.width - 2
        height = self.size.height
        max_height = self.styles.max_height
        if self.styles.height is not None and self.styles.height.is_auto and max_height is not None:
            container = self.parent.size if self.parent is not None else self.app.size
            height = int(max_height.resolve(container, self.app.size)) - self.styles.gutter.height
        # the legend's lines, while it shows (a short terminal drops it), the selection's line and the problem's
        legend = len(self._legend(width - 2).plain.splitlines()) if self.query_one("#graph-legend").display else 0
        below = legend + 1 + (1 if self.drawing is not None and self.drawing.problem else 0)
        return max(width - 1, 10), max(height - below, 3)

    def _current_zoom(self) -> str:
        return self.zoom if self.zoom is not None else (str(self.shown.drawing.zoom) if self.shown else "full")

    def _pick(self) -> DrawnView:
        from console.graph.fit import pick
        from console.graph.zoom import Zoom

        assert self.drawing is not None
        views = self.drawing.views
        by_drawing = {id(view.drawing): view for view in views.values()}
        width, height = self._space()
        drawing = pick(lambda zoom, orientation: views[(str(zoom), str(orientation))].drawing,
                       width, height, Zoom(self.zoom) if self.zoom else None)
        return by_drawing[id(drawing)]

    def _legend(self, width: int) -> Text:
        from console.graph.text import legend_rich
        from console.graph.zoom import Zoom

        model = self.drawing.model if self.drawing is not None else None
        return legend_rich(Zoom(self._current_zoom()), model is not None and model.has_instance, max(width, 20), model)

    def _refresh_view(self, reveal_urgent: bool) -> None:
        """Pick the drawing for the pane, draw the selection on it and bring what matters into view."""
        before = self.shown
        self.shown = self._pick()
        self._draw_selection()
        width = self.size.width or self.app.size.width
        self.query_one("#graph-legend", Static).update(self._legend(width - 2))
        self.border_subtitle = f"z: {self.shown.drawing.zoom.settings.description}"
        if reveal_urgent:
            self.call_after_refresh(self._reveal, self._urgent_region(), True)
        elif before is not self.shown and self.selected is not None:
            self.call_after_refresh(self._reveal, self._box_region(self.selected), False)

    def _draw_selection(self) -> None:
        assert self.shown is not None
        text = self.shown.text
        boxes = self.shown.drawing.layout.boxes
        if self.selected in boxes:
            text = text.copy()
            box = boxes[self.selected]
            canvas = self.shown.drawing.canvas
            for y in range(box.y, box.y + box.height):
                start, end = canvas.text_span(y, box.x, box.x + box.width)
                text.stylize(SELECTED_STYLE, start, end)
        self.query_one("#graph-body", Static).update(text)
        self._describe_selection()

    def _describe_selection(self) -> None:
        line = self.query_one("#graph-selection", Static)
        if self.drawing is None or self.drawing.model is None or self.selected is None:
            line.set_class(False, "-shown")
            return
        from console.graph.describe import describe_node

        hint = " · Enter: its executions" if self.choosable else ""
        line.update(describe_node(self.drawing.model, self.selected, hint))
        line.set_class(True, "-shown")

    # -- scrolling ----------------------------------------------------------------------------------

    def _box_region(self, node_id: str) -> Region | None:
        if self.shown is None:
            return None
        box = self.shown.drawing.layout.boxes.get(node_id)
        return None if box is None else Region(box.x + 1, box.y, box.width, box.height)  # + the body's padding

    def _urgent_region(self) -> Region | None:
        """The urgent nodes' bounding box if the pane shows it whole, else the most urgent node's box."""
        regions = [region for node_id in self._urgent or () if (region := self._box_region(node_id))]
        if not regions:
            return self._box_region(self.selected) if self.selected else None
        union = Region.from_union(regions)
        scroll = self.query_one(_GraphScroll)
        fits = union.width <= scroll.size.width and union.height <= scroll.size.height
        return union if fits else regions[0]

    def _reveal(self, region: Region | None, centre: bool) -> None:
        if region is not None:
            self.query_one(_GraphScroll).scroll_to_region(region, animate=False, center=centre, immediate=True)

    # -- keys -----------------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "choose":
            return self.choosable and self.selected is not None
        if action in ("move", "zoom"):
            return self.shown is not None
        return True

    def action_move(self, direction: str) -> None:
        """Select the nearest node in ``direction`` (left, right, up, down) and keep it in view."""
        from console.graph.navigate import neighbour

        if self.shown is None or self.selected is None:
            return
        target = neighbour(self.shown.drawing.layout.boxes, self.selected, direction)
        if target is not None:
            self.selected = target
            self._draw_selection()
            self._reveal(self._box_region(target), False)

    def action_choose(self) -> None:
        """Enter on the selected node: the screen shows its executions."""
        if self.selected is not None:
            self.post_message(self.NodeChosen(self, self.selected))

    def action_zoom(self) -> None:
        """The next zoom level: full labels, short labels, symbols, and round again."""
        self.cycle_zoom()

    def cycle_zoom(self) -> None:
        """Show the next zoom level (after the one shown now); the selection stays and stays in view."""
        from console.graph.zoom import Zoom

        if self.shown is None:
            return
        self.zoom = str(Zoom(self._current_zoom()).next())
        self._refresh_view(reveal_urgent=False)
        if self.selected is not None:
            self.call_after_refresh(self._reveal, self._box_region(self.selected), True)
