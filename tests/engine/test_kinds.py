"""The node-kind table: one entry per kind says how it is written, validated, entered, drawn and exported."""

from __future__ import annotations

from datetime import UTC, datetime

import blueprints as bps
import pytest

from engine import machine
from engine.blueprint import Node, NodeKind
from engine.graph import CompiledBlueprint
from engine.kinds import KINDS, UnknownNodeKindError, kind_of, spec, written_problem
from engine.validate import compile_blueprint

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_every_kind_has_one_entry_whose_written_fields_select_it() -> None:
    assert set(KINDS) == set(NodeKind)
    for kind, entry in KINDS.items():
        node = Node(id="n", **entry.written)
        assert kind_of(node) is kind and node.kind is kind
        assert entry.drawing.legend and entry.description


def test_an_unknown_kind_is_an_error_never_a_default() -> None:
    with pytest.raises(UnknownNodeKindError, match="unknown node kind 'SIGNAL'; the known kinds are START, END"):
        spec("SIGNAL")
    assert kind_of(Node(id="n", type="INTERNAL", internal_type="EVENT", event_type="SIGNAL")) is None
    assert written_problem(Node(id="n", type="INTERNAL", internal_type="EVENT", event_type="SIGNAL")) == (
        "unknown event_type 'SIGNAL' (expected START, END, TIMER or MESSAGE)")
    assert written_problem(Node(id="n", type="JOB")) == "unknown node type 'JOB' (expected INTERNAL or TASK)"


def test_a_token_reaching_a_node_without_a_known_kind_is_refused_not_passed_on() -> None:
    """A blueprint indexed without validation (its kinds incomplete): the machine refuses the token."""
    valid = compile_blueprint(bps.linear())
    kinds = {node_id: kind for node_id, kind in valid.kinds.items() if node_id != "task_a"}
    unchecked = CompiledBlueprint(blueprint=valid.blueprint, nodes=valid.nodes, kinds=kinds,
                                  outgoing=valid.outgoing, incoming=valid.incoming, conditions={},
                                  start_id=valid.start_id)
    with pytest.raises(UnknownNodeKindError, match="node 'task_a' has no known kind"):
        machine.start(unchecked, "i-1", {}, machine.event_at(T0))


def test_the_blueprint_wide_checks_read_the_entries_flags() -> None:
    """A parallel join (``closes``) fed by no parallel split (``opens``) is warned about; a condition off a kind
    that does not ``choose`` is an error; START (``starts``) with an incoming edge is an error."""
    assert KINDS[NodeKind.PARALLEL_SPLIT].opens and KINDS[NodeKind.PARALLEL_JOIN].closes
    assert [k for k, e in KINDS.items() if e.chooses] == [NodeKind.EXCLUSIVE_SPLIT]
    assert [k for k, e in KINDS.items() if e.starts] == [NodeKind.START]
    assert [k for k, e in KINDS.items() if e.ends] == [NodeKind.END]
