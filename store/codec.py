"""Conversions between the engine's values and the text SQLite stores."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import lru_cache
from json.encoder import c_make_encoder, encode_basestring
from json.scanner import c_make_scanner
from typing import Any

try:
    import orjson
except ImportError:  # pragma: no cover - a dependency; the standard library does the same, slower
    orjson = None


@lru_cache(maxsize=1024)  # one step writes the same time in many rows
def dump_time(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with microseconds always present, so that text order is time order."""
    if value is None:
        return None
    if value.tzinfo is not UTC:  # the engine's clock gives UTC already: skip the conversion then
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value.isoformat(timespec="microseconds")


def load_time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)
# ``json.dumps(value, **options)`` builds a JSONEncoder and then a C encoder on every call; build the C
# encoder once (the same one ``_ENCODER.encode`` would build, so the text is identical). It has no circular
# reference check: the values stored are checked by ``engine.manager.check_json_object`` (depth-limited)
# or built by the engine, and a cycle would still fail, with RecursionError instead of ValueError.
_C_ENCODE = (c_make_encoder(None, _ENCODER.default, encode_basestring, None, ":", ",", False, False, False)
             if c_make_encoder is not None else None)


def canonical_json(value: Any) -> str:
    """Compact JSON by the standard library: the text a blueprint's digest is taken of, which must not
    change between versions (a float like 1e-07 is written differently by orjson)."""
    if _C_ENCODE is None:
        return _ENCODER.encode(value)
    return "".join(_C_ENCODE(value, 0))


# orjson writes the same compact JSON (UTF-8, no spaces, keys in order) about 7x faster; a step writes a
# kilobyte or two of it (its history entries, the tokens, outputs). Whatever orjson refuses or would write
# otherwise than the standard library goes to the standard library: integers beyond 64 bits, non-string
# keys, lone surrogates (its TypeError), and datetimes and dataclasses (passed through to that error,
# where orjson would write them). Values that reach here were checked by
# ``engine.manager.check_json_object`` (no NaN: orjson would write null).
_ORJSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS if orjson else 0


def dump_json(value: Any) -> str:
    if orjson is not None:
        try:
            return orjson.dumps(value, option=_ORJSON_OPTIONS).decode()
        except TypeError:
            pass
    return canonical_json(value)


_SCAN = c_make_scanner(json.JSONDecoder()) if c_make_scanner is not None else None


def load_json(text: str | None) -> Any:
    if text is None:
        return None
    if _SCAN is not None:  # the C scanner straight away: json.loads adds two regex scans for whitespace
        try:
            value, end = _SCAN(text, 0)
        except StopIteration:  # leading whitespace or bad JSON: json.loads says which
            pass
        else:
            if end == len(text):
                return value
    return json.loads(text)


def like_pattern(text: str) -> str:
    """A LIKE pattern (used with ESCAPE '\\') matching any text that holds ``text``."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
