"""Blueprint models: the Go engine's JSON format, field for field.

The models are deliberately lenient about the *values* of the type fields (plain strings): an unknown node
type is a validation problem reported with every other problem (see :mod:`engine.validate`), not a parse
failure that hides the rest.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


class NodeKind(StrEnum):
    """What a node does, folded from its type fields into one value; each has its entry in
    :data:`engine.kinds.KINDS`, which says how it is written, validated, entered, drawn and exported."""

    START = "START"
    END = "END"
    TASK = "TASK"
    EXCLUSIVE_SPLIT = "EXCLUSIVE_SPLIT"
    EXCLUSIVE_JOIN = "EXCLUSIVE_JOIN"
    PARALLEL_SPLIT = "PARALLEL_SPLIT"
    PARALLEL_JOIN = "PARALLEL_JOIN"
    TIMER = "TIMER"
    MESSAGE = "MESSAGE"


class Node(BaseModel):
    """A node of a blueprint. Unknown extra fields are kept, as the Go engine ignored them."""

    model_config = ConfigDict(extra="allow")

    id: str
    type: str
    name: str | None = None
    internal_type: str | None = None
    event_type: str | None = None
    gateway_type: str | None = None
    task_id: str | None = None
    input_mapping: dict[str, str] = Field(default_factory=dict)
    output_mapping: dict[str, str] = Field(default_factory=dict)
    x: float | None = None
    y: float | None = None

    @field_validator("input_mapping", "output_mapping", mode="before")
    @classmethod
    def _nil_map(cls, value: Any) -> Any:
        return {} if value is None else value  # Go writes a nil map as null

    @property
    def label(self) -> str:
        """The name to show a person: ``name``, or ``id`` where there is none."""
        return self.name or self.id

    def extra(self, name: str) -> Any:
        """An optional field the Go engine does not know (``timer``, ``deadline``, ...), or ``None``. They are kept
        as extra fields rather than declared ones, so that a Go blueprint's stored form (and digest) is unchanged."""
        return (self.model_extra or {}).get(name)

    @property
    def kind(self) -> NodeKind | None:
        """The node's kind (:data:`engine.kinds.KINDS`), or ``None`` when its type fields name nothing known."""
        from engine.kinds import kind_of  # the table imports this module

        return kind_of(self)


class Edge(BaseModel):
    """A directed edge. ``condition`` is a CEL expression; only edges leaving an exclusive split have one."""

    model_config = ConfigDict(extra="allow")

    id: str
    source_id: str
    target_id: str
    condition: str | None = None

    @property
    def has_condition(self) -> bool:
        return bool(self.condition and self.condition.strip())


class Blueprint(BaseModel):
    """A workflow definition, identified by (``workflow_id``, ``version``)."""

    model_config = ConfigDict(extra="allow")

    workflow_id: str
    name: str | None = None
    version: int = 1
    nodes: list[Node]
    edges: list[Edge] = Field(default_factory=list)

    @field_validator("version", mode="before")
    @classmethod
    def _unset_version(cls, value: Any) -> Any:
        # Go's zero value: the Go engine writes "version": 0 (or nothing) for a workflow given no version.
        if isinstance(value, bool):
            raise ValueError("must be a number, not true or false")
        return 1 if value is None or value in (0, "0") else value

    @field_validator("nodes", "edges", mode="before")
    @classmethod
    def _nil_list(cls, value: Any) -> Any:
        return [] if value is None else value  # Go writes a nil slice as null

    @property
    def label(self) -> str:
        return self.name or self.workflow_id
