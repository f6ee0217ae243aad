"""A validated blueprint, indexed for the state machine: nodes by id, edges by source, compiled conditions.

Build one with :func:`engine.validate.compile_blueprint`; it is immutable and cached by
(workflow_id, version), so nothing is re-validated or re-compiled per call.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.blueprint import Blueprint, Edge, Node, NodeKind
from engine.conditions import Condition
from engine.errors import Problem


@dataclass(frozen=True)
class CompiledBlueprint:
    """A blueprint that passed validation, with the lookups the state machine needs."""

    blueprint: Blueprint
    nodes: dict[str, Node]
    kinds: dict[str, NodeKind]
    outgoing: dict[str, list[Edge]]
    incoming: dict[str, list[Edge]]
    conditions: dict[str, Condition]
    start_id: str
    warnings: list[Problem] = field(default_factory=list)

    @property
    def workflow_id(self) -> str:
        return self.blueprint.workflow_id

    @property
    def version(self) -> int:
        return self.blueprint.version

    def kind(self, node_id: str) -> NodeKind:
        return self.kinds[node_id]

    def node(self, node_id: str) -> Node:
        return self.nodes[node_id]
