"""The token graph drawn with box-drawing characters: as plain text, or as a Rich ``Text`` with styles.

Edges an instance has taken are drawn heavy (``━━▶``), the others light (``──▶``). At full labels the
node shapes tell the kinds apart::

    ╭───────╮   ┌──────────┐   ╱─────────╲   ╱─────────╲
    ( Start )   │ ● Review │   ◇ X route ◇   ◇ + fork  ◇
    ╰───────╯   └──────────┘   ╲─────────╱   ╲─────────╱
    start/end   task           exclusive     parallel

and, when the graph shows an instance, a marker and a colour its state (see :func:`legend_rich`). The
other zoom levels (:mod:`console.graph.zoom`) draw some or all nodes as symbols: ``( )`` ``[ ]`` ``<X>``
``<+>``. Left to right, edges enter a node on its left; top to bottom, from above (``▼``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

from rich.cells import cell_len
from rich.text import Text

from console.graph.canvas import NORTH, WEST, Canvas, fit, wrap
from console.graph.layout import Layout, NodeBox, Orientation, compute_layout
from console.graph.model import GraphModel, GraphNode, NodeState
from console.graph.style import (
    EDGE_NOT_TAKEN_STYLE,
    EDGE_STYLE,
    EDGE_TAKEN_STYLE,
    LABEL_STYLE,
    NODE_STYLE,
    STATE_DESCRIPTIONS,
    STATE_MARKERS,
    STATE_STYLES,
    kind_style,
)
from console.graph.zoom import NodeFace, Zoom, node_face
from engine.kinds import KINDS

ARROWS = {Orientation.LEFT_RIGHT: "▶", Orientation.TOP_BOTTOM: "▼"}
ARROW = ARROWS[Orientation.LEFT_RIGHT]
LAYOUT_CACHE_SIZE = 64  # layouts kept: six views of a few graphs
NOTE_CELLS = 1000  # a note is one line: control characters become spaces
LEGEND_ORDER = (NodeState.ACTIVE, NodeState.WAITING, NodeState.FAILED, NodeState.STUCK, NodeState.VISITED,
                NodeState.NOT_REACHED)


@dataclass(frozen=True)
class Drawing:
    """A model drawn at one zoom and orientation: the layout, the grid of characters and styles, and the
    edge conditions that the drawing shortened or left out (``notes``, to list under it)."""

    zoom: Zoom
    orientation: Orientation
    layout: Layout
    canvas: Canvas
    notes: tuple[str, ...]

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the graph in cells, notes not included."""
        return self.layout.width, self.layout.height


def draw(model: GraphModel, zoom: Zoom = Zoom.FULL, orientation: Orientation = Orientation.LEFT_RIGHT) -> Drawing:
    """Lay ``model`` out and draw it at ``zoom`` in ``orientation``.

    Raises :class:`~console.graph.style.UnknownNodeKind` when a node's kind has no drawing.
    """
    faces = {node.id: node_face(node, zoom, model.has_instance) for node in model.nodes}
    layout = layout_for_text(model, zoom, orientation, faces)
    canvas = Canvas(layout.width, layout.height)
    edges = {edge.id: edge for edge in model.edges}
    start = WEST if orientation is Orientation.LEFT_RIGHT else NORTH  # a line starts against its box
    # Taken edges are heavy, so that plain text shows the path too, and they win the style of the cells
    # they share with edges not taken (a split's trunk).
    for route in layout.routes:
        taken = edges[route.edge_id].taken
        style, rank = _edge_style(model, taken)
        canvas.polyline(route.points, style, rank, heavy=taken, start=start)
    for route in layout.routes:
        x, y = route.points[-1]
        canvas.write(x, y, ARROWS[orientation], canvas.styles[y][x])  # the style of the line it ends
    for label in layout.labels:
        canvas.write(label.x, label.y, label.written, LABEL_STYLE)
    for node in model.nodes:
        _draw_node(canvas, layout.boxes[node.id], node, faces[node.id], model.has_instance)
    return Drawing(zoom, orientation, layout, canvas, tuple(_notes(model, layout)))


