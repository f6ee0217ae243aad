"""How the console writes times, durations, ids, JSON values and stored text for people.

Times are shown relative to a :class:`ConsoleClock`, which tests replace with a fixed one so that
snapshots do not change from one run to the next. Text from the database or from outside is drawn with
:func:`shown` (or passed through :func:`engine.text.visible`): its control and bidi characters made visible,
never read as markup.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from rich.text import Text

from engine.text import visible, visible_json


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ConsoleClock:
    """The console's idea of "now" and of the time zone absolute times are shown in.

    ``tz=None`` shows local time; tests pass ``UTC`` and a fixed ``now``.
    """

    now: Callable[[], datetime] = field(default=_utc_now)
    tz: tzinfo | None = None

    @classmethod
    def fixed(cls, at: datetime, tz: tzinfo | None = UTC) -> ConsoleClock:
        """A clock that always reads ``at``."""
        return cls(now=lambda: at, tz=tz)

    def local(self, moment: datetime) -> datetime:
        """``moment`` in the display time zone."""
        return moment.astimezone(self.tz) if self.tz is not None else moment.astimezone()

    def stamp(self, moment: datetime | None) -> str:
        """``MM-DD HH:MM:SS`` in the display time zone, or an empty string."""
        return self.local(moment).strftime("%m-%d %H:%M:%S") if moment is not None else ""

    def ago(self, moment: datetime | None) -> str:
        """How long before now ``moment`` was: ``12s ago``, ``5m ago``, ``3h ago``, ``2d ago``."""
        if moment is None:
            return ""
        return f"{duration(self.now() - moment)} ago"

    def age(self, moment: datetime | None) -> str:
        """How long ago ``moment`` was, without the suffix (k9s's AGE column)."""
        return duration(self.now() - moment) if moment is not None else ""


def duration(delta: timedelta) -> str:
    """A short human duration: ``0s``, ``45s``, ``12m``, ``3h05m``, ``2d04h``."""
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s" if minutes < 10 else f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


def due_text(due_at: datetime | None, now: datetime, is_open: bool = True) -> str:
    """An execution's deadline as the lists show it: ``late 1h05m``, ``due in 12m``, or ``""`` (none, or done)."""
    if due_at is None or not is_open:
        return ""
    return f"late {duration(now - due_at)}" if now >= due_at else f"due in {duration(due_at - now)}"


LONG_IDS = ("wait_id", "execution_id", "instance_id", "batch_id")
"""History details that are long ids: shown last, so that a line cut to fit loses them and not the rest."""


def short_id(identifier: str, length: int = 8) -> str:
    """The first ``length`` characters of an id: enough to tell instances apart on screen."""
    return identifier[:length]


def short_execution_id(execution_id: str) -> str:
    """``<instance>:<node>:<uuid>`` shortened to ``<uuid[:8]>``, the part that differs between attempts."""
    return execution_id.rsplit(":", 1)[-1][:8]


def shown(text: object, style: str = "", **options: Any) -> Text:
    """Stored or typed text as a Rich :class:`Text` to draw: control and bidi characters made visible
    (``\\x1b``), markup left as the characters it is (``[/]`` is shown, never parsed). ``options`` go to
    :class:`Text` (``no_wrap``, ``overflow``...)."""
    return Text(visible(str(text)), style=style, **options)


def compact_json(value: Any, limit: int = 60) -> str:
    """``value`` as one line of JSON, cut with an ellipsis past ``limit`` characters; control, C1 and bidi
    characters in its strings are ``\\u`` escapes (the JSON still reads back as ``value``)."""
    text = visible_json(json.dumps(value, ensure_ascii=False, separators=(", ", ": ")))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def pretty_json(value: Any) -> str:
    """``value`` as indented JSON, its control, C1 and bidi characters as ``\\u`` escapes."""
    return visible_json(json.dumps(value, indent=2, ensure_ascii=False))


STATUS_STYLES: dict[str, str] = {
    "ACTIVE": "bold dodger_blue1",
    "WAITING": "bold orange1",
    "COMPLETED": "green",
    "FAILED": "bold red",
    "STUCK": "bold magenta",
    "CANCELLED": "dim",
    "RETRIED": "dim yellow",
}


def status_text(status: str, incident: bool = False) -> Text:
    """A status word coloured by what it means (running blue, done green, failed red...); an ACTIVE
    instance with an incident says so in red."""
    if incident and str(status) == "ACTIVE":
        return Text("ACTIVE ✖", style=STATUS_STYLES.get("FAILED", "bold red"))
    return Text(str(status), style=STATUS_STYLES.get(str(status), ""))


TOKEN_MARKS = {"WAITING": "◐", "FAILED": "✖", "STUCK": "⊘"}
"""The token graph's legend marks, for tokens that are not simply ACTIVE."""


def token_places(node_ids: list[str], limit: int = 40, statuses: list[str] | None = None) -> str:
    """Where an instance's tokens are: ``review, ship ×2``, in first-seen order, cut at ``limit``.

    With ``statuses`` (parallel to ``node_ids``) a token that waits at a join, failed or is stuck carries
    the graph's mark: ``charge_payment ✖, join ◐``.
    """
    counts: dict[str, int] = {}
    for index, node_id in enumerate(node_ids):
        mark = TOKEN_MARKS.get(statuses[index], "") if statuses and index < len(statuses) else ""
        place = f"{node_id} {mark}" if mark else node_id
        counts[place] = counts.get(place, 0) + 1
    text = visible(", ".join(node if n == 1 else f"{node} ×{n}" for node, n in counts.items()))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def error_owner(execution: Any, history: Any = ()) -> str | None:
    """Whose an execution's error is, when not its own: ``None`` for a FAILED or STUCK execution (its own
    failure); for an ACTIVE or COMPLETED one an earlier attempt's: ``attempt 1 failed`` (a worker's attempt
    failed and the next one was tried), or ``attempt 3 failed, then it was marked done`` when it failed for good
    and an operator completed it (``history``, the instance's entries, says which: its EXECUTION_FAILED). A
    CANCELLED one's is why it was cancelled (a boundary timer fired, the instance ended): its own too."""
    if not execution.error or execution.status in ("FAILED", "STUCK", "CANCELLED"):
        return None
    if any(entry.kind == "EXECUTION_FAILED" and entry.execution_id == execution.id for entry in history):
        done = ", then it was marked done" if execution.status == "COMPLETED" else ""
        return f"attempt {execution.attempt} failed{done}"
    earlier = execution.attempt - 1
    return f"attempt {earlier} failed" if earlier >= 1 else "an earlier attempt failed"


def error_note(execution: Any, history: Any = ()) -> str:
    """The error on one line, prefixed with whose it is when it is an earlier attempt's (:func:`error_owner`):
    ``attempt 1 failed: connection refused``."""
    error = " ".join(str(execution.error or "").split())
    owner = error_owner(execution, history)
    return f"{owner}: {error}" if owner and error else error


def task_references(execution_ids: list[str]) -> dict[str, str]:
    """How a list names each execution so that ``done``, ``claim`` and ``release`` take it back: the short
    ``<instance-prefix>:<node_id>`` (``3fa85f64:manual_review``), or the full id where two listed executions of
    one instance share a node (the short form would be ambiguous)."""
    short = {}
    for execution_id in execution_ids:
        instance_id, _, rest = execution_id.partition(":")
        short[execution_id] = f"{short_id(instance_id)}:{rest.rpartition(':')[0]}"  # the node id may hold a ':'

    seen: dict[str, int] = {}
    for reference in short.values():
        seen[reference] = seen.get(reference, 0) + 1
    return {execution_id: reference if seen[reference] == 1 else execution_id
            for execution_id, reference in short.items()}
