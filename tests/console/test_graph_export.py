"""The Mermaid and DOT exporters of the token graph: well-formed, every node present, text escaped."""

from __future__ import annotations

import re

import blueprints as bps
import pytest

from console.graph import NodeState, build_graph, render_dot, render_mermaid
from console.graph.mermaid import mermaid_ids
from engine import WorkflowManager, compile_blueprint

AWKWARD_NAME = 'Pay <now> & "then" #1 | done\\'
AWKWARD_CONDITION = 'note == "a|b" && amount > 5'


def awkward_blueprint() -> dict:
    """Ids Mermaid cannot take as they are (``end``, spaces, dashes, colliding forms) and labels with quotes."""
    return bps.blueprint(
        "awkward",
        [bps.start(), {**bps.task("a b"), "name": AWKWARD_NAME}, bps.task("a-b"), bps.task("a_b"),
         bps.xsplit("graph"), bps.task("node"), bps.end()],
        [bps.edge("e1", "start", "a b"), bps.edge("e2", "a b", "a-b"), bps.edge("e3", "a-b", "a_b"),
         bps.edge("e4", "a_b", "graph"), bps.edge("e5", "graph", "node", AWKWARD_CONDITION),
         bps.edge("e6", "graph", "end"), bps.edge("e7", "node", "end")],
    )


@pytest.fixture
def running(manager: WorkflowManager):
    """An instance of :func:`awkward_blueprint` at ``a-b``: start and ``a b`` visited, the rest not reached."""
    manager.add_workflow(awkward_blueprint())
    instance_id = manager.start_workflow("awkward", {})
    execution = next(e.id for e in manager.get_status(instance_id).executions if e.status == "ACTIVE")
    manager.task_done(execution, {})
    instance = manager.get_status(instance_id)
    return build_graph(manager.get_workflow("awkward", instance.version), instance)


# -- Mermaid --------------------------------------------------------------------------------------

NODE_LINE = re.compile(r'^    (n_\w+)(\(\["|\(\("|\["|\{")([^"]*)("\]\)|"\)\)|"\]|"\})$')
EDGE_LINE = re.compile(r'^    (n_\w+) -->(?:\|"([^"]*)"\|)? (n_\w+)$')
CLASS_DEF = re.compile(r"^    classDef (\w+) fill:#[0-9a-f]{6},color:#[0-9a-f]{6},stroke:#[0-9a-f]{6}$")
CLASS_LINE = re.compile(r"^    class (n_\w+(?:,n_\w+)*) (\w+)$")
LINK_STYLE = re.compile(r"^    linkStyle (\d+(?:,\d+)*) stroke:#[0-9a-f]{6}(?:,stroke-width:\dpx)?$")
SHAPE_PAIRS = {'(["': '"])', '(("': '"))', '["': '"]', '{"': '"}'}


def parse_mermaid(text: str) -> dict:
    """Check every line of a flowchart against the few forms the exporter writes; return what was found."""
    lines = [line for line in text.splitlines() if not line.startswith("%%")]
    assert lines[0] == "flowchart LR"
    found: dict = {"nodes": {}, "edges": [], "classes": {}, "class_defs": set(), "link_styles": []}
    for line in lines[1:]:
        if match := NODE_LINE.match(line):
            node_id, opening, label, closing = match.groups()
            assert SHAPE_PAIRS[opening] == closing, line
            assert node_id not in found["nodes"], f"node {node_id} declared twice"
            found["nodes"][node_id] = (opening, label)
        elif match := EDGE_LINE.match(line):
            found["edges"].append(match.groups())
        elif match := CLASS_DEF.match(line):
            found["class_defs"].add(match.group(1))
        elif match := CLASS_LINE.match(line):
            for node_id in match.group(1).split(","):
                found["classes"][node_id] = match.group(2)
        elif match := LINK_STYLE.match(line):
            found["link_styles"].append([int(number) for number in match.group(1).split(",")])
        else:
            raise AssertionError(f"unexpected Mermaid line: {line!r}")
    for source, _, target in found["edges"]:
        assert source in found["nodes"] and target in found["nodes"]
    assert set(found["classes"].values()) <= found["class_defs"]
    return found


def test_mermaid_declares_every_node_with_a_safe_unique_id() -> None:
    model = build_graph(compile_blueprint(awkward_blueprint()))
    ids = mermaid_ids(model)
    assert ids == {"start": "n_start", "a b": "n_a_b", "a-b": "n_a_b_2", "a_b": "n_a_b_3", "graph": "n_graph",
                   "node": "n_node", "end": "n_end"}
    found = parse_mermaid(render_mermaid(model))
    assert set(found["nodes"]) == set(ids.values())
    assert len(found["edges"]) == len(model.edges)
    assert found["nodes"]["n_end"][0] == '(("' and found["nodes"]["n_start"][0] == '(["'
    assert found["nodes"]["n_graph"] == ('{"', "X graph") and found["nodes"]["n_node"][0] == '["'


