"""Times typed by an operator in a search: ``30m`` (that long ago), ``14:05``, ``03-02 14:05``, ``2026-03-02``.

Absolute times are read in the console's display time zone (the one every time on screen is shown in).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from console.formatting import ConsoleClock

_UNITS = {"s": "seconds", "sec": "seconds", "secs": "seconds", "second": "seconds", "seconds": "seconds",
          "m": "minutes", "min": "minutes", "mins": "minutes", "minute": "minutes", "minutes": "minutes",
          "h": "hours", "hr": "hours", "hrs": "hours", "hour": "hours", "hours": "hours",
          "d": "days", "day": "days", "days": "days", "w": "weeks", "week": "weeks", "weeks": "weeks"}
# A number and a unit of _UNITS exactly ("1mo" is no unit: it must not read as one minute).
_AGO = re.compile(r"^(\d+(?:\.\d+)?)\s*([a-z]+)(\s+ago)?$", re.IGNORECASE)
_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d")
HINT = "30m, 2h, 1d (that long ago), 14:05 (today), 03-02 14:05 or 2026-03-02 14:05"


def parse_time_bound(text: str, clock: ConsoleClock) -> datetime | None:
    """The moment ``text`` stands for, or ``None`` for empty text; raises ``ValueError`` saying what is
    accepted."""
    text = " ".join(text.split())
    if not text or text.lower() == "now":
        return None if not text else clock.now()
    now = clock.local(clock.now())
    match = _AGO.match(text)
    if match and match.group(2).lower() in _UNITS:
        try:
            return now - timedelta(**{_UNITS[match.group(2).lower()]: float(match.group(1))})
        except OverflowError:
            raise ValueError(f"{text!r} is too long ago; use {HINT}") from None
    # Without a year it is this year; without a date, today (the year is added before parsing: a date
    # without a year is ambiguous on 29 February).
    for candidate in (text, f"{now.year}-{text}", f"{now:%Y-%m-%d} {text}"):
        for pattern in _FORMATS:
            try:
                return datetime.strptime(candidate, pattern).replace(tzinfo=now.tzinfo)
            except ValueError:
                continue
    raise ValueError(f"{text!r} is not a time; use {HINT}")
