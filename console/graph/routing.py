"""Orthogonal edge routing on a character grid, in the gaps between the columns of a layered layout.

Every edge is cut into *pieces*, one per gap it crosses: from an item in column ``g`` (a node, a label or a
long edge's dummy) to an item in column ``g + 1``. A piece leaves its left item on the item's port row,
runs right to a vertical *channel* in the gap, along the channel to the right item's row, and on into it.

Pieces share a channel when they fan out of one item or fan into one, so a split's branches and a join's
arrivals are drawn as one tree. Channels whose rows overlap get separate tracks (columns of the gap); a
channel that leaves a row must lie left of a channel that arrives on that row, or the two lines would run
into each other. Back edges (loops) leave their source like any edge, run down to a lane of their own
under the graph, left along it, and up into their target from the left.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from console.graph.canvas import fit

ItemKey = tuple[Any, ...]  # ("node", id) | ("label", edge_id) | ("dummy", source, target, rank) | ("lane", id)
Point = tuple[int, int]
LANE_GAP = 1  # blank rows between the lowest item and the first lane


@dataclass
class Item:
    """Something placed in a column: a node's box, an edge label, or one column's piece of a long edge."""

    key: ItemKey
    height: int
    width: int
    rank: int = 0
    center: float = 0.0
    component: int = 0
    top: int = 0

    @property
    def port(self) -> int:
        """The row edges attach to."""
        return self.top + self.height // 2

    @property
    def is_node(self) -> bool:
        return self.key[0] == "node"


@dataclass(frozen=True)
class BackEdge:
    """An edge drawn as a loop under the graph, from ``source`` back to ``target``."""

    id: str
    source: ItemKey
    target: ItemKey
    label: str | None = None


@dataclass(frozen=True)
class Piece:
    """The part of an edge inside one gap: from the left item's row to the right item's row."""

    left: ItemKey
    right: ItemKey
    y_left: int
    y_right: int


@dataclass
class Routed:
    """The routing result: the grid size, each item's column x, each edge's polyline, lane labels."""

    width: int
    height: int
    x_of: dict[ItemKey, int] = field(default_factory=dict)
    column_width: list[int] = field(default_factory=list)
    polylines: dict[str, tuple[Point, ...]] = field(default_factory=dict)
    lane_labels: dict[str, tuple[int, int, str]] = field(default_factory=dict)


def route(items: Mapping[ItemKey, Item], paths: Mapping[str, list[ItemKey]], back_edges: list[BackEdge],
          track_step: int = 2, arrow_run: int = 1, lane_labels: bool = True) -> Routed:
    """Place the columns and route every edge; ``paths`` gives each forward edge's items, dummies included.

    Channels of a gap are ``track_step`` cells apart, with ``arrow_run`` line cells after the last one
    before the arrow. Back edges' labels are written on their lanes when ``lane_labels``. Returns a
    :class:`Routed` whose polylines start right of the source box and end on the arrow cell left of the
    target box.
    """
    ranks = max((item.rank for item in items.values()), default=-1) + 1
    column_width = [1] * ranks
    for item in items.values():
        column_width[item.rank] = max(column_width[item.rank], item.width)
    bottom = max((item.top + item.height for item in items.values()), default=0)
    spans = {edge.id: items[edge.source].rank - items[edge.target].rank for edge in back_edges}
    lanes = {edge.id: bottom + LANE_GAP + number
             for number, edge in enumerate(sorted(back_edges, key=lambda edge: spans[edge.id]))}
    gaps: dict[int, list[Piece]] = {gap: [] for gap in range(-1, ranks)}
    for path in paths.values():
        for left, right in zip(path, path[1:], strict=False):
            _add(gaps[items[left].rank], Piece(left, right, items[left].port, items[right].port))
    for edge in back_edges:
        source, target, lane = items[edge.source], items[edge.target], lanes[edge.id]
        _add(gaps[source.rank], Piece(edge.source, ("lane", edge.id), source.port, lane))
        _add(gaps[target.rank - 1], Piece(("lane", edge.id), edge.target, lane, target.port))
    tracks: dict[tuple[ItemKey, ItemKey], Track | None] = {}
    gap_width: dict[int, int] = {}
    for gap, pieces in gaps.items():
        piece_tracks, count = assign_tracks(pieces)
        tracks.update({(piece.left, piece.right): track for piece, track in zip(pieces, piece_tracks, strict=True)})
        gap_width[gap] = gap_cells(count, track_step, arrow_run) if pieces else 0
    column_x, gap_x = [], {-1: 0}
    x = gap_width[-1]
    for rank in range(ranks):
        column_x.append(x)
        gap_x[rank] = x + column_width[rank]
        x = gap_x[rank] + gap_width[rank]
    routed = Routed(width=x, height=max([bottom, *(lane + 1 for lane in lanes.values())]))
    routed.x_of = {key: column_x[item.rank] for key, item in items.items()}
    routed.column_width = column_width
    geometry = _Geometry(items, column_x, column_width, gap_x, tracks, track_step)
    for edge_id, path in paths.items():
        routed.polylines[edge_id] = geometry.forward(path)
    for edge in back_edges:
        routed.polylines[edge.id] = geometry.back(edge, lanes[edge.id])
        if edge.label and lane_labels:
            placed = _lane_label(edge.label, routed.polylines[edge.id])
            if placed:
                routed.lane_labels[edge.id] = placed
    return routed


def gap_cells(tracks: int, track_step: int, arrow_run: int) -> int:
    """The width of a gap with ``tracks`` channels: the cell after the column, the channels, the line
    run and the arrow's cell."""
    channels = track_step * (tracks - 1) + 1 if tracks else 0
    return 1 + channels + arrow_run + 1


