"""The token graph of an instance: the blueprint drawn by :mod:`console.graph`, in a scrollable pane.

:func:`render_token_graph` does the layout and drawing and is called from a worker thread (layout can
take a moment on a large blueprint); :class:`TokenGraph` only shows the finished drawing and, the first
time and whenever the tokens move on, scrolls it so the most urgent node (failed, stuck, active, waiting)
is in view.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import ScrollableContainer, Vertical
from textual.geometry import Region
from textual.widgets import Static

from console.formatting import STATUS_STYLES
from engine import InstanceView
from engine.graph import CompiledBlueprint

_URGENT_STATES = ("FAILED", "STUCK", "ACTIVE", "WAITING")


@dataclass(frozen=True)
class GraphDrawing:
    """A drawn graph, its legend, where the most urgent node is (line, column, width), and any problem."""

    graph: Text | None
    legend: Text | None = None
    focus: tuple[int, int, int] | None = None
    problem: str | None = None


def render_token_graph(compiled: CompiledBlueprint, view: InstanceView) -> GraphDrawing:
    """Draw the graph of ``view`` on its blueprint. Never raises: a drawing problem is returned."""
    try:
        from console.graph import build_graph, legend_rich, render_rich
    except ImportError:
        return GraphDrawing(_node_list(compiled, view))
    try:
        model = build_graph(compiled, view)
        graph = render_rich(model)
        return GraphDrawing(graph, legend_rich(), _find_urgent(model, graph.plain))
    except Exception as error:  # a drawing bug must not hide the executions and the actions
        return GraphDrawing(_node_list(compiled, view),
                            problem=f"cannot draw the graph: {type(error).__name__}: {error}")


def render_blueprint_graph(compiled: CompiledBlueprint) -> GraphDrawing:
    """Draw a blueprint on its own, without an instance (no node states, no legend). Never raises."""
    try:
        from console.graph import build_graph, render_rich

        return GraphDrawing(render_rich(build_graph(compiled)))
    except Exception as error:  # a drawing bug must not hide the rest of the blueprints screen
        return GraphDrawing(None, problem=f"cannot draw the graph: {type(error).__name__}: {error}")


def _find_urgent(model: object, plain: str) -> tuple[int, int, int] | None:
    """Where the most urgent node's text is in the drawing, found by its label."""
    nodes = list(getattr(model, "nodes", ()))
    for state in _URGENT_STATES:
        for node in nodes:
            if str(getattr(node, "state", "")) != state:
                continue
            label = str(getattr(node, "label", "") or getattr(node, "id", ""))
            for line_number, line in enumerate(plain.splitlines()):
                column = line.find(label[:12])
                if column >= 0:
                    return line_number, column, len(label)
    return None


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
            text.append(node.label, style="bold")
            text.append(f"  {', '.join(states)}\n", style=STATUS_STYLES.get(states[0], ""))
        elif node.id in visited:
            text.append(f"✓ {node.label}\n", style="green")
        else:
            text.append(f"○ {node.label}\n", style="dim")
    return text


class TokenGraph(Vertical):
    """The drawn graph, scrollable both ways when larger than the pane, with the legend below it."""

    DEFAULT_CSS = """
    TokenGraph { height: auto; max-height: 60%; }
    TokenGraph > ScrollableContainer { height: auto; max-height: 100%; }
    TokenGraph #graph-body { width: auto; height: auto; padding: 0 0 0 1; }
    TokenGraph #graph-legend { height: auto; padding: 0 1; color: $text-muted; }
    TokenGraph #graph-problem { height: auto; padding: 0 1; color: $error; display: none; }
    TokenGraph #graph-problem.-shown { display: block; }
    """

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self._revealed: tuple[int, int, int] | None = None

    def compose(self) -> ComposeResult:
        with ScrollableContainer(id="graph-scroll", can_focus=True):
            yield Static("loading…", id="graph-body")
        yield Static(id="graph-problem")
        yield Static(id="graph-legend")

    def show_nothing(self, message: str) -> None:
        """No graph to draw (nothing selected): say so instead of "loading…"."""
        self.query_one("#graph-body", Static).update(Text(message, "dim"))
        self.query_one("#graph-legend", Static).update("")
        self.query_one("#graph-problem", Static).set_class(False, "-shown")
        self._revealed = None

    def show(self, drawing: GraphDrawing) -> None:
        """Show the drawing; scroll to the most urgent node when it is another one than last time
        (otherwise the operator's scroll position is kept)."""
        graph = drawing.graph if drawing.graph is not None else Text("no graph", "dim")
        self.query_one("#graph-body", Static).update(graph)
        self.query_one("#graph-legend", Static).update(drawing.legend or "")
        problem_line = self.query_one("#graph-problem", Static)
        problem_line.update(drawing.problem or "")
        problem_line.set_class(bool(drawing.problem), "-shown")
        if drawing.focus is not None and drawing.focus != self._revealed:
            self._revealed = drawing.focus
            line, column, width = drawing.focus
            self.call_after_refresh(self._reveal, Region(column, line, width + 4, 3))

    def _reveal(self, region: Region) -> None:
        self.query_one("#graph-scroll", ScrollableContainer).scroll_to_region(region, animate=False,
                                                                              center=True)