def test_mermaid_escapes_quotes_and_markup_in_labels() -> None:
    found = parse_mermaid(render_mermaid(build_graph(compile_blueprint(awkward_blueprint()))))
    assert found["nodes"]["n_a_b"][1] == "Pay #lt;now#gt; #amp; #quot;then#quot; #35;1 #124; done\\"
    labels = {(source, target): label for source, label, target in found["edges"]}
    assert labels[("n_graph", "n_node")] == "note == #quot;a#124;b#quot; #amp;#amp; amount #gt; 5"
    assert labels[("n_graph", "n_end")] == "else"
    assert labels[("n_start", "n_a_b")] is None


def test_mermaid_colours_states_and_taken_edges(running) -> None:
    found = parse_mermaid(render_mermaid(running))
    assert found["classes"]["n_a_b_2"] == "active"
    assert found["classes"]["n_a_b"] == "visited" and found["classes"]["n_start"] == "visited"
    assert found["classes"]["n_end"] == "notreached"
    taken = [number for number, edge in enumerate(running.edges) if edge.taken]
    assert taken == [0, 1]
    assert found["link_styles"] == [taken, [2, 3, 4, 5, 6]]


def test_mermaid_of_a_blueprint_has_no_state_styling() -> None:
    found = parse_mermaid(render_mermaid(build_graph(compile_blueprint(awkward_blueprint()))))
    assert not found["classes"] and not found["link_styles"]


# -- DOT ------------------------------------------------------------------------------------------

DOT_TOKEN = re.compile(r'\s+|"(?:[^"\\]|\\.)*"|->|[{}\[\];,=]|[A-Za-z_][A-Za-z0-9_]*|-?\d+(?:\.\d+)?')


def dot_tokens(text: str) -> list[str]:
    """DOT tokens without whitespace; fails on anything that is not a token (e.g. an unterminated string)."""
    tokens, position = [], 0
    while position < len(text):
        match = DOT_TOKEN.match(text, position)
        assert match, f"not DOT at {position}: {text[position:position + 30]!r}"
        if not match.group().isspace():
            tokens.append(match.group())
        position = match.end()
    return tokens


def unquote(token: str) -> str:
    assert token.startswith('"') and token.endswith('"')
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), token[1:-1])


def parse_dot(text: str) -> dict:
    """Check a digraph's structure (balanced braces and brackets, statements ending in ``;``) and return its
    nodes and edges with their attributes."""
    tokens = dot_tokens(text)
    assert tokens[0] == "digraph" and tokens[2] == "{" and tokens[-1] == "}"
    depth = {"{": 0, "[": 0}
    for token in tokens:
        if token in "{[":
            depth[token] += 1
        elif token in "}]":
            depth["{" if token == "}" else "["] -= 1
            assert min(depth.values()) >= 0
    assert depth == {"{": 0, "[": 0}
    statements, current = [], []
    for token in tokens[3:-1]:
        if token == ";":
            statements.append(current)
            current = []
        else:
            current.append(token)
    assert not current, f"statement without ';': {current}"
    nodes, edges = {}, []
    for statement in statements:
        attributes = {}
        if "[" in statement:
            body = statement[statement.index("[") + 1:-1]
            for pair in " ".join(body).split(" , "):
                key, _, value = pair.partition(" = ")
                attributes[key] = unquote(value) if value.startswith('"') else value
        if len(statement) > 2 and statement[1] == "->":
            edges.append((unquote(statement[0]), unquote(statement[2]), attributes))
        elif statement[0].startswith('"'):
            nodes[unquote(statement[0])] = attributes
    return {"name": unquote(tokens[1]), "nodes": nodes, "edges": edges}


def test_dot_is_well_formed_with_every_node_and_escaped_labels() -> None:
    model = build_graph(compile_blueprint(awkward_blueprint()))
    text = render_dot(model)
    assert "rankdir=LR;" in text
    found = parse_dot(text)
    assert found["name"] == "awkward"
    assert set(found["nodes"]) == {node.id for node in model.nodes}
    assert found["nodes"]["a b"]["label"] == AWKWARD_NAME  # quotes and backslash survive the round trip
    assert found["nodes"]["graph"]["shape"] == "diamond" and found["nodes"]["end"]["shape"] == "doublecircle"
    assert [(source, target) for source, target, _ in found["edges"]] == [(e.source, e.target) for e in model.edges]
    labels = {attributes["id"]: attributes.get("label") for _, _, attributes in found["edges"]}
    assert labels["e5"] == AWKWARD_CONDITION and labels["e6"] == "else" and labels["e1"] is None


def test_dot_fills_nodes_by_state_and_marks_taken_edges(running) -> None:
    found = parse_dot(render_dot(running))
    assert found["nodes"]["a-b"]["tooltip"] == NodeState.ACTIVE.value
    assert found["nodes"]["a-b"]["fillcolor"] != found["nodes"]["end"]["fillcolor"]
    assert found["nodes"]["end"]["tooltip"] == NodeState.NOT_REACHED.value
    taken = {attributes["id"] for _, _, attributes in found["edges"] if attributes.get("penwidth") == "2"}
    assert taken == {"e1", "e2"}
    assert all(attributes.get("style") == "dashed" for _, _, attributes in found["edges"]
               if attributes["id"] not in taken)


def test_dot_string_escapes_line_breaks() -> None:
    from console.graph.dot import dot_string

    assert dot_string('a "b"\nc\\d') == '"a \\"b\\"\\nc\\\\d"'
