"""The history as the store keeps it: runs of entries, one row per step (see ``store.tables.HistoryRow``).

A run is a JSON array of ``[kind, node_id, execution_id, details, actor]`` (trailing nulls left out) with
one time; entry *n* of a row has the sequence number ``first_seq + n``. These functions turn the engine's
:class:`~engine.model.HistoryEntry` values into rows and back.
"""

from __future__ import annotations

import sqlite3

from engine.model import HistoryEntry, HistoryKind
from store.codec import dump_json, dump_time, load_json, load_time

HISTORY_COLUMNS = "seq, first_seq, instance_id, at, entries"
"""The columns :func:`history_entries` reads, in its order."""

_KIND = {kind.value: kind for kind in HistoryKind}  # a dict lookup: calling the enum class costs more


NOTABLE_KINDS = frozenset({
    HistoryKind.INSTANCE_FAILED, HistoryKind.INSTANCE_CANCELLED, HistoryKind.INSTANCE_RESUMED,
    HistoryKind.TOKEN_STATUS, HistoryKind.EXECUTION_FAILED, HistoryKind.EXECUTION_RETRIED,
    HistoryKind.EXECUTION_CANCELLED, HistoryKind.CONDITION_ERROR, HistoryKind.HANDLER_ERROR,
    HistoryKind.EXECUTION_STUCK, HistoryKind.EXECUTION_ATTEMPT_FAILED, HistoryKind.JOIN_STUCK,
    HistoryKind.CONTEXT_UNSET, HistoryKind.STALE_REPORT, HistoryKind.INSTANCE_MODIFIED,
    HistoryKind.INSTANCE_MIGRATED, HistoryKind.BATCH_ITEM,
})
"""Kinds that routine steps do not write (failures, incidents, operators' interventions). A row holding one
is marked ``notable``, and the partial index ``ix_history_notable`` finds those rows: a search for such a
kind across all instances reads them alone instead of the whole history."""


def insert_history(cursor: sqlite3.Cursor, instance_no: int | None, instance_id: str,
                   entries: list[HistoryEntry]) -> None:
    """Append ``entries`` to the history: one row per run of entries (see store.tables.HistoryRow), numbered
    on from the last row's ``seq`` (the rowid's maximum: one seek) in the same statement."""
    cursor.executemany("INSERT INTO history (seq, first_seq, instance_no, instance_id, at, entries, notable) "
                       "SELECT m + ?, m + 1, ?, ?, ?, ?, ? FROM (SELECT COALESCE(MAX(seq), 0) AS m FROM history)",
                       history_rows(instance_no, instance_id, entries))


def history_rows(instance_no: int | None, instance_id: str, entries: list[HistoryEntry]) -> list[tuple]:
    """The rows of ``entries`` as (entries in the run, instance_no, instance_id, at, JSON, notable): one per
    run of consecutive entries with the same time (a step's entries share it), so a row's time is its
    entries'. ``notable`` is 1 when the run holds an entry of :data:`NOTABLE_KINDS`, else None.

    Each entry is stored as [kind, node_id, execution_id, details, actor], trailing nulls (and empty
    details) left out; the kind is a str enum, which JSON writes as its text. One loop does the runs, the
    notable mark and the stored form at once, inline: a step has about ten entries, and a function call
    or a generator per entry was a third of this function's time."""
    rows: list[tuple] = []
    if not entries:
        return rows
    at = entries[0].at
    stored: list[list] = []
    notable = None
    add = stored.append
    for h in entries:
        if h.at is not at and h.at != at:  # a step's entries share one datetime object: the identity test first
            rows.append((len(stored), instance_no, instance_id, dump_time(at), dump_json(stored), notable))
            at, stored, notable = h.at, [], None
            add = stored.append
        kind = h.kind
        if kind in NOTABLE_KINDS:
            notable = 1
        if h.actor is not None:
            add([kind, h.node_id, h.execution_id, h.details or None, h.actor])
        elif h.details:
            add([kind, h.node_id, h.execution_id, h.details])
        elif h.execution_id is not None:
            add([kind, h.node_id, h.execution_id])
        elif h.node_id is not None:
            add([kind, h.node_id])
        else:
            add([kind])
    rows.append((len(stored), instance_no, instance_id, dump_time(at), dump_json(stored), notable))
    return rows


def history_entries(row: tuple) -> list[HistoryEntry]:
    """The entries of a history row read as :data:`HISTORY_COLUMNS`."""
    _, first, instance_id, at_text, text = row
    at = load_time(at_text)
    entries = []
    for n, e in enumerate(load_json(text)):
        size = len(e)
        entries.append(HistoryEntry(
            kind=_KIND[e[0]], at=at, node_id=e[1] if size > 1 else None,
            execution_id=e[2] if size > 2 else None, details=e[3] if size > 3 and e[3] is not None else {},
            actor=e[4] if size > 4 else None, seq=first + n, instance_id=instance_id))
    return entries
