"""Node kinds, one entry each: how a node of the kind is written, validated, entered by a token, drawn and
exported. Adding a kind is adding an entry to :data:`KINDS` (and a member to
:class:`~engine.blueprint.NodeKind`); nothing else keys on kind names. An unknown kind is an error wherever
it is met (:func:`spec`), never a silent pass-through or a default shape.

The arrival functions are the state machine's rules for each kind. They act on the machine's working copy of
an instance (``engine.machine._Step``) through a handful of its methods: ``create_execution``, ``follow``,
``end_instance``, ``exclusive_split`` and ``parallel_join``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from engine.blueprint import NodeKind
from engine.bpmn.forms import (
    BpmnForm,
    GatewayRole,
    read_message_event,
    read_start_event,
    read_task,
    read_timer_event,
    write_message_event,
    write_start_event,
    write_task,
    write_timer_event,
)
from engine.errors import WorkflowError
from engine.people import people_problems
from engine.timing import BOUNDARY_FIELDS, TimerValueError, boundary_items, read_schedule, read_timer

if TYPE_CHECKING:
    from collections import deque

    from engine.blueprint import Edge, Node
    from engine.graph import NodePlan

Report = Callable[[str, str], None]  # (where, message): validation's error() or warn()


class Family(StrEnum):
    """What a kind is, in BPMN's words: an event, an activity (task) or a gateway."""

    EVENT = "EVENT"
    TASK = "TASK"
    GATEWAY = "GATEWAY"


class Shape(StrEnum):
    """The outline a kind is drawn with; each renderer has its own characters or syntax for it."""

    ROUND = "round"
    SQUARE = "square"
    DIAMOND = "diamond"


@dataclass(frozen=True)
class Drawing:
    """How a kind is drawn and exported: the outline, the brackets of its compact symbol (``[●]``), the glyph a
    gateway shows before its label (``X``, ``+``), its name in a legend and the legend's sample of it, whether the
    short-labels zoom still boxes it with its label, and its Mermaid shape (opening, closing) and DOT attributes."""

    shape: Shape
    symbol: tuple[str, str]
    legend: str
    sample: str
    mermaid: tuple[str, str]
    dot: str
    glyph: str = ""
    boxed_when_short: bool = False


@dataclass(frozen=True)
class KindSpec:
    """One node kind.

    ``written``: the Go engine's type fields that select it (``type``, and ``internal_type`` with
    ``event_type`` or ``gateway_type``). ``arrive(step, plan, queue)``: what a token arriving does.
    ``check(node_id, node, outgoing, incoming, error, warn)``: the kind's own validation. The flags say what
    the blueprint-wide checks and the machine's scans need: ``starts`` / ``ends`` an instance, ``chooses`` (the
    conditions on its outgoing edges choose one; no match stops the instance there), ``forks`` (a token down
    every outgoing edge is what it is for: no warning), ``opens``/``closes`` a parallel block, ``waits`` (a
    join: fires once tokens came down every incoming edge) and ``halts`` (a token that cannot go on there stops
    the instance FAILED at the node until an operator resumes it: a split without a match, a timer whose time
    cannot be read). ``bpmn``: how it is written in BPMN 2.0, which the
    BPMN reader and writer (:mod:`engine.bpmn`) read instead of a branch per kind (``None``: it has no BPMN form,
    and exporting a node of it is refused). ``fields``: the optional fields beyond the Go engine's that the kind
    reads; any other extra field of a node is kept but warned about at load (a typo such as ``"due"`` for
    ``"deadline"`` would otherwise do nothing without a word).
    """

    kind: NodeKind
    description: str
    family: Family
    written: dict[str, str]
    arrive: Callable[[Any, NodePlan, deque[str]], None]
    drawing: Drawing
    check: Callable[[str, Node, list[Edge], list[Edge], Report, Report], None] | None = None
    starts: bool = False
    ends: bool = False
    chooses: bool = False
    forks: bool = False
    opens: bool = False
    closes: bool = False
    waits: bool = False
    halts: bool = False
    bpmn: BpmnForm | None = None
    fields: tuple[str, ...] = ()  # the optional fields wfconsole adds that this kind reads (``timer``, ...)


