"""Zoom levels of the terminal drawing: what a node's box says and how tightly the layout is packed.

- :attr:`Zoom.FULL`: every node in a box with its label, wrapped to a width; conditions on the edges.
- :attr:`Zoom.SHORT`: tasks in boxes with their labels wrapped narrower and their state marker on the top
  border (``┌─ ● ───┐``); events and gateways as symbols; conditions wrapped narrower.
- :attr:`Zoom.COMPACT`: every node a symbol (``[●]`` a task, ``(✓)`` an event, ``<✓X>`` a gateway), no
  text on the edges, channels packed tight.

A symbol shows the node's state marker and, for a gateway, its X or +. What a kind looks like comes from
:func:`console.graph.style.kind_style`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from rich.cells import cell_len

from console.graph.canvas import fit, wrap
from console.graph.layout import Spacing
from console.graph.model import GraphNode, NodeState
from console.graph.style import STATE_MARKERS, kind_style
from engine.kinds import spec


class Zoom(StrEnum):
    """How much of each node the drawing shows, from the most to the least."""

    FULL = "full"
    SHORT = "short"
    COMPACT = "compact"

    @property
    def settings(self) -> ZoomSettings:
        return ZOOM_SETTINGS[self]

    def next(self) -> Zoom:
        """The next level in the cycle full -> short -> compact -> full."""
        order = list(Zoom)
        return order[(order.index(self) + 1) % len(order)]


@dataclass(frozen=True)
class ZoomSettings:
    """A zoom level's sizes: node labels wrapped to ``label_cells`` in at most ``label_lines`` lines, edge
    conditions wrapped to ``edge_label_lines`` lines of ``edge_label_cells`` (``None``: not written on the
    edges), and the packing."""

    description: str
    label_cells: int
    label_lines: int
    edge_label_cells: int | None
    edge_label_lines: int
    spacing: Spacing
    boxes_every_kind: bool  # else only the kinds whose style says boxed_when_short, the others as symbols
    symbols_only: bool = False
    badge_on_border: bool = False  # a box's state marker and token count on its top border, not in its text


ZOOM_SETTINGS: dict[Zoom, ZoomSettings] = {
    Zoom.FULL: ZoomSettings("full labels", 24, 3, 24, 1, Spacing(item_gap=1, track_step=2, arrow_run=1), True),
    Zoom.SHORT: ZoomSettings("short labels", 9, 3, 11, 2, Spacing(item_gap=1, track_step=2, arrow_run=0,
                                                                      label_spaces=1), False, badge_on_border=True),
    Zoom.COMPACT: ZoomSettings("symbols", 0, 0, None, 0, Spacing(item_gap=1, track_step=1, arrow_run=0,
                                                                   label_spaces=1), False, symbols_only=True),
}


@dataclass(frozen=True)
class NodeFace:
    """What a node shows at one zoom: ``lines`` of text in a box, or one line as a symbol (``boxed`` false);
    ``badge`` is written on a box's top border (``─ badge ─``)."""

    lines: tuple[str, ...]
    boxed: bool
    badge: str = ""

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in cells: a box adds a border and a space on each side of its text."""
        width = max(cell_len(line) for line in self.lines)
        if self.badge:
            width = max(width, cell_len(self.badge) + 4)
        return (width + 4, len(self.lines) + 2) if self.boxed else (width, 1)


def node_face(node: GraphNode, zoom: Zoom, with_state: bool) -> NodeFace:
    """The face of ``node`` at ``zoom``; with ``with_state``, its state marker and token counts.

    Raises :class:`~console.graph.style.UnknownNodeKind` for a kind without a drawing.
    """
    style = kind_style(node.kind)
    settings = zoom.settings
    marker = STATE_MARKERS[node.state] if with_state and node.state is not None else ""
    count = token_count(node) if with_state else ""
    boxed = not settings.symbols_only and (settings.boxes_every_kind or style.boxed_when_short)
    if not boxed:
        inner = f"{marker}{style.glyph}{count}" or " "
        return NodeFace((style.symbol[0] + inner + style.symbol[1],), False)
    label = fit(node.label, 200) or node.id
    badge = " ".join(part for part in (marker, count) if part) if settings.badge_on_border else ""
    parts = (style.glyph, label) if settings.badge_on_border else (marker, style.glyph, label, count)
    text = " ".join(part for part in parts if part)
    return NodeFace(tuple(wrap(text, settings.label_cells, settings.label_lines)), True, badge)


def token_count(node: GraphNode) -> str:
    """``1/2`` at a parallel join waiting for its branches, ``×3`` where several tokens rest, else ``""``."""
    if spec(node.kind).waits and node.state is NodeState.WAITING:
        return f"{node.tokens}/{node.incoming}"
    return f"×{node.tokens}" if node.tokens > 1 else ""
