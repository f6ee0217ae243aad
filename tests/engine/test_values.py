"""``engine.values.check_json_object``: the size limit of outputs, variables and initial contexts, counted
right by every path of the check (the fast paths of the usual values and the walk of the others)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from engine import InvalidValueError
from engine import values as checked
from engine.values import MAX_VALUES_BYTES, check_json_object, json_size

LIMIT = MAX_VALUES_BYTES


def exactly(size: int, bulk: dict[str, Any]) -> dict[str, Any]:
    """``bulk`` and a padding string, together ``size`` bytes of JSON."""
    padded = {**bulk, "pad": ""}
    padded["pad"] = "p" * (size - json_size(padded))
    assert json_size(padded) == size
    return padded


def refusal(size: int) -> str:
    return rf"^outputs: {size:,} bytes of JSON; the limit is 1,048,576 \(keep large documents elsewhere"


ROOM = LIMIT - 200  # what the bulk of a value fills, leaving room for the padding
ITEM = {"sku": "SKU-1", "qty": 2, "price": 49.5, "ok": True}


def entries(make) -> dict[str, Any]:
    """As many entries ``make(n)`` (a key of a fixed length and a value) as fill :data:`ROOM`."""
    each = json_size(dict([make(0), make(1)])) - json_size(dict([make(0)]))
    return dict(make(n) for n in range(ROOM // each))


SIX_BYTES = [chr(code) for code in range(1, 32) if chr(code) not in "\b\t\n\f\r"]  # \u0001, not \n


def escaped(n: int) -> str:
    """A key of 4 control characters (6 bytes of JSON each, as many as the check counts): where its count of
    an entry has no slack, so that a byte counted short lets an object over the limit through."""
    return "".join(SIX_BYTES[n // len(SIX_BYTES) ** place % len(SIX_BYTES)] for place in range(4))


# Values that fill most of the limit, each through another path of the check.
BULKS = {
    "ASCII text": lambda: {"document": "x" * ROOM},
    "control characters (6 bytes each)": lambda: {"document": "\x01" * (ROOM // 6)},
    "4-byte characters": lambda: {"document": "\U0001f600" * (ROOM // 4)},
    "escaped keys, escaped strings": lambda: entries(lambda n: (escaped(n), "\x01")),
    "escaped keys, booleans": lambda: entries(lambda n: (escaped(n), False)),
    "escaped keys, None": lambda: entries(lambda n: (escaped(n), None)),
    "escaped keys, 64-bit integers": lambda: entries(lambda n: (escaped(n), -(2**64 - 1))),
    "escaped keys, longest floats": lambda: entries(lambda n: (escaped(n), -2.2250738585072014e-308)),
    "short keys, small integers": lambda: entries(lambda n: (f"{n:05x}", n % 10)),
    "non-ASCII keys": lambda: entries(lambda n: (f"ключ{n:05x}", 1)),
    "lists of escaped strings": lambda: {"n": ["\x01"] * (ROOM // 9)},
    "escaped keys, lists": lambda: entries(lambda n: (escaped(n), ["\x01"])),
    "lists of 64-bit integers": lambda: {"n": [-(2**64 - 1)] * (ROOM // 22)},
    "lists of longest floats": lambda: {"n": [-2.2250738585072014e-308] * (ROOM // 25)},
    "lists of integers past 64 bits": lambda: {"n": [10**40] * (ROOM // 42)},
    "lists of objects": lambda: {"items": [ITEM] * (ROOM // (json_size(ITEM) + 1))},
    "lists of objects with escaped keys": lambda: {"n": [{escaped(n): "\x01", escaped(n + 1): "\x01"}
                                                         for n in range(ROOM // 74)]},
}


@pytest.mark.parametrize("bulk", BULKS.values(), ids=BULKS.keys())
def test_an_object_of_the_limit_passes_and_one_byte_more_is_refused_with_its_size(bulk) -> None:
    values = bulk()
    assert check_json_object(exactly(LIMIT, values), "outputs")
    with pytest.raises(InvalidValueError, match=refusal(LIMIT + 1)):
        check_json_object(exactly(LIMIT + 1, values), "outputs")


def test_fifty_megabytes_are_refused_with_their_size_and_the_limit() -> None:
    with pytest.raises(InvalidValueError, match=refusal(52_428_800 + len('{"document":""}'))):
        check_json_object({"document": "x" * 50 * 1024 * 1024}, "outputs")


@contextmanager
def limit_of(size: int) -> Iterator[None]:
    """The check with a small limit, so that random values reach it."""
    saved = checked.MAX_VALUES_BYTES, checked._MAX_UNITS
    checked.MAX_VALUES_BYTES, checked._MAX_UNITS = size, (size - 2) // checked._UNIT
    try:
        yield
    finally:
        checked.MAX_VALUES_BYTES, checked._MAX_UNITS = saved


_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
_keys = st.text("k\x01é\U0001f600", max_size=3) | _text  # short keys, where the bound has the least slack
_leaves = (st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False, allow_infinity=False)
           | _text)
_json = st.recursive(_leaves, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_keys, inner, max_size=4),
                     max_leaves=12)


@settings(max_examples=250, deadline=None)
@example(values={"": False}, margin=-1)
@example(values={"": None}, margin=-1)
@example(values={"": ""}, margin=-1)
@example(values={"": -(2**64 - 1)}, margin=-1)
@example(values={"": -2.2250738585072014e-308}, margin=-1)
@given(values=st.dictionaries(_keys, _json, max_size=6), margin=st.integers(-8, 8))
def test_the_check_refuses_exactly_the_objects_over_the_limit(values: dict[str, Any], margin: int) -> None:
    size = json_size(values)
    limit = max(2, size + margin)  # around the object's size, where a bound counted short would let it through
    with limit_of(limit):
        if size <= limit:
            assert check_json_object(values, "outputs") is values
        else:
            with pytest.raises(InvalidValueError, match=rf"outputs: {size:,} bytes of JSON; the limit is {limit:,}"):
                check_json_object(values, "outputs")
