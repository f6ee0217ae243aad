"""Export the token graph as Graphviz DOT (``rankdir=LR``), node states as fill colours.

Every id and label is a double-quoted DOT string, with backslashes and quotes escaped, so blueprint ids
may hold any character; control and bidi characters are shown as escapes (:func:`engine.text.visible`),
since the export is printed on terminals.
"""

from __future__ import annotations

from console.graph.model import GraphModel
from console.graph.style import NOT_TAKEN_COLOUR, STATE_FILLS, TAKEN_COLOUR, kind_style, node_caption
from engine.text import visible


def render_dot(model: GraphModel) -> str:
    """The graph as a DOT ``digraph``, left to right.

    With an instance, nodes are filled by state and taken edges drawn bold; conditions (and ``else`` for
    a split's default edge) are edge labels.
    """
    title = f"{model.title} ({model.workflow_id} v{model.version})"
    if model.instance_id:
        title += f" - instance {model.instance_id}: {model.instance_status}"
    lines = [
        f"digraph {dot_string(model.workflow_id)} {{",
        "    rankdir=LR;",
        f"    graph [label={dot_string(title)}, labelloc=t, fontname=\"Helvetica\"];",
        '    node [fontname="Helvetica", style=filled, fillcolor="#ffffff"];',
        '    edge [fontname="Helvetica", fontsize=10];',
    ]
    for node in model.nodes:
        attributes = [f"label={dot_string(node_caption(node.label, node.kind))}",
                      kind_style(node.kind).dot]
        if model.has_instance and node.state is not None:
            fill, colour = STATE_FILLS[node.state]
            attributes += [f"fillcolor={dot_string(fill)}", f"fontcolor={dot_string(colour)}",
                           f"tooltip={dot_string(node.state.value)}"]
        lines.append(f"    {dot_string(node.id)} [{', '.join(attributes)}];")
    for edge in model.edges:
        attributes = [f"id={dot_string(edge.id)}"]
        if edge.label:
            attributes.append(f"label={dot_string(edge.label)}")
        if model.has_instance:
            attributes += ([f"color={dot_string(TAKEN_COLOUR)}", "penwidth=2"] if edge.taken
                           else [f"color={dot_string(NOT_TAKEN_COLOUR)}", "style=dashed"])
        lines.append(f"    {dot_string(edge.source)} -> {dot_string(edge.target)} [{', '.join(attributes)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def dot_string(text: str) -> str:
    """``text`` as a double-quoted DOT string: backslashes and quotes escaped, line breaks as ``\\n``,
    other control and bidi characters as visible escapes (``\\x1b``)."""
    lines = visible(text.replace("\r\n", "\n").replace("\r", "\n"), multiline=True)
    escaped = lines.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\n", "\\n") + '"'
