"""Blueprint parsing and validation: every problem at once, each naming its node or edge.

Errors refuse a blueprint; warnings are kept with it and shown to operators.
"""

from __future__ import annotations

import difflib
import json
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from pydantic import ValidationError

from engine.blueprint import Blueprint, Edge, Node, NodeKind
from engine.conditions import Condition, ConditionError, compile_condition
from engine.errors import BlueprintError, Problem, json_kind
from engine.graph import CompiledBlueprint
from engine.kinds import KINDS, Family, kind_of, written_problem
from engine.text import CONTROL_CHARACTERS as CONTROL_CHARACTERS  # re-exported: its old home
from engine.text import unsafe_character
from engine.timing import boundary_items, timeout_edge_ids

MAX_NODES = 10_000
MAX_EDGES = 40_000
MAX_JSON_BYTES = 16 * 1024 * 1024
MAX_VERSION = 2**63 - 1

BlueprintSource = dict[str, Any] | str | bytes | Blueprint


def parse_blueprint(source: BlueprintSource, origin: str | None = None) -> Blueprint:
    """Turn a dict, JSON text or model into a :class:`Blueprint`; raise :class:`BlueprintError`."""
    if isinstance(source, Blueprint):
        return _storable(source, origin)
    if isinstance(source, (str, bytes)):
        if len(source) > MAX_JSON_BYTES:
            raise BlueprintError([Problem("blueprint", f"{len(source)} bytes; the limit is {MAX_JSON_BYTES}")], origin)
        try:
            source = json.loads(source)
        except RecursionError:
            raise BlueprintError([Problem("blueprint", "JSON nested too deeply")], origin) from None
        except json.JSONDecodeError as error:
            where = f"JSON at line {error.lineno}, column {error.colno}"
            raise BlueprintError([Problem(where, error.msg)], origin) from None
        except UnicodeDecodeError as error:
            raise BlueprintError([Problem("blueprint", f"not UTF-8 text ({error.reason} at byte {error.start})")],
                                 origin) from None
    if not isinstance(source, dict):
        raise BlueprintError([Problem("blueprint", f"expected a JSON object, found {json_kind(source)}")], origin)
    try:
        return _storable(Blueprint.model_validate(source), origin)
    except ValidationError as error:
        raise BlueprintError([_pydantic_problem(item, source) for item in error.errors()], origin) from None
    except RecursionError:
        raise BlueprintError([Problem("blueprint", "nested too deeply")], origin) from None


def _storable(blueprint: Blueprint, origin: str | None) -> Blueprint:
    """Refuse what the store could not write as JSON and read back: NaN or infinite numbers, strings that
    are not valid Unicode, nesting deeper than the encoders go (all possible in extra fields)."""
    try:
        blueprint.model_dump_json()
        # Python mode: in JSON mode pydantic turns NaN in extra fields into null without a word.
        json.dumps(blueprint.model_dump(), allow_nan=False, ensure_ascii=False).encode()
    except (ValueError, TypeError, RecursionError) as error:
        text = str(error)
        if "Out of range float" in text:
            reason = "holds NaN or an infinite number, which JSON cannot hold"
        elif "surrogate" in text:
            reason = "holds a string that is not valid Unicode (a lone surrogate)"
        elif isinstance(error, RecursionError) or "depth" in text:
            reason = "is nested too deeply to be stored"
        else:
            reason = f"cannot be stored as JSON ({text.splitlines()[0] if text else type(error).__name__})"
        raise BlueprintError([Problem("blueprint", reason)], origin) from None
    return blueprint


def _pydantic_problem(item: dict[str, Any], raw: dict[str, Any]) -> Problem:
    loc = item.get("loc", ())
    where = ""
    for part in loc:
        where += f"[{part}]" if isinstance(part, int) else (f".{part}" if where else str(part))
    # Name the node or edge by its id when the raw document gives one.
    if len(loc) >= 2 and loc[0] in ("nodes", "edges") and isinstance(loc[1], int):
        items = raw.get(loc[0])
        if isinstance(items, list) and loc[1] < len(items) and isinstance(items[loc[1]], dict):
            ident = items[loc[1]].get("id")
            if isinstance(ident, str):
                where = f"{where} ({loc[0][:-1]} {ident!r})"
    return Problem(where or "blueprint", item.get("msg", "invalid"))


