"""Schema migrations: a versioned list of steps per database, applied in one transaction when an older
database is opened. One mechanism for SQLite and PostgreSQL.

``MIGRATIONS`` (SQLite) and ``POSTGRES_MIGRATIONS`` hold ``(version, step)`` pairs in increasing order;
``step(connection)`` takes a database of the version before to ``version``. :func:`upgrade` runs, inside the
caller's transaction (``BEGIN IMMEDIATE`` on SQLite; on PostgreSQL, with an advisory lock so two hosts
opening the database at once upgrade it once), every step newer than the database and records the new
version in ``wf_meta``; if a step fails, the caller rolls the transaction back and the database is left
exactly as it was (DDL is transactional on both). A new database is created at ``tables.SCHEMA_VERSION``
from the table models (``store/tables.py``) directly, on either database.

PostgreSQL support came with schema version 6: a PostgreSQL database starts there
(``POSTGRES_BASELINE``), so its list starts after it. Why not Alembic: it would be a second mechanism beside
the SQLite steps that exist and are tested (an Alembic baseline over them changes nothing for users), it
runs steps through SQLAlchemy's own transaction where ours run in the store's (the version check, the
upgrade and the advisory lock in one), and SQLite's layout (WITHOUT ROWID tables, tables rebuilt to change
them) is written by hand either way.

To change the schema (version N+1):

1. change ``store/tables.py`` and bump ``tables.SCHEMA_VERSION``;
2. append ``(N+1, step)`` to ``MIGRATIONS``: SQLite SQL bringing a version-N file to N+1;
3. append ``(N+1, step)`` to ``POSTGRES_MIGRATIONS``: the same for PostgreSQL (``ALTER TABLE ... ADD COLUMN``
   works as on SQLite; text columns there are ``COLLATE "C"``, partial indexes take the same ``WHERE``);
4. ``tests/reliability/test_migrations.py`` checks that both lists reach ``SCHEMA_VERSION``, and
   ``tests/store/test_postgres.py`` that a new PostgreSQL database has the tables, columns and indexes of a
   new SQLite file (so the models and both steps agree); a test of the step on a version-N database of each
   kind belongs beside them.

Steps use constant SQL only. A PostgreSQL step gets a cursor whose ``execute`` takes ``?`` placeholders as
on SQLite.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from engine.errors import StoreError

Migration = Callable[[sqlite3.Connection], None]

_V1_COLUMNS = {
    "lease_owner": "ALTER TABLE executions ADD COLUMN lease_owner VARCHAR",
    "lease_until": "ALTER TABLE executions ADD COLUMN lease_until VARCHAR",
    "next_attempt_at": "ALTER TABLE executions ADD COLUMN next_attempt_at VARCHAR",
}
_V1_INDEXES = (
    "CREATE INDEX IF NOT EXISTS ix_executions_lease_owner ON executions (lease_owner)",
    "CREATE INDEX IF NOT EXISTS ix_tokens_status ON tokens (status)",
)


def _v1_baseline(connection: sqlite3.Connection) -> None:
    """Version 1, the baseline. A version-0 database (``schema_version`` 0 or missing) may predate the
    worker runtime: its executions get the lease and retry-time columns, and the indexes that came with
    them."""
    columns = {row[1] for row in connection.execute("PRAGMA table_info(executions)")}
    for column, statement in _V1_COLUMNS.items():
        if column not in columns:
            connection.execute(statement)
    for statement in _V1_INDEXES:
        connection.execute(statement)


_V2_INDEXES = (
    "CREATE INDEX IF NOT EXISTS ix_executions_status_updated ON executions (status, updated_at)",
)


def _v2_console_indexes(connection: sqlite3.Connection) -> None:
    """Version 2: an index on executions (status, updated_at), for the console's tasks-completed-per-minute
    chart (a GROUP BY minute over the last hour) and the stuck check's scan of ACTIVE executions unchanged
    since a cutoff."""
    for statement in _V2_INDEXES:
        connection.execute(statement)


_V3_STATEMENTS = (
    "DROP INDEX IF EXISTS ix_instances_status_updated",
    "DROP INDEX IF EXISTS ix_instances_workflow_status_updated",
    "DROP INDEX IF EXISTS ix_instances_updated",
    "DROP INDEX IF EXISTS ix_tokens_node",
    "DROP INDEX IF EXISTS ix_tokens_status",
    "DROP INDEX IF EXISTS ix_executions_lease_owner",
    "CREATE INDEX IF NOT EXISTS ix_instances_status_created ON instances (status, created_at)",
    "CREATE INDEX IF NOT EXISTS ix_instances_workflow_status_created ON instances (workflow_id, status, created_at)",
    "CREATE INDEX IF NOT EXISTS ix_instances_status_ended ON instances (status, ended_at)",
    "CREATE INDEX IF NOT EXISTS ix_tokens_status ON tokens (status) WHERE status <> 'ACTIVE'",
    "CREATE INDEX IF NOT EXISTS ix_executions_lease_owner ON executions (lease_owner) WHERE lease_owner IS NOT NULL",
)


def _v3_cheaper_steps(connection: sqlite3.Connection) -> None:
    """Version 3: fewer index pages written per step. Instance indexes on ``updated_at`` (which every step
    writes) give way to ``created_at`` (the console's sort) and ``ended_at`` (completions per minute); the
    unused token-node index goes; the token-status and lease-owner indexes keep only the rows scans look
    for (not ACTIVE tokens; leased executions)."""
    for statement in _V3_STATEMENTS:
        connection.execute(statement)


_V4_STATEMENTS = (
    # The context and the tokens move into the instance row.
    "ALTER TABLE instances ADD COLUMN context VARCHAR DEFAULT '{}' NOT NULL",
    "ALTER TABLE instances ADD COLUMN tokens VARCHAR DEFAULT '[]' NOT NULL",
    "ALTER TABLE instances ADD COLUMN token_nodes VARCHAR DEFAULT '' NOT NULL",
    "ALTER TABLE instances ADD COLUMN token_marks VARCHAR",
    "UPDATE instances SET context = (SELECT json_group_object(c.key, json(c.value)) FROM context c "
    "WHERE c.instance_id = instances.id) WHERE id IN (SELECT instance_id FROM context)",
    "UPDATE instances SET "
    "tokens = (SELECT json_group_array(json_array(t.id, t.node_id, t.status, t.created_at)) FROM "
    "(SELECT * FROM tokens WHERE instance_id = instances.id ORDER BY created_at, rowid) t), "
    "token_nodes = (SELECT group_concat(t.node_id, char(10)) FROM "
    "(SELECT node_id FROM tokens WHERE instance_id = instances.id ORDER BY created_at, rowid) t), "
    "token_marks = (SELECT group_concat(m.status, ',') FROM (SELECT DISTINCT status FROM tokens "
    "WHERE instance_id = instances.id AND status <> 'ACTIVE' ORDER BY status) m) "
    "WHERE id IN (SELECT instance_id FROM tokens)",
    "DROP TABLE context",
    "DROP TABLE tokens",
    "CREATE INDEX ix_instances_token_marks ON instances (token_marks) WHERE token_marks IS NOT NULL",
    "DROP INDEX IF EXISTS ix_instances_status_ended",
    "CREATE INDEX ix_instances_completed ON instances (ended_at) WHERE status = 'COMPLETED'",
    # Instances get a number in start order (their rowid, which a VACUUM could change, named); the history
    # is indexed by it.
    "ALTER TABLE instances ADD COLUMN no INTEGER",
    "UPDATE instances SET no = rowid",
    "CREATE UNIQUE INDEX ix_instances_no ON instances (no)",
    # The history in runs of entries (here, each entry its own run), indexed by the instance's number.
    "CREATE TABLE history_v4 (seq INTEGER NOT NULL, first_seq INTEGER NOT NULL, instance_no INTEGER NOT NULL, "
    "instance_id TEXT NOT NULL, at VARCHAR NOT NULL, entries VARCHAR NOT NULL, notable INTEGER, PRIMARY KEY (seq), "
    "FOREIGN KEY(instance_id) REFERENCES instances (id) ON DELETE CASCADE)",
    "INSERT INTO history_v4 (seq, first_seq, instance_no, instance_id, at, entries, notable) "
    "SELECT h.seq, h.seq, i.no, h.instance_id, h.at, "
    "json_array(json_array(h.kind, h.node_id, h.execution_id, json(h.details), h.actor)), "
    "CASE WHEN h.kind IN ('INSTANCE_FAILED', 'INSTANCE_CANCELLED', 'INSTANCE_RESUMED', 'TOKEN_STATUS', "
    "'EXECUTION_FAILED', 'EXECUTION_RETRIED', 'EXECUTION_CANCELLED', 'CONDITION_ERROR', 'HANDLER_ERROR', "
    "'EXECUTION_STUCK', 'EXECUTION_ATTEMPT_FAILED', 'JOIN_STUCK') THEN 1 END "
    "FROM history h JOIN instances i ON i.id = h.instance_id ORDER BY h.seq",
    "DROP TABLE history",
    "ALTER TABLE history_v4 RENAME TO history",
    "CREATE INDEX ix_history_instance_no_seq ON history (instance_no, seq)",
    "CREATE INDEX ix_history_notable ON history (seq) WHERE notable IS NOT NULL",
    # Executions in id order (WITHOUT ROWID), with indexes of the open and of the completed ones only.
    "CREATE TABLE executions_v4 (id VARCHAR NOT NULL, instance_id TEXT NOT NULL, node_id VARCHAR NOT NULL, "
    "task_id VARCHAR NOT NULL, inputs VARCHAR NOT NULL, outputs VARCHAR, status VARCHAR NOT NULL, "
    "attempt INTEGER NOT NULL, error VARCHAR, created_at VARCHAR NOT NULL, updated_at VARCHAR NOT NULL, "
    "lease_owner VARCHAR, lease_until VARCHAR, next_attempt_at VARCHAR, step_order INTEGER DEFAULT '0' NOT NULL, "
    "PRIMARY KEY (id), "
    "FOREIGN KEY(instance_id) REFERENCES instances (id) ON DELETE CASCADE) WITHOUT ROWID",
    "INSERT INTO executions_v4 (id, instance_id, node_id, task_id, inputs, outputs, status, attempt, error, "
    "created_at, updated_at, lease_owner, lease_until, next_attempt_at) SELECT id, instance_id, node_id, task_id, "
    "inputs, outputs, status, attempt, error, created_at, updated_at, lease_owner, lease_until, next_attempt_at "
    "FROM executions ORDER BY id",
    "DROP TABLE executions",
    "ALTER TABLE executions_v4 RENAME TO executions",
    "CREATE INDEX ix_executions_open ON executions (status, created_at) "
    "WHERE status IN ('ACTIVE', 'FAILED', 'STUCK')",
    "CREATE INDEX ix_executions_done ON executions (updated_at) WHERE status = 'COMPLETED'",
    "CREATE INDEX ix_executions_lease_owner ON executions (lease_owner) WHERE lease_owner IS NOT NULL",
)


def _v4_one_row_per_instance(connection: sqlite3.Connection) -> None:
    """Version 4: fewer B-tree pages written per step. An instance's context and tokens live in its own row
    (the tables ``context`` and ``tokens`` go); executions are stored in id order, so an instance's
    executions share a page and need no index of their own; only open executions are indexed by status,
    and completed ones by time; the history is stored in runs of entries (a step's entries in one row),
    indexed by a number given to each instance in start order."""
    for statement in _V4_STATEMENTS:
        connection.execute(statement)


def _v5_large_contexts(connection: sqlite3.Connection) -> None:
    """Version 5: contexts larger than ``tables.CONTEXT_INLINE_LIMIT`` live in a table of their own, so a
    step that does not change the context does not rewrite it. Existing contexts stay in their rows until a
    step writes a larger one."""
    connection.execute(
        "CREATE TABLE IF NOT EXISTS contexts (instance_no INTEGER NOT NULL, context VARCHAR NOT NULL, "
        "PRIMARY KEY (instance_no), FOREIGN KEY(instance_no) REFERENCES instances (no) ON DELETE CASCADE)")


def _v6_claim_tokens(connection: sqlite3.Connection) -> None:
    """Version 6: every execution counts its claims (``claim``), the fencing token a worker's completion,
    failure or lease renewal carries; a report with a stale one changes nothing. Existing executions start at
    0: a worker of an older version still running against the file reports without a token, as before."""
    connection.execute("ALTER TABLE executions ADD COLUMN claim INTEGER DEFAULT '0' NOT NULL")


POSTGRES_BASELINE = 6
"""The schema version PostgreSQL databases start from: the first with PostgreSQL support."""

MIGRATIONS: list[tuple[int, Migration]] = [
    (1, _v1_baseline),
    (2, _v2_console_indexes),
    (3, _v3_cheaper_steps),
    (4, _v4_one_row_per_instance),
    (5, _v5_large_contexts),
    (6, _v6_claim_tokens),
]


POSTGRES_MIGRATIONS: list[tuple[int, Migration]] = [
    # (7, _v7_..._postgres), next to MIGRATIONS' (7, _v7_...)
]


def upgrade(connection: sqlite3.Connection, found: int, target: int, source: str, *,
            dialect: str = "sqlite") -> int:
    """Apply the steps of ``dialect`` ("sqlite" or "postgresql") after version ``found`` up to ``target``
    inside the caller's transaction; return the version reached. Raises :class:`StoreError` naming the step
    that failed (the caller rolls back)."""
    reached = found
    steps = POSTGRES_MIGRATIONS if dialect == "postgresql" else MIGRATIONS
    if dialect == "postgresql" and found < POSTGRES_BASELINE:
        raise StoreError(f"{source}: schema version {found} is older than any PostgreSQL database wfconsole "
                         f"made ({POSTGRES_BASELINE}); this database was not made by wfconsole")
    for version, step in steps:
        if version <= found or version > target:
            continue
        try:
            step(connection)
        except Exception as error:
            raise StoreError(f"{source}: upgrading the schema from version {reached} to {version} failed "
                             f"({type(error).__name__}: {error}); the database was left unchanged") from None
        reached = version
    if reached != target:
        raise StoreError(f"{source}: no migration reaches schema version {target} from {found}")
    connection.execute("INSERT INTO wf_meta(key, value) VALUES ('schema_version', ?) "
                       "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (str(reached),))
    return reached
