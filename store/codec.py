"""Conversions between the engine's values and the text SQLite stores."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any


def dump_time(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with microseconds always present, so that text order is time order."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def load_time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def dump_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def load_json(text: str | None) -> Any:
    return json.loads(text) if text is not None else None