def compile_blueprint(source: BlueprintSource, origin: str | None = None) -> CompiledBlueprint:
    """Parse and validate ``source``; return the compiled blueprint or raise :class:`BlueprintError`."""
    blueprint = parse_blueprint(source, origin)
    problems, compiled = _check(blueprint)
    errors = [p for p in problems if p.severity == "error"]
    if errors or compiled is None:
        raise BlueprintError(errors, origin)
    return compiled


def validate(source: BlueprintSource, origin: str | None = None) -> list[Problem]:
    """Return every error and warning of ``source`` (an unparsable one gives its parse errors)."""
    try:
        blueprint = parse_blueprint(source, origin)
    except BlueprintError as error:
        return error.problems
    return _check(blueprint)[0]




def _names(bp: Blueprint) -> Iterator[tuple[str, str]]:
    """(where, text) of every id and name a person reads: the blueprint's, its nodes' and its edges'."""
    yield "workflow_id", bp.workflow_id
    yield "name", bp.name or ""
    for index, node in enumerate(bp.nodes):
        for field in ("id", "name", "task_id"):
            yield f"nodes[{index}].{field}", getattr(node, field) or ""
    for index, edge in enumerate(bp.edges):
        yield f"edges[{index}].id", edge.id


def _check(bp: Blueprint) -> tuple[list[Problem], CompiledBlueprint | None]:
    problems: list[Problem] = []

    def error(where: str, message: str) -> None:
        problems.append(Problem(where, message, "error"))

    def warn(where: str, message: str) -> None:
        problems.append(Problem(where, message, "warning"))

    if not bp.workflow_id.strip():
        error("workflow_id", "must not be empty")
    for where, text in _names(bp):
        found = unsafe_character(text)
        if found:
            kind, char, position = found
            error(where, f"must not contain {kind}s (found {char!r} at position {position}): an id or a name "
                         "is shown on operators' terminals and typed back by them")
    if bp.version < 1:
        error("version", f"must be 1 or more, found {bp.version}")
    elif bp.version > MAX_VERSION:
        error("version", f"must be at most {MAX_VERSION} (an SQLite integer), found {bp.version}")
    if len(bp.nodes) > MAX_NODES:
        error("nodes", f"{len(bp.nodes)} nodes; the limit is {MAX_NODES}")
        return problems, None
    if len(bp.edges) > MAX_EDGES:
        error("edges", f"{len(bp.edges)} edges; the limit is {MAX_EDGES}")
        return problems, None

    nodes: dict[str, Node] = {}
    kinds: dict[str, NodeKind] = {}
    for index, node in enumerate(bp.nodes):
        where = f"node {node.id!r}"
        if not node.id.strip():
            error(f"nodes[{index}]", "id must not be empty")
            continue
        if node.id in nodes:
            error(where, f"duplicate node id (nodes[{index}])")
            continue
        nodes[node.id] = node
        kind = kind_of(node)
        if kind is None:
            error(where, written_problem(node))
            continue
        kinds[node.id] = kind

    edge_ids: set[str] = set()
    outgoing: dict[str, list[Edge]] = defaultdict(list)
    incoming: dict[str, list[Edge]] = defaultdict(list)
    for index, edge in enumerate(bp.edges):
        where = f"edge {edge.id!r}"
        if edge.id in edge_ids:
            error(where, f"duplicate edge id (edges[{index}])")
        edge_ids.add(edge.id)
        dangling = False
        for end, ref in (("source_id", edge.source_id), ("target_id", edge.target_id)):
            if ref not in nodes:
                error(where, f"{end} {ref!r} is not a node")
                dangling = True
        if dangling:
            continue
        outgoing[edge.source_id].append(edge)
        incoming[edge.target_id].append(edge)

    starts = [n for n, k in kinds.items() if KINDS[k].starts]
    ends = [n for n, k in kinds.items() if KINDS[k].ends]
    if len(starts) != 1:
        found = ", ".join(repr(s) for s in starts) or "none"
        error("blueprint", f"needs exactly one START event, found {len(starts)} ({found})")
    if not ends:
        error("blueprint", "needs at least one END event, found none")

    conditions = _check_edges(nodes, kinds, outgoing, incoming, error, warn)

    if len(starts) == 1:
        _check_reachability(starts[0], ends, nodes, outgoing, incoming, error)
    _check_gateway_cycles(kinds, outgoing, error)
    _check_parallel_blocks(kinds, outgoing, incoming, warn)
    _check_people_keys(nodes, kinds, warn)
    _check_side_branches(nodes, kinds, outgoing, warn)

    if any(p.severity == "error" for p in problems):
        return problems, None
    compiled = CompiledBlueprint(
        blueprint=bp,
        nodes=nodes,
        kinds=kinds,
        outgoing={n: list(outgoing.get(n, [])) for n in nodes},
        incoming={n: list(incoming.get(n, [])) for n in nodes},
        conditions=conditions,
        start_id=starts[0],
        warnings=[p for p in problems if p.severity == "warning"],
    )
    return problems, compiled


