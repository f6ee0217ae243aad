"""What evaluating a condition will cost, estimated from its tree and the values it reads, before it runs.

Conditions are evaluated inside the store's write transaction, so their time is time the database's
write lock is held, and CEL's own guarantee (every program terminates) says nothing of how soon:
``l.exists(x, x in m)`` over two lists of 100,000 elements is 10**10 steps, and the binding builds the
result of ``map`` and ``filter`` by copying the list so far at every step (quadratic in the list).

The estimate is an upper bound, in units of about a nanosecond of the machine BENCHMARKS.md describes
(bench/conditions.py times the costliest condition of each kind the limit admits). It adds up:

- handing the values the condition reads to the binding, which copies each into its own types
  (engine/cel_shapes.py);
- evaluating the tree, each value standing as its *shape* (engine/cel_shapes.py): a comprehension over
  ``l`` costs ``size(l)`` times its body, ``x in m`` over a list ``size(m)`` comparisons of ``x`` with
  the largest element, ``map`` and ``filter`` also the copies of their result, ``matches`` compiling its
  pattern and running it over the string (engine/cel_regex.py).

Both branches of ``? :`` and both operands of ``&&`` and ``||`` count, so the estimate never depends on a
value it does not know, and it grows with every shape: the cost with every variable null is the least
any evaluation can have.
"""

from __future__ import annotations

from typing import Any

from engine import cel_parse as p
from engine import cel_regex
from engine.cel_shapes import (
    SCALAR,
    Meter,
    OverLimit,
    Shape,
    Values,
    conversion_cost,
    describe,
    join,
    text_shape,
)

COST_LIMIT = 5_000_000
"""The largest estimated cost evaluated, in the units of this module (about a nanosecond on the machine
BENCHMARKS.md describes). The costliest conditions it admits evaluate in a few milliseconds there
(bench/conditions.py builds them over the largest inputs the limit lets through and times them), so an
exclusive split holds the write lock that long at most, and a Ctrl-C waits no longer. An ordinary
condition (``amount > 100 && region in ['EU', 'US']``) costs about 9,000; one reading a list of 1,000
numbers about 200,000 (``l.exists(x, x == 3)`` over them 1,300,000), of 1,000 strings 2,200,000, of 100
objects of five fields 3,100,000; ``order.total > 100`` 12,000 whatever else ``order`` holds (only
``total`` is handed over)."""

# The cost of each kind of step, in units (about a nanosecond; bench/conditions.py measures them).
EVALUATION = 5_000  # one call of the binding: its context, the call, the result brought back
NODE = 100  # a node of the tree: an operator, a literal, a name looked up, a function called
ITERATION = 700  # a comprehension's step, besides its body
COPY_NODE = 200  # copying a value the binding holds (map and filter copy their result at every step)
COPY_ENTRY = 200  # and each entry of a map in it
COPY_CHAR = 1
COMPARE_NODE = 100  # comparing two values (==, <, in), per node of the smaller one: 8 ns for numbers
COMPARE_ENTRY = 1_500  # and per map entry: comparing two maps of two entries takes 2.6 µs
COMPARE_CHAR = 1
SCAN_CHAR = 1  # a pass over a string (size, contains, startsWith, parsing a number or a time)
FUNCTION = 2_000  # a conversion or time function (int, string, timestamp, getHours...)


class CostExceeded(Exception):
    """The estimate is over :data:`COST_LIMIT`. ``cost`` is the estimate (a lower bound when ``at_least``)
    and ``reason`` names the largest part of it."""

    def __init__(self, cost: int, reason: str, at_least: bool = False) -> None:
        self.cost = cost
        self.reason = reason
        self.at_least = at_least
        if at_least:
            super().__init__(f"estimated cost is over the limit of {COST_LIMIT:,}: {reason}")
        else:
            super().__init__(f"estimated cost {cost:,} is over the limit of {COST_LIMIT:,} ({reason})")


