"""The render-neutral token graph: a blueprint's nodes and edges, each with what an instance did there.

``build_graph`` is the *extract* step: it reads a :class:`~engine.graph.CompiledBlueprint` and, optionally,
an :class:`~engine.ports.InstanceView`, and returns a :class:`GraphModel` that the text, Rich, Mermaid and
DOT renderers draw without knowing anything about the engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from console.formatting import due_text
from engine.blueprint import NodeKind
from engine.graph import CompiledBlueprint
from engine.kinds import spec
from engine.model import ExecutionStatus, HistoryKind, TokenStatus
from engine.ports import InstanceView
from engine.text import visible


class NodeState(StrEnum):
    """Where an instance stands at a node, from the most to the least urgent."""

    FAILED = "FAILED"  # a FAILED token or execution: an incident
    STUCK = "STUCK"  # a STUCK token or execution
    ACTIVE = "ACTIVE"  # holds an ACTIVE token: the task is running or waiting for a person
    WAITING = "WAITING"  # a token waits here, at a parallel join, for the other branches
    VISITED = "VISITED"  # a token has been here and moved on
    NOT_REACHED = "NOT_REACHED"


# When several tokens rest on one node (a loop, parallel branches into one task), the most urgent wins.
_URGENCY = list(NodeState)
_TOKEN_STATE = {
    TokenStatus.ACTIVE: NodeState.ACTIVE,
    TokenStatus.WAITING: NodeState.WAITING,
    TokenStatus.FAILED: NodeState.FAILED,
    TokenStatus.STUCK: NodeState.STUCK,
}
_EXECUTION_STATE = {ExecutionStatus.FAILED: NodeState.FAILED, ExecutionStatus.STUCK: NodeState.STUCK}
_OPEN_STATUSES = (ExecutionStatus.ACTIVE, ExecutionStatus.FAILED, ExecutionStatus.STUCK)
# What an operator looks at first: incidents, else where the tokens are.
URGENT_GROUPS = ((NodeState.FAILED, NodeState.STUCK), (NodeState.ACTIVE, NodeState.WAITING))
_VISIT_KINDS = (HistoryKind.EXECUTION_COMPLETED, HistoryKind.EDGE_TAKEN, HistoryKind.JOIN_FIRED)


@dataclass(frozen=True)
class GraphNode:
    """A node as drawn: ``state`` is ``None`` when the graph shows a blueprint without an instance."""

    id: str
    label: str
    kind: NodeKind
    state: NodeState | None = None
    tokens: int = 0  # tokens resting on the node now
    incoming: int = 0  # number of incoming edges (a parallel join fires when as many tokens wait)


@dataclass(frozen=True)
class GraphEdge:
    """An edge as drawn. ``is_default`` marks the condition-less edge leaving an exclusive split."""

    id: str
    source: str
    target: str
    condition: str | None = None
    is_default: bool = False
    taken: bool = False
    timer: str | None = None  # a task's timeout edge: its boundary timer (``◷ PT4H``)

    @property
    def label(self) -> str | None:
        """What to write on the edge: its condition, ``else`` for a split's default edge, a timeout edge's timer
        (``◷ PT4H``, ``◷ PT4H, task stays``), or ``None``."""
        if self.condition:
            return self.condition
        if self.timer:
            return self.timer
        return "else" if self.is_default else None


@dataclass(frozen=True)
class GraphModel:
    """A blueprint's graph with the state of one instance (or of none)."""

    workflow_id: str
    version: int
    title: str
    nodes: tuple[GraphNode, ...]
    edges: tuple[GraphEdge, ...]
    instance_id: str | None = None
    instance_status: str | None = None

    @property
    def has_instance(self) -> bool:
        """Whether node states and taken edges come from an instance."""
        return self.instance_id is not None

    def node(self, node_id: str) -> GraphNode:
        """The node with id ``node_id``; raises ``KeyError`` if there is none."""
        for node in self.nodes:
            if node.id == node_id:
                return node
        raise KeyError(node_id)

    def urgent_nodes(self) -> tuple[str, ...]:
        """The nodes to show first: the failed and stuck ones if any, else the active and waiting ones,
        the most urgent state first, then in blueprint order; empty when no token needs a look."""
        for group in URGENT_GROUPS:
            found = [node for state in group for node in self.nodes if node.state is state]
            if found:
                return tuple(node.id for node in found)
        return ()