def _check_edges(nodes, kinds, outgoing, incoming, error, warn) -> dict[str, Condition]:
    """Each kind's own checks (:attr:`KindSpec.check`), then the edges: a node that is not made to fork sends a
    token down each of several edges (a warning), only a kind that chooses has conditions on its edges."""
    conditions: dict[str, Condition] = {}
    for node_id, kind in kinds.items():
        entry = KINDS[kind]
        edges = outgoing.get(node_id, [])
        if entry.check is not None:
            entry.check(node_id, nodes[node_id], edges, incoming.get(node_id, []), error, warn)
        _check_extra_fields(node_id, nodes[node_id], entry, warn)
        timeouts = timeout_edge_ids(nodes[node_id].extra("boundary_timers"))  # taken only when a timer fires
        if len([e for e in edges if e.id not in timeouts]) > 1 and not (entry.forks or entry.chooses or entry.ends):
            warn(f"node {node_id!r}", f"{len(edges)} outgoing edges: a token goes down each, as from a parallel "
                 "split; use a PARALLEL_SPLIT gateway to say so")
        for edge in edges:
            if not edge.has_condition:
                continue
            if not entry.chooses:
                error(f"edge {edge.id!r}", f"has a condition but leaves {kind.value} node {node_id!r}; "
                      "only edges leaving an EXCLUSIVE_SPLIT have conditions")
                continue
            try:
                conditions[edge.id] = compile_condition(edge.condition or "")
            except ConditionError as problem:
                error(f"edge {edge.id!r}", str(problem))
    return conditions


def _check_extra_fields(node_id: str, node: Node, entry: Any, warn) -> None:
    """A field neither the Go engine nor this kind reads is kept (Go ignored unknown fields) but said, with the
    field it was probably meant to be: ``"due"`` on a task does not give it a deadline."""
    for name in (node.model_extra or {}):
        if name in entry.fields:
            continue
        others = sorted(k.description for k in KINDS.values() if name in k.fields)
        if others:
            warn(f"node {node_id!r}", f"field {name!r} is read on a {' or a '.join(others)}, not on a "
                 f"{entry.description}; it does nothing here")
            continue
        known = [*entry.fields, *_GO_NODE_FIELDS]
        nearest = [_SYNONYMS[name]] if _SYNONYMS.get(name) in entry.fields else \
            difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        hint = f"did you mean {nearest[0]!r}? " if nearest else ""
        reads = f"a {entry.description} reads {', '.join(entry.fields)}" if entry.fields else \
            f"a {entry.description} reads none beyond the Go engine's"
        warn(f"node {node_id!r}", f"field {name!r} is not one wfconsole reads ({hint}{reads}); it is kept as "
             "it is and does nothing")


