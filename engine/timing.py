"""Times in blueprints: ISO 8601 durations (``PT15M``, ``P1DT2H``, ``P2W``), date-times, and the timer specs of
timer events, task deadlines and boundary timers.

A timer spec is written in a node as a duration string (``"PT15M"``) or an object with exactly one of
``duration`` (a duration), ``date`` (a date-time with its offset, ``2026-12-24T18:00:00Z``) or ``key`` (a context
key whose value, when the token arrives, is a date-time or a duration). :func:`read_timer` checks one at load,
naming the field and what is wrong; :meth:`TimerSpec.due` computes the due time when a token arrives.
"""

from __future__ import annotations

import re
from calendar import monthrange
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from engine.errors import WorkflowError

_DURATION = re.compile(
    r"P(?!$)(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:[.,]\d+)?)S)?)?")
MAX_DURATION_DAYS = 100 * 366
"""A duration longer than about a century is a typo (a timer that never fires in anyone's lifetime)."""


class TimerValueError(WorkflowError):
    """A duration, date-time or timer spec that cannot be read; the message says what and why."""


@dataclass(frozen=True)
class Duration:
    """An ISO 8601 duration: calendar months (years are twelve each) and an exact time span."""

    text: str
    months: int
    span: timedelta

    def after(self, at: datetime) -> datetime:
        """``at`` plus this duration: the months on the calendar (the 31st plus a month is the month's last day),
        then the exact span."""
        if self.months:
            month_index = at.month - 1 + self.months
            year, month = at.year + month_index // 12, month_index % 12 + 1
            at = at.replace(year=year, month=month, day=min(at.day, monthrange(year, month)[1]))
        return at + self.span


def parse_duration(text: Any) -> Duration:
    """Read an ISO 8601 duration (``PT15M``, ``P1DT12H``, ``P2W``, ``PT0.5S``); raise :class:`TimerValueError`."""
    if not isinstance(text, str):
        raise TimerValueError(f"expected an ISO 8601 duration such as 'PT15M', found {type(text).__name__}")
    match = _DURATION.fullmatch(text.strip().upper())
    if match is None:
        raise TimerValueError(f"{text!r} is not an ISO 8601 duration (such as 'PT15M', 'PT1H30M', 'P1D', 'P2W')")
    parts = {name: value for name, value in match.groupdict().items() if value is not None}
    months = int(parts.get("years", 0)) * 12 + int(parts.get("months", 0))
    span = timedelta(weeks=int(parts.get("weeks", 0)), days=int(parts.get("days", 0)),
                     hours=int(parts.get("hours", 0)), minutes=int(parts.get("minutes", 0)),
                     seconds=float(parts.get("seconds", "0").replace(",", ".")))
    if months * 31 + span.days > MAX_DURATION_DAYS:
        raise TimerValueError(f"{text!r} is longer than {MAX_DURATION_DAYS // 366} years")
    return Duration(text, months, span)


def parse_datetime(text: Any) -> datetime:
    """Read an ISO 8601 date-time with an offset (``2026-12-24T18:00:00Z``, ``...+01:00``); one without an
    offset is refused, since the engine's clock is UTC and a local time would be ambiguous."""
    if not isinstance(text, str):
        raise TimerValueError(f"expected an ISO 8601 date-time, found {type(text).__name__}")
    try:
        value = datetime.fromisoformat(text.strip().replace("z", "Z"))
    except ValueError:
        raise TimerValueError(f"{text!r} is not an ISO 8601 date-time (such as '2026-12-24T18:00:00Z')") from None
    if value.tzinfo is None:
        raise TimerValueError(f"{text!r} has no offset: write it in UTC ('Z') or with its offset ('+01:00')")
    return value.astimezone(UTC)


