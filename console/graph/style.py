"""How each node state and kind looks: markers, Rich styles and fill colours shared by every renderer."""

from __future__ import annotations

from console.graph.model import NodeState
from engine.blueprint import NodeKind

STATE_MARKERS: dict[NodeState, str] = {
    NodeState.ACTIVE: "●",
    NodeState.WAITING: "◐",
    NodeState.FAILED: "✖",
    NodeState.STUCK: "⊘",
    NodeState.VISITED: "✓",
    NodeState.NOT_REACHED: "○",
}

STATE_DESCRIPTIONS: dict[NodeState, str] = {
    NodeState.ACTIVE: "active token",
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

GATEWAY_GLYPHS: dict[NodeKind, str] = {
    NodeKind.EXCLUSIVE_SPLIT: "X",
    NodeKind.EXCLUSIVE_JOIN: "X",
    NodeKind.PARALLEL_SPLIT: "+",
    NodeKind.PARALLEL_JOIN: "+",
}


def node_caption(label: str, kind: NodeKind) -> str:
    """A node's label as the exporters write it: a gateway's label follows its X or + glyph."""
    glyph = GATEWAY_GLYPHS.get(kind)
    return f"{glyph} {label}" if glyph else label
