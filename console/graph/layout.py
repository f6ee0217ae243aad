"""A layered layout of a :class:`~console.graph.model.GraphModel` on a character grid, left to right or
top to bottom.

The steps of a Sugiyama layout, the first ones done by grandalf:

1. Back edges (loops) are found by a depth-first walk from START in blueprint order; they are left out of
   the layering and drawn afterwards as lanes under the graph (:mod:`console.graph.routing`).
2. Each forward edge with a label (a condition, or ``else``) passes through a label item in a layer of its
   own, so that the label sits on the edge and widens the layer, as Graphviz does.
3. grandalf ranks the items into layers (the columns), adds a dummy item in each layer a long edge
   crosses, orders each layer to reduce crossings and computes positions within a layer (the rows).
4. Rows are snapped to whole characters; :mod:`console.graph.routing` then routes the edges in the gaps
   between columns.

Both orientations share these steps: they work on *layers* (columns left to right, or rows top to bottom)
and on positions *along* a layer, and a top-to-bottom layout is the left-to-right one with the two axes
swapped at the end (an item's size along its layer is its height left to right, its width top to bottom).
The same model, sizes and orientation always give the same layout.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from grandalf.graphs import Edge, Vertex, graph_core
from grandalf.layouts import DummyVertex, SugiyamaLayout, VertexViewer
from rich.cells import cell_len

from console.graph.model import GraphEdge, GraphModel
from console.graph.routing import BackEdge, Item, ItemKey, Point, route

NODE_HEIGHT = 3  # top border, label line, bottom border; edges attach to the middle line
ORDERING_ROUNDS = 4.5  # grandalf's crossing-reduction sweeps (down and up), then one more down


class Orientation(StrEnum):
    """Which way the flow runs: layers are columns (left to right) or rows (top to bottom)."""

    LEFT_RIGHT = "LR"
    TOP_BOTTOM = "TB"


@dataclass(frozen=True)
class Spacing:
    """How tightly a layout is packed, in cells.

    ``item_gap``: blank cells between the items of one layer; ``track_step``: from one vertical (or, top to
    bottom, horizontal) channel of a gap to the next; ``arrow_run``: line cells between the last channel of
    a gap and the arrow, left to right (top to bottom there are none); ``label_spaces``: blank cells
    around an edge label's text, left to right.
    """

    item_gap: int = 1
    track_step: int = 2
    arrow_run: int = 1
    label_spaces: int = 2  # around a label's text left to right: 1 leaves none before the next line cell


@dataclass(frozen=True)
class NodeBox:
    """Where a node's box is drawn: top-left corner, size in characters."""

    node_id: str
    x: int
    y: int
    width: int
    height: int = NODE_HEIGHT

    @property
    def port_row(self) -> int:
        """The row at which edges enter (left side) and leave (right side) the box, left to right."""
        return self.y + self.height // 2

    @property
    def port_column(self) -> int:
        """The column at which edges enter (top) and leave (bottom) the box, top to bottom."""
        return self.x + self.width // 2

    def contains(self, x: int, y: int) -> bool:
        """Whether the cell (``x``, ``y``) is part of the box."""
        return self.x <= x < self.x + self.width and self.y <= y < self.y + self.height


@dataclass(frozen=True)
class EdgeRoute:
    """An edge as an orthogonal polyline of grid points; the last point is the arrow's cell."""

    edge_id: str
    points: tuple[Point, ...]
    back: bool = False


@dataclass(frozen=True)
class EdgeLabel:
    """A line of an edge label: ``text`` (possibly shortened with ``…``) written from (``x``, ``y``) with a
    space on either side, in at most ``cells`` cells (``None``: as many as that takes)."""

    edge_id: str
    x: int
    y: int
    text: str
    cells: int | None = None

    @property
    def written(self) -> str:
        """What is written from (``x``, ``y``): `` text `` in its cells (the space after it may be cut)."""
        padded = f" {self.text} "
        return padded if self.cells is None or cell_len(padded) <= self.cells else padded[:-1]


@dataclass(frozen=True)
class Layout:
    """A graph placed on a grid of ``width`` x ``height`` characters.

    Left to right, edges leave a box on its right side and enter on its left (the routes' last points are
    the arrows' cells); top to bottom, they leave at the bottom and enter at the top.
    """

    width: int
    height: int
    boxes: Mapping[str, NodeBox]
    routes: tuple[EdgeRoute, ...]
    labels: tuple[EdgeLabel, ...]
    orientation: Orientation = Orientation.LEFT_RIGHT


