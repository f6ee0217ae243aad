"""How each node state and kind looks: markers, Rich styles and fill colours shared by every renderer."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from console.graph.model import NodeState
from engine.blueprint import NodeKind
from engine.kinds import Shape, UnknownNodeKindError, spec

STATE_MARKERS: dict[NodeState, str] = {
    NodeState.ACTIVE: "●",
    NodeState.WAITING: "◐",
    NodeState.FAILED: "✖",
    NodeState.STUCK: "⊘",
    NodeState.VISITED: "✓",
    NodeState.NOT_REACHED: "○",
}

STATE_DESCRIPTIONS: dict[NodeState, str] = {
    NodeState.ACTIVE: "active",
    NodeState.WAITING: "waiting at join",
    NodeState.FAILED: "failed",
    NodeState.STUCK: "stuck",
    NodeState.VISITED: "visited",
    NodeState.NOT_REACHED: "not reached",
}

# Rich styles for the terminal.
STATE_STYLES: dict[NodeState, str] = {
    NodeState.ACTIVE: "bold green",
    NodeState.WAITING: "bold yellow",
    NodeState.FAILED: "bold red",
    NodeState.STUCK: "bold magenta",
    NodeState.VISITED: "cyan",
    NodeState.NOT_REACHED: "grey50",
}
NODE_STYLE = "bold"  # a node of a graph drawn without an instance
EDGE_STYLE = "default"  # an edge of a graph drawn without an instance
EDGE_TAKEN_STYLE = "cyan"
EDGE_NOT_TAKEN_STYLE = "grey42"
LABEL_STYLE = "italic yellow"

# Fill and text colours for the Mermaid and DOT exporters.
STATE_FILLS: dict[NodeState, tuple[str, str]] = {
    NodeState.ACTIVE: ("#2e7d32", "#ffffff"),
    NodeState.WAITING: ("#f9a825", "#000000"),
    NodeState.FAILED: ("#c62828", "#ffffff"),
    NodeState.STUCK: ("#6a1b9a", "#ffffff"),
    NodeState.VISITED: ("#bbdefb", "#000000"),
    NodeState.NOT_REACHED: ("#eeeeee", "#757575"),
}
TAKEN_COLOUR = "#1565c0"
NOT_TAKEN_COLOUR = "#9e9e9e"

# -- per node kind: the one lookup ---------------------------------------------------------------------
# Every renderer asks kind_style() how a kind of node is drawn; nothing else in console/graph keys on a
# NodeKind. What a kind looks like is its entry in the engine's node-kind table (engine.kinds.KINDS): here
# only the terminal's characters for each outline.

# (top-left, top, top-right, left, right, bottom-left, bottom-right) of a box; left and right are the
# sides on the row edges attach to, other rows of a box taller than one text line get "│".
ROUND_BOX = ("╭", "─", "╮", "(", ")", "╰", "╯")
SQUARE_BOX = ("┌", "─", "┐", "│", "│", "└", "┘")
DIAMOND_BOX = ("╱", "─", "╲", "◇", "◇", "╲", "╱")
BOXES = {Shape.ROUND: ROUND_BOX, Shape.SQUARE: SQUARE_BOX, Shape.DIAMOND: DIAMOND_BOX}


@dataclass(frozen=True)
class KindStyle:
    """How one kind of node is drawn by every renderer: its engine entry's drawing, with the box's characters.

    ``box``: the terminal box's characters; ``symbol``: the brackets of its compact symbol (``[●]``);
    ``glyph``: what a gateway shows before its label (``X``, ``+``); ``boxed_when_short``: whether the
    short-labels zoom still draws a box with the label (else the compact symbol); ``legend``: its name in
    the legend and ``sample`` how the legend shows its box; ``mermaid``: the Mermaid shape's opening and
    closing; ``dot``: the DOT shape attributes.
    """

    description: str
    box: tuple[str, str, str, str, str, str, str]
    symbol: tuple[str, str]
    legend: str
    sample: str
    mermaid: tuple[str, str]
    dot: str
    glyph: str = ""
    boxed_when_short: bool = False


class UnknownNodeKind(ValueError):
    """A node kind the graph does not know how to draw."""


@functools.cache
def kind_style(kind: object) -> KindStyle:
    """How nodes of ``kind`` are drawn; raises :class:`UnknownNodeKind` for a kind without an entry in the
    engine's node-kind table (never a default shape: a new kind is given its drawing there)."""
    try:
        entry = spec(kind)
    except UnknownNodeKindError as error:
        raise UnknownNodeKind(f"no drawing for node kind {kind!r}: {error}") from None
    drawing = entry.drawing
    return KindStyle(entry.description, BOXES[drawing.shape], drawing.symbol, drawing.legend, drawing.sample,
                     drawing.mermaid, drawing.dot, glyph=drawing.glyph, boxed_when_short=drawing.boxed_when_short)


def node_caption(label: str, kind: NodeKind) -> str:
    """A node's label as the exporters write it: a gateway's label follows its X or + glyph."""
    glyph = kind_style(kind).glyph
    return f"{glyph} {label}" if glyph else label