# -- arrivals ------------------------------------------------------------------------------------------


def _pass_on(step: Any, plan: NodePlan, queue: deque[str]) -> None:
    """START, an exclusive join, a parallel split: the token goes on down every outgoing edge."""
    step.follow(plan.id, plan.edges, queue)


def _create_execution(step: Any, plan: NodePlan, queue: deque[str]) -> None:
    step.create_execution(plan.id)


def _end(step: Any, plan: NodePlan, queue: deque[str]) -> None:
    step.end_instance(plan.id, queue)


def _wait_timer(step: Any, plan: NodePlan, queue: deque[str]) -> None:
    step.wait_timer(plan, queue)


def _wait_message(step: Any, plan: NodePlan, queue: deque[str]) -> None:
    step.wait_message(plan)


def _exclusive_split(step: Any, plan: NodePlan, queue: deque[str]) -> None:
    step.exclusive_split(plan, queue)


def _parallel_join(step: Any, plan: NodePlan, queue: deque[str]) -> None:
    step.parallel_join(plan, queue)


# -- checks --------------------------------------------------------------------------------------------


def _check_start(node_id: str, node: Node, outgoing: list[Edge], incoming: list[Edge], error: Report,
                 warn: Report) -> None:
    if incoming:
        error(f"node {node_id!r}", "a START event cannot have incoming edges")
    if node.extra("timer") is not None:  # a timer start: instances started on a schedule
        try:
            read_schedule(node.extra("timer"))
        except TimerValueError as problem:
            error(f"node {node_id!r}", f"field 'timer': {problem}")


def _check_end(node_id: str, node: Node, outgoing: list[Edge], incoming: list[Edge], error: Report,
               warn: Report) -> None:
    if outgoing:
        warn(f"node {node_id!r}", "an END event ends the instance; its outgoing edges are never followed")


def _check_task(node_id: str, node: Node, outgoing: list[Edge], incoming: list[Edge], error: Report,
                warn: Report) -> None:
    if not (node.task_id or "").strip():
        error(f"node {node_id!r}", "a TASK node needs a task_id")
    where = f"node {node_id!r}"
    if node.extra("deadline") is not None:
        try:
            read_timer(node.extra("deadline"))
        except TimerValueError as problem:
            error(where, f"field 'deadline': {problem}")
    _check_boundaries(where, node, outgoing, error)
    for problem in people_problems(node):
        error(where, problem)


def _check_boundaries(where: str, node: Node, outgoing: list[Edge], error: Report) -> None:
    """A TASK's ``boundary_timers``: each a readable timer with an ``edge`` that is one of the task's own outgoing
    edges, no edge used twice, and an edge left for when the task completes."""
    raw = node.extra("boundary_timers")
    if raw is None:
        return
    if not isinstance(raw, (list, dict)):
        error(where, "field 'boundary_timers': expected a list of objects with a timer and an 'edge'")
        return
    leaving = [e.id for e in outgoing]
    used: set[str] = set()
    for index, item in enumerate(boundary_items(raw)):
        field = f"field 'boundary_timers[{index}]'"
        if not isinstance(item, dict):
            error(where, f"{field}: expected an object with 'duration', 'date' or 'key', and 'edge'")
            continue
        try:
            read_timer(item, BOUNDARY_FIELDS)
        except TimerValueError as problem:
            error(where, f"{field}: {problem}")
        edge = item.get("edge")
        if not isinstance(edge, str) or not edge:
            error(where, f"{field}: needs an 'edge', the outgoing edge the token takes when the timer fires")
        elif edge not in leaving:
            listed = ", ".join(repr(e) for e in leaving) or "none"
            error(where, f"{field}: edge {edge!r} is not an outgoing edge of this task (its edges: {listed})")
        elif edge in used:
            error(where, f"{field}: edge {edge!r} is the timeout edge of another boundary timer too")
        else:
            used.add(edge)
        if not isinstance(item.get("interrupting", True), bool):
            error(where, f"{field}: 'interrupting' must be true or false")
    if leaving and not [e for e in leaving if e not in used]:
        error(where, "every outgoing edge is a boundary timer's: the task needs an edge for when it completes")