def compute_layout(model: GraphModel, node_sizes: Mapping[str, tuple[int, int]],
                   edge_labels: Mapping[str, str | tuple[str, ...]],
                   orientation: Orientation = Orientation.LEFT_RIGHT, spacing: Spacing = Spacing()) -> Layout:
    """Lay ``model`` out in ``orientation``, packed by ``spacing``.

    ``node_sizes`` gives each node's box (width, height); ``edge_labels`` the text to write on an edge, as
    one string or as lines (edges that are absent get none). Returns a :class:`Layout` with one
    :class:`EdgeLabel` per line; raises ``KeyError`` if a node has no size.
    """
    across = orientation is Orientation.TOP_BOTTOM  # sizes are (along the layer, across it)
    lines_of = {edge_id: (text,) if isinstance(text, str) else tuple(text) for edge_id, text in edge_labels.items()
                if text}
    forward, back = split_back_edges(model)
    items, chains = _items(model, forward, node_sizes, lines_of, across, spacing)
    link_paths = _rank_and_order(items, chains, spacing.item_gap)
    paths = {edge_id: _expand(chain, link_paths) for edge_id, chain in chains.items()}
    _assign_rows(items, spacing.item_gap)
    back_edges = [BackEdge(edge.id, ("node", edge.source), ("node", edge.target),
                           " ".join(lines_of[edge.id]) if edge.id in lines_of else None) for edge in back]
    # Top to bottom, rows are dear and an arrow right under its channel reads well: no run before it.
    routed = route(items, paths, back_edges, spacing.track_step, 0 if across else spacing.arrow_run,
                   lane_labels=not across)
    back_ids = {edge.id for edge in back}
    labels = [EdgeLabel(edge_id, x, y, text) for edge_id, (x, y, text) in routed.lane_labels.items()]
    for key, item in items.items():
        if key[0] == "label":
            labels += _label_lines(key[1], lines_of[key[1]], routed.x_of[key], routed.column_width[item.rank], item,
                                   across)
    layout = Layout(
        width=routed.width, height=routed.height,
        boxes={key[1]: NodeBox(key[1], routed.x_of[key], item.top, item.width, item.height)
               for key, item in items.items() if key[0] == "node"},
        routes=tuple(EdgeRoute(edge.id, routed.polylines[edge.id], edge.id in back_ids) for edge in model.edges),
        labels=tuple(labels),
    )
    return _transposed(layout) if across else _sorted_labels(layout)


def _items(model: GraphModel, forward: list[GraphEdge], node_sizes: Mapping[str, tuple[int, int]],
           lines_of: Mapping[str, tuple[str, ...]], across: bool, spacing: Spacing,
           ) -> tuple[dict[ItemKey, Item], dict[str, list[ItemKey]]]:
    """The items to place (a node's box, a label) sized along and across their layer, and each forward
    edge's chain of items: its source, its label if it has one, its target."""
    items: dict[ItemKey, Item] = {}
    for node in model.nodes:
        width, height = node_sizes[node.id]
        items[("node", node.id)] = Item(("node", node.id), width if across else height, height if across else width)
    chains: dict[str, list[ItemKey]] = {}
    for edge in forward:
        chain: list[ItemKey] = [("node", edge.source)]
        if edge.id in lines_of:  # " text " on the line: left to right along it, top to bottom across it
            lines = lines_of[edge.id]
            widest = max(cell_len(line) for line in lines) + (2 if across else spacing.label_spaces)
            items[("label", edge.id)] = Item(("label", edge.id), *((widest, len(lines)) if across
                                                                    else (len(lines), widest)))
            chain.append(("label", edge.id))
        chain.append(("node", edge.target))
        chains[edge.id] = chain
    return items, chains