def _label(compiled: CompiledBlueprint, node_id: str, open_executions: dict[str, Any] | None,
           now: datetime | None = None) -> str:
    """A node's label, with when a timer event fires (``Cool-off · PT15M``) or what a message event waits for; a
    task's deadline and who does it (``Review · due P1D · group loan-officers``). In an instance, a task with an
    open execution shows that execution's: its due time and whoever has it (``Review · late 5m00s · alice`` at
    ``now``; without it, in an export, ``Review · due 12-02 14:20 UTC · alice``), the values its context gave
    rather than the keys that gave them; a task with none (done, or not reached) only its name.
    ``open_executions`` is ``None`` for a blueprint drawn without an instance."""
    node, plan = compiled.nodes[node_id], compiled.plans[node_id]
    execution = open_executions.get(node_id) if open_executions is not None else None
    if execution is not None and (execution.due_at or execution.assignee or execution.candidate_group):
        parts = [node.label]
        if execution.due_at is not None and now is not None:  # the console: as its lists say it
            parts.append(due_text(execution.due_at, now))
        elif execution.due_at is not None:  # an export, read later: the time itself
            parts.append(f"due {execution.due_at.astimezone(UTC).strftime('%m-%d %H:%M')} UTC")
        who = execution.assignee or (f"group {execution.candidate_group}" if execution.candidate_group else "")
        if who:
            parts.append(who)
        return " · ".join(parts)
    if open_executions is None and (plan.deadline is not None or plan.people is not None):
        parts = [node.label]
        if plan.deadline is not None:
            parts.append(f"due {plan.deadline.describe()}")
        if plan.people is not None:
            parts.append(plan.people.describe())
        return " · ".join(parts)
    if plan.timer is not None:
        return f"{node.label} · {plan.timer.describe()}"
    if plan.schedule is not None:
        return f"{node.label} · {plan.schedule.describe()}"
    if plan.message is not None and plan.message != node.label:
        return f"{node.label} · {plan.message}"
    return node.label


def build_graph(compiled: CompiledBlueprint, instance: InstanceView | None = None, *,
                now: datetime | None = None) -> GraphModel:
    """Extract the graph of ``compiled``, with node states and taken edges from ``instance`` if given.

    Nodes and edges keep the blueprint's order. Labels, conditions and the title are made safe to draw
    once, here, for every renderer: control and bidi characters become visible escapes
    (:func:`engine.text.visible`). Raises ``ValueError`` when ``instance`` belongs to another workflow or
    version than ``compiled``.
    """
    blueprint = compiled.blueprint
    if instance is not None and (instance.workflow_id, instance.version) != (blueprint.workflow_id,
                                                                             blueprint.version):
        raise ValueError(f"instance {instance.id} runs {instance.workflow_id} v{instance.version}, "
                         f"not {blueprint.workflow_id} v{blueprint.version}")
    states, token_counts, taken = _instance_facts(compiled, instance)
    open_executions = None if instance is None else {
        e.node_id: e for e in instance.executions if ExecutionStatus(e.status) in _OPEN_STATUSES}
    timeouts = {b.edge_id: b.describe() for plan in compiled.plans.values() for b in plan.boundaries}
    nodes = tuple(
        GraphNode(id=node.id, label=visible(_label(compiled, node.id, open_executions, now)),
                  kind=compiled.kinds[node.id],
                  state=states.get(node.id),
                  tokens=token_counts.get(node.id, 0), incoming=len(compiled.incoming.get(node.id, [])))
        for node in blueprint.nodes
    )
    edges = tuple(
        GraphEdge(id=edge.id, source=edge.source_id, target=edge.target_id,
                  condition=visible(edge.condition.strip()) if edge.has_condition else None,
                  is_default=not edge.has_condition and spec(compiled.kinds[edge.source_id]).chooses,
                  taken=edge.id in taken, timer=timeouts.get(edge.id))
        for edge in blueprint.edges
    )
    return GraphModel(
        workflow_id=blueprint.workflow_id, version=blueprint.version, title=visible(blueprint.label),
        nodes=nodes, edges=edges,
        instance_id=instance.id if instance else None,
        instance_status=str(instance.status) if instance else None,
    )


def _instance_facts(compiled: CompiledBlueprint, instance: InstanceView | None,
                    ) -> tuple[dict[str, NodeState], dict[str, int], set[str]]:
    """Per node its state and token count, and the ids of taken edges. Empty facts without an instance."""
    if instance is None:
        return {}, {}, set()
    found: dict[str, list[NodeState]] = {}
    token_counts: dict[str, int] = {}
    for token in instance.tokens:
        token_counts[token.node_id] = token_counts.get(token.node_id, 0) + 1
        found.setdefault(token.node_id, []).append(_TOKEN_STATE.get(TokenStatus(token.status), NodeState.ACTIVE))
    for execution in instance.executions:
        state = _EXECUTION_STATE.get(ExecutionStatus(execution.status))
        if state is not None:
            found.setdefault(execution.node_id, []).append(state)
    taken: set[str] = set()
    for entry in instance.history:
        if entry.kind == HistoryKind.EDGE_TAKEN and entry.details.get("edge_id"):
            taken.add(str(entry.details["edge_id"]))
        if entry.node_id and (entry.kind in _VISIT_KINDS or entry.kind == HistoryKind.INSTANCE_STARTED):
            found.setdefault(entry.node_id, []).append(NodeState.VISITED)
    states = {node_id: NodeState.NOT_REACHED for node_id in compiled.nodes}
    for node_id, candidates in found.items():
        if node_id in states:
            states[node_id] = min(candidates, key=_URGENCY.index)
    return states, token_counts, taken
