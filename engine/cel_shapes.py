"""The shapes of values, for the cost estimate of conditions (engine/cel_cost.py), and what handing a value
to the CEL binding costs.

A *shape* stands for a value, or for the largest of several values, in everything an operation's cost
depends on: ``kind`` (scalar, string, bytes, list, map, or mixed for a join of kinds), ``length`` (a list's
or map's entries, a string's characters), ``nodes`` (the values inside, itself included), ``entries``
(the entries of every map inside: comparing maps costs much more than comparing lists), ``chars`` (the
characters of every string inside, keys included), ``items`` (a list's elements or a map's values),
``keys`` (a map's keys), :meth:`field` (a map's value for a key), ``text`` (the string, when known).

Three kinds of shape answer these alike: :class:`Shape` holds them (for what a condition computes),
:class:`Values` computes them from the context's values when asked (so a condition that reads one field
of a large list's elements pays for that field, not for walking every value), and :func:`join` combines
two.

The binding copies every value it is handed into its own types before evaluating: 0.15 µs an integer,
1 to 2 µs a string or a list, 2.5 µs a map and 1.5 µs each of its entries, more as values grow (measured
by bench/conditions.py). :func:`conversion_cost` adds that up, with the count of nodes, entries and
characters of every list and map it meets, and stops as soon as it is over its limit.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

# What handing a value to the binding costs, in the units of engine/cel_cost.py (about a nanosecond on the
# machine BENCHMARKS.md describes), the walk here included.
CONVERT_SCALAR = 200  # null, a boolean, an integer
CONVERT_FLOAT = 1_000
CONVERT_STRING = 2_200  # and CONVERT_CHAR a character
CONVERT_CHAR = 2
CONVERT_LIST = 2_200  # the list itself, besides its elements
CONVERT_MAP = 2_500  # the map itself, and CONVERT_ENTRY each entry, besides its keys and values
CONVERT_ENTRY = 1_500
CONVERT_OTHER = 3_000  # a value JSON has no type for (a caller of Condition.evaluate may hand one)

_SCALARS = frozenset({type(None), bool, int, float})
_KINDS = {str: "string", bytes: "bytes", list: "list", tuple: "list", dict: "map"}


class Shape:
    """A shape held as numbers (see the module's docstring); ``fields`` maps the keys known of a map to
    the shapes of their values, and ``open`` says that it may have others (their values' shapes are
    ``items``)."""

    __slots__ = ("kind", "length", "nodes", "chars", "entries", "items", "keys", "fields", "open", "text")

    def __init__(self, kind: str, length: int = 0, nodes: int = 1, chars: int = 0, items: Any = None,
                 keys: Any = None, fields: dict[str, Any] | None = None, text: str | None = None,
                 open: bool = True, entries: int = 0) -> None:
        self.kind = kind
        self.length = length
        self.nodes = nodes
        self.chars = chars
        self.entries = entries
        self.items = items
        self.keys = keys
        self.fields = fields
        self.open = open
        self.text = text

    def field(self, name: str) -> Any:
        """The shape of ``self[name]`` (SCALAR when there is none: selecting it fails at once)."""
        if self.fields is not None and name in self.fields:
            return self.fields[name]
        return self.items if self.open and self.items is not None else SCALAR

    def __repr__(self) -> str:
        return f"Shape({self.kind}, length={self.length}, nodes={self.nodes}, chars={self.chars})"


SCALAR = Shape("scalar")
"""A number, a boolean, null, a time: what costs nothing to compare or copy beyond its node."""


def text_shape(text: str) -> Shape:
    return Shape("string", len(text), 1, len(text), text=text)


class Values:
    """The join of the shapes of concrete values (the context's, or parts of them), computed when asked.

    ``counts`` maps ``id()`` of each list and map of the context to its (nodes, chars, entries), as
    :func:`conversion_cost` counted them.
    """

    def __init__(self, values: list[Any], counts: dict[int, tuple[int, int]]) -> None:
        self.values = values
        self.counts = counts

    @cached_property
    def kind(self) -> str:
        kinds = {_KINDS.get(type(v), "scalar") for v in self.values}
        return kinds.pop() if len(kinds) == 1 else ("scalar" if not kinds else "mixed")

    @cached_property
    def length(self) -> int:
        return max((len(v) for v in self.values if type(v) in _KINDS), default=0)

    @cached_property
    def _counts(self) -> tuple[int, int, int]:
        nodes, chars, entries = 1, 0, 0
        for value in self.values:
            kind = type(value)
            if kind is str or kind is bytes:
                chars = max(chars, len(value))
            elif kind in _KINDS:
                counted = self.counts.get(id(value)) or count(value)
                nodes, chars, entries = max(nodes, counted[0]), max(chars, counted[1]), max(entries, counted[2])
        return nodes, chars, entries

    @property
    def nodes(self) -> int:
        return self._counts[0]

    @property
    def chars(self) -> int:
        return self._counts[1]

    @property
    def entries(self) -> int:
        return self._counts[2]

    @cached_property
    def items(self) -> Values:
        items: list[Any] = []
        for value in self.values:
            kind = type(value)
            if kind is list or kind is tuple:
                items.extend(value)
            elif kind is dict:
                items.extend(value.values())
        return Values(items, self.counts)

    @cached_property
    def keys(self) -> Values:
        return Values([key for value in self.values if type(value) is dict for key in value], self.counts)

    def field(self, name: str) -> Values:
        return Values([v[name] for v in self.values if type(v) is dict and name in v], self.counts)

    @cached_property
    def text(self) -> str | None:
        texts = {v for v in self.values if type(v) is str}
        return texts.pop() if len(texts) == 1 and len(self.values) == 1 else None


class Join:
    """The join of two shapes: at least as large as either in every respect."""

    def __init__(self, a: Any, b: Any) -> None:
        self.a = a
        self.b = b

    @cached_property
    def kind(self) -> str:
        return self.a.kind if self.a.kind == self.b.kind else "mixed"

    @cached_property
    def length(self) -> int:
        return max(self.a.length, self.b.length)

    @cached_property
    def nodes(self) -> int:
        return max(self.a.nodes, self.b.nodes)

    @cached_property
    def chars(self) -> int:
        return max(self.a.chars, self.b.chars)

    @cached_property
    def entries(self) -> int:
        return max(self.a.entries, self.b.entries)

    @cached_property
    def items(self) -> Any:
        return join(self.a.items, self.b.items)

    @cached_property
    def keys(self) -> Any:
        return join(self.a.keys, self.b.keys)

    def field(self, name: str) -> Any:
        return join(self.a.field(name), self.b.field(name))

    @cached_property
    def text(self) -> str | None:
        return self.a.text if self.a.text == self.b.text else None


def join(a: Any, b: Any) -> Any:
    """A shape at least as large as ``a`` and ``b`` (either may be None: nothing)."""
    if a is None or a is b:
        return b
    if b is None:
        return a
    return Join(a, b)


def count(value: Any) -> tuple[int, int, int]:
    """The nodes, characters and map entries of ``value`` (one the context walk did not count)."""
    kind = type(value)
    if kind is str or kind is bytes:
        return 1, len(value), 0
    if kind is not list and kind is not tuple and kind is not dict:
        return 1, 0, 0
    nodes, chars, entries = 1, 0, len(value) if kind is dict else 0
    for element in (value if kind is not dict else (part for item in value.items() for part in item)):
        n, c, e = count(element)
        nodes, chars, entries = nodes + n, chars + c, entries + e
    return nodes, chars, entries


# -- what the binding's conversion costs -------------------------------------------------------------


class OverLimit(Exception):
    """Raised by :class:`Meter` when its total goes over its limit. On its way out of a value, ``value``
    becomes the longest list that was being walked and ``path`` the way to it ('.lines', '[3]')."""

    def __init__(self) -> None:
        super().__init__()
        self.path: list[str] = []
        self.value: Any = None


class Meter:
    """Adds up costs and raises :class:`OverLimit` as soon as the total is over ``limit``."""

    __slots__ = ("total", "limit")

    def __init__(self, limit: int) -> None:
        self.total = 0
        self.limit = limit

    def add(self, amount: int) -> None:
        self.total += amount
        if self.total > self.limit:
            raise OverLimit


def conversion_cost(value: Any, meter: Meter, counts: dict[int, tuple[int, int, int]]) -> tuple[int, int, int]:
    """Add what handing ``value`` to the binding costs to ``meter``; return its (nodes, chars, entries),
    recording those of every list and map inside in ``counts``. Lists of numbers or of strings are
    measured at C speed; a list of millions is refused before it is walked."""
    kind = type(value)
    if kind is str:
        meter.add(CONVERT_STRING + CONVERT_CHAR * len(value))
        return 1, len(value), 0
    if kind in _SCALARS:
        meter.add(CONVERT_FLOAT if kind is float else CONVERT_SCALAR)
        return 1, 0, 0
    if kind is list or kind is tuple:
        counted = _list_cost(value, meter, counts)
    elif kind is dict:
        counted = _map_cost(value, meter, counts)
    else:
        meter.add(CONVERT_OTHER)
        return 1, 0, 0
    counts[id(value)] = counted
    return counted


def _list_cost(value: list | tuple, meter: Meter, counts: dict) -> tuple[int, int, int]:
    try:
        return _walk_list(value, meter, counts)
    except OverLimit as over:
        if over.value is None or len(value) > len(over.value):
            over.path, over.value = [], value
        raise


def _walk_list(value: list | tuple, meter: Meter, counts: dict) -> tuple[int, int, int]:
    size = len(value)
    meter.add(CONVERT_LIST + CONVERT_SCALAR * size)  # the least its elements cost: checked before any walk
    kinds = set(map(type, value))
    if kinds <= _SCALARS:
        if float in kinds:
            meter.add((CONVERT_FLOAT - CONVERT_SCALAR) * size)
        return 1 + size, 0, 0
    if kinds == {str}:
        chars = sum(map(len, value))
        meter.add((CONVERT_STRING - CONVERT_SCALAR) * size + CONVERT_CHAR * chars)
        return 1 + size, chars, 0
    meter.total -= CONVERT_SCALAR * size
    nodes, chars, entries = 1, 0, 0
    for index, element in enumerate(value):
        try:
            n, c, e = conversion_cost(element, meter, counts)
        except OverLimit as over:
            if over.value is not None:
                over.path.insert(0, f"[{index}]")
            raise
        nodes, chars, entries = nodes + n, chars + c, entries + e
    return nodes, chars, entries


def _map_cost(value: dict, meter: Meter, counts: dict) -> tuple[int, int, int]:
    # Strings and scalars are added up here, without a call each: a context's maps are mostly made of them.
    meter.add(CONVERT_MAP + CONVERT_ENTRY * len(value))  # before the walk: a map of millions stops here
    cost = 0
    nodes, chars, entries = 1 + 2 * len(value), 0, len(value)
    for key, element in value.items():
        kind = type(key)
        if kind is str:
            cost += CONVERT_STRING + CONVERT_CHAR * len(key)
            chars += len(key)
        else:
            n, c, e = conversion_cost(key, meter, counts)
            nodes, chars, entries = nodes + n - 1, chars + c, entries + e
        kind = type(element)
        if kind is str:
            cost += CONVERT_STRING + CONVERT_CHAR * len(element)
            chars += len(element)
        elif kind in _SCALARS:
            cost += CONVERT_FLOAT if kind is float else CONVERT_SCALAR
        else:
            try:
                n, c, e = conversion_cost(element, meter, counts)
            except OverLimit as over:
                if over.value is not None:
                    over.path.insert(0, f".{key}")
                raise
            nodes, chars, entries = nodes + n - 1, chars + c, entries + e
    meter.add(cost)
    return nodes, chars, entries


def describe(value: Any) -> str:
    """``value``'s kind and size, for a message."""
    def some(count: int, what: str) -> str:
        return f"{count:,} {what}" + ("" if count == 1 else "s")

    if isinstance(value, (list, tuple)):
        return f"a list of {some(len(value), 'element')}"
    if isinstance(value, dict):
        return f"a map of {some(len(value), 'entry').replace('entrys', 'entries')}"
    if isinstance(value, str):
        return f"a string of {some(len(value), 'character')}"
    return type(value).__name__
