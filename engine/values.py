"""The values a caller hands the engine — outputs, variables, an initial context: JSON objects JSON holds
exactly, no larger than :data:`MAX_VALUES_BYTES`.

:func:`check_json_object` runs on every ``task_done``, so it is written for the usual few short values: the
walk that checks them also counts an upper bound of their size, and only values that may pass the limit
are written out as JSON to be measured.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any

from engine.errors import InvalidValueError, json_kind

MAX_VALUES_BYTES = 1024 * 1024
"""The most one call may hand the engine as outputs, variables or an initial context: 1 MiB (1,048,576
bytes) of compact JSON in UTF-8, the form the store writes.

Why 1 MiB: a workflow context is what routes an instance and feeds its tasks — ids, amounts, flags, short
texts, and references (a URL, an object key) to documents kept elsewhere; the samples' contexts are a few
hundred bytes, so the limit is three orders of magnitude above what one needs. A value is kept several
times over (the execution's outputs, the context, the history entries of the step), the context is written
again by every step that changes it, and the console and ``wfconsole show --json`` show an instance whole:
``show --json`` of an instance holding one 1 MiB output prints 5 MB and peaks at 84 MB of memory (62 MB for
a small instance), where a 50 MB output, which the API took before, needed 1.4 GB. At this limit an instance
stays within tens of megabytes on screen and in ``show --json``. Blueprints have their own limit (16 MiB,
``engine.validate.MAX_JSON_BYTES``): one is stored once and read whole, never rewritten step by step.
"""

# The check counts the size of values in units of 6 bytes: the most a character of a string or key becomes in
# JSON (\u001f; 4 bytes in UTF-8), and the most an entry adds around its key and a string value (two quotes
# each, ':' and ','). An entry with a value of another kind adds the units its value takes at most.
_UNIT = 6
_MAX_UNITS = (MAX_VALUES_BYTES - 2) // _UNIT  # and the braces


class _NotJson(Exception):
    """A value JSON cannot hold exactly; the message says why."""


def check_json_object(values: Any, what: str) -> dict[str, Any]:
    """Return ``values`` if it is a dict that JSON can hold exactly, in at most :data:`MAX_VALUES_BYTES` of
    JSON; else raise :class:`InvalidValueError` naming ``what`` (``"outputs"``, ``"variables"``, ...).

    NaN and infinities, bytes, sets, datetimes and other objects are refused rather than silently
    converted: a value read back must equal the value written. A larger object is refused with its size and
    the limit: ``outputs: 52,428,800 bytes of JSON; the limit is 1,048,576 ...``. Its size is counted as an
    upper bound while the values are checked; only an object whose bound passes the limit (more than some
    170,000 characters) is written out as JSON to be measured exactly.
    """
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise InvalidValueError(f"{what} must be a JSON object, got {json_kind(values)}")
    size = 0  # in units (see _UNIT): at least the bytes of the JSON without its braces, divided by 6
    for key, value in values.items():
        # The usual cases first, without a call: an ASCII key, and an ASCII string, a bool, None, an integer
        # of up to 64 bits or a finite float as the value.
        if type(key) is str and key.isascii():
            kind = type(value)
            if kind is str:
                if value.isascii():
                    size += len(key) + len(value) + 1
                    continue
            elif kind is bool or value is None:
                size += len(key) + 2  # false is 5 bytes
                continue
            elif kind is int:
                if value.bit_length() <= 64:
                    size += len(key) + 5  # 20 digits and a sign at most
                    continue
            elif kind is float and value - value == 0.0:  # finite: inf - inf and NaN - NaN are NaN
                size += len(key) + 5  # 24 bytes at most: -2.2250738585072014e-308
                continue
        elif not isinstance(key, str):
            raise InvalidValueError(f"{what}: key {key!r} is not a string")
        elif not _is_text(key):
            raise InvalidValueError(f"{what}: key {key!r} is not valid Unicode (a lone surrogate)")
        try:
            size += len(key) + 1 + (_json_bytes_bound(value, 0) + _UNIT - 1) // _UNIT
        except _NotJson as problem:
            raise InvalidValueError(f"{what}[{key!r}]: {problem}") from None
    if size > _MAX_UNITS:
        exact = json_size(values)
        if exact > MAX_VALUES_BYTES:
            raise InvalidValueError(f"{what}: {exact:,} bytes of JSON; the limit is {MAX_VALUES_BYTES:,} (keep large "
                                    "documents elsewhere and pass a reference to them)")
    return values


def json_size(value: Any) -> int:
    """The bytes of ``value`` as compact JSON in UTF-8 (what the store writes), for a value JSON can hold."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return len(text) if text.isascii() else len(text.encode("utf-8"))


def _json_bytes_bound(value: Any, depth: int) -> int:
    """At least the bytes of ``value`` as compact JSON; raise :class:`_NotJson` if JSON cannot hold it exactly."""
    if depth > 100:
        raise _NotJson("nested more than 100 levels deep")
    kind = type(value)
    if kind is str:  # the usual leaves first, by their exact type
        if value.isascii() or _is_text(value):
            return _UNIT * len(value) + 2
        raise _NotJson("a string that is not valid Unicode (a lone surrogate)")
    if kind is int and value.bit_length() <= 64:
        return 21
    if value is None or kind is bool:
        return 5
    if isinstance(value, int):  # longer ones cannot even be turned into text (sys.get_int_max_str_digits)
        bits = value.bit_length()
        if bits > 14_000:
            raise _NotJson("an integer too large for JSON (over 4,000 digits)")
        return bits // 3 + 2  # digits: at most bits * log10(2) + 1; and a sign
    if isinstance(value, str):
        if not _is_text(value):
            raise _NotJson("a string that is not valid Unicode (a lone surrogate)")
        return _UNIT * len(value) + 2
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _NotJson(f"{value} is not a JSON number")
        return 24  # the longest repr of a float: -2.2250738585072014e-308
    if isinstance(value, (list, tuple)):
        size = 2 + len(value)  # the brackets and the commas
        for item in value:
            size += _json_bytes_bound(item, depth + 1)
        return size
    if isinstance(value, dict):
        size = 2
        for key, item in value.items():
            if not isinstance(key, str):
                raise _NotJson(f"key {key!r} is not a string")
            if not _is_text(key):
                raise _NotJson(f"key {key!r} is not valid Unicode (a lone surrogate)")
            size += _UNIT * len(key) + 4 + _json_bytes_bound(item, depth + 1)
        return size
    hint = " (convert it to an ISO 8601 string)" if isinstance(value, datetime) else ""
    raise _NotJson(f"a {type(value).__name__} is not a JSON value{hint}")


def _is_text(value: str) -> bool:
    """Whether ``value`` can be written as UTF-8 (no lone surrogates)."""
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
