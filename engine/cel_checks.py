"""The checks made on a condition's tree when it is compiled (engine/conditions.py): the functions it
calls, how deep its comprehensions nest, the least its evaluation can cost and whether small values keep
it within the limit, and what it reads of each value of the context.
"""

from __future__ import annotations

from typing import Any

from engine import cel_cost, cel_parse, cel_shapes
from engine.conditions import KNOWN_FUNCTIONS, MAX_COMPREHENSION_NESTING, MAX_DEPTH, SMALL_TEXT, ConditionError


def check(source: str, tree: cel_parse.Node, functions: list[str], variables: tuple[str, ...]
          ) -> tuple[dict[str, Any], bool]:
    """Raise :class:`ConditionError` for what the tree may not hold; return what it reads of the context
    (see :func:`reads`) and whether its cost is within the limit whenever the values it reads are small
    (numbers, booleans, null, strings of at most ``SMALL_TEXT`` characters)."""
    unknown = sorted(
        # Operators are named like '_>_' or '@in'; anything spelled like an identifier ('__import__' too)
        # is a function call and must be known, and so must '.f(x)' (a name from the root scope).
        {name for name in functions if name.isidentifier() and name not in KNOWN_FUNCTIONS}
        | {n.function for n in walk(tree) if isinstance(n, cel_parse.Call) and n.function not in KNOWN_FUNCTIONS}
    )
    if unknown:
        raise ConditionError(f"unknown function {', '.join(repr(n) for n in unknown)}")
    nesting, offset = comprehension_nesting(tree)
    if nesting > MAX_COMPREHENSION_NESTING:
        raise ConditionError(f"comprehensions nested {nesting} deep; the limit is {MAX_COMPREHENSION_NESTING} "
                             "(a comprehension inside another costs the product of the list sizes)",
                             *cel_parse.line_and_column(source, offset))
    levels, offset = depth(tree)
    if levels > MAX_DEPTH:
        raise ConditionError(f"nested {levels} levels deep; the limit is {MAX_DEPTH}",
                             *cel_parse.line_and_column(source, offset))
    floor, reason, where = static_cost(source, tree, dict.fromkeys(variables, cel_shapes.SCALAR), 0)
    if floor > cel_cost.COST_LIMIT:
        raise ConditionError(f"estimated cost {floor:,} is over the limit of {cel_cost.COST_LIMIT:,} "
                             f"whatever the context holds ({reason})", *where)
    small = cel_shapes.Shape("mixed", SMALL_TEXT, 1, SMALL_TEXT)
    converting = (cel_shapes.CONVERT_STRING + cel_shapes.CONVERT_CHAR * SMALL_TEXT) * len(variables)
    fits = static_cost(source, tree, dict.fromkeys(variables, small), converting)[0] <= cel_cost.COST_LIMIT
    found = reads(tree)
    bound = {n.variable for n in walk(tree) if isinstance(n, cel_parse.Comprehension)}
    for name in variables:  # a name the binding reads that the tree does not show: whole, to be safe
        if name not in found and name not in bound:
            found[name] = None
    return found, fits


def static_cost(source: str, tree: cel_parse.Node, shapes: dict, converting: int
                ) -> tuple[int, str, tuple[int | None, int | None]]:
    """The estimated cost of ``tree`` over ``shapes``, its largest part and where that part is."""
    estimate = cel_cost.Estimate(source, shapes)
    try:
        cost = cel_cost.EVALUATION + converting + estimate.run(tree)
    except RecursionError:
        raise ConditionError("nested too deeply to estimate its cost") from None
    what, at = estimate.largest[1:]
    where = cel_parse.line_and_column(source, at) if what else (None, None)
    return cost, estimate.reason(), where


def depth(tree: cel_parse.Node) -> tuple[int, int]:
    """How deep the cost estimate recurses into ``tree`` (it follows the operands of selections, indexes,
    method calls and comprehensions in a loop: those do not count), and the offset of the deepest node."""
    deepest, where = 0, 0
    stack = [(tree, 1)]
    while stack:
        node, level = stack.pop()
        if level > deepest:
            deepest, where = level, _offset(node)
        operand = cel_parse.operand(node)
        for child in cel_parse.children(node):
            if child is not None:
                stack.append((child, level if child is operand else level + 1))
    return deepest, where


def _offset(node: cel_parse.Node) -> int:
    return node.at[0] if isinstance(node, cel_parse.Chain) else node.at


def walk(tree: cel_parse.Node):
    """Every node of ``tree``, without recursing (a chain of selections may be a thousand deep)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(child for child in cel_parse.children(node) if child is not None)


def reads(tree: cel_parse.Node) -> dict[str, Any]:
    """What the condition reads of each name of the context: ``None`` for the whole value, or the fields
    it reads of it, as a map from field name to the same (``order.total`` and ``has(order.lines)`` read
    ``{'total': None, 'lines': None}`` of ``order``; ``order.customer.name``, ``{'customer': {'name':
    None}}``). Any other use (``size(order)``, ``order == x``, ``order[k]``) reads the whole value. Names
    bound by a comprehension are not the context's inside it."""
    found: dict[str, Any] = {}
    stack = [(tree, frozenset())]
    while stack:
        node, bound = stack.pop()
        path, base = _selection(node)
        if path:
            if isinstance(base, cel_parse.Name):
                if base.name not in bound:
                    _merge_read(found, base.name, path)
                continue
            node = base  # the keys of the selection are literals: nothing else to visit
        if isinstance(node, cel_parse.Name):
            if node.name not in bound:
                found[node.name] = None
        elif isinstance(node, cel_parse.Comprehension):
            stack.append((node.range, bound))
            stack.extend((arg, bound | {node.variable}) for arg in node.args)
        else:
            stack.extend((child, bound) for child in cel_parse.children(node) if child is not None)
    return found


def _selection(node) -> tuple[list[str], Any]:
    """The fields selected by ``node`` (``a.b.c``, ``a['b']``, ``has(a.b)``), outermost last, and what they
    are selected from."""
    path: list[str] = []
    while True:
        if isinstance(node, cel_parse.Select):
            path.append(node.field)
        elif (isinstance(node, cel_parse.Index) and isinstance(node.key, cel_parse.Literal)
              and node.key.kind == "string"):
            path.append(node.key.value)
        else:
            return path[::-1], node
        node = node.operand


def _merge_read(reads: dict[str, Any], name: str, path: list[str]) -> None:
    if name in reads and reads[name] is None:
        return  # the whole value is read already
    fields = reads.setdefault(name, {})
    for field_name in path[:-1]:
        inner = fields.get(field_name, {})
        if inner is None:
            return
        fields = fields.setdefault(field_name, inner)
    fields[path[-1]] = None


def comprehension_nesting(tree: cel_parse.Node) -> tuple[int, int]:
    """How deep comprehensions nest in ``tree`` (one inside another's arguments, not its range), and the
    offset of the macro's name of the first of the deepest."""
    deepest, where = 0, 0
    stack = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, cel_parse.Comprehension):
            stack.append((node.range, depth))
            level = depth + 1
            if level > deepest or (level == deepest and node.at < where):
                deepest, where = level, node.at
            stack.extend((arg, level) for arg in node.args)
            continue
        stack.extend((child, depth) for child in cel_parse.children(node) if child is not None)
    return deepest, where