def _label_lines(edge_id: str, lines: tuple[str, ...], layer_x: int, layer_width: int, item: Item, across: bool,
                 ) -> list[EdgeLabel]:
    """Where each line of an edge label is written, in (layer, position) coordinates: left to right the
    lines are stacked from the label's top, in the layer's width; top to bottom each is centred on the line
    it interrupts."""
    if not across:
        return [EdgeLabel(edge_id, layer_x, item.top + number, line, layer_width) for number, line in enumerate(lines)]
    return [EdgeLabel(edge_id, layer_x + number, item.top + (item.height - cell_len(line) - 2) // 2, line)
            for number, line in enumerate(lines)]


def _sorted_labels(layout: Layout) -> Layout:
    labels = tuple(sorted(layout.labels, key=lambda label: (label.y, label.x)))
    return Layout(layout.width, layout.height, layout.boxes, layout.routes, labels, layout.orientation)


def _transposed(layout: Layout) -> Layout:
    """A left-to-right layout whose axes were laid out as layers x positions, turned top to bottom.

    Label positions were computed as (layer, position along it) already, so only they are swapped too.
    """
    boxes = {node_id: NodeBox(node_id, box.y, box.x, box.height, box.width) for node_id, box in layout.boxes.items()}
    routes = tuple(EdgeRoute(route.edge_id, tuple((y, x) for x, y in route.points), route.back)
                   for route in layout.routes)
    labels = tuple(EdgeLabel(label.edge_id, label.y, label.x, label.text, label.cells) for label in layout.labels)
    return _sorted_labels(Layout(layout.height, layout.width, boxes, routes, labels, Orientation.TOP_BOTTOM))


def split_back_edges(model: GraphModel) -> tuple[list[GraphEdge], list[GraphEdge]]:
    """Split the model's edges into (forward, back) edges, both in blueprint order.

    An edge is a back edge when a depth-first walk (from START, then from any node not yet reached, each
    node's edges in blueprint order) finds it pointing to a node still on the walk's path: removing the
    back edges leaves a graph without cycles.
    """
    outgoing: dict[str, list[GraphEdge]] = {node.id: [] for node in model.nodes}
    for edge in model.edges:
        outgoing[edge.source].append(edge)
    starts = [node.id for node in model.nodes if node.kind == "START"]
    starts += [node.id for node in model.nodes if node.id not in starts]
    seen: set[str] = set()
    on_path: set[str] = set()
    back_ids: set[str] = set()
    for start in starts:
        if start in seen:
            continue
        seen.add(start)
        on_path.add(start)
        stack = [(start, iter(outgoing[start]))]
        while stack:  # iterative, so that a long chain of nodes cannot exhaust Python's recursion limit
            node_id, pending = stack[-1]
            edge = next(pending, None)
            if edge is None:
                on_path.discard(node_id)
                stack.pop()
            elif edge.target in on_path:
                back_ids.add(edge.id)
            elif edge.target not in seen:
                seen.add(edge.target)
                on_path.add(edge.target)
                stack.append((edge.target, iter(outgoing[edge.target])))
    forward = [edge for edge in model.edges if edge.id not in back_ids]
    return forward, [edge for edge in model.edges if edge.id in back_ids]


Link = tuple[ItemKey, ItemKey]


def _rank_and_order(items: dict[ItemKey, Item], chains: Mapping[str, list[ItemKey]], item_gap: int,
                    ) -> dict[Link, list[ItemKey]]:
    """Rank and order the items with grandalf, one connected component at a time.

    Sets each item's ``rank``, ``center`` and ``component``; adds a dummy item in every layer a link
    crosses. Returns each link's items from source to target, dummies included.
    """
    links: list[Link] = []
    for chain in chains.values():
        for link in zip(chain, chain[1:], strict=False):
            if link not in links:
                links.append(link)
    link_paths: dict[Link, list[ItemKey]] = {}
    for number, (keys, component_links) in enumerate(_components(list(items), links)):
        vertices = {key: Vertex(key) for key in keys}
        for key, vertex in vertices.items():
            vertex.view = VertexViewer(w=items[key].height, h=1)
        edges = {link: Edge(vertices[link[0]], vertices[link[1]]) for link in component_links}
        sugiyama = SugiyamaLayout(graph_core(list(vertices.values()), list(edges.values())))
        sugiyama.xspace = item_gap
        targets = {link[1] for link in component_links}
        sugiyama.init_all(roots=[vertices[key] for key in keys if key not in targets], inverted_edges=[])
        for control in sugiyama.ctrls.values():
            for vertex in control.values():
                if isinstance(vertex, DummyVertex):
                    vertex.view.w = 1  # a long edge's line is one row high
        sugiyama.draw(ORDERING_ROUNDS)
        for key, vertex in vertices.items():
            item = items[key]
            item.rank, item.center, item.component = sugiyama.grx[vertex].rank, vertex.view.xy[0], number
        for link, edge in edges.items():
            path = [link[0]]
            for rank, vertex in sorted(sugiyama.ctrls.get(edge, {}).items()):
                if isinstance(vertex, DummyVertex):
                    key = ("dummy", link[0], link[1], rank)
                    items[key] = Item(key, 1, 1, rank=rank, center=vertex.view.xy[0], component=number)
                    path.append(key)
            link_paths[link] = path + [link[1]]
    return link_paths


def _components(keys: list[ItemKey], links: list[Link]) -> list[tuple[list[ItemKey], list[Link]]]:
    """The weakly connected components, each with its items and links in their given order."""
    parent = {key: key for key in keys}

    def find(key: ItemKey) -> ItemKey:
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    for source, target in links:
        parent[find(target)] = find(source)
    groups: dict[ItemKey, tuple[list[ItemKey], list[Link]]] = {}
    for key in keys:
        groups.setdefault(find(key), ([], []))[0].append(key)
    for link in links:
        groups[find(link[0])][1].append(link)
    return list(groups.values())


def _expand(chain: list[ItemKey], link_paths: Mapping[Link, list[ItemKey]]) -> list[ItemKey]:
    """An edge's chain of items with the dummies of each link filled in."""
    path = [chain[0]]
    for link in zip(chain, chain[1:], strict=False):
        path += link_paths[link][1:]
    return path


def _assign_rows(items: dict[ItemKey, Item], item_gap: int) -> None:
    """Snap grandalf's positions to rows, keeping each column's order and ``item_gap`` between items.

    Components are stacked top to bottom.
    """
    offset = 0
    for component in sorted({item.component for item in items.values()}):
        members = [item for item in items.values() if item.component == component]
        columns: dict[int, list[Item]] = {}
        for item in members:
            columns.setdefault(item.rank, []).append(item)
        for column in columns.values():
            column.sort(key=lambda item: item.center)
            free = -math.inf
            for item in column:
                item.top = max(math.floor(item.center + 0.5) - item.height // 2, free)
                free = item.top + item.height + item_gap
        shift = offset - min(item.top for item in members)
        for item in members:
            item.top += shift
        offset = max(item.top + item.height for item in members) + item_gap
