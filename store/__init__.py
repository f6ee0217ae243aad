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
from store.sqlite import SqliteStore


def is_postgres_url(text: str) -> bool:
    """``postgresql://...`` (also ``postgres://`` and ``postgresql+psycopg://``)."""
    return text.split("://", 1)[0].lower() in ("postgresql", "postgres", "postgresql+psycopg") if "://" in text \
        else False


def open_store(path_or_url: str | os.PathLike, *, durability: Durability | str = Durability.FULL,
               busy_timeout_ms: int = 30_000) -> SqliteStore:
    """Open (creating if needed) a wfconsole database at a path or SQLAlchemy SQLite URL, or on a PostgreSQL
    server at a ``postgresql://user@host:5432/database`` URL (:func:`store.postgres.open_postgres_store`; the
    tables go in the database's current schema; ``durability`` and ``busy_timeout_ms`` are SQLite's).

    ``durability`` is ``"FULL"`` (default: a commit that returned survives a power failure) or
    ``"NORMAL"`` (faster). Raises ``engine.StoreError`` with a message naming the file when the database
    cannot be used: corrupt, read-only, locked, not a wfconsole database, or of a newer schema.

    The store's ``warnings`` lists, one line each, what is wrong with a database it did open (today: a file
    other users can read, see :func:`store.database.file_warnings`); the front ends show them, once.
    """
    if is_postgres_url(str(path_or_url)):
        from store.postgres import open_postgres_store  # psycopg is imported only for a PostgreSQL URL

        return open_postgres_store(str(path_or_url))
    settings = StoreSettings(durability=Durability(str(durability).upper()), busy_timeout_ms=busy_timeout_ms)
    url = database_url(path_or_url)
    warnings = file_warnings(path_or_url)  # before SQLite creates the -wal and -shm files with its mode
    engine = create_sqlite_engine(url, settings)
    prepare_schema(engine, str(path_or_url))
    return SqliteStore(engine, str(path_or_url), busy_timeout_ms, warnings=warnings)


__all__ = ["Durability", "SqliteStore", "open_store"]
