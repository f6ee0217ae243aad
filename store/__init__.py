"""wfconsole's stores: ``open_store(path_or_url)`` returns the engine's ``Store``, on SQLite (a path, the
embedded default) or on a PostgreSQL server (a ``postgresql://`` URL, for many hosts)."""

from __future__ import annotations

import os

from store.database import (
    Durability,
    StoreSettings,
    create_sqlite_engine,
    database_url,
    file_warnings,
    prepare_schema,
)
from store.group_commit import GroupCommitSettings
from store.sqlite import SqliteStore


def is_postgres_url(text: str) -> bool:
    """``postgresql://...`` (also ``postgres://`` and ``postgresql+psycopg://``)."""
    return text.split("://", 1)[0].lower() in ("postgresql", "postgres", "postgresql+psycopg") if "://" in text \
        else False


def open_store(path_or_url: str | os.PathLike, *, durability: Durability | str = Durability.FULL,
               busy_timeout_ms: int = 30_000, batch_steps: int = 64, batch_ms: float = 10.0) -> SqliteStore:
    """Open (creating if needed) a wfconsole database at a path or SQLAlchemy SQLite URL, or on a PostgreSQL
    server at a ``postgresql://user@host:5432/database`` URL (:func:`store.postgres.open_postgres_store`; the
    tables go in the database's current schema; ``durability``, ``busy_timeout_ms`` and the batch settings
    are SQLite's).

    ``durability`` is ``"FULL"`` (default: a commit that returned survives a power failure) or
    ``"NORMAL"`` (faster). Raises ``engine.StoreError`` with a message naming the file when the database
    cannot be used: corrupt, read-only, locked, not a wfconsole database, or of a newer schema.

    Writes of several threads at once are committed together (group commit, :mod:`store.group_commit`): up
    to ``batch_steps`` steps in one transaction, each in its own savepoint, a batch taking queued steps for
    at most ``batch_ms`` milliseconds; each caller returns after the commit that holds its step.
    ``batch_steps=1`` turns it off (each write its own transaction). A lone writer waits for nobody.

    The store's ``warnings`` lists, one line each, what is wrong with a database it did open (today: a file
    other users can read, see :func:`store.database.file_warnings`); the front ends show them, once.
    """
    if is_postgres_url(str(path_or_url)):
        from store.postgres import open_postgres_store  # psycopg is imported only for a PostgreSQL URL

        return open_postgres_store(str(path_or_url))
    settings = StoreSettings(durability=Durability(str(durability).upper()), busy_timeout_ms=busy_timeout_ms,
                             batch_steps=batch_steps, batch_ms=batch_ms)
    url = database_url(path_or_url)
    warnings = file_warnings(path_or_url)  # before SQLite creates the -wal and -shm files with its mode
    engine = create_sqlite_engine(url, settings)
    prepare_schema(engine, str(path_or_url))
    batching = GroupCommitSettings(max_steps=settings.batch_steps, max_seconds=settings.batch_ms / 1000)
    return SqliteStore(engine, str(path_or_url), busy_timeout_ms, warnings=warnings, group_commit=batching)


__all__ = ["Durability", "SqliteStore", "open_store"]
