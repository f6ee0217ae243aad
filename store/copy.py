"""Copying a whole wfconsole database into another, on either backend (SQLite to PostgreSQL, and back).

Blueprints, instances (their contexts and tokens), executions and the full history are copied row by row,
with their numbers (instance numbers, history sequence numbers) unchanged: the copy is the same database,
not a replay of it. The source is read in one read transaction (one snapshot, whatever runs meanwhile) and
the target written in one write transaction: a copy that fails half-way leaves the target as it was.
Afterwards it is verified: the row counts of every table match, and every instance of the target reads back
as it does in the source and its history replays to its stored state (:func:`engine.replay.differences`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlmodel import SQLModel

from engine.errors import StoreError
from engine.replay import differences
from store import tables  # noqa: F401 - the table models, registered in SQLModel.metadata

if TYPE_CHECKING:
    from store.sqlite import SqliteStore

COPIED = ("blueprints", "instances", "contexts", "executions", "history")
"""The tables copied, parents first (the foreign keys)."""
BATCH = 1000


@dataclass
class CopyReport:
    """What a copy did: rows per table, and the instances verified (each read back and replayed)."""

    rows: dict[str, int] = field(default_factory=dict)
    verified: int = 0
    replaced: dict[str, int] = field(default_factory=dict)  # what the target held before (with ``force``)


def _columns(table: str) -> list[str]:
    return [column.name for column in SQLModel.metadata.tables[table].columns]


def table_counts(store: SqliteStore) -> dict[str, int]:
    with store.read() as cursor:
        return {table: cursor.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] for table in COPIED}


def copy_database(source: SqliteStore, target: SqliteStore, *, force: bool = False,
                  progress: Callable[[str, int], None] | None = None) -> CopyReport:
    """Copy everything ``source`` holds into ``target``, then verify it (see the module docstring).

    A target that holds blueprints or instances is refused (``StoreError`` naming what it holds) unless
    ``force``: then what it holds is deleted first, in the same transaction as the copy. ``progress`` is
    called with (table, rows copied so far) after each batch.
    """
    if source.source == target.source:
        raise StoreError(f"{source.source}: the source and the target are the same database")
    report = CopyReport()
    before = table_counts(target)
    held = {table: count for table, count in before.items() if count}
    if held and not force:
        raise StoreError(f"{target.source}: the target is not empty ({_describe(held)}); copy refuses to add to "
                         "it (--force deletes what it holds first)")
    with source.read() as reader, target.write() as tx:
        writer = tx.cursor
        tx.forget()  # rows written here, past apply(): no state this connection kept stands
        if held:
            for table in reversed(COPIED):
                writer.execute(f"DELETE FROM {table}")
            report.replaced = held
        for table in COPIED:
            columns = _columns(table)
            names = ", ".join(columns)
            insert = f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' for _ in columns)})"
            key = ", ".join(c.name for c in SQLModel.metadata.tables[table].primary_key.columns)
            rows = reader.execute(f"SELECT {names} FROM {table} ORDER BY {key}")
            copied = 0
            while batch := rows.fetchmany(BATCH):
                writer.executemany(insert, batch)
                copied += len(batch)
                if progress is not None:
                    progress(table, copied)
            report.rows[table] = copied
        target._after_copy(writer)
    _verify(source, target, report)
    return report


def _verify(source: SqliteStore, target: SqliteStore, report: CopyReport) -> None:
    counts = table_counts(target)
    if counts != report.rows:
        raise StoreError(f"{target.source}: the copy holds {_describe(counts)} where {_describe(report.rows)} "
                         "were copied")
    with source.read() as cursor:
        ids = [row[0] for row in cursor.execute("SELECT id FROM instances ORDER BY id")]
    for instance_id in ids:
        copied, original = target.get_instance(instance_id), source.get_instance(instance_id)
        if copied != original:
            raise StoreError(f"{target.source}: instance {instance_id} reads back differently from the source")
        found = differences(copied)
        if found:
            raise StoreError(f"{target.source}: the history of instance {instance_id} does not replay to its "
                             f"state: {found[0]}")
        report.verified += 1


def _describe(counts: dict[str, int]) -> str:
    return ", ".join(f"{count} {table} row{'s' if count != 1 else ''}" for table, count in counts.items() if count) \
        or "nothing"
