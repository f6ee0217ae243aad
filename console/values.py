"""Parsing what an operator types as a value: JSON, where a bare word is a string.

``approved`` is the string ``"approved"``; ``42``, ``true``, ``null``, ``"x"``, ``[1, 2]`` and
``{"a": 1}`` are JSON. Text that starts like JSON but is not valid (``{"a": }``, ``[1,``, ``"open``,
``12x``) is an error, so a typo is reported rather than sent as a string.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from engine.errors import json_kind

_LOOKS_LIKE_JSON = re.compile(r'^\s*([\[{"]|-?\d)')


class ValueParseError(ValueError):
    """The text is neither JSON nor a bare word; the message says where it went wrong."""


def parse_value(text: str) -> Any:
    """The JSON value ``text`` stands for; a bare word (or phrase) is a string.

    Raises :class:`ValueParseError` for text that starts like JSON but is not valid JSON.
    """
    try:
        value = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except json.JSONDecodeError as error:
        if _LOOKS_LIKE_JSON.match(text):
            raise ValueParseError(f"bad JSON: {error.msg} at column {error.colno}") from None
        return text.strip()
    except ValueError as error:
        raise ValueParseError(str(error)) from None
    return value


def parse_object(text: str) -> dict[str, Any]:
    """A JSON object typed in a raw editor; empty text is ``{}``.

    Raises :class:`ValueParseError` when the text is not JSON or not an object.
    """
    if not text.strip():
        return {}
    try:
        value = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except json.JSONDecodeError as error:
        raise ValueParseError(f"bad JSON: {error.msg} at line {error.lineno}, column {error.colno}") from None
    except ValueError as error:
        raise ValueParseError(str(error)) from None
    if not isinstance(value, dict):
        raise ValueParseError(f"must be a JSON object {{...}}, not {json_kind(value)}")
    return value


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (math.inf, -math.inf):
        raise ValueError(f"bad JSON: {text} is too large for a number")
    return value


def _refuse_constant(name: str) -> float:
    # NaN and Infinity are not JSON; the engine would refuse them anyway.
    raise ValueError(f"bad JSON: {name} is not a JSON number")

