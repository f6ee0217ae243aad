"""Schema migrations: a versioned list of steps, applied in one transaction when an older database is opened.

``MIGRATIONS`` holds ``(version, step)`` pairs in increasing order; ``step(connection)`` takes a database of
the version before to ``version``. :func:`upgrade` runs, inside the caller's ``BEGIN IMMEDIATE``
transaction, every step newer than the database and records the new version; if a step fails, the caller
rolls the transaction back and the database is left exactly as it was (SQLite's DDL is transactional).

To change the schema: change ``store/tables.py``, bump ``tables.SCHEMA_VERSION`` and append the step that
brings an existing database to it. Steps use constant SQL only.
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


MIGRATIONS: list[tuple[int, Migration]] = [
    (1, _v1_baseline),
    (2, _v2_console_indexes),
    (3, _v3_cheaper_steps),
]


def upgrade(connection: sqlite3.Connection, found: int, target: int, source: str) -> int:
    """Apply the steps after version ``found`` up to ``target`` inside the caller's transaction; return the
    version reached. Raises :class:`StoreError` naming the step that failed (the caller rolls back)."""
    reached = found
    for version, step in MIGRATIONS:
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
