"""A left-to-right layered layout of a :class:`~console.graph.model.GraphModel` on a character grid.

The steps of a Sugiyama layout, the first ones done by grandalf:

1. Back edges (loops) are found by a depth-first walk from START in blueprint order; they are left out of
   the layering and drawn afterwards as lanes under the graph (:mod:`console.graph.routing`).
2. Each forward edge with a label (a condition, or ``else``) passes through a label item in a layer of its
   own, so that the label sits on the edge and widens the layer, as Graphviz does.
3. grandalf ranks the items into layers (the columns), adds a dummy item in each layer a long edge
   crosses, orders each layer to reduce crossings and computes positions within a layer (the rows).
4. Rows are snapped to whole characters; :mod:`console.graph.routing` then routes the edges in the gaps
   between columns.

The same model and sizes always give the same layout.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from grandalf.graphs import Edge, Vertex, graph_core
from grandalf.layouts import DummyVertex, SugiyamaLayout, VertexViewer
from rich.cells import cell_len

from console.graph.model import GraphEdge, GraphModel
from console.graph.routing import BackEdge, Item, ItemKey, Point, route

NODE_HEIGHT = 3  # top border, label line, bottom border; edges attach to the middle line
ROW_GAP = 1  # blank rows between items of one column
ORDERING_ROUNDS = 4.5  # grandalf's crossing-reduction sweeps (down and up), then one more down


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
        """The row at which edges enter (left side) and leave (right side) the box."""
        return self.y + self.height // 2


@dataclass(frozen=True)
class EdgeRoute:
    """An edge as an orthogonal polyline of grid points; the last point is the arrow's cell."""

    edge_id: str
    points: tuple[Point, ...]
    back: bool = False


@dataclass(frozen=True)
class EdgeLabel:
    """An edge label: ``text`` (possibly shortened with ``…``) written at (``x``, ``y``) on the line."""

    edge_id: str
    x: int
    y: int
    text: str


@dataclass(frozen=True)
class Layout:
    """A graph placed on a grid of ``width`` x ``height`` characters."""

    width: int
    height: int
    boxes: Mapping[str, NodeBox]
    routes: tuple[EdgeRoute, ...]
    labels: tuple[EdgeLabel, ...]


def compute_layout(model: GraphModel, node_widths: Mapping[str, int], edge_labels: Mapping[str, str]) -> Layout:
    """Lay ``model`` out left to right.

    ``node_widths`` gives each node's box width; ``edge_labels`` the text to write on an edge (edges that
    are absent get none). Returns a :class:`Layout`; raises ``KeyError`` if a node has no width.
    """
    forward, back = split_back_edges(model)
    items: dict[ItemKey, Item] = {}
    for node in model.nodes:
        items[("node", node.id)] = Item(("node", node.id), NODE_HEIGHT, node_widths[node.id])
    chains: dict[str, list[ItemKey]] = {}
    for edge in forward:
        chain: list[ItemKey] = [("node", edge.source)]
        text = edge_labels.get(edge.id)
        if text:
            items[("label", edge.id)] = Item(("label", edge.id), 1, cell_len(text) + 4)
            chain.append(("label", edge.id))
        chain.append(("node", edge.target))
        chains[edge.id] = chain
    link_paths = _rank_and_order(items, chains)
    paths = {edge_id: _expand(chain, link_paths) for edge_id, chain in chains.items()}
    _assign_rows(items)
    back_edges = [BackEdge(edge.id, ("node", edge.source), ("node", edge.target), edge_labels.get(edge.id))
                  for edge in back]
    routed = route(items, paths, back_edges)
    boxes = {key[1]: NodeBox(key[1], routed.x_of[key], item.top, item.width)
             for key, item in items.items() if key[0] == "node"}
    labels = [EdgeLabel(key[1], routed.x_of[key] + 1, item.port, edge_labels[key[1]])
              for key, item in items.items() if key[0] == "label"]
    labels += [EdgeLabel(edge_id, x, y, text) for edge_id, (x, y, text) in routed.lane_labels.items()]
    back_ids = {edge.id for edge in back}
    routes = [EdgeRoute(edge.id, routed.polylines[edge.id], edge.id in back_ids) for edge in model.edges]
    return Layout(width=routed.width, height=routed.height, boxes=boxes, routes=tuple(routes),
                  labels=tuple(sorted(labels, key=lambda label: (label.y, label.x))))


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


def _rank_and_order(items: dict[ItemKey, Item], chains: Mapping[str, list[ItemKey]]) -> dict[Link, list[ItemKey]]:
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
        sugiyama.xspace = ROW_GAP
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


def _assign_rows(items: dict[ItemKey, Item]) -> None:
    """Snap grandalf's positions to rows, keeping each column's order and ROW_GAP between items.

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
                free = item.top + item.height + ROW_GAP
        shift = offset - min(item.top for item in members)
        for item in members:
            item.top += shift
        offset = max(item.top + item.height for item in members) + ROW_GAP