def render_text(model: GraphModel, zoom: Zoom = Zoom.FULL,
                orientation: Orientation = Orientation.LEFT_RIGHT) -> str:
    """The graph as plain text, followed by any edge conditions that had to be shortened, in full."""
    return drawing_text(draw(model, zoom, orientation))


def render_rich(model: GraphModel, zoom: Zoom = Zoom.FULL,
                orientation: Orientation = Orientation.LEFT_RIGHT) -> Text:
    """The graph as a Rich ``Text``: nodes styled by state, taken edges highlighted, labels in italics."""
    return drawing_rich(draw(model, zoom, orientation))


def drawing_text(drawing: Drawing, notes: bool = True, width: int | None = None) -> str:
    """A drawing as plain text, with its notes under it unless ``notes`` is false (each note wrapped to
    ``width`` cells when given)."""
    text = drawing.canvas.to_plain()
    return text + ("\n\n" + "\n".join(_note_lines(drawing, width)) if notes and drawing.notes else "")


def drawing_rich(drawing: Drawing, notes: bool = True, width: int | None = None) -> Text:
    """A drawing as a Rich ``Text``, with its notes under it unless ``notes`` is false."""
    text = drawing.canvas.to_rich()
    if notes and drawing.notes:
        text.append("\n\n" + "\n".join(_note_lines(drawing, width)), style=LABEL_STYLE)
    return text


def _note_lines(drawing: Drawing, width: int | None) -> list[str]:
    if width is None:
        return list(drawing.notes)
    lines = []
    for note in drawing.notes:
        lead = note[:len(note) - len(note.lstrip())]
        wrapped = wrap(note, max(width - len(lead) - 2, 10), len(note))
        lines += [lead + wrapped[0], *(f"{lead}  {line}" for line in wrapped[1:])]
    return lines


def legend_rich(zoom: Zoom = Zoom.FULL, with_states: bool = True, width: int | None = None,
                model: GraphModel | None = None) -> Text:
    """A legend of state markers (with ``with_states``), node shapes as drawn at ``zoom`` and edge styles,
    styled as in the graph; broken into lines of at most ``width`` cells when given (else one line). With
    ``model``, only the states and kinds of node that it has."""
    states = LEGEND_ORDER if model is None else [state for state in LEGEND_ORDER
                                                 if any(node.state is state for node in model.nodes)]
    kinds = list(KINDS) if model is None else [kind for kind in KINDS if any(node.kind is kind for node in model.nodes)]
    entries: list[tuple[bool, str, str]] = []  # (starts a group, text, style)
    if with_states:
        entries += [(False, f"{STATE_MARKERS[state]} {STATE_DESCRIPTIONS[state]}", STATE_STYLES[state])
                    for state in states]
    shapes: list[str] = []
    for kind in kinds:
        entry = f"{_legend_face(kind, zoom)} {kind_style(kind).legend}"
        if entry not in shapes:
            shapes.append(entry)
    entries += [(number == 0 and bool(entries), shape, NODE_STYLE) for number, shape in enumerate(shapes)]
    if with_states:
        entries += [(True, f"━{ARROW} taken", EDGE_TAKEN_STYLE), (False, f"─{ARROW} not taken", EDGE_NOT_TAKEN_STYLE)]
    legend = Text(no_wrap=True)
    used = 0
    for group, text, style in entries:
        lead = "  │ " if group else "  "  # a bar between groups, except at the start of a line
        if used and width is not None and used + cell_len(lead) + cell_len(text) > width:
            legend.append("\n")
            used = 0
        if used:
            legend.append(lead)
            used += cell_len(lead)
        legend.append(text, style=style)
        used += cell_len(text)
    return legend


def _legend_face(kind: object, zoom: Zoom) -> str:
    """A kind's sample in the legend: its box's sample, or its symbol."""
    style = kind_style(kind)
    settings = zoom.settings
    if not settings.symbols_only and (settings.boxes_every_kind or style.boxed_when_short):
        return style.sample
    return style.symbol[0] + (style.glyph or " ") + style.symbol[1]


