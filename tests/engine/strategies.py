"""Hypothesis strategies: random *well-formed* blueprints and the values that drive them.

A blueprint is generated as a tree of blocks and then laid out as nodes and edges, so that every
generated blueprint is structured (every parallel split has its own join, every exclusive split its own
exclusive join) and passes validation without warnings:

- ``("task", index, inputs, outputs)``: one TASK node with input and output mappings over the variables;
- ``("seq", [block, ...])``: blocks one after another;
- ``("par", [block | None, ...])``: PARALLEL_SPLIT, the branches, PARALLEL_JOIN (``None`` is an empty
  branch: an edge straight from the split to the join);
- ``("xor", [(condition | None, block | None), ...])``: EXCLUSIVE_SPLIT, the branches, EXCLUSIVE_JOIN;
  a ``None`` condition is the default edge (at most one; without one, a split can match nothing);
- ``("loop", body, condition)``: EXCLUSIVE_JOIN, body, EXCLUSIVE_SPLIT whose conditioned edge goes back
  to the join and whose default edge leaves the loop. The body starts with a task, so the loop never
  cycles through gateways alone.

Conditions read the variables ``v0`` .. ``v3``; completions write them through output mappings (with
values of the wrong type now and then, so conditions also fail to evaluate), ``set_variables`` writes them
directly.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

VARIABLES = ("v0", "v1", "v2", "v3")
OUTPUT_KEYS = ("o0", "o1", "o2")
INPUT_KEYS = ("i0", "i1")

variable = st.sampled_from(VARIABLES)
small_int = st.integers(min_value=0, max_value=3)

# Mostly small ints, which the conditions compare; sometimes a string, null, a list or a float, which
# makes ``v > 1`` fail to evaluate (a CONDITION_ERROR in the history, the edge not taken).
value = st.one_of(
    small_int, small_int, small_int, small_int,
    st.sampled_from(["x", "", None, True]),
    st.lists(small_int, max_size=2),
    st.floats(min_value=-2, max_value=5, allow_nan=False),
)


@st.composite
def atom(draw) -> str:
    name = draw(variable)
    n = draw(small_int)
    form = draw(st.integers(min_value=0, max_value=6))
    return [
        f"{name} == {n}", f"{name} != {n}", f"{name} > {n}", f"{name} < {n}",
        f"{name} in [{n}, {draw(small_int)}]", f"{name} == null", f"{name} >= {n}",
    ][form]


condition = st.recursive(
    atom(),
    lambda inner: st.one_of(
        st.tuples(inner, inner).map(lambda p: f"({p[0]}) && ({p[1]})"),
        st.tuples(inner, inner).map(lambda p: f"({p[0]}) || ({p[1]})"),
        inner.map(lambda c: f"!({c})"),
    ),
    max_leaves=3,
)

mapping = st.dictionaries(st.sampled_from(INPUT_KEYS), variable, max_size=2)
output_mapping = st.dictionaries(st.sampled_from(OUTPUT_KEYS), variable, max_size=2)


@st.composite
def task(draw) -> tuple:
    return ("task", draw(st.integers(min_value=0, max_value=2)), draw(mapping), draw(output_mapping))


@st.composite
def _branches_par(draw, block) -> tuple:
    branches = draw(st.lists(block, min_size=2, max_size=3))
    if draw(st.integers(min_value=0, max_value=5)) == 0:
        branches.insert(draw(st.integers(min_value=0, max_value=len(branches))), None)
    return ("par", branches)


@st.composite
def _branches_xor(draw, block) -> tuple:
    bodies = draw(st.lists(st.one_of(block, st.none()), min_size=1, max_size=3))
    # At most one empty branch: two edges between the same split and join say nothing more.
    seen_empty = False
    cleaned = []
    for body in bodies:
        if body is None:
            if seen_empty:
                continue
            seen_empty = True
        cleaned.append(body)
    conditions: list[str | None] = [draw(condition) for _ in cleaned]
    if draw(st.booleans()):  # a default edge, anywhere in blueprint order
        conditions[draw(st.integers(min_value=0, max_value=len(cleaned) - 1))] = None
    return ("xor", list(zip(conditions, cleaned, strict=True)))


@st.composite
def _loop(draw, block) -> tuple:
    rest = draw(st.lists(block, max_size=1))
    return ("loop", ("seq", [draw(task()), *rest]), draw(condition))


def _extend(block):
    return st.one_of(
        st.lists(block, min_size=1, max_size=3).map(lambda items: ("seq", items)),
        _branches_par(block),
        _branches_xor(block),
        _loop(block),
    )


block_tree = st.recursive(task(), _extend, max_leaves=8)


class _Layout:
    def __init__(self) -> None:
        self.nodes: list[dict[str, Any]] = []
        self.edges: list[dict[str, Any]] = []

    def node(self, prefix: str, **fields: Any) -> str:
        node_id = f"{prefix}{len(self.nodes)}"
        self.nodes.append({"id": node_id, **fields})
        return node_id

    def gateway(self, prefix: str, gateway_type: str) -> str:
        return self.node(prefix, type="INTERNAL", internal_type="GATEWAY", gateway_type=gateway_type)

    def edge(self, source: str, target: str, cond: str | None = None) -> None:
        item: dict[str, Any] = {"id": f"e{len(self.edges)}", "source_id": source, "target_id": target}
        if cond is not None:
            item["condition"] = cond
        self.edges.append(item)

    def block(self, tree: tuple, source: str, cond: str | None = None) -> str | None:
        """Lay out ``tree`` after ``source`` (the first edge carries ``cond``); return its exit node (None
        for a branch that ends in an END event)."""
        kind = tree[0]
        if kind == "end":
            node = self.node("end", type="INTERNAL", internal_type="EVENT", event_type="END")
            self.edge(source, node, cond)
            return None
        if kind == "task":
            _, index, inputs, outputs = tree
            node = self.node("t", type="TASK", task_id=f"job{index}", input_mapping=dict(inputs),
                             output_mapping=dict(outputs))
            self.edge(source, node, cond)
            return node
        if kind == "seq":
            current = source
            for position, child in enumerate(tree[1]):
                current = self.block(child, current, cond if position == 0 else None)
            return current
        if kind == "par":
            split = self.gateway("ps", "PARALLEL_SPLIT")
            join = self.gateway("pj", "PARALLEL_JOIN")
            self.edge(source, split, cond)
            for branch in tree[1]:
                end = split if branch is None else self.block(branch, split)
                if end is not None:
                    self.edge(end, join)
            return join
        if kind == "xor":
            split = self.gateway("xs", "EXCLUSIVE_SPLIT")
            join = self.gateway("xj", "EXCLUSIVE_JOIN")
            self.edge(source, split, cond)
            for branch_cond, branch in tree[1]:  # edges leave the split in the order of the branches
                if branch is None:
                    self.edge(split, join, branch_cond)
                else:
                    end = self.block(branch, split, branch_cond)
                    if end is not None:
                        self.edge(end, join)
            return join
        if kind == "loop":
            _, body, back = tree
            head = self.gateway("lh", "EXCLUSIVE_JOIN")
            self.edge(source, head, cond)
            tail = self.gateway("lt", "EXCLUSIVE_SPLIT")
            self.edge(self.block(body, head), tail)
            self.edge(tail, head, back)  # again while the condition holds; the caller's edge is the exit
            return tail
        raise ValueError(f"unknown block {kind!r}")


def layout(tree: tuple, workflow_id: str = "random") -> dict[str, Any]:
    """The blueprint (a dict in the Go format) of a block tree: START -> tree -> END."""
    out = _Layout()
    start = out.node("start", type="INTERNAL", internal_type="EVENT", event_type="START")
    last = out.block(tree, start)
    end = out.node("end", type="INTERNAL", internal_type="EVENT", event_type="END")
    out.edge(last, end)
    return {"workflow_id": workflow_id, "version": 1, "nodes": out.nodes, "edges": out.edges}


blueprints = block_tree.map(layout)
"""Random well-formed (block-structured) blueprints."""


def _add_ends(tree: tuple | None, flags: list[bool]) -> tuple | None:
    """End some branches of parallel and exclusive blocks in an END event (at least one branch of each
    block goes on to its join), consuming one flag per branch."""
    if tree is None or tree[0] in ("task", "end"):
        return tree
    if tree[0] == "seq":
        return ("seq", [_add_ends(child, flags) for child in tree[1]])
    if tree[0] == "loop":
        return ("loop", _add_ends(tree[1], flags), tree[2])
    branches = tree[1] if tree[0] == "par" else [body for _, body in tree[1]]
    ended = [bool(flags.pop()) if flags else False for _ in branches]
    if all(ended):
        ended[0] = False
    bodies = [("end",) if end and body is None else
              ("seq", [_add_ends(body, flags), ("end",)]) if end else _add_ends(body, flags)
              for body, end in zip(branches, ended, strict=True)]
    if tree[0] == "par":
        return ("par", bodies)
    return ("xor", [(cond, body) for (cond, _), body in zip(tree[1], bodies, strict=True)])


blueprints_with_ends = st.tuples(block_tree, st.lists(st.booleans(), max_size=12)).map(
    lambda pair: layout(_add_ends(pair[0], list(pair[1]))))
"""Random blueprints where some branches end in an END event inside a parallel or exclusive block:
valid, with warnings (reaching such an END ends the instance while other branches may still run)."""

initial_context = st.dictionaries(variable, value, max_size=4)
outputs = st.dictionaries(st.sampled_from((*OUTPUT_KEYS, "unmapped")), value, max_size=3)
variables = st.dictionaries(variable, value, min_size=1, max_size=2)
every_variable = st.fixed_dictionaries({name: small_int for name in VARIABLES})
"""What an operator fixing a FAILED instance might write: a small int in every variable."""