def _add(pieces: list[Piece], piece: Piece) -> None:
    if all((known.left, known.right) != (piece.left, piece.right) for known in pieces):
        pieces.append(piece)


@dataclass(frozen=True)
class Track:
    """How a piece crosses its gap: along the channel on ``track`` (0 = leftmost).

    With a dogleg, the piece leaves the channel at ``jog_row`` for ``jog_track`` and reaches its row from
    there; this avoids running into a line that leaves the row on the left when the tracks could not be
    ordered (two edges crossing between rows that are level on both sides).
    """

    track: int
    jog_row: int | None = None
    jog_track: int | None = None


def assign_tracks(pieces: list[Piece]) -> tuple[list[Track | None], int]:
    """Give each piece of one gap a :class:`Track`, or ``None`` for a straight line that needs none.

    Returns the tracks in the order of ``pieces`` and the number of tracks used.
    """
    channel_of, members = _channels(pieces)
    spans = {channel: (min(min(p.y_left, p.y_right) for p in group), max(max(p.y_left, p.y_right) for p in group))
             for channel, group in members.items()}
    needing = [channel for channel, (low, high) in spans.items() if low != high]
    before = _ordering_constraints(pieces, channel_of, set(needing))
    needing.sort(key=lambda channel: (spans[channel], list(members).index(channel)))
    track_of: dict[ItemKey, int] = {}
    occupied: list[list[tuple[int, int]]] = []
    while needing:
        channel = next((c for c in needing if before[c] <= track_of.keys()), needing[0])  # needing[0]: a cycle
        needing.remove(channel)
        track = max((track_of[c] + 1 for c in before[channel] if c in track_of), default=0)
        while track < len(occupied) and any(_overlap(spans[channel], span) for span in occupied[track]):
            track += 1
        while len(occupied) <= track:
            occupied.append([])
        occupied[track].append(spans[channel])
        track_of[channel] = track
    doglegs = _doglegs(pieces, channel_of, track_of, spans, len(occupied))
    tracks: list[Track | None] = []
    for piece, channel in zip(pieces, channel_of, strict=True):
        if channel not in track_of:
            tracks.append(None)
            continue
        jog_row, jog_track = doglegs.get((channel, piece.y_right), (None, None))
        tracks.append(Track(track_of[channel], jog_row, jog_track))
    return tracks, len(occupied) + len(doglegs)


def _channels(pieces: list[Piece]) -> tuple[list[ItemKey], dict[ItemKey, list[Piece]]]:
    """Each piece's channel: shared by the pieces leaving one item, else by those entering one item."""
    out_count = Counter(piece.left for piece in pieces)
    in_count = Counter(piece.right for piece in pieces)
    channel_of: list[ItemKey] = []
    members: dict[ItemKey, list[Piece]] = {}
    for number, piece in enumerate(pieces):
        if out_count[piece.left] > 1:
            channel = ("out", piece.left)
        elif in_count[piece.right] > 1:
            channel = ("in", piece.right)
        else:
            channel = ("piece", number)
        channel_of.append(channel)
        members.setdefault(channel, []).append(piece)
    return channel_of, members


def _doglegs(pieces: list[Piece], channel_of: list[ItemKey], track_of: Mapping[ItemKey, int],
             spans: Mapping[ItemKey, tuple[int, int]], first_free_track: int,
             ) -> dict[tuple[ItemKey, int], tuple[int, int]]:
    """For each (channel, row) where the channel arrives left of a channel leaving that row: a jog row
    (free of other lines, within the channel's rows) and a track of its own right of all others."""
    leaving: dict[int, set[ItemKey]] = {}
    for piece, channel in zip(pieces, channel_of, strict=True):
        if piece.left[0] != "lane" and channel in track_of:
            leaving.setdefault(piece.y_left, set()).add(channel)
    busy = {piece.y_left for piece in pieces} | {piece.y_right for piece in pieces}
    doglegs: dict[tuple[ItemKey, int], tuple[int, int]] = {}
    for piece, channel in zip(pieces, channel_of, strict=True):
        row = piece.y_right
        if channel not in track_of or piece.right[0] == "lane" or (channel, row) in doglegs:
            continue
        if not any(track_of[other] > track_of[channel] for other in leaving.get(row, set()) - {channel}):
            continue
        low, high = spans[channel]
        free = sorted((r for r in range(low, high + 1) if r not in busy), key=lambda r: (abs(r - row), r))
        if free:
            doglegs[(channel, row)] = (free[0], first_free_track + len(doglegs))
            busy.add(free[0])
    return doglegs


