"""wfconsole's SQLite store: ``open_store(path_or_url)`` returns the engine's ``Store``."""

from __future__ import annotations

import os

from store.database import Durability, StoreSettings, create_sqlite_engine, database_url, prepare_schema
from store.sqlite import SqliteStore


def open_store(path_or_url: str | os.PathLike, *, durability: Durability | str = Durability.FULL,
               busy_timeout_ms: int = 30_000) -> SqliteStore:
    """Open (creating if needed) a wfconsole database at a path or SQLAlchemy SQLite URL.

    ``durability`` is ``"FULL"`` (default: a commit that returned survives a power failure) or
    ``"NORMAL"`` (faster). Raises ``engine.StoreError`` with a message naming the file when the database
    cannot be used: corrupt, read-only, locked, not a wfconsole database, or of a newer schema.
    """
    settings = StoreSettings(durability=Durability(str(durability).upper()), busy_timeout_ms=busy_timeout_ms)
    url = database_url(path_or_url)
    engine = create_sqlite_engine(url, settings)
    prepare_schema(engine, str(path_or_url))
    return SqliteStore(engine, str(path_or_url), busy_timeout_ms)


__all__ = ["Durability", "SqliteStore", "open_store"]
