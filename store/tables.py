"""SQLModel table models. Times are ISO 8601 UTC text with microseconds, so they sort as text.

JSON columns hold compact JSON text. The engine never sees these classes: ``store.sqlite`` converts rows
to the engine's values at its edge.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, Text, text
from sqlmodel import Field, SQLModel

SCHEMA_VERSION = 6


def _partial(condition: str) -> dict:
    """The keyword arguments of a partial index with ``condition``, on SQLite and on PostgreSQL."""
    return {"sqlite_where": text(condition), "postgresql_where": text(condition)}


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
    """An instance with its whole open state in one row (schema v4): a step reads and writes this one row
    for the context and the tokens, where separate tables cost a B-tree page each per step."""

    __tablename__ = "instances"
    __table_args__ = (
        # No index holds updated_at, which every step writes: a step's UPDATE of the instance row then
        # touches no index page unless the status (or the token marks) change (schema v3).
        Index("ix_instances_status_created", "status", "created_at"),
        Index("ix_instances_workflow_status_created", "workflow_id", "status", "created_at"),
        Index("ix_instances_created", "created_at"),
        # Completed instances by when they ended (the overview's chart): an instance enters it once, at the
        # end; running ones are not in it (schema v4; before, (status, ended_at) of every instance).
        Index("ix_instances_completed", "ended_at", **_partial("status = 'COMPLETED'")),
        # Only instances with a token that is not ACTIVE (waiting at a join, failed, stuck): the incident
        # list and the stuck-join check find them here.
        Index("ix_instances_token_marks", "token_marks", **_partial("token_marks IS NOT NULL")),
        Index("ix_instances_no", "no", unique=True),
    )

    id: str = Field(primary_key=True)
    workflow_id: str
    version: int
    status: str
    error: str | None = None
    created_at: str
    updated_at: str
    ended_at: str | None = None
    # The context as a JSON object; '' (not JSON) when it is larger than CONTEXT_INLINE_LIMIT and lives in
    # the ``contexts`` table instead (schema v5).
    context: str = Field(default="{}", sa_column_kwargs={"server_default": "{}"})
    # JSON array of [id, node_id, status, created_at], in the order the tokens were made.
    tokens: str = Field(default="[]", sa_column_kwargs={"server_default": "[]"})
    # The tokens' node ids, one per line (the text search looks here), and the distinct statuses of the
    # tokens that are not ACTIVE, sorted and comma-separated (NULL when every token is ACTIVE).
    token_nodes: str = Field(default="", sa_column_kwargs={"server_default": ""})
    token_marks: str | None = None
    # The instance's number, in the order instances were started (schema v4): the history's index uses it,
    # where the id (random text, 36 characters) made every step insert at a random place in a large index.
    no: int | None = None


# The open executions: the partial index ix_executions_open holds exactly these. SQLite uses a partial index
# only when the query's WHERE has its condition as a term, so queries repeat this text.
OPEN_EXECUTIONS = "status IN ('ACTIVE', 'FAILED', 'STUCK')"

CONTEXT_INLINE_LIMIT = 2000
"""Characters of context JSON kept in the instance row. SQLite rewrites a whole row, overflow pages included,
whenever any column of it changes: with a 25 KB context inline every step wrote ~7 pages more than it
changed (23.4 WAL pages a completion instead of 11.2). A larger context goes to ``contexts``, which a step
writes only when it changes the context."""


class ContextRow(SQLModel, table=True):
    """The context of an instance whose context JSON is longer than CONTEXT_INLINE_LIMIT (schema v5). Once
    there, it stays there; its instance row's ``context`` is ''."""

    __tablename__ = "contexts"

    instance_no: int | None = Field(default=None, sa_column=Column(
        "instance_no", Integer, ForeignKey("instances.no", ondelete="CASCADE"), primary_key=True))
    context: str  # JSON object


# A 64-bit number on PostgreSQL, where INTEGER is 32 bits; INTEGER on SQLite, where it is 64 bits already and
# an INTEGER PRIMARY KEY is the rowid.
_BIG = Integer().with_variant(BigInteger(), "postgresql")


def _instance_fk() -> Column:
    return Column("instance_id", Text, ForeignKey("instances.id", ondelete="CASCADE"), nullable=False)


class ExecutionRow(SQLModel, table=True):
    __tablename__ = "executions"
    __table_args__ = (
        # Only the open executions (the runtime's queue, the open tasks, the stuck check): a completion
        # removes one entry and a new task adds one at the end (schema v4).
        Index("ix_executions_open", "status", "created_at",
              **_partial("status IN ('ACTIVE', 'FAILED', 'STUCK')")),
        # Tasks completed per minute (the console's overview): entries are added at the end.
        Index("ix_executions_done", "updated_at", **_partial("status = 'COMPLETED'")),
        Index("ix_executions_lease_owner", "lease_owner", **_partial("lease_owner IS NOT NULL")),
        # Rows in the order of their ids, which start with the instance id: an instance's executions
        # share a page (a step updates one and adds the next beside it), and a range of ids is the
        # executions of one instance, with no index of their own (schema v4).
        {"sqlite_with_rowid": False},
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
    # Executions made in one step share created_at: this is their order within it (schema v4), where the
    # rowid gave it before the table was stored in id order.
    step_order: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    # The fencing token of the latest claim: each claim adds one (schema v6). A worker's report carries the
    # number it claimed with; one that is not the current claim's changes nothing (engine.machine.claim_is_current).
    claim: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


class HistoryRow(SQLModel, table=True):
    """A run of consecutive history entries of one instance, written by one step at one time (schema v4).

    The entries are a JSON array of ``[kind, node_id, execution_id, details, actor]`` (trailing nulls left
    out); the n-th has the sequence number ``first_seq + n``, and ``seq`` (the key) is the last one's, so
    the numbers are those one row per entry would have had. A step's eight or so entries cost one row and
    one index entry instead of eight of each.
    """

    __tablename__ = "history"
    # A run of entries by its instance's number (instances.no): small keys, and the instances that run now
    # are the newest, so a step writes near the end of the index.
    __table_args__ = (
        Index("ix_history_instance_no_seq", "instance_no", "seq"),
        # The few rows with a failure, an incident or an intervention (store.history.NOTABLE_KINDS): a
        # search for such an event across all instances reads these alone. A routine step writes no entry.
        Index("ix_history_notable", "seq", **_partial("notable IS NOT NULL")),
    )

    # INTEGER (the rowid) on SQLite, BIGINT on PostgreSQL (numbered from the sequence history_seq there).
    seq: int | None = Field(default=None, sa_column=Column("seq", _BIG, primary_key=True, autoincrement=False))
    first_seq: int = Field(sa_column=Column("first_seq", _BIG, nullable=False))
    instance_no: int
    instance_id: str = Field(sa_column=_instance_fk())
    at: str
    entries: str  # JSON
    notable: int | None = None  # 1 when an entry is of a kind routine steps do not write
