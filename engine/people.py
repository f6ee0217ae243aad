"""Who does a person's task: the assignee and candidate group a TASK names (static, or read from the context
when the execution is made), and the rules of claiming one.

A TASK may write ``assignee`` (a user name) or ``assignee_key`` (the context key holding one), and
``candidate_group`` or ``candidate_group_key`` (the group whose members may claim it). The execution carries
the result: ``Execution.assignee`` is who works on it (named by the blueprint, or whoever claimed it),
``Execution.candidate_group`` the group. These are the Go engine's extra fields: a blueprint without them is
stored unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.blueprint import Node

_FIELDS = ("assignee", "assignee_key", "candidate_group", "candidate_group_key")


@dataclass(frozen=True)
class TaskPeople:
    """A TASK's assignee and candidate group, each a name or a context key (``None``: not given)."""

    assignee: str | None = None
    assignee_key: str | None = None
    candidate_group: str | None = None
    candidate_group_key: str | None = None

    def resolve(self, context: dict[str, Any]) -> tuple[str | None, str | None]:
        """(assignee, candidate group) for a new execution: a context key that is missing or holds no text gives
        none (the task is then open to anyone)."""
        assignee = _text(context.get(self.assignee_key)) if self.assignee_key else self.assignee
        group = _text(context.get(self.candidate_group_key)) if self.candidate_group_key else self.candidate_group
        return assignee, group

    def keys(self) -> list[str]:
        """The context keys it reads."""
        return [key for key in (self.assignee_key, self.candidate_group_key) if key]

    def describe(self) -> str:
        """``alice``, ``group loan-officers``, ``reviewer (context)``: for drawings and lists."""
        parts = []
        if self.assignee or self.assignee_key:
            parts.append(self.assignee or f"{self.assignee_key} (context)")
        if self.candidate_group or self.candidate_group_key:
            parts.append(f"group {self.candidate_group or f'{self.candidate_group_key} (context)'}")
        return ", ".join(parts)


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def read_people(node: Node) -> TaskPeople | None:
    """The TASK's people fields, or ``None`` when it names none (validated by :func:`people_problems`)."""
    values = {name: node.extra(name) for name in _FIELDS}
    if not any(isinstance(v, str) and v.strip() for v in values.values()):
        return None
    return TaskPeople(**{name: v.strip() if isinstance(v, str) and v.strip() else None for name, v in values.items()})


def people_problems(node: Node) -> list[str]:
    """What is wrong with a TASK's people fields: a value that is not text, or both a name and a key for one role."""
    problems = []
    for name in _FIELDS:
        value = node.extra(name)
        if value is not None and not (isinstance(value, str) and value.strip()):
            problems.append(f"field {name!r}: expected a non-empty string")
    for role in ("assignee", "candidate_group"):
        if node.extra(role) is not None and node.extra(f"{role}_key") is not None:
            problems.append(f"fields {role!r} and '{role}_key': give one, the name or the context key holding it")
    return problems