_GO_NODE_FIELDS = tuple(Node.model_fields)
# What people coming from Camunda write for these fields.
_SYNONYMS = {"due": "deadline", "due_date": "deadline", "dueDate": "deadline", "due_at": "deadline",
             "candidateGroups": "candidate_group", "candidate_groups": "candidate_group",
             "candidateGroup": "candidate_group", "assigned_to": "assignee", "owner": "assignee"}


def _check_side_branches(nodes, kinds, outgoing, warn) -> None:
    """A non-interrupting boundary timer sends a second token down its edge while the task stays open; an END
    that token can reach ends the whole instance (every token removed, the task cancelled: the Go engine's END),
    which a reminder branch rarely means. A parallel join on the way merges the tokens again: the walk stops
    there."""
    for node_id, kind in kinds.items():
        if kind is not NodeKind.TASK:
            continue
        for item in boundary_items(nodes[node_id].extra("boundary_timers")):
            if not isinstance(item, dict) or item.get("interrupting", True) is not False:
                continue
            edge_id = item.get("edge")
            edge = next((e for e in outgoing.get(node_id, []) if e.id == edge_id), None)
            if edge is None:
                continue  # a timeout edge that is not the task's: an error of its own
            seen, stack, ends = {edge.target_id}, [edge.target_id], []
            while stack:
                current = stack.pop()
                entry = KINDS.get(kinds.get(current))
                if entry is None or entry.closes:
                    continue
                if entry.ends:
                    ends.append(current)
                    continue
                for nxt in outgoing.get(current, []):
                    if nxt.target_id not in seen:
                        seen.add(nxt.target_id)
                        stack.append(nxt.target_id)
            if ends:
                warn(f"node {node_id!r}", f"the non-interrupting boundary timer on edge {edge_id!r} leads to END "
                     f"{sorted(ends)[0]!r}: a token that gets there ends the whole instance and cancels this task "
                     "if it is still open (an END removes every token)")


def _check_people_keys(nodes, kinds, warn) -> None:
    """An assignee or group read from a context key that no task's or message's output_mapping writes: it must
    come with the start context (a warning: the validator cannot know that context)."""
    written = {key for node in nodes.values() for key in node.output_mapping.values()}
    for node_id, kind in kinds.items():
        if kind is not NodeKind.TASK:
            continue
        for field in ("assignee_key", "candidate_group_key"):
            key = nodes[node_id].extra(field)
            if isinstance(key, str) and key.strip() and key.strip() not in written:
                warn(f"node {node_id!r}", f"field {field!r}: no task or message event sets {key.strip()!r}; it "
                     "must come with the start context, else the task has no "
                     + ("assignee" if field == "assignee_key" else "candidate group"))


def _check_reachability(start, ends, nodes, outgoing, incoming, error) -> None:
    forward = _walk([start], lambda n: (e.target_id for e in outgoing.get(n, [])))
    backward = _walk(ends, lambda n: (e.source_id for e in incoming.get(n, [])))
    for node_id in nodes:
        if node_id not in forward:
            error(f"node {node_id!r}", "is not reachable from START")
        elif ends and node_id not in backward:
            error(f"node {node_id!r}", "cannot reach an END event")


def _walk(roots, neighbours) -> set[str]:
    seen = set(roots)
    stack = list(roots)
    while stack:
        for nxt in neighbours(stack.pop()):
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return seen


def _check_gateway_cycles(kinds, outgoing, error) -> None:
    """A cycle through gateways only would move a token forever without waiting for any task."""
    gateways = {n for n, k in kinds.items() if KINDS[k].family is Family.GATEWAY}
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    reported: set[str] = set()
    for root in sorted(gateways):
        if root in state:
            continue
        stack = [(root, iter(outgoing.get(root, [])))]
        state[root] = 1
        while stack:
            node_id, edges = stack[-1]
            edge = next(edges, None)
            if edge is None:
                state[node_id] = 2
                stack.pop()
                continue
            target = edge.target_id
            if target not in gateways:
                continue
            if state.get(target) == 1:  # an edge back into the path: it closes a cycle
                if target not in reported:
                    reported.add(target)
                    error(f"node {target!r}", f"lies on a cycle of gateways with no task (via edge {edge.id!r}): "
                          "a token would move around it forever")
                continue
            if target not in state:
                state[target] = 1
                stack.append((target, iter(outgoing.get(target, []))))