def _ordering_constraints(pieces: list[Piece], channel_of: list[ItemKey], needing: set[ItemKey],
                          ) -> dict[ItemKey, set[ItemKey]]:
    """For each channel, the channels that must lie left of it.

    On a row where one item's line leaves to a channel and another's arrives from a different channel, the
    leaving channel goes left, so that the two horizontal lines do not overlap.
    """
    leaving: dict[int, set[ItemKey]] = {}
    arriving: dict[int, set[ItemKey]] = {}
    for piece, channel in zip(pieces, channel_of, strict=True):
        if piece.left[0] != "lane":
            leaving.setdefault(piece.y_left, set()).add(channel)
        if piece.right[0] != "lane":
            arriving.setdefault(piece.y_right, set()).add(channel)
    before: dict[ItemKey, set[ItemKey]] = {channel: set() for channel in needing}
    for row, channels in leaving.items():
        for later in arriving.get(row, set()) & needing:
            before[later] |= (channels & needing) - {later}
    return before


def _overlap(first: tuple[int, int], second: tuple[int, int]) -> bool:
    return first[0] <= second[1] and second[0] <= first[1]


class _Geometry:
    """Turns item sequences into polylines once columns, gaps and tracks are placed."""

    def __init__(self, items: Mapping[ItemKey, Item], column_x: list[int], column_width: list[int],
                 gap_x: Mapping[int, int], tracks: Mapping[tuple[ItemKey, ItemKey], Track | None],
                 track_step: int) -> None:
        self.items, self.column_x, self.column_width = items, column_x, column_width
        self.gap_x, self.tracks, self.track_step = gap_x, tracks, track_step

    def exit_x(self, key: ItemKey) -> int:
        """The first cell right of an item: after a node's box, or after the column a line crosses."""
        item = self.items[key]
        return self.column_x[item.rank] + (item.width if item.is_node else self.column_width[item.rank])

    def entry_x(self, key: ItemKey) -> int:
        """Where a line into an item ends: the arrow cell before a node, or the column's first cell."""
        item = self.items[key]
        return self.column_x[item.rank] - (1 if item.is_node else 0)

    def crossing(self, gap: int, left: ItemKey, right: ItemKey, y_left: int, y_right: int) -> list[Point]:
        """The turning points of a piece inside its gap: none for a straight line."""
        track = self.tracks[(left, right)]
        if track is None:
            return []
        x = self.gap_x[gap] + 1 + self.track_step * track.track
        if track.jog_row is None or track.jog_track is None:
            return [(x, y_left), (x, y_right)]
        jog_x = self.gap_x[gap] + 1 + self.track_step * track.jog_track
        return [(x, y_left), (x, track.jog_row), (jog_x, track.jog_row), (jog_x, y_right)]

    def forward(self, path: list[ItemKey]) -> tuple[Point, ...]:
        """The polyline of a forward edge through ``path``'s items."""
        points = [(self.exit_x(path[0]), self.items[path[0]].port)]
        for left, right in zip(path, path[1:], strict=False):
            y_left, y_right = self.items[left].port, self.items[right].port
            points += self.crossing(self.items[left].rank, left, right, y_left, y_right)
            points.append((self.entry_x(right), y_right))
            if right != path[-1]:
                points.append((self.exit_x(right), y_right))
        return tuple(points)

    def back(self, edge: BackEdge, lane: int) -> tuple[Point, ...]:
        """The polyline of a back edge: out of the source, down to its lane, left, up into the target."""
        source, target = self.items[edge.source], self.items[edge.target]
        lane_key = ("lane", edge.id)
        return (
            (self.exit_x(edge.source), source.port),
            *self.crossing(source.rank, edge.source, lane_key, source.port, lane),
            *self.crossing(target.rank - 1, lane_key, edge.target, lane, target.port),
            (self.entry_x(edge.target), target.port),
        )


def _lane_label(text: str, points: tuple[Point, ...]) -> tuple[int, int, str] | None:
    """Where a back edge's label goes on its lane, shortened to fit; ``None`` when not even a letter fits."""
    left_x, lane = points[3]
    right_x = points[2][0]
    room = right_x - left_x - 5  # between the two corners: a line cell and a space on each side
    if room < 1:
        return None
    return left_x + 2, lane, fit(text, room)
