"""The filter language of the ``/`` line and the ``:`` command line: ``key=value`` terms and free words.

``status=failed workflow=loan_approval A-17`` keeps the failed instances of ``loan_approval`` whose id,
node or a variable's value holds ``A-17``. Each view accepts its own keys (:data:`VIEW_KEYS`); a key some
values of which are fixed (``status``, ``kind``) accepts those, in any case. A mistake is a
:class:`FilterError` naming the nearest valid key or value, shown as one notification.
"""

from __future__ import annotations

import difflib
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from engine.model import HistoryKind, InstanceStatus
from engine.ports import INSTANCE_ORDERS, TASK_SCOPES
from engine.reports import IncidentKind


class FilterError(ValueError):
    """A term the view does not understand; the message names the nearest valid one."""


def nearest(word: str, choices: Iterable[str]) -> str | None:
    """The choice closest to ``word`` (case ignored), or ``None`` when none is close."""
    options = {choice.lower(): choice for choice in choices}
    found = difflib.get_close_matches(word.lower(), list(options), n=1, cutoff=0.5)
    if found:
        return options[found[0]]
    starting = [choice for key, choice in options.items() if key.startswith(word.lower()[:3])]
    return starting[0] if starting else None


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'incidents'?)`` or ``""``."""
    close = nearest(word, choices)
    return f" (did you mean {close!r}?)" if close else ""


# Per view: each key it filters by, and the values it accepts (None: any text).
VIEW_KEYS: dict[str, dict[str, tuple[str, ...] | None]] = {
    "overview": {},
    "instances": {
        "status": tuple(status.value.lower() for status in InstanceStatus),
        "workflow": None, "version": None, "task": None,
        "waiting": ("person",),
        "assignee": None,  # "me": the operator's own tasks
        "overdue": ("yes",),
        "sort": tuple(INSTANCE_ORDERS),
    },
    "incidents": {"kind": tuple(kind.value.lower() for kind in IncidentKind), "workflow": None, "task": None},
    "blueprints": {},
    "history": {"kind": tuple(kind.value for kind in HistoryKind), "node": None, "actor": None,
                "instance": None, "since": None, "until": None},
    "tasks": {"scope": tuple(TASK_SCOPES), "group": None, "workflow": None, "task": None, "overdue": ("yes",)},
}
VIEW_NAMES = tuple(VIEW_KEYS)


@dataclass(frozen=True)
class ViewFilter:
    """A view and its filters: what the ``:`` line jumps to and a saved view stores."""

    view: str
    terms: dict[str, str] = field(default_factory=dict)  # key -> value, as typed (values of fixed sets in lower case)
    text: str = ""  # the free words

    def command(self) -> str:
        """The ``:`` line that shows this view so filtered, e.g. ``instances status=failed A-17``."""
        return " ".join(part for part in (self.view, format_terms(self.terms, self.text)) if part)


def parse_terms(view: str, text: str) -> tuple[dict[str, str], str]:
    """The ``key=value`` terms and the free words of ``text`` for ``view``; raises :class:`FilterError`."""
    keys = VIEW_KEYS[view]
    try:
        words = shlex.split(text)
    except ValueError:
        words = text.split()  # an unbalanced quote: the words as they are
    terms: dict[str, str] = {}
    free: list[str] = []
    for word in words:
        key, equals, value = word.partition("=")
        if not equals or not key:
            free.append(word)
            continue
        key = key.lower()
        if key not in keys:
            where = f"the {view} view filters by {', '.join(keys)}" if keys else f"the {view} view has no filters"
            raise FilterError(f"unknown filter {key!r}{did_you_mean(key, keys)}: {where}")
        allowed = keys[key]
        if key == "sort" and value.lower() not in allowed:
            raise FilterError(f"the {view} cannot be sorted by {value!r} fast: no index serves that order; "
                              f"sort={' or sort='.join(allowed)} ({', '.join(INSTANCE_ORDERS.values())})")
        if allowed is not None:
            matched = next((choice for choice in allowed if choice.lower() == value.lower()), None)
            if matched is None:
                raise FilterError(f"{key}={value!r} is not one of {', '.join(allowed)}"
                                  f"{did_you_mean(value, allowed)}")
            value = matched
        if not value:
            raise FilterError(f"{key}= needs a value")
        terms[key] = value
    return terms, " ".join(free)


def format_terms(terms: Mapping[str, str], text: str = "") -> str:
    """``key=value`` terms then the free words, quoted where needed: what :func:`parse_terms` reads back."""
    parts = [f"{key}={shlex.quote(value)}" for key, value in terms.items()]
    if text:
        parts.append(text)
    return " ".join(parts)


def parse_command(line: str, saved: Iterable[str] = ()) -> ViewFilter:
    """A ``:`` line naming a view (``instances status=failed``); raises :class:`FilterError` naming the
    nearest view or saved view when the first word is none of them."""
    name, _, rest = line.strip().partition(" ")
    view = name.lower()
    if view not in VIEW_KEYS:
        raise FilterError(f"unknown view {name!r}{did_you_mean(name, [*VIEW_NAMES, *saved])}")
    terms, text = parse_terms(view, rest)
    return ViewFilter(view, terms, text)