@dataclass(frozen=True)
class TimerSpec:
    """When a timer is due: after ``duration``, at ``date``, or as the context's ``key`` says."""

    duration: Duration | None = None
    date: datetime | None = None
    key: str | None = None

    def due(self, at: datetime, context: dict[str, Any]) -> datetime:
        """The due time for a token arriving at ``at`` with ``context``; :class:`TimerValueError` when the context
        key is missing or holds neither a date-time nor a duration."""
        if self.duration is not None:
            return self.duration.after(at)
        if self.date is not None:
            return self.date
        value = context.get(self.key or "")
        if value is None:
            raise TimerValueError(f"the context has no {self.key!r}, which says when the timer is due")
        if isinstance(value, str) and value.strip().upper().startswith("P"):
            try:
                return parse_duration(value).after(at)
            except TimerValueError as error:
                raise TimerValueError(f"context {self.key!r}: {error}") from None
        try:
            return parse_datetime(value)
        except TimerValueError as error:
            raise TimerValueError(f"context {self.key!r}: {error}, nor a duration") from None

    def describe(self) -> str:
        """``PT15M``, ``at 2026-12-24T18:00:00Z`` or ``as context 'remind_at' says``: for drawings and lists."""
        if self.duration is not None:
            return self.duration.text
        if self.date is not None:
            return f"at {self.date.isoformat().replace('+00:00', 'Z')}"
        return f"{self.key} (context)"


_FIELDS = ("duration", "date", "key")


def read_timer(raw: Any, extra_fields: tuple[str, ...] = ()) -> TimerSpec:
    """A timer spec as a node writes it: a duration string, or an object with one of ``duration``, ``date``,
    ``key`` (and ``extra_fields``, which its holder reads: a boundary timer's ``edge``). Raise
    :class:`TimerValueError` saying what is wrong, a misspelt field with the one it was meant to be."""
    if isinstance(raw, str):
        return TimerSpec(duration=parse_duration(raw))
    if not isinstance(raw, dict):
        raise TimerValueError("expected a duration such as 'PT15M' or an object with 'duration', 'date' or 'key'")
    _refuse_unknown(raw, (*_FIELDS, *extra_fields))
    given = [name for name in _FIELDS if raw.get(name) not in (None, "")]
    if len(given) != 1:
        found = ", ".join(repr(n) for n in given) or "none"
        raise TimerValueError(f"needs exactly one of 'duration', 'date' or 'key' (found {found})")
    name = given[0]
    value = raw[name]
    if name == "duration":
        return TimerSpec(duration=parse_duration(value))
    if name == "date":
        return TimerSpec(date=parse_datetime(value))
    if not isinstance(value, str) or not value.strip():
        raise TimerValueError("'key' must name a context key")
    return TimerSpec(key=value)


BOUNDARY_FIELDS = ("edge", "interrupting")  # a boundary timer's own fields, beside its time


def _refuse_unknown(raw: dict, known: tuple[str, ...]) -> None:
    import difflib

    for name in raw:
        if name not in known:
            nearest = difflib.get_close_matches(str(name), known, n=1, cutoff=0.6)
            hint = f" (did you mean {nearest[0]!r}?)" if nearest else f" (it takes {', '.join(map(repr, known))})"
            raise TimerValueError(f"unknown field {name!r}{hint}")


def lateness(due_at: datetime, now: datetime) -> timedelta:
    """How late something due at ``due_at`` is at ``now`` (zero when not yet due)."""
    return max(timedelta(0), now - due_at)


@dataclass(frozen=True)
class BoundaryTimer:
    """A timer on a task's execution (``boundary_timers`` of a TASK node): when it fires, the token takes the
    timeout ``edge``; ``interrupting`` cancels the execution first, else a second token goes and the task stays."""

    timer: TimerSpec
    edge_id: str
    target_id: str
    interrupting: bool = True

    def describe(self) -> str:
        """``◷ PT1H`` (interrupting) or ``◷ PT1H, task stays``: the timeout edge's label in drawings."""
        return f"◷ {self.timer.describe()}" + ("" if self.interrupting else ", task stays")


def boundary_items(raw: Any) -> list[Any]:
    """A TASK's ``boundary_timers`` as a list (``None`` is none; one object is one)."""
    if raw is None:
        return []
    return raw if isinstance(raw, list) else [raw]


def timeout_edge_ids(raw: Any) -> set[str]:
    """The edges a TASK's ``boundary_timers`` take when they fire: not followed when the task completes."""
    return {item["edge"] for item in boundary_items(raw)
            if isinstance(item, dict) and isinstance(item.get("edge"), str)}


@dataclass(frozen=True)
class Schedule:
    """A timer start's schedule (a START node's ``timer``): a five-field ``cron`` expression (UTC) or an
    ``interval`` (a duration). :meth:`next_after` is the first time after a moment."""

    cron: str | None = None
    interval: Duration | None = None

    def next_after(self, moment: datetime) -> datetime:
        """The first time of the schedule strictly after ``moment``."""
        if self.interval is not None:
            return self.interval.after(moment)
        found = cron_trigger(self.cron or "").get_next_fire_time(None, moment + timedelta(microseconds=1))
        if found is None:
            raise TimerValueError(f"cron {self.cron!r} never fires again")
        return found.astimezone(UTC)

    def describe(self) -> str:
        return f"cron {self.cron}" if self.cron else f"every {self.interval.text if self.interval else '?'}"


