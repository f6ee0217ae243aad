"""One line about one node of a graph: what the console shows for the selected node, whatever the zoom.

At the compact zoom a node is only a symbol, and conditions are never written on its edges there: this
line gives its label, kind and id, its state, and where its outgoing edges lead and on what condition.
"""

from __future__ import annotations

from rich.text import Text

from console.graph.canvas import fit
from console.graph.model import GraphModel
from console.graph.style import LABEL_STYLE, STATE_DESCRIPTIONS, STATE_MARKERS, STATE_STYLES, kind_style
from console.graph.zoom import token_count

TEXT_CELLS = 200  # what one piece of blueprint text may take (the line is cut to the pane anyway)


def describe_node(model: GraphModel, node_id: str, hint: str = "") -> Text:
    """``▸ label  kind id  ● state  → target if condition; → other otherwise`` and ``hint``, one line.

    Blueprint text is cleaned of control characters and never read as markup. Raises ``KeyError`` for an
    unknown node.
    """
    node = model.node(node_id)
    line = Text(no_wrap=True, overflow="ellipsis")
    line.append("▸ ")
    line.append(fit(node.label, TEXT_CELLS) or node.id, style="bold")
    line.append(f"  {kind_style(node.kind).description} ", style="dim")
    line.append(fit(node.id, TEXT_CELLS), style="dim")
    if model.has_instance and node.state is not None:
        line.append(f"  {STATE_MARKERS[node.state]} {STATE_DESCRIPTIONS[node.state]}", style=STATE_STYLES[node.state])
        count = token_count(node)
        if count:
            line.append(f" {count}", style=STATE_STYLES[node.state])
    leaving = [edge for edge in model.edges if edge.source == node_id and edge.label]
    for number, edge in enumerate(leaving):
        line.append("  → " if number == 0 else "; → ")
        line.append(fit(model.node(edge.target).label, TEXT_CELLS))
        if edge.condition:
            line.append(" if ", style="dim")
            line.append(fit(edge.condition, TEXT_CELLS), style=LABEL_STYLE)
        else:
            line.append(" otherwise", style=LABEL_STYLE)
    if hint:
        line.append(hint, style="dim")
    return line
