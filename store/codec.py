"""Conversions between the engine's values and the text SQLite stores."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import lru_cache
from json.encoder import c_make_encoder, encode_basestring
from json.scanner import c_make_scanner
from typing import Any


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


def dump_json(value: Any) -> str:
    if _C_ENCODE is None:
        return _ENCODER.encode(value)
    return "".join(_C_ENCODE(value, 0))


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
