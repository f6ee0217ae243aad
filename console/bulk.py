"""Acting on several rows at once: run an action per row, keep going past refusals, summarise in one note."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TypeVar

from engine import WorkflowError

Row = TypeVar("Row")
SHOWN_REFUSALS = 5


@dataclass
class BulkResult:
    """What a bulk action did: the rows it was done to and, for each refused row, why."""

    done: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.done) + len(self.refused)


def run_bulk(rows: Iterable[Row], action: Callable[[Row], object], label: Callable[[Row], str]) -> BulkResult:
    """Call ``action(row)`` for each row, each in its own transaction; one refusal does not stop the rest.

    A ``WorkflowError`` is recorded with its message, any other error with its type too; nothing raises.
    """
    result = BulkResult()
    for row in rows:
        try:
            action(row)
        except WorkflowError as error:
            result.refused.append((label(row), str(error)))
        except Exception as error:  # noqa: BLE001 - reported with the others, the console stays up
            result.refused.append((label(row), f"{type(error).__name__}: {error}"))
        else:
            result.done.append(label(row))
    return result


def summary(verb: str, result: BulkResult, noun: str = "incidents") -> tuple[str, str, str]:
    """(title, message, severity) of one notification: how many were done, then each refusal on a line."""
    if not result.refused:
        done = result.done[0] if len(result.done) == 1 else f"{len(result.done)} {noun}"
        return verb.capitalize(), f"{verb} {done}", "information"
    title = f"{verb.capitalize()}: {len(result.done)} of {result.total} done, {len(result.refused)} refused"
    lines = [f"• {label}: {reason}" for label, reason in result.refused[:SHOWN_REFUSALS]]
    if len(result.refused) > SHOWN_REFUSALS:
        lines.append(f"… and {len(result.refused) - SHOWN_REFUSALS} more refused")
    return title, "\n".join(lines), "error" if not result.done else "warning"
