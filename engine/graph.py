"""A validated blueprint, indexed for the state machine: nodes by id, edges by source, compiled conditions.

Build one with :func:`engine.validate.compile_blueprint`; it is immutable and cached by
(workflow_id, version), so nothing is re-validated or re-compiled per call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engine.blueprint import Blueprint, Edge, Node, NodeKind
from engine.conditions import Condition
from engine.errors import Problem
from engine.people import TaskPeople, read_people
from engine.timing import (
    BOUNDARY_FIELDS,
    BoundaryTimer,
    Schedule,
    TimerSpec,
    boundary_items,
    read_schedule,
    read_timer,
)


@dataclass(frozen=True, slots=True)
class NodePlan:
    """What the state machine needs of one node when a token moves through it, worked out once per
    blueprint version (in :attr:`CompiledBlueprint.plans`) instead of being looked up again at every step:
    plain tuples and strings rather than the pydantic models' mappings and attributes."""

    id: str
    kind: NodeKind | None  # None only in a blueprint indexed without validation (tests)
    edges: tuple[tuple[str, str], ...]  # the outgoing edges as (edge id, target node id), in blueprint order; a task's
    # timeout edges (its boundary timers') left out: they are taken only when a timer fires
    branches: tuple[tuple[str, str, Condition | None], ...]  # the same with each edge's condition, if any
    task_id: str  # a TASK's task_id ("" when it has none)
    inputs: tuple[tuple[str, str], ...]  # input_mapping as (local name, context key) pairs, in order
    outputs: tuple[tuple[str, str], ...]  # output_mapping as (local name, context key) pairs, in order
    join_needed: int  # a parallel join fires when this many tokens wait: its incoming edges, at least 1
    arrive: Callable[[Any, NodePlan, Any], None]  # what a token arriving does: its kind's entry in engine.kinds
    timer: TimerSpec | None = None  # a TIMER event's: when its token goes on
    deadline: TimerSpec | None = None  # a TASK's: when its execution is due (overdue after)
    boundaries: tuple[BoundaryTimer, ...] = ()  # a TASK's boundary timers, in the order written
    people: TaskPeople | None = None  # a TASK's assignee and candidate group, if it names any
    message: str | None = None  # a MESSAGE event's: the name of the message its token waits for
    schedule: Schedule | None = None  # a START's timer: instances of the newest version started on it


def _arrival(kind: NodeKind | None) -> Callable[[Any, NodePlan, Any], None]:
    """The arrival of ``kind``'s entry; for a node without a known kind, one that refuses the token (an unknown
    kind is an error when a token reaches it, never a silent pass-through)."""
    from engine.kinds import UnknownNodeKindError, spec  # the table imports this module's NodePlan for types

    if kind is not None:
        return spec(kind).arrive

    def refuse(step: Any, plan: NodePlan, queue: Any) -> None:
        raise UnknownNodeKindError(f"node {plan.id!r} has no known kind: a token cannot enter it")

    return refuse


def _timer(node: Node, kind: NodeKind | None) -> TimerSpec | None:
    """A TIMER event's spec (validated at load); ``None`` for other kinds."""
    raw = node.extra("timer")
    return read_timer(raw) if kind is NodeKind.TIMER and raw is not None else None


def _deadline(node: Node, kind: NodeKind | None) -> TimerSpec | None:
    raw = node.extra("deadline")
    return read_timer(raw) if kind is NodeKind.TASK and raw is not None else None


def _boundaries(node: Node, kind: NodeKind | None, outgoing: list[Edge]) -> tuple[BoundaryTimer, ...]:
    """A TASK's boundary timers (validated at load), each with its timeout edge's target."""
    if kind is not NodeKind.TASK:
        return ()
    targets = {edge.id: edge.target_id for edge in outgoing}
    return tuple(BoundaryTimer(read_timer(item, BOUNDARY_FIELDS), item["edge"], targets[item["edge"]],
                               item.get("interrupting", True))
                 for item in boundary_items(node.extra("boundary_timers")))


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
    plans: dict[str, NodePlan] = field(init=False, repr=False, compare=False)
    """Per node id, derived from the fields above when the blueprint is compiled."""

    def __post_init__(self) -> None:
        plans = {}
        for node_id, node in self.nodes.items():
            kind = self.kinds.get(node_id)
            boundaries = _boundaries(node, kind, self.outgoing.get(node_id, []))
            timeouts = {b.edge_id for b in boundaries}
            outgoing = [edge for edge in self.outgoing.get(node_id, []) if edge.id not in timeouts]
            plans[node_id] = NodePlan(
                id=node_id,
                kind=self.kinds.get(node_id),
                edges=tuple((edge.id, edge.target_id) for edge in outgoing),
                branches=tuple((edge.id, edge.target_id, self.conditions.get(edge.id)) for edge in outgoing),
                task_id=node.task_id or "",
                inputs=tuple(node.input_mapping.items()),
                outputs=tuple(node.output_mapping.items()),
                join_needed=max(1, len(self.incoming.get(node_id, []))),
                arrive=_arrival(self.kinds.get(node_id)),
                timer=_timer(node, kind),
                deadline=_deadline(node, kind),
                boundaries=boundaries,
                people=read_people(node) if kind is NodeKind.TASK else None,
                message=node.extra("message") if kind is NodeKind.MESSAGE else None,
                schedule=read_schedule(node.extra("timer")) if kind is NodeKind.START and node.extra("timer")
                else None,
            )
        object.__setattr__(self, "plans", plans)  # a frozen dataclass: set once, here

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
