"""The token graph: a blueprint laid out left to right, with the state of an instance on its nodes.

Extract, then render: :func:`build_graph` turns a compiled blueprint (and optionally an instance) into a
render-neutral :class:`GraphModel`; the renderers draw it for the terminal (:func:`render_text`,
:func:`render_rich`, :func:`legend_rich`) or export it (:func:`render_mermaid`, :func:`render_dot`).
"""

from console.graph.dot import render_dot
from console.graph.mermaid import render_mermaid
from console.graph.model import GraphEdge, GraphModel, GraphNode, NodeState, build_graph
from console.graph.text import legend_rich, render_rich, render_text

__all__ = [
    "GraphEdge", "GraphModel", "GraphNode", "NodeState", "build_graph", "legend_rich", "render_dot",
    "render_mermaid", "render_rich", "render_text",
]
