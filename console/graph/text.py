"""The token graph drawn with box-drawing characters: as plain text, or as a Rich ``Text`` with styles.

Edges an instance has taken are drawn heavy (``━━▶``), the others light (``──▶``).

Node shapes tell the kinds apart::

    ╭───────╮   ┌──────────┐   ╱─────────╲   ╱─────────╲
    ( Start )   │ ● Review │   ◇ X route ◇   ◇ + fork  ◇
    ╰───────╯   └──────────┘   ╲─────────╱   ╲─────────╱
    start/end   task           exclusive     parallel

and, when the graph shows an instance, a marker and a colour its state (see :func:`legend_rich`).
Labels and conditions are drawn through :func:`engine.text.visible`: a control or bidi character in them
is shown as an escape, never sent to the terminal.
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text

from console.graph.canvas import Canvas, fit
from console.graph.layout import Layout, NodeBox, compute_layout
from console.graph.model import GraphModel, GraphNode, NodeState
from console.graph.style import (
    EDGE_NOT_TAKEN_STYLE,
    EDGE_STYLE,
    EDGE_TAKEN_STYLE,
    GATEWAY_GLYPHS,
    LABEL_STYLE,
    NODE_STYLE,
    STATE_DESCRIPTIONS,
    STATE_MARKERS,
    STATE_STYLES,
)
from engine.blueprint import NodeKind
from engine.text import visible

NODE_LABEL_CELLS = 28  # longer node names are shortened with …
EDGE_LABEL_CELLS = 24  # longer conditions are shortened, and listed in full under the graph
ARROW = "▶"
LEGEND_ORDER = (NodeState.ACTIVE, NodeState.WAITING, NodeState.FAILED, NodeState.STUCK, NodeState.VISITED,
                NodeState.NOT_REACHED)
# (top-left, top, top-right, left, right, bottom-left, bottom-right) of each shape
_ROUND = ("╭", "─", "╮", "(", ")", "╰", "╯")
_SQUARE = ("┌", "─", "┐", "│", "│", "└", "┘")
_DIAMOND = ("╱", "─", "╲", "◇", "◇", "╲", "╱")
_SHAPES = {NodeKind.START: _ROUND, NodeKind.END: _ROUND, NodeKind.TASK: _SQUARE}


def render_text(model: GraphModel) -> str:
    """The graph as plain text, followed by any edge conditions that had to be shortened, in full."""
    canvas, notes = _draw(model)
    text = canvas.to_plain()
    return text + ("\n\n" + "\n".join(notes) if notes else "")


def render_rich(model: GraphModel) -> Text:
    """The graph as a Rich ``Text``: nodes styled by state, taken edges highlighted, labels in italics."""
    canvas, notes = _draw(model)
    text = canvas.to_rich()
    if notes:
        text.append("\n\n" + "\n".join(notes), style=LABEL_STYLE)
    return text


def legend_rich() -> Text:
    """A one-line legend of state markers, node shapes and edge styles, styled as in the graph."""
    legend = Text(no_wrap=False)
    for state in LEGEND_ORDER:
        legend.append(f"{STATE_MARKERS[state]} {STATE_DESCRIPTIONS[state]}", style=STATE_STYLES[state])
        legend.append("  ")
    legend.append("│ ")
    legend.append("( ) start/end  ┌┐ task  ◇X exclusive  ◇+ parallel", style=NODE_STYLE)
    legend.append("  │ ")
    legend.append(f"━{ARROW} taken", style=EDGE_TAKEN_STYLE)
    legend.append("  ")
    legend.append(f"─{ARROW} not taken", style=EDGE_NOT_TAKEN_STYLE)
    return legend


def node_text(node: GraphNode, with_state: bool) -> str:
    """What a node's box says: state marker, gateway glyph, label, and how many tokens rest there."""
    parts = []
    if with_state and node.state is not None:
        parts.append(STATE_MARKERS[node.state])
    if node.kind in GATEWAY_GLYPHS:
        parts.append(GATEWAY_GLYPHS[node.kind])
    parts.append(fit(visible(node.label), NODE_LABEL_CELLS) or visible(node.id))
    if with_state and node.kind is NodeKind.PARALLEL_JOIN and node.state is NodeState.WAITING:
        parts.append(f"{node.tokens}/{node.incoming}")
    elif with_state and node.tokens > 1:
        parts.append(f"×{node.tokens}")
    return " ".join(parts)


def layout_for_text(model: GraphModel) -> Layout:
    """The layout :func:`render_text` draws: box widths and edge labels sized for the terminal."""
    widths = {node.id: cell_len(node_text(node, model.has_instance)) + 4 for node in model.nodes}
    labels = {edge.id: fit(visible(edge.label), EDGE_LABEL_CELLS) for edge in model.edges if edge.label}
    return compute_layout(model, widths, labels)


def _draw(model: GraphModel) -> tuple[Canvas, list[str]]:
    layout = layout_for_text(model)
    canvas = Canvas(layout.width, layout.height)
    edges = {edge.id: edge for edge in model.edges}
    # Taken edges are heavy, so that plain text shows the path too, and they win the style of the cells
    # they share with edges not taken (a split's trunk).
    for route in layout.routes:
        taken = edges[route.edge_id].taken
        style, rank = _edge_style(model, taken)
        canvas.polyline(route.points, style, rank, heavy=taken)
    for route in layout.routes:
        x, y = route.points[-1]
        canvas.write(x, y, ARROW, canvas.styles[y][x])  # the style of the line it ends, taken or not
    for label in layout.labels:
        canvas.write(label.x, label.y, f" {label.text} ", LABEL_STYLE)
    for node in model.nodes:
        _draw_node(canvas, layout.boxes[node.id], node, model.has_instance)
    return canvas, _notes(model, layout)


def _edge_style(model: GraphModel, taken: bool) -> tuple[str, int]:
    if not model.has_instance:
        return EDGE_STYLE, 0
    return (EDGE_TAKEN_STYLE, 2) if taken else (EDGE_NOT_TAKEN_STYLE, 1)


def _draw_node(canvas: Canvas, box: NodeBox, node: GraphNode, with_state: bool) -> None:
    top_left, top, top_right, left, right, bottom_left, bottom_right = _SHAPES.get(node.kind, _DIAMOND)
    style = STATE_STYLES[node.state] if with_state and node.state is not None else NODE_STYLE
    inner = box.width - 2
    text = node_text(node, with_state)
    canvas.write(box.x, box.y, top_left + top * inner + top_right, style)
    canvas.write(box.x, box.y + 1, left + " " + text + " " * (inner - 1 - cell_len(text)) + right, style)
    canvas.write(box.x, box.y + 2, bottom_left + top * inner + bottom_right, style)


def _notes(model: GraphModel, layout: Layout) -> list[str]:
    """Edge labels that are shortened or could not be placed, in full, one line each."""
    placed = {label.edge_id: label.text for label in layout.labels}
    notes = []
    for edge in model.edges:
        if edge.label and placed.get(edge.id) != visible(edge.label):
            source, target = model.node(edge.source).label, model.node(edge.target).label
            notes.append(visible(f"  {edge.id} ({source} → {target}): {edge.label}"))
    return ["Edge conditions in full:", *notes] if notes else []