def read_schedule(raw: Any) -> Schedule:
    """A START node's ``timer``: ``{"cron": "0 9 * * MON-FRI"}`` or ``{"interval": "PT1H"}``; raise
    :class:`TimerValueError` saying what is wrong (a bad cron expression in APScheduler's words)."""
    if isinstance(raw, dict):
        _refuse_unknown(raw, ("cron", "interval"))
    if not isinstance(raw, dict) or len([k for k in ("cron", "interval") if raw.get(k)]) != 1:
        raise TimerValueError("a timer start needs exactly one of 'cron' (five fields, UTC) or 'interval' (a "
                              "duration such as 'PT1H')")
    if raw.get("interval"):
        interval = parse_duration(raw["interval"])
        if not interval.months and interval.span < timedelta(seconds=1):
            raise TimerValueError(f"interval {raw['interval']!r} is shorter than a second")
        return Schedule(interval=interval)
    cron = raw["cron"]
    if not isinstance(cron, str):
        raise TimerValueError("'cron' must be a string of five fields, such as '0 9 * * MON-FRI'")
    try:
        cron_trigger(cron)
    except ValueError as error:
        raise TimerValueError(f"cron {cron!r}: {error}") from None
    return Schedule(cron=cron)


_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # cron's numbers: 0 (and 7) is Sunday
_WEEKDAY_PART = re.compile(r"(?P<first>\*|[0-7]|[a-z]{3})(?:-(?P<last>[0-7]|[a-z]{3}))?(?:/(?P<step>[1-9]\d*))?")


def cron_trigger(cron: str) -> Any:
    """APScheduler's trigger for a five-field crontab line read as cron reads it (UTC).

    APScheduler 3's ``CronTrigger.from_crontab`` numbers the days of the week from Monday = 0, so a crontab's
    ``1-5`` would run Tuesday to Saturday. The day-of-week field is rewritten with names first (``1-5`` ->
    ``mon,tue,wed,thu,fri``; ``0`` and ``7`` are Sunday, as in cron); raise ``ValueError`` saying what is wrong.
    """
    from apscheduler.triggers.cron import CronTrigger  # the runtime runs on APScheduler anyway

    fields = cron.split()
    if len(fields) != 5:
        raise ValueError(f"Wrong number of fields; got {len(fields)}, expected 5 (minute hour day month weekday)")
    minute, hour, day, month, weekday = fields
    return CronTrigger(minute=minute, hour=hour, day=day, month=month, day_of_week=weekday_field(weekday),
                       timezone=UTC)


def weekday_field(text: str) -> str:
    """A crontab day-of-week field as APScheduler's names: ``*`` stays; ``1-5``, ``MON-FRI``, ``0,6``, ``*/2``."""
    if text in ("*", "?"):
        return "*"
    days: set[int] = set()
    for part in text.lower().split(","):
        match = _WEEKDAY_PART.fullmatch(part)
        if match is None:
            raise ValueError(f"Error validating expression {text!r}: day of the week {part!r} is not a number "
                             "0-7, a name (mon ... sun), a range or a step")
        first, last, step = match["first"], match["last"], int(match["step"] or 1)
        if first == "*":
            if last is not None:
                raise ValueError(f"Error validating expression {text!r}: '*' cannot start a range")
            low, high = 0, 6
        else:
            low = _weekday_number(first, text)
            high = _weekday_number(last, text) if last is not None else (6 if match["step"] else low)
            if last is not None and high == 0 and low > 0:  # 5-7, fri-sun: up to Sunday at the end of the week
                high = 7
            if high < low:
                raise ValueError(f"Error validating expression {text!r}: the range {part!r} goes backwards")
        days.update(n % 7 for n in range(low, high + 1, step))
    return ",".join(_WEEKDAYS[n] for n in sorted(days))


def _weekday_number(text: str, field: str) -> int:
    if text.isdigit():
        return int(text)
    if text in _WEEKDAYS:
        return _WEEKDAYS.index(text)
    raise ValueError(f"Error validating expression {field!r}: {text!r} is not a day of the week (mon ... sun)")