def layout_for_text(model: GraphModel, zoom: Zoom = Zoom.FULL, orientation: Orientation = Orientation.LEFT_RIGHT,
                    faces: dict[str, NodeFace] | None = None) -> Layout:
    """The layout :func:`draw` draws: boxes sized for their faces at ``zoom``, conditions shortened to it."""
    if faces is None:
        faces = {node.id: node_face(node, zoom, model.has_instance) for node in model.nodes}
    cells, lines = zoom.settings.edge_label_cells, zoom.settings.edge_label_lines
    labels = tuple((edge.id, tuple(wrap(edge.label, cells, lines))) for edge in model.edges if edge.label and cells)
    sizes = tuple(faces[node.id].size for node in model.nodes)
    return _layout(_Shape.of(model), sizes, labels, orientation, zoom)


@dataclass(frozen=True)
class _Shape:
    """What a layout depends on besides sizes: the nodes and edges, not their states."""

    model: GraphModel

    @classmethod
    def of(cls, model: GraphModel) -> _Shape:
        return cls(GraphModel(model.workflow_id, model.version, model.title,
                              tuple(GraphNode(node.id, "", node.kind) for node in model.nodes),
                              tuple(replace(edge, taken=False) for edge in model.edges)))


@lru_cache(maxsize=LAYOUT_CACHE_SIZE)
def _layout(shape: _Shape, sizes: tuple[tuple[int, int], ...], labels: tuple[tuple[str, tuple[str, ...]], ...],
            orientation: Orientation, zoom: Zoom) -> Layout:
    """The layout of a graph's shape with these box sizes and labels, kept for the next time: an instance
    whose tokens moved on mostly keeps its sizes, and the console redraws it on every change."""
    node_sizes = {node.id: size for node, size in zip(shape.model.nodes, sizes, strict=True)}
    return compute_layout(shape.model, node_sizes, dict(labels), orientation, zoom.settings.spacing)


def _edge_style(model: GraphModel, taken: bool) -> tuple[str, int]:
    if not model.has_instance:
        return EDGE_STYLE, 0
    return (EDGE_TAKEN_STYLE, 2) if taken else (EDGE_NOT_TAKEN_STYLE, 1)


def node_style(node: GraphNode, with_state: bool) -> str:
    """The Rich style of a node: its state's colour, or bold without an instance."""
    return STATE_STYLES[node.state] if with_state and node.state is not None else NODE_STYLE


def _draw_node(canvas: Canvas, box: NodeBox, node: GraphNode, face: NodeFace, with_state: bool) -> None:
    style = node_style(node, with_state)
    if not face.boxed:
        canvas.write(box.x, box.y, face.lines[0], style)
        return
    top_left, top, top_right, left, right, bottom_left, bottom_right = kind_style(node.kind).box
    inner = box.width - 2
    border = f"{top} {face.badge} " + top * (inner - cell_len(face.badge) - 3) if face.badge else top * inner
    canvas.write(box.x, box.y, top_left + border + top_right, style)
    port = box.port_row - box.y - 1  # which text line edges attach to, left to right
    for number, line in enumerate(face.lines):
        sides = (left, right) if number == port or len(face.lines) == 1 else ("│", "│")
        padded = line + " " * (inner - 2 - cell_len(line))
        canvas.write(box.x, box.y + 1 + number, f"{sides[0]} {padded} {sides[1]}", style)
    canvas.write(box.x, box.y + box.height - 1, bottom_left + top * inner + bottom_right, style)


def _notes(model: GraphModel, layout: Layout) -> list[str]:
    """Edge labels that are shortened or could not be placed, in full, one line each."""
    placed: dict[str, str] = {}
    for label in sorted(layout.labels, key=lambda label: (label.y, label.x) if layout.orientation is
                        Orientation.LEFT_RIGHT else (label.x, label.y)):
        placed[label.edge_id] = f"{placed[label.edge_id]} {label.text}" if label.edge_id in placed else label.text
    notes = []
    for edge in model.edges:
        if edge.label and placed.get(edge.id) != edge.label:
            source, target = model.node(edge.source).label, model.node(edge.target).label
            notes.append(fit(f"  {edge.id} ({source} → {target}): {edge.label}", NOTE_CELLS))
    return ["Edge conditions in full:", *notes] if notes else []


def clear_layout_cache() -> None:
    """Forget the layouts kept (for measuring a first drawing)."""
    _layout.cache_clear()
