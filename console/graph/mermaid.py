"""Export the token graph as a Mermaid flowchart (``flowchart LR``), node states as classes.

Mermaid ids allow few characters and ``end`` is a keyword, so every node gets an id of its own:
``n_`` followed by the blueprint id with other characters replaced by ``_`` (and a number when two ids
would collide). Labels are quoted, with Mermaid's entity codes for the characters that would end them,
and control and bidi characters shown as escapes (:func:`engine.text.visible`): the export is printed on
terminals.
"""

from __future__ import annotations

import re

from console.graph.model import GraphModel, NodeState
from console.graph.style import NOT_TAKEN_COLOUR, STATE_FILLS, TAKEN_COLOUR, kind_style, node_caption
from engine.text import visible

_ENTITIES = {"#": "#35;", '"': "#quot;", "<": "#lt;", ">": "#gt;", "&": "#amp;", "|": "#124;", "`": "#96;"}


def render_mermaid(model: GraphModel) -> str:
    """The graph as Mermaid flowchart source, left to right.

    Node states become ``classDef`` fills, taken and untaken edges ``linkStyle`` colours; conditions (and
    ``else`` for a split's default edge) are edge labels.
    """
    ids = mermaid_ids(model)
    lines = [f"%% {mermaid_text(model.title)} ({mermaid_text(model.workflow_id)} v{model.version})"]
    if model.instance_id:
        lines.append(f"%% instance {mermaid_text(model.instance_id)}: {model.instance_status}")
    lines.append("flowchart LR")
    for node in model.nodes:
        opening, closing = kind_style(node.kind).mermaid
        lines.append(f"    {ids[node.id]}{opening}{mermaid_text(node_caption(node.label, node.kind))}{closing}")
    for edge in model.edges:
        label = f'|"{mermaid_text(edge.label)}"|' if edge.label else ""
        lines.append(f"    {ids[edge.source]} -->{label} {ids[edge.target]}")
    if model.has_instance:
        lines += _state_classes(model, ids)
        lines += _link_styles(model)
    return "\n".join(lines) + "\n"


def mermaid_ids(model: GraphModel) -> dict[str, str]:
    """A Mermaid-safe, unique id for each node id, in node order."""
    ids: dict[str, str] = {}
    used: set[str] = set()
    for node in model.nodes:
        base = "n_" + re.sub(r"[^A-Za-z0-9_]", "_", node.id)
        candidate, number = base, 2
        while candidate in used:
            candidate, number = f"{base}_{number}", number + 1
        ids[node.id] = candidate
        used.add(candidate)
    return ids


def mermaid_text(text: str) -> str:
    """``text`` made safe inside a quoted Mermaid label: entity codes, no line breaks, control and bidi
    characters as visible escapes."""
    text = visible(" ".join(text.split()))
    return "".join(_ENTITIES.get(char, char) for char in text)


def _class_name(state: NodeState) -> str:
    return state.value.lower().replace("_", "")


def _state_classes(model: GraphModel, ids: dict[str, str]) -> list[str]:
    lines = []
    for state in NodeState:
        members = [ids[node.id] for node in model.nodes if node.state is state]
        if members:
            fill, colour = STATE_FILLS[state]
            lines.append(f"    classDef {_class_name(state)} fill:{fill},color:{colour},stroke:#424242")
            lines.append(f"    class {','.join(members)} {_class_name(state)}")
    return lines


def _link_styles(model: GraphModel) -> list[str]:
    lines = []
    for taken, style in ((True, f"stroke:{TAKEN_COLOUR},stroke-width:3px"), (False, f"stroke:{NOT_TAKEN_COLOUR}")):
        numbers = [str(number) for number, edge in enumerate(model.edges) if edge.taken is taken]
        if numbers:
            lines.append(f"    linkStyle {','.join(numbers)} {style}")
    return lines