def input_shapes(activation: dict[str, Any], limit: int) -> tuple[dict[str, Values], int]:
    """The shape of each value in ``activation`` and the cost of handing them all to the binding; raise
    :class:`CostExceeded` as soon as that cost alone is over ``limit``."""
    meter = Meter(limit)
    counts: dict[int, tuple[int, int, int]] = {}
    for name, value in activation.items():
        before = meter.total
        try:
            conversion_cost(value, meter, counts)
        except OverLimit as over:
            what = name + "".join(over.path) if over.value is not None else name
            part = over.value if over.value is not None else value
            raise CostExceeded(meter.total, f"handing {what} ({describe(part)}) to the evaluator costs more "
                               f"than {meter.total - before:,}", at_least=True) from None
        except RecursionError:
            raise CostExceeded(meter.total, f"{name!r} is nested too deeply to measure", at_least=True) from None
    return {name: Values([value], counts) for name, value in activation.items()}, meter.total


# -- the tree --------------------------------------------------------------------------------------


class Estimate:
    """The cost of evaluating a tree over given input shapes (:meth:`run`), and its largest part
    (``largest``, described by :meth:`reason`)."""

    def __init__(self, source: str, shapes: dict[str, Shape]) -> None:
        self.source = source
        self.env = shapes
        self.total = 0
        self.largest: tuple[int, str, int] = (0, "", 0)  # the largest part: its cost, what, where

    def run(self, tree: p.Node) -> int:
        shape = self.visit(tree)
        self.total += self.copy(shape)  # the result is brought back to Python
        return self.total

    def charge(self, amount: float, at: int, what: str) -> None:
        amount = int(amount)
        self.total += amount
        if amount > self.largest[0]:
            self.largest = (amount, what, at)

    def reason(self) -> str:
        """The largest part of the cost, and where it is in the source."""
        _, what, at = self.largest
        if not what:
            return "the condition as a whole"
        line, column = p.line_and_column(self.source, at)
        return f"{what} at line {line}, column {column}"

    def copy(self, shape: Shape | None) -> int:
        if shape is None:
            return 0
        return COPY_NODE * shape.nodes + COPY_ENTRY * shape.entries + COPY_CHAR * shape.chars

    def visit(self, node: p.Node) -> Shape:
        return _VISITORS[type(node)](self, node)

    # - nodes -

    def literal(self, node: p.Literal) -> Shape:
        self.total += NODE
        if node.kind == "string":
            return text_shape(node.value)
        if node.kind == "bytes":
            return Shape("bytes", len(node.value), 1, len(node.value))
        return SCALAR

    def name(self, node: p.Name) -> Shape:
        self.total += NODE
        return self.env.get(node.name, SCALAR)

    def spine(self, node: p.Select | p.Index | p.Call | p.Comprehension) -> Shape:
        """A selection, index, method call or comprehension, and the chain of them below it (``a.b.c...``,
        ``a[0][0]...``, ``l.filter(...).map(...)``, which may be a thousand deep): a loop down to the
        first operand that is none of them, then each step back up, without recursing."""
        chain = [node]
        while _is_step(p.operand(chain[-1])):
            chain.append(p.operand(chain[-1]))
        shape = self.visit(p.operand(chain[-1]))
        for step in reversed(chain):
            shape = _STEPS[type(step)](self, step, shape)
        return shape

    def global_call(self, node: p.Call) -> Shape:
        if node.target is not None:
            return self.spine(node)
        return self.call(node, [])

    def unary(self, node: p.Unary) -> Shape:
        self.visit(node.operand)
        self.total += NODE * node.times
        return SCALAR

    def chain(self, node: p.Chain) -> Shape:
        left = self.visit(node.first)
        for op, operand, at in zip(node.ops, node.rest, node.at, strict=True):
            right = self.visit(operand)
            left = _OPERATORS.get(op, _arithmetic)(self, left, right, at)
        return left

    def conditional(self, node: p.Conditional) -> Shape:
        self.visit(node.condition)
        before = self.total
        then = self.visit(node.then)
        middle = self.total
        otherwise = self.visit(node.otherwise)
        # One branch runs: the dearer counts.
        self.total = before + max(middle - before, self.total - middle) + NODE
        return join(then, otherwise) or SCALAR

    def list_literal(self, node: p.ListLiteral) -> Shape:
        items = None
        nodes, chars, entries = 1, 0, 0
        for item in node.items:
            shape = self.visit(item)
            items = join(items, shape)
            nodes, chars, entries = nodes + shape.nodes, chars + shape.chars, entries + shape.entries
        self.total += NODE * (1 + len(node.items))
        return Shape("list", len(node.items), nodes, chars, items, entries=entries)

    def map_literal(self, node: p.MapLiteral) -> Shape:
        keys = items = None
        fields: dict[str, Shape] = {}
        nodes, chars, entries = 1, 0, len(node.entries)
        known = True  # every key a string known before evaluation
        for key_node, value_node in node.entries:
            key, value = self.visit(key_node), self.visit(value_node)
            if key.text is not None:
                fields[key.text] = join(fields.get(key.text), value)
            else:
                known = False
            keys, items = join(keys, key), join(items, value)
            nodes += key.nodes + value.nodes
            chars += key.chars + value.chars
            entries += key.entries + value.entries
            self.total += NODE + COMPARE_CHAR * key.chars
        self.total += NODE
        # A key computed at evaluation may be any: its value's shape is among ``items``.
        return Shape("map", len(node.entries), nodes, chars, items, keys, fields, open=not known,
                     entries=entries)

    def message(self, node: p.Message) -> Shape:
        for _, value in node.fields:
            self.visit(value)
        self.total += NODE * (1 + len(node.fields))
        return SCALAR

    # - the steps of a spine, given the shape of their operand -

    def select(self, node: p.Select, operand: Shape) -> Shape:
        self.total += NODE + COMPARE_CHAR * len(node.field)
        return SCALAR if node.test else operand.field(node.field)

    def index(self, node: p.Index, operand: Shape) -> Shape:
        key = self.visit(node.key)
        self.total += NODE + COMPARE_CHAR * key.chars
        if key.text is not None:
            return operand.field(key.text)
        return operand.items or SCALAR

    def call(self, node: p.Call, target: list[Shape]) -> Shape:
        """``target`` holds the shape of a method's receiver (``s`` in ``s.contains(t)``), if any."""
        operands = target + [self.visit(arg) for arg in node.args]
        self.total += NODE
        return _FUNCTIONS.get(node.function, _other_function)(self, node, operands)

    def method(self, node: p.Call, target: Shape) -> Shape:
        return self.call(node, [target])

    def comprehension(self, node: p.Comprehension, range_: Shape) -> Shape:
        variable = {"map": range_.keys, "list": range_.items}.get(range_.kind, join(range_.keys, range_.items))
        outer = self.env
        self.env = {**outer, node.variable: variable or SCALAR}
        before = self.total
        results = [self.visit(arg) for arg in node.args]
        body = self.total - before + ITERATION
        self.env = outer
        self.total = before
        steps = range_.length if range_.kind in ("list", "map", "mixed") else 0
        self.charge(steps * body, node.at, f"{node.macro}() over {steps:,} elements")
        if node.macro == "map":
            item = results[-1]
        elif node.macro == "filter":
            item = variable or SCALAR
        else:
            return SCALAR
        # The binding appends to its result by copying it: step i copies i elements.
        self.charge(steps * (steps - 1) // 2 * self.copy(item), node.at,
                    f"{node.macro}() building a list of {steps:,} elements")
        return Shape("list", steps, 1 + steps * item.nodes, steps * item.chars, item, entries=steps * item.entries)