def _check_timer(node_id: str, node: Node, outgoing: list[Edge], incoming: list[Edge], error: Report,
                 warn: Report) -> None:
    raw = node.extra("timer")
    if raw is None:
        error(f"node {node_id!r}", "a TIMER event needs a 'timer': a duration ('PT15M') or an object with "
              "'duration', 'date' or 'key'")
        return
    try:
        read_timer(raw)
    except TimerValueError as problem:
        error(f"node {node_id!r}", f"field 'timer': {problem}")
    if not outgoing:
        error(f"node {node_id!r}", "a TIMER event needs an outgoing edge")


def _check_message(node_id: str, node: Node, outgoing: list[Edge], incoming: list[Edge], error: Report,
                   warn: Report) -> None:
    name = node.extra("message")
    if not isinstance(name, str) or not name.strip():
        error(f"node {node_id!r}", "a MESSAGE event needs a 'message': the name of the message it waits for")
    elif name != name.strip() or not name.isprintable():
        error(f"node {node_id!r}", f"field 'message': {name!r} has leading or trailing spaces or unprintable "
              "characters")
    if not outgoing:
        error(f"node {node_id!r}", "a MESSAGE event needs an outgoing edge")


def _check_exclusive_split(node_id: str, node: Node, outgoing: list[Edge], incoming: list[Edge], error: Report,
                           warn: Report) -> None:
    defaults = [e.id for e in outgoing if not e.has_condition]
    if len(defaults) > 1:
        error(f"node {node_id!r}", f"an exclusive split may have one default edge, found {len(defaults)}: "
              + ", ".join(repr(d) for d in defaults))
    if not outgoing:
        error(f"node {node_id!r}", "an exclusive split needs outgoing edges")


def _check_parallel_join(node_id: str, node: Node, outgoing: list[Edge], incoming: list[Edge], error: Report,
                         warn: Report) -> None:
    if len(incoming) < 2:
        warn(f"node {node_id!r}", "a parallel join with fewer than 2 incoming edges waits for nothing")


# -- the table ---------------------------------------------------------------------------------------------

_ROUND_SYMBOL, _SQUARE_SYMBOL, _GATEWAY_SYMBOL = ("(", ")"), ("[", "]"), ("<", ">")
_GATEWAY_MERMAID, _GATEWAY_DOT = ('{"', '"}'), "shape=diamond"
_MARKER = {"isMarkerVisible": "true"}  # BPMN diagrams draw an exclusive gateway's X only when told to


def _gateway(kind: NodeKind, description: str, arrive, glyph: str, legend: str, **flags: Any) -> KindSpec:
    return KindSpec(kind, description, Family.GATEWAY,
                    {"type": "INTERNAL", "internal_type": "GATEWAY", "gateway_type": kind.value}, arrive,
                    Drawing(Shape.DIAMOND, _GATEWAY_SYMBOL, legend, f"◇{glyph}", _GATEWAY_MERMAID, _GATEWAY_DOT,
                            glyph=glyph), **flags)


