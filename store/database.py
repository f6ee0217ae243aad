"""Opening an SQLite database: URL, pragmas, ``BEGIN IMMEDIATE`` for writes, schema creation and version.

SQLAlchemy's pysqlite driver starts transactions lazily and never as ``IMMEDIATE``; the documented recipe
(SQLAlchemy's "Serializable isolation / Savepoints / Transactional DDL" for pysqlite) turns the driver's
own transaction handling off at connect time and emits ``BEGIN`` from the engine's ``begin`` event. Here the
``begin`` event emits ``BEGIN IMMEDIATE`` on connections marked for writing, so a write takes the lock
before it reads and two writers can never both read an instance and then race to write it.

The engine's own steps (:class:`store.sqlite.SqliteStore`) take the pooled driver connection that the
``connect`` hook prepared and issue ``BEGIN IMMEDIATE`` / ``COMMIT`` on it themselves: the same transaction,
without an SQLAlchemy ``Connection`` round trip per step (see BENCHMARKS.md). Schema creation and
migrations go through SQLAlchemy and the ``begin`` hook.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DatabaseError, OperationalError
from sqlalchemy.pool import StaticPool
from sqlmodel import SQLModel

from engine.errors import DatabasePathError, StoreError
from store import migrations, tables

WRITE_OPTION = "wfconsole_write"


class Durability(StrEnum):
    FULL = "FULL"  # every commit is on disk before it returns: nothing acknowledged is lost on power loss
    NORMAL = "NORMAL"  # faster; a power loss may lose the last commits (never corrupts the database)


@dataclass(frozen=True)
class StoreSettings:
    durability: Durability = Durability.FULL
    busy_timeout_ms: int = 30_000
    # Group commit (store.group_commit): the most steps of concurrent writers one commit holds (1: off), and
    # how long a batch goes on taking queued steps once it began.
    batch_steps: int = 64
    batch_ms: float = 10.0


_NOT_FILES = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (a named pipe)"), (stat.S_ISSOCK, "a socket"),
              (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))


def not_a_file(path: Path) -> str | None:
    """What ``path`` is when it exists and is not a regular file (``"a FIFO (a named pipe)"``, ``"a directory"``,
    ...), else ``None``. SQLite would report such a path only as "disk I/O error" or "unable to open"."""
    try:
        mode = path.stat().st_mode  # stat, not open: opening a FIFO would wait for a writer
    except OSError:
        return None
    return next((kind for test, kind in _NOT_FILES if test(mode)), None if stat.S_ISREG(mode) else "not a file")


def database_url(path_or_url: str | os.PathLike) -> str:
    """An SQLAlchemy URL for a path (created with mode 0600 if missing) or a URL given as-is.

    Raises ``StoreError`` for a path in a missing directory or one that is not a regular file (a FIFO, a
    socket, a device such as ``/dev/null``, a directory).
    """
    text = str(path_or_url)
    if "://" in text:
        return text
    if text == ":memory:":
        return "sqlite://"
    path = Path(text).expanduser().resolve()
    if not path.parent.is_dir():
        raise DatabasePathError(f"{path}: the directory {path.parent} does not exist")
    kind = not_a_file(path)
    if kind is not None:
        raise DatabasePathError(f"{text}: is {kind}, not a database file")
    if not path.exists():
        try:
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        except OSError as error:
            raise StoreError(f"{path}: cannot create the database file: {error.strerror}") from None
    return f"sqlite:///{path}"


def file_warnings(path_or_url: str | os.PathLike) -> list[str]:
    """What a person should know about the database file before using it: one line if its mode lets users
    other than its owner at it (a group or other permission bit, as in 0644). The file is left as it is.

    SQLite creates the ``-wal`` and ``-shm`` files with the database file's mode, so the same users can read
    the latest changes too. A file wfconsole creates is 0600 (:func:`database_url`). Nothing for a URL or
    ``:memory:``, nor for a file that is not there.
    """
    text = str(path_or_url)
    if "://" in text or text == ":memory:":
        return []
    path = Path(text).expanduser().resolve()
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return []
    if not mode & 0o077:
        return []
    can = " and ".join(verb for verb, bits in (("read", 0o044), ("write", 0o022)) if mode & bits) or "open"
    files = " ".join(str(p) for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists())
    return [f"{path} has mode {mode:04o}: users other than its owner can {can} it, and SQLite gives its -wal and "
            f"-shm files the same mode; to keep them private: chmod 600 {files}"]


def create_sqlite_engine(url: str, settings: StoreSettings) -> Engine:
    """An engine with WAL, the durability setting, foreign keys, a busy timeout and the BEGIN hooks."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        raise StoreError(f"{url}: only SQLite databases are supported")
    in_memory = parsed.database in (None, "", ":memory:")
    kwargs: dict = {"connect_args": {"check_same_thread": False, "timeout": settings.busy_timeout_ms / 1000}}
    if in_memory:
        kwargs["poolclass"] = StaticPool
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        try:
            if not in_memory:
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA synchronous={settings.durability.value}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={int(settings.busy_timeout_ms)}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        mode = "IMMEDIATE" if connection.get_execution_options().get(WRITE_OPTION) else "DEFERRED"
        connection.exec_driver_sql(f"BEGIN {mode}")

    return engine


def prepare_schema(engine: Engine, source: str) -> None:
    """Create the tables on a new database; refuse a database of a newer schema or not ours."""
    try:
        with engine.connect() as connection:
            connection.execution_options(**{WRITE_OPTION: True})
            with connection.begin():
                raw = connection.connection.driver_connection
                existing = {row[0] for row in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")}
                if "wf_meta" in existing:
                    row = raw.execute("SELECT value FROM wf_meta WHERE key='schema_version'").fetchone()
                    found = int(row[0]) if row else 0
                    if found > tables.SCHEMA_VERSION:
                        raise StoreError(
                            f"{source}: written by a newer wfconsole (schema version {found}; this one "
                            f"knows up to {tables.SCHEMA_VERSION}); upgrade wfconsole to open it")
                    if found < tables.SCHEMA_VERSION:  # in this transaction: all steps or none
                        migrations.upgrade(raw, found, tables.SCHEMA_VERSION, source)
                    return
                if existing - {"sqlite_sequence"}:
                    raise StoreError(f"{source}: not a wfconsole database (it has tables "
                                     f"{', '.join(sorted(existing))})")
                SQLModel.metadata.create_all(connection)
                raw.execute("INSERT INTO wf_meta(key, value) VALUES ('schema_version', ?)",
                            (str(tables.SCHEMA_VERSION),))
    except StoreError:
        raise
    except (DatabaseError, OperationalError, sqlite3.DatabaseError) as error:
        raise StoreError(f"{source}: {describe_database_error(error)}") from None


def describe_database_error(error: BaseException) -> str:
    """One line a person can act on, from an SQLite error."""
    text = str(getattr(error, "orig", None) or error).splitlines()[0]
    lowered = text.lower()
    if "file is not a database" in lowered or "malformed" in lowered:
        return "the file is not a wfconsole database or is corrupted (" + text + ")"
    if "readonly" in lowered or "read-only" in lowered:
        return "the database is read-only (" + text + "); check the file's and its directory's permissions"
    if "locked" in lowered or "busy" in lowered:
        return "the database stayed locked by another process past the busy timeout (" + text + ")"
    if "unable to open" in lowered:
        return "cannot open the database file (" + text + ")"
    return text