def _is_step(node: p.Node | None) -> bool:
    return type(node) in _STEPS and (type(node) is not p.Call or node.target is not None)


_STEPS = {p.Select: Estimate.select, p.Index: Estimate.index, p.Call: Estimate.method,
          p.Comprehension: Estimate.comprehension}


# -- operators and functions ------------------------------------------------------------------------


def _compare_cost(a: Shape, b: Shape) -> int:
    return (COMPARE_NODE * min(a.nodes, b.nodes) + COMPARE_ENTRY * min(a.entries, b.entries)
            + COMPARE_CHAR * min(a.chars, b.chars))


def _relation(estimate: Estimate, left: Shape, right: Shape, at: int) -> Shape:
    estimate.total += NODE + _compare_cost(left, right)
    return SCALAR


def _logic(estimate: Estimate, left: Shape, right: Shape, at: int) -> Shape:
    estimate.total += NODE
    return SCALAR


def _in(estimate: Estimate, left: Shape, right: Shape, at: int) -> Shape:
    if right.kind == "map":
        estimate.total += NODE + COMPARE_NODE + COMPARE_CHAR * left.chars  # a hash lookup
    else:  # a list (or a join that may be one): a comparison with each element
        each = _compare_cost(left, right.items or SCALAR)
        estimate.charge(NODE + right.length * each, at, f"'in' over {right.length:,} elements")
    return SCALAR


