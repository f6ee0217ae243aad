"""Export the token graph as BPMN 2.0, laid out by the same layered layout as the terminal drawing.

The layout works on a grid of character cells; here every cell is :data:`CELL_WIDTH` x :data:`CELL_HEIGHT`
pixels, and each node's box is sized in cells to hold its BPMN shape (a task's 100 x 80 box, a 36 pixel event
circle, a 50 pixel gateway diamond), so that bpmn.io and Camunda Modeler draw the shapes where the terminal
drawing puts the boxes, left to right. Edges keep their orthogonal routes, from the border of their source's
shape to their target's; an edge's condition is its label, just above its line.
"""

from __future__ import annotations

from rich.cells import cell_len

from console.graph.canvas import wrap
from console.graph.layout import EdgeRoute, Layout, NodeBox, Orientation, Spacing, compute_layout
from console.graph.model import GraphModel
from engine.bpmn.diagram import Bounds, Diagram, Point
from engine.bpmn.writer import write_bpmn
from engine.graph import CompiledBlueprint
from engine.kinds import Family, spec

CELL_WIDTH, CELL_HEIGHT = 10, 16  # pixels per cell: about the size of a diagram label's letters
MARGIN = (60, 60)  # pixels left of and above the diagram
# Per family: a node's box in cells (an odd height, so that the row edges attach to is its middle) and the
# BPMN shape drawn in it, in pixels (the sizes modelers use).
BOX_CELLS = {Family.EVENT: (6, 5), Family.TASK: (10, 5), Family.GATEWAY: (6, 5)}
SHAPE_PIXELS = {Family.EVENT: (36, 36), Family.TASK: (100, 80), Family.GATEWAY: (50, 50)}
SPACING = Spacing(item_gap=2, track_step=2, arrow_run=2, label_spaces=2)
LABEL_CELLS, LABEL_LINES = 24, 3


def render_bpmn(model: GraphModel, compiled: CompiledBlueprint) -> str:
    """The BPMN 2.0 XML of ``compiled`` with diagram interchange from the layout of ``model`` (its graph)."""
    return write_bpmn(compiled, bpmn_diagram(model))


def bpmn_diagram(model: GraphModel) -> Diagram:
    """Where each shape, edge and condition of ``model`` is drawn, in pixels."""
    sizes = {node.id: BOX_CELLS[spec(node.kind).family] for node in model.nodes}
    # A label's lines, then as many blank ones: the edge passes under the text, not through it.
    labels = {edge.id: (*lines, *("",) * len(lines)) for edge in model.edges if edge.condition
              for lines in [tuple(wrap(edge.condition, LABEL_CELLS, LABEL_LINES))]}
    layout = compute_layout(model, sizes, labels, Orientation.LEFT_RIGHT, SPACING)
    shapes = {node.id: _shape(layout.boxes[node.id], SHAPE_PIXELS[spec(node.kind).family]) for node in model.nodes}
    edges = {edge.id: edge for edge in model.edges}
    waypoints = {route.edge_id: _waypoints(route, shapes[edges[route.edge_id].source],
                                           shapes[edges[route.edge_id].target]) for route in layout.routes}
    return Diagram(shapes, waypoints, _label_bounds(layout))


def _pixel(x: float, y: float) -> Point:
    """The centre of cell (``x``, ``y``)."""
    return MARGIN[0] + x * CELL_WIDTH + CELL_WIDTH / 2, MARGIN[1] + y * CELL_HEIGHT + CELL_HEIGHT / 2


def _shape(box: NodeBox, size: tuple[int, int]) -> Bounds:
    """The shape centred in its box, on the row its edges attach to."""
    centre_x = MARGIN[0] + (box.x + box.width / 2) * CELL_WIDTH
    centre_y = _pixel(0, box.port_row)[1]
    return Bounds(centre_x - size[0] / 2, centre_y - size[1] / 2, size[0], size[1])


def _waypoints(route: EdgeRoute, source: Bounds, target: Bounds) -> tuple[Point, ...]:
    """A route's cells as pixels, from the source shape's right side to the target shape's left side (the
    route leaves and enters horizontally), without points in the middle of a straight run."""
    points = [_pixel(x, y) for x, y in route.points]
    points[0] = (source.x + source.width, points[0][1])
    points[-1] = (target.x, points[-1][1])
    kept = [points[0]]
    for point, following in zip(points[1:], points[2:], strict=False):
        before = kept[-1]
        if not (before[0] == point[0] == following[0] or before[1] == point[1] == following[1]):
            kept.append(point)
    kept.append(points[-1])
    return tuple(kept)


def _label_bounds(layout: Layout) -> dict[str, Bounds]:
    """Each edge label's lines (the blank ones left out) as one rectangle."""
    lines: dict[str, list[tuple[float, float, float]]] = {}
    for label in layout.labels:
        if label.text:
            x, y = MARGIN[0] + (label.x + 1) * CELL_WIDTH, MARGIN[1] + label.y * CELL_HEIGHT
            lines.setdefault(label.edge_id, []).append((x, y, cell_len(label.text) * CELL_WIDTH))
    return {edge_id: Bounds(min(x for x, _, _ in found), min(y for _, y, _ in found),
                            max(width for _, _, width in found), len(found) * CELL_HEIGHT)
            for edge_id, found in lines.items()}