def _check_parallel_blocks(kinds, outgoing, incoming, warn) -> None:
    join_origins: dict[str, set[str]] = {}
    for node_id, kind in kinds.items():
        if KINDS[kind].closes:
            origins: set[str] = set()
            for edge in incoming.get(node_id, []):
                origins |= _branch_origins(edge.source_id, kinds, incoming)
            join_origins[node_id] = origins
    for node_id, kind in kinds.items():
        if KINDS[kind].closes:
            origins = join_origins[node_id]
            if len(origins) != 1 or "START" in origins:
                named = ", ".join(sorted(repr(o) for o in origins if o != "START")) or "none"
                warn(f"node {node_id!r}", "the incoming branches of this parallel join do not all come from "
                     f"one parallel split (splits found: {named}); it may wait forever")
        if KINDS[kind].opens:
            # A join fed by this split closes its block even when it also closes a nested one (a join
            # fed by two splits, warned about above): the walk stops there rather than going past it.
            closes_here = {j for j, origins in join_origins.items() if node_id in origins}
            for edge in outgoing.get(node_id, []):
                end = _end_inside_branch(edge.target_id, kinds, outgoing, closes_here)
                if end:
                    warn(f"node {end!r}", f"is reachable on branch {edge.id!r} of parallel split {node_id!r} "
                         "before its join: reaching it ends the instance while other branches may still run")


def _branch_origins(node_id, kinds, incoming) -> set[str]:
    """Walk back from a join's incoming branch to the parallel split(s) that opened it (nesting-aware)."""
    found = _walk_block(node_id, kinds, lambda n: (e.source_id for e in incoming.get(n, [])),
                        opens="closes", closes="opens", stops="starts")
    return {"START" if KINDS[kinds[n]].starts else n for n in found}


def _end_inside_branch(node_id, kinds, outgoing, joins_of_split: set[str] = frozenset()) -> str | None:
    """The first END reachable from a branch before the branch's closing join, if any; ``joins_of_split``
    are joins known to close the branch's own block at whatever depth they are met."""
    found = _walk_block(node_id, kinds, lambda n: (e.target_id for e in outgoing.get(n, [])),
                        opens="opens", closes="closes", stops="ends", first_stop=True, boundary=joins_of_split)
    ends = [n for n in found if KINDS[kinds[n]].ends]
    return ends[0] if ends else None


def _walk_block(node_id, kinds, neighbours, opens: str, closes: str, stops: str,
                first_stop: bool = False, boundary: set[str] = frozenset()) -> list[str]:
    """Walk from ``node_id`` through the graph, counting nested parallel blocks: a node whose kind has the flag
    ``opens`` (a :class:`~engine.kinds.KindSpec` attribute) goes one block deeper, one with ``closes`` one
    shallower. Return the ``closes`` nodes met at depth 0 (the block's own boundary) and the ``stops`` nodes
    reached, in the order found."""
    found: list[str] = []
    seen: set[tuple[str, int]] = set()
    stack = [(node_id, 0)]
    limit = len(kinds) + 1
    while stack:
        current, depth = stack.pop()
        if (current, depth) in seen or depth > limit:
            continue
        seen.add((current, depth))
        entry = KINDS[kinds[current]]
        if getattr(entry, stops):
            found.append(current)
            if first_stop:
                return found
            continue
        if getattr(entry, closes):
            if depth == 0 or current in boundary:
                found.append(current)
                continue
            depth -= 1
        elif getattr(entry, opens):
            depth += 1
        stack.extend((nxt, depth) for nxt in neighbours(current))
    return found
