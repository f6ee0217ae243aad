"""SQLModel table models. Times are ISO 8601 UTC text with microseconds, so they sort as text.

JSON columns hold compact JSON text. The engine never sees these classes: ``store.sqlite`` converts rows
to the engine's values at its edge.
"""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, Integer, Text, text
from sqlmodel import Field, SQLModel

SCHEMA_VERSION = 3


class MetaRow(SQLModel, table=True):
    __tablename__ = "wf_meta"

    key: str = Field(primary_key=True)
    value: str


class BlueprintRow(SQLModel, table=True):
    __tablename__ = "blueprints"

    workflow_id: str = Field(primary_key=True)
    version: int = Field(primary_key=True)
    name: str | None = None
    definition: str  # the blueprint as JSON
    digest: str  # sha256 of the canonical JSON, to tell an identical reload from a conflict
    warnings: str = "[]"
    node_count: int = 0
    edge_count: int = 0
    created_at: str


class InstanceRow(SQLModel, table=True):
    __tablename__ = "instances"
    __table_args__ = (
        # No index holds updated_at, which every step writes: a step's UPDATE of the instance row then
        # touches no index page unless the status changes (schema v3).
        Index("ix_instances_status_created", "status", "created_at"),
        Index("ix_instances_workflow_status_created", "workflow_id", "status", "created_at"),
        Index("ix_instances_created", "created_at"),
        Index("ix_instances_status_ended", "status", "ended_at"),
    )

    id: str = Field(primary_key=True)
    workflow_id: str
    version: int
    status: str
    error: str | None = None
    created_at: str
    updated_at: str
    ended_at: str | None = None


def _instance_fk() -> Column:
    return Column("instance_id", Text, ForeignKey("instances.id", ondelete="CASCADE"), nullable=False)


class TokenRow(SQLModel, table=True):
    __tablename__ = "tokens"
    __table_args__ = (
        Index("ix_tokens_instance", "instance_id"),
        # Only tokens that are not ACTIVE (waiting at a join, failed, stuck): what the scans look for.
        Index("ix_tokens_status", "status", sqlite_where=text("status <> 'ACTIVE'")),
    )

    id: str = Field(primary_key=True)
    instance_id: str = Field(sa_column=_instance_fk())
    node_id: str
    status: str
    created_at: str


class ExecutionRow(SQLModel, table=True):
    __tablename__ = "executions"
    __table_args__ = (
        Index("ix_executions_instance_status", "instance_id", "status"),
        Index("ix_executions_status_created", "status", "created_at"),
        # Tasks completed per minute (the console's overview) and the stuck check's "ACTIVE, unchanged since".
        Index("ix_executions_status_updated", "status", "updated_at"),
        Index("ix_executions_lease_owner", "lease_owner", sqlite_where=text("lease_owner IS NOT NULL")),
    )

    id: str = Field(primary_key=True)
    instance_id: str = Field(sa_column=_instance_fk())
    node_id: str
    task_id: str
    inputs: str = "{}"
    outputs: str | None = None
    status: str
    attempt: int = 1
    error: str | None = None
    created_at: str
    updated_at: str
    lease_owner: str | None = None  # the runtime that claimed the execution
    lease_until: str | None = None  # the claim lapses then unless renewed
    next_attempt_at: str | None = None  # a worker retry waits until then


class ContextRow(SQLModel, table=True):
    __tablename__ = "context"

    instance_id: str = Field(
        sa_column=Column("instance_id", Text, ForeignKey("instances.id", ondelete="CASCADE"), primary_key=True)
    )
    key: str = Field(primary_key=True)
    value: str  # JSON


class HistoryRow(SQLModel, table=True):
    __tablename__ = "history"
    __table_args__ = (Index("ix_history_instance_seq", "instance_id", "seq"),)

    seq: int | None = Field(default=None, sa_column=Column("seq", Integer, primary_key=True))
    instance_id: str = Field(sa_column=_instance_fk())
    at: str
    kind: str
    node_id: str | None = None
    execution_id: str | None = None
    details: str = "{}"
    actor: str | None = None