KINDS: dict[NodeKind, KindSpec] = {spec.kind: spec for spec in (
    KindSpec(NodeKind.START, "start event", Family.EVENT,
             {"type": "INTERNAL", "internal_type": "EVENT", "event_type": "START"}, _pass_on,
             Drawing(Shape.ROUND, _ROUND_SYMBOL, "start/end", "( )", ('(["', '"])'), "shape=circle"),
             check=_check_start, starts=True, fields=("timer",),
             bpmn=BpmnForm("startEvent", definitions=(None, "timerEventDefinition"), read=read_start_event,
                           write=write_start_event)),
    KindSpec(NodeKind.END, "end event", Family.EVENT,
             {"type": "INTERNAL", "internal_type": "EVENT", "event_type": "END"}, _end,
             Drawing(Shape.ROUND, _ROUND_SYMBOL, "start/end", "( )", ('(("', '"))'), "shape=doublecircle"),
             check=_check_end, ends=True,
             bpmn=BpmnForm("endEvent", definitions=(None, "terminateEventDefinition"))),
    KindSpec(NodeKind.TASK, "task", Family.TASK, {"type": "TASK"}, _create_execution,
             Drawing(Shape.SQUARE, _SQUARE_SYMBOL, "task", "┌┐", ('["', '"]'), 'shape=box, style="rounded,filled"',
                     boxed_when_short=True),
             check=_check_task,
             fields=("deadline", "boundary_timers", "assignee", "assignee_key", "candidate_group",
                     "candidate_group_key"),
             bpmn=BpmnForm("serviceTask", accepts=("task", "userTask", "manualTask"), read=read_task,
                           write=write_task)),
    KindSpec(NodeKind.TIMER, "timer event", Family.EVENT,
             {"type": "INTERNAL", "internal_type": "EVENT", "event_type": "TIMER"}, _wait_timer,
             Drawing(Shape.ROUND, _ROUND_SYMBOL, "timer", "(◷)", ('(["', '"])'), 'shape=circle, style="dashed"',
                     glyph="◷"),
             check=_check_timer, halts=True, fields=("timer",),
             bpmn=BpmnForm("intermediateCatchEvent", definitions=("timerEventDefinition",), read=read_timer_event,
                           write=write_timer_event)),
    KindSpec(NodeKind.MESSAGE, "message event", Family.EVENT,
             {"type": "INTERNAL", "internal_type": "EVENT", "event_type": "MESSAGE"}, _wait_message,
             Drawing(Shape.ROUND, _ROUND_SYMBOL, "message", "(✉)", ('(["', '"])'), 'shape=circle, style="dashed"',
                     glyph="✉"),
             check=_check_message, fields=("message",),
             bpmn=BpmnForm("intermediateCatchEvent", definitions=("messageEventDefinition",), read=read_message_event,
                           write=write_message_event)),
    _gateway(NodeKind.EXCLUSIVE_SPLIT, "exclusive split", _exclusive_split, "X", "exclusive",
             check=_check_exclusive_split, chooses=True, halts=True,
             bpmn=BpmnForm("exclusiveGateway", role=GatewayRole.SPLIT, shape=_MARKER)),
    _gateway(NodeKind.EXCLUSIVE_JOIN, "exclusive join", _pass_on, "X", "exclusive",
             bpmn=BpmnForm("exclusiveGateway", role=GatewayRole.JOIN, shape=_MARKER)),
    _gateway(NodeKind.PARALLEL_SPLIT, "parallel split", _pass_on, "+", "parallel", forks=True, opens=True,
             bpmn=BpmnForm("parallelGateway", role=GatewayRole.SPLIT)),
    _gateway(NodeKind.PARALLEL_JOIN, "parallel join", _parallel_join, "+", "parallel",
             check=_check_parallel_join, closes=True, waits=True,
             bpmn=BpmnForm("parallelGateway", role=GatewayRole.JOIN)),
)}


class UnknownNodeKindError(WorkflowError):
    """A node kind with no entry in :data:`KINDS`."""


def spec(kind: object) -> KindSpec:
    """The entry of ``kind``; :class:`UnknownNodeKindError` for a kind without one (never a default)."""
    try:
        return KINDS[kind]  # type: ignore[index]
    except (KeyError, TypeError):
        known = ", ".join(k.value for k in KINDS)
        raise UnknownNodeKindError(f"unknown node kind {kind!r}; the known kinds are {known}") from None


def kind_of(node: Node) -> NodeKind | None:
    """The kind a node's type fields select, or ``None`` when they name none of :data:`KINDS`."""
    for entry in KINDS.values():
        if all(getattr(node, name) == value for name, value in entry.written.items()):
            return entry.kind
    return None


def written_problem(node: Node) -> str:
    """Why a node's type fields select no kind: the first field that names nothing known, with the choices."""
    entries = list(KINDS.values())
    for name in ("type", "internal_type", "event_type", "gateway_type"):
        choices = list(dict.fromkeys(e.written[name] for e in entries if name in e.written))  # table order
        if not choices:
            continue
        value = getattr(node, name)
        if value not in choices:
            field = "node type" if name == "type" else name
            return f"unknown {field} {value!r} (expected {_either(choices)})"
        entries = [e for e in entries if e.written.get(name, value) == value]
    return "its type fields name no known node kind"


def _either(choices: list[str]) -> str:
    return choices[0] if len(choices) == 1 else ", ".join(choices[:-1]) + " or " + choices[-1]