def _add(estimate: Estimate, left: Shape, right: Shape, at: int) -> Shape:
    if left.kind == "scalar" or right.kind == "scalar":  # numbers, times; or a type error ('x' + 1)
        estimate.total += NODE
        return SCALAR
    # Concatenation (strings, bytes, lists): a new value holding both.
    estimate.charge(NODE + estimate.copy(left) + estimate.copy(right), at, "'+' joining two values")
    kind = left.kind if left.kind == right.kind else "mixed"
    text = left.text + right.text if left.text is not None and right.text is not None else None
    return Shape(kind, left.length + right.length, left.nodes + right.nodes, left.chars + right.chars,
                 join(left.items, right.items), text=text, entries=left.entries + right.entries)


def _arithmetic(estimate: Estimate, left: Shape, right: Shape, at: int) -> Shape:
    estimate.total += NODE
    return SCALAR


_OPERATORS = {"||": _logic, "&&": _logic, "in": _in, "+": _add,
              **dict.fromkeys(("==", "!=", "<", "<=", ">", ">="), _relation)}


def _size(estimate: Estimate, node: p.Call, operands: list[Shape]) -> Shape:
    estimate.total += SCAN_CHAR * sum(s.length for s in operands if s.kind in ("string", "mixed"))
    return SCALAR


def _string_test(estimate: Estimate, node: p.Call, operands: list[Shape]) -> Shape:
    estimate.charge(SCAN_CHAR * sum(s.chars for s in operands), node.at, f"{node.function}()")
    return SCALAR


def _matches(estimate: Estimate, node: p.Call, operands: list[Shape]) -> Shape:
    subject, pattern = (operands + [SCALAR, SCALAR])[:2]
    if pattern.kind == "scalar":  # null or a number: the call fails before any pattern is compiled
        return SCALAR
    if pattern.text is None:
        # Computed at evaluation ('p + q', an element of a list): any pattern may come, and one of a few
        # characters may take 100 ms to compile.
        estimate.charge(COST_LIMIT, node.at, "matches() with a pattern computed during evaluation")
        return SCALAR
    estimate.charge(cel_regex.match_cost(pattern.text, subject.chars), node.at,
                    f"matches() with the pattern {_short(pattern.text)} over {subject.chars:,} characters")
    return SCALAR


def _convert(estimate: Estimate, node: p.Call, operands: list[Shape]) -> Shape:
    estimate.total += FUNCTION + SCAN_CHAR * sum(s.chars for s in operands)
    if node.function == "dyn" and operands:
        return operands[0]
    if node.function in ("string", "bytes") and operands:
        source = operands[0]
        kind = "string" if node.function == "string" else "bytes"
        written = Shape(kind, 32, 1, 32)  # a number, a time written out
        if source.kind not in ("string", "bytes", "mixed"):
            return written
        grow = 4 if node.function == "bytes" else 1  # bytes('é') has two bytes; string(b) at most as many
        text = Shape(kind, source.length * grow, 1, source.chars * grow)
        return text if source.kind != "mixed" else join(text, written)
    return SCALAR


def _other_function(estimate: Estimate, node: p.Call, operands: list[Shape]) -> Shape:
    estimate.total += FUNCTION + SCAN_CHAR * sum(s.chars for s in operands)
    return SCALAR


_FUNCTIONS = {"size": _size, "matches": _matches, "contains": _string_test, "startsWith": _string_test,
              "endsWith": _string_test,
              **dict.fromkeys(("int", "uint", "double", "string", "bytes", "dyn", "type", "timestamp",
                               "duration"), _convert)}

_VISITORS = {p.Literal: Estimate.literal, p.Name: Estimate.name, p.Select: Estimate.spine,
             p.Index: Estimate.spine, p.Call: Estimate.global_call, p.Comprehension: Estimate.spine,
             p.Unary: Estimate.unary, p.Chain: Estimate.chain, p.Conditional: Estimate.conditional,
             p.ListLiteral: Estimate.list_literal, p.MapLiteral: Estimate.map_literal, p.Message: Estimate.message}


def _short(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:37] + "...")


