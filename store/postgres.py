"""The PostgreSQL implementation of the engine's :class:`~engine.ports.Store`, for many hosts on one server.

It shares the SQLite store's code (:mod:`store.sqlite`, :mod:`store.reports`): the same statements, the same
row layout (``store.tables``), the same caches of decoded rows. What differs is here:

- connections come from a ``psycopg_pool.ConnectionPool`` (psycopg 3, autocommit, ``BEGIN``/``COMMIT`` sent
  by the store as on SQLite); the SQL of the shared code is translated once per statement text
  (:func:`pg_sql`: ``?`` placeholders, SQLite's index hints, ``json_each``);
- a step locks its instance row (``SELECT ... FOR UPDATE``) before it reads it, so steps of one instance on
  any number of hosts run one after the other and never lose or double an update; writes run at READ
  COMMITTED (no serialization failures), and every write that locks several executions takes them in id
  order (no deadlocks between steps, claims and renewals);
- instance numbers and history sequence numbers come from sequences, not ``MAX() + 1``;
- a claim skips an execution another host is claiming (``FOR UPDATE SKIP LOCKED``) instead of waiting;
- reads run in ``REPEATABLE READ READ ONLY`` transactions: one snapshot, as on SQLite;
- :meth:`PostgresStore.change_token` is the server's transaction snapshot, which moves whenever any write
  transaction on the server ends (cheap: no table is read and no write pays for it);
- a commit that created executions wakes the idle workers on every host (``NOTIFY`` on the channel
  ``wfconsole_work``, sent after the commit by a thread of the store that coalesces them, so that the commits
  themselves do not queue for the server's notification lock); :meth:`PostgresStore.wait_for_work` is what the
  worker runtime listens with, its poll staying the fallback.

Schema creation and upgrades: :func:`prepare_postgres_schema`, with the versioned steps of
:mod:`store.migrations`, under an advisory lock so that hosts opening a new database at once create it once.
"""

from __future__ import annotations

import functools
import hashlib
import random
import re
import threading
import time
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import psycopg
import psycopg_pool
from psycopg import errors as pg_errors
from psycopg.pq import TransactionStatus
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.schema import CreateIndex, CreateTable
from sqlmodel import SQLModel

from engine.errors import DatabaseConnectionError, InvalidValueError, StoreError
from engine.model import HistoryEntry
from store import migrations, tables
from store.history import history_rows
from store.sqlite import SqliteStore, SqliteWriteTransaction, _Executions, _States

_SCHEMA_LOCK = 0x77660001  # pg_advisory_xact_lock key: creating or upgrading the schema
CONNECT_TIMEOUT = 10  # seconds to reach the server before a command gives up with one line


# -- the URL and what people see of it -----------------------------------------------------------------


class PostgresTarget:
    """A PostgreSQL URL taken apart: what psycopg connects with, and the same without its password."""

    def __init__(self, url: str) -> None:
        try:
            parsed = make_url(url)
        except ArgumentError:
            raise DatabaseConnectionError(
                f"{redact(url)}: not a PostgreSQL URL (postgresql://user@host:5432/database)") from None
        # URL.set(password=None) would keep the password (None is "not given" there): _replace it.
        shown = parsed._replace(drivername="postgresql", password=None)
        if not parsed.database:
            raise DatabaseConnectionError(f"{shown.render_as_string(hide_password=False)}: the URL names no "
                                          "database (postgresql://user@host:5432/database)")
        self.password = parsed.password
        self.user = parsed.username
        self.host = parsed.host or "localhost"
        self.port = parsed.port or 5432
        self.database = parsed.database
        # For people: never the password (engine.ports.Store.source).
        self.source = shown.render_as_string(hide_password=False)
        params: dict[str, Any] = {key: value for key, value in parsed.query.items()}
        params.update(dbname=parsed.database, connect_timeout=params.get("connect_timeout", CONNECT_TIMEOUT))
        for key, value in (("host", parsed.host), ("port", parsed.port), ("user", parsed.username),
                           ("password", parsed.password)):
            if value is not None:
                params[key] = value
        self.conninfo = psycopg.conninfo.make_conninfo(**{k: str(v) for k, v in params.items()})

    def scrub(self, text: str) -> str:
        """``text`` with the password cut out wherever it appears (libpq never puts it in a message; this is the
        second lock on the door)."""
        return text.replace(self.password, "***") if self.password else text


_PASSWORD_IN_URL = re.compile(r"(://[^:/@\s]*:)[^@\s]*@")


def redact(text: str) -> str:
    """Any ``scheme://user:password@host`` in ``text`` with the password replaced by ``***``."""
    return _PASSWORD_IN_URL.sub(r"\1***@", text)


def describe_postgres_error(error: BaseException, target: PostgresTarget | None = None) -> str:
    """One line a person can act on, from a psycopg error (never the password)."""
    text = " ".join(str(error).split())  # libpq's messages run over lines
    text = text.removeprefix("connection failed: ")
    sqlstate = getattr(error, "sqlstate", None)
    where = f"{target.host}:{target.port}" if target else "the server"
    user = target.user if target and target.user else "the user"
    lowered = text.lower()
    if "password authentication failed" in lowered or sqlstate == "28P01":
        line = f"the server refused the password of {user} (password authentication failed)"
    elif "no password supplied" in lowered or "password is required" in lowered:
        line = (f"the server asks {user} for a password and none was given (put it in the URL, in "
                "$PGPASSWORD or in ~/.pgpass)")
    elif re.search(r'database ".*" does not exist', text) or sqlstate == "3D000":
        if target is None:
            line = "the database does not exist on the server (create it with createdb)"
        else:
            line = (f"the database {target.database} does not exist on {where} (create it: createdb -h {target.host} "
                    f"-p {target.port} {target.database})")
    elif re.search(r'role ".*" does not exist', text):
        line = f"the server has no user {user} ({_after_fatal(text)})"
    elif any(word in lowered for word in ("connection refused", "could not connect", "timeout expired",
                                          "failed to resolve host", "name or service not known",
                                          "no route to host", "network is unreachable", "could not translate")):
        line = f"cannot reach the PostgreSQL server at {where} ({_after_fatal(text)}); is it running?"
    elif sqlstate in ("57P01", "57P02", "57P03") or "terminating connection" in lowered \
            or "server closed the connection" in lowered or "consuming input failed" in lowered \
            or "the connection is closed" in lowered or "connection is lost" in lowered:
        line = f"the connection to the PostgreSQL server at {where} was lost ({_after_fatal(text)}); nothing of " \
               "the interrupted transaction was stored"
    else:
        line = text
    return target.scrub(line) if target else line


def _after_fatal(text: str) -> str:
    """The server's own words of a libpq message, without the "connection to server at ... failed:" part."""
    text = text.split("FATAL:", 1)[-1].split("failed: ")[-1].strip()
    return text.split(" Is the server running")[0]


# -- SQL shared with the SQLite store ------------------------------------------------------------------

_INDEXED_BY = re.compile(r" INDEXED BY \w+")
_JSON_EACH = re.compile(r"json_each\(([\w.]+)\)")


@lru_cache(maxsize=2048)
def pg_sql(sql: str) -> str:
    """A statement of the SQLite store, for PostgreSQL: ``?`` placeholders become ``%s`` (a literal ``%``
    doubled), SQLite's planner hints go (``INDEXED BY``; ``+status``, which keeps SQLite off an index), LIKE is
    ILIKE (SQLite's LIKE ignores the case of ASCII letters; so does ILIKE in the "C" collation), and
    ``json_each(column)`` (a JSON object's values) becomes ``jsonb_each_text`` of it ('' -- a context kept in
    its own row -- read as no values)."""
    sql = _INDEXED_BY.sub("", sql).replace(" +status", " status").replace(" LIKE ", " ILIKE ")
    sql = _JSON_EACH.sub(r"jsonb_each_text(NULLIF(\1, '')::jsonb)", sql)
    return sql.replace("%", "%%").replace("?", "%s")


class PgCursor:
    """A psycopg cursor with the interface the shared code uses (``execute`` returning the cursor, ``?``).

    In a write transaction the connection is in pipeline mode (``pipeline``): a statement whose result nobody
    reads (an UPDATE, an INSERT) is sent without waiting for the server, and the next read of a result (a
    fetch, ``rowcount``) waits for all of them at once: a step makes a few round trips, not one per statement.
    An error of a statement sent that way is raised at that next read, or at the COMMIT.
    """

    __slots__ = ("raw", "pipeline")

    def __init__(self, raw: psycopg.Cursor, pipeline: Any = None) -> None:
        self.raw = raw
        self.pipeline = pipeline

    def execute(self, sql: str, params: Any = ()) -> PgCursor:
        self.raw.execute(pg_sql(sql), params)
        return self

    def executemany(self, sql: str, rows: Any) -> PgCursor:
        self.raw.executemany(pg_sql(sql), rows)
        return self

    def fetchone(self) -> Any:
        return self.raw.fetchone()

    def fetchall(self) -> list:
        return self.raw.fetchall()

    def fetchmany(self, size: int) -> list:
        return self.raw.fetchmany(size)

    def __iter__(self):
        return iter(self.raw)

    @property
    def rowcount(self) -> int:
        if self.pipeline is not None:
            self.pipeline.sync()  # the count arrives with the statement's result
        return self.raw.rowcount

    def close(self) -> None:
        self.raw.close()


class _NoStates(_States):
    """PostgreSQL cannot tell this connection that another host wrote an instance (SQLite's data_version):
    a step always reads its instance, under the row lock."""

    def keep(self, instance_id: str, state: Any, opened: Any) -> None:
        pass


_NO_STATES = _NoStates()


class PostgresWriteTransaction(SqliteWriteTransaction):
    """A write transaction on PostgreSQL: the instance row locked for the step, numbers from sequences."""

    new_work = False  # set when a change set adds executions: the commit wakes the workers

    def apply(self, changes: Any, result: Any = None) -> None:
        super().apply(changes, result)
        if changes.executions_added:
            self.new_work = True

    def _send(self, sql: str, params: tuple) -> Any:
        """Sent in the same round trip as the statement before it (the instance row's, which locks it: the
        server runs this one after the lock is granted, so it reads what the lock protects)."""
        second = PgCursor(self.cursor.raw.connection.cursor(), self.cursor.pipeline)
        return second.execute(sql, params)

    _LOAD_INSTANCE = SqliteWriteTransaction._LOAD_INSTANCE + " FOR UPDATE"
    _LOAD_OPEN = SqliteWriteTransaction._LOAD_OPEN + " FOR UPDATE"
    _NEXT_NO = "nextval('instances_no_seq')"

    def _insert_history(self, instance_no: int | None, instance_id: str, entries: list[HistoryEntry]) -> None:
        """One row per run of entries, numbered from the sequence ``history_seq``. The instance row is locked,
        so its entries are numbered in the order of its steps; numbers taken meanwhile by other hosts' steps
        can interleave (then each entry gets a row of its own, as a run's numbers must follow each other)."""
        rows = history_rows(instance_no, instance_id, entries)
        total = len(entries)
        numbers = [r[0] for r in self.cursor.execute(
            "SELECT nextval('history_seq') FROM generate_series(1, ?)", (total,))]
        if numbers[-1] - numbers[0] != total - 1:
            rows = [history_rows(instance_no, instance_id, [entry])[0] for entry in entries]
            placed = [(n, n, *row[1:]) for n, row in zip(numbers, rows, strict=True)]
        else:
            placed, first = [], numbers[0]
            for row in rows:
                placed.append((first + row[0] - 1, first, *row[1:]))
                first += row[0]
        self.cursor.executemany("INSERT INTO history (seq, first_seq, instance_no, instance_id, at, entries, notable) "
                                "VALUES (?, ?, ?, ?, ?, ?, ?)", placed)


# -- transactions ----------------------------------------------------------------------------------------


_READ_BEGIN = b"BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"


class _PgTransaction:
    """One transaction on a pooled connection; a context manager, like :class:`store.sqlite._Transaction`."""

    __slots__ = ("store", "write", "connection", "cursor", "tx", "pipeline")

    def __init__(self, store: PostgresStore, write: bool) -> None:
        self.store = store
        self.write = write
        self.connection: psycopg.Connection | None = None
        self.tx: PostgresWriteTransaction | None = None
        self.pipeline: Any = None  # the context manager of a write's pipeline mode (see PgCursor)

    def __enter__(self) -> Any:
        store = self.store
        for attempt in range(store.pool_size + 1):
            connection = store._getconn()
            try:
                raw = connection.cursor()
                raw.execute(b"BEGIN" if self.write else _READ_BEGIN)
                break
            except psycopg.OperationalError as error:
                # An idle connection the server dropped (restarted, or the network cut it): nothing was sent
                # in a transaction, so take another one (the pool replaces this one).
                store._putconn(connection, broken=True)
                if attempt == store.pool_size:
                    raise StoreError(f"{store.source}: {describe_postgres_error(error, store.target)}") from None
            except BaseException:
                store._putconn(connection, broken=True)
                raise
        self.connection = connection
        if not self.write:
            self.cursor = PgCursor(raw)
            return self.cursor
        # BEGIN went alone (above): a connection the server dropped is found there, before anything is sent.
        self.pipeline = connection.pipeline()
        try:
            self.cursor = PgCursor(raw, self.pipeline.__enter__())
        except BaseException as error:
            self.pipeline = None
            self._end(error)
            raise self.store._translated(error) from None
        decoded = getattr(connection, "_wf_decoded", None)
        if decoded is None:
            decoded = connection._wf_decoded = _Executions()
        self.tx = PostgresWriteTransaction(self.cursor, decoded, _NO_STATES)
        return self.tx

    def __exit__(self, error_type: Any, error: BaseException | None, traceback: Any) -> bool:
        if error is None:
            try:
                self.cursor.raw.execute(b"COMMIT")
                if self.pipeline is not None:
                    self.cursor.pipeline.sync()  # the COMMIT's answer, and any error of what was sent before it
            except BaseException as commit_error:
                error = commit_error
        error = self._end(error)
        if error is None:
            if self.tx is not None and self.tx.new_work:
                self.store._notifier.wake()
            return False
        translated = self.store._translated(error)
        if translated is error:
            if error_type is None:
                raise error
            return False
        raise translated from None

    def _end(self, error: BaseException | None) -> BaseException | None:
        """Leave pipeline mode, roll back after an error, give the connection back; the error to raise."""
        connection = self.connection
        broken = False
        try:
            if self.pipeline is not None:
                pipeline, self.pipeline = self.pipeline, None
                try:
                    pipeline.__exit__(None, None, None)
                except psycopg.Error as pipeline_error:  # a statement sent without waiting failed
                    error = error or pipeline_error
            if error is not None:
                try:
                    if connection.info.transaction_status != TransactionStatus.IDLE:
                        connection.execute(b"ROLLBACK")
                except psycopg.Error:
                    broken = True  # lost: the server rolls it back; the pool replaces it
                if isinstance(error, psycopg.OperationalError) or connection.closed:
                    broken = True
        finally:
            self.store._putconn(connection, broken=broken)
        return error


WORK_CHANNEL = "wfconsole_work"


class _Notifier:
    """Sends ``NOTIFY wfconsole_work`` after commits that created executions, from a thread of its own and
    at most one per ``interval``: a NOTIFY inside the step's transaction would make every such commit take
    the server's notification lock in turn (commits queue behind each other), and one per commit would cost
    the step a round trip. A wake-up lost to a dropped connection leaves the workers to their poll."""

    interval = 0.01

    def __init__(self, target: PostgresTarget) -> None:
        self.target = target
        self.wanted = threading.Event()
        self.closed = False
        self.thread: threading.Thread | None = None
        self.lock = threading.Lock()

    def wake(self) -> None:
        self.wanted.set()
        if self.thread is None:
            with self.lock:
                if self.thread is None and not self.closed:
                    self.thread = threading.Thread(target=self._run, name="wfconsole-notify", daemon=True)
                    self.thread.start()

    def _run(self) -> None:
        connection = None
        while not self.closed:
            self.wanted.wait()
            if self.closed:
                break
            self.wanted.clear()
            try:
                if connection is None or connection.closed:
                    connection = psycopg.connect(self.target.conninfo, autocommit=True)
                connection.execute(f"NOTIFY {WORK_CHANNEL}")
            except psycopg.Error:
                if connection is not None:
                    connection.close()
                connection = None
            time.sleep(self.interval)
        if connection is not None:
            connection.close()

    def close(self) -> None:
        self.closed = True
        self.wanted.set()
        if self.thread is not None:
            self.thread.join(timeout=5)


class RetryableError(StoreError):
    """A deadlock or serialization failure: the transaction was rolled back and may simply be run again."""


RETRIES = 8


def retried(method: Callable[..., Any]) -> Callable[..., Any]:
    """Run the store's own transaction ``method`` again after a deadlock or serialization failure (rolled back:
    nothing of it stayed), after a short random pause, up to ``RETRIES`` times; the caller never sees one."""

    @functools.wraps(method)
    def run(self: PostgresStore, *args: Any, **kwargs: Any) -> Any:
        for attempt in range(RETRIES):
            try:
                return method(self, *args, **kwargs)
            except RetryableError:
                if attempt == RETRIES - 1:
                    raise
                _pause(attempt)
        raise AssertionError("unreachable")

    return run


def _pause(attempt: int) -> None:
    time.sleep(random.uniform(0, 0.002 * 2 ** attempt))


# -- the store -------------------------------------------------------------------------------------------


class PostgresStore(SqliteStore):
    """Blueprints and instances in one PostgreSQL database, shared by many processes on many hosts."""

    def __init__(self, target: PostgresTarget, *, pool_size: int = 8, warnings: list[str] | None = None) -> None:
        super().__init__(None, target.source, 0, warnings=warnings)  # type: ignore[arg-type]
        self.target = target
        self.pool_size = pool_size
        self.pool = psycopg_pool.ConnectionPool(
            target.conninfo, min_size=1, max_size=pool_size, open=False, name="wfconsole",
            kwargs={"autocommit": True}, timeout=30.0, reconnect_timeout=0)
        self.pool.open(wait=False)
        self._watch: psycopg.Connection | None = None  # change_token's own connection
        self._watch_lock = threading.Lock()
        self._notifier = _Notifier(target)
        self._listener: psycopg.Connection | None = None  # wait_for_work's, LISTENing on WORK_CHANNEL

    # -- connections ----------------------------------------------------------------------------------

    def _getconn(self) -> psycopg.Connection:
        try:
            return self.pool.getconn()
        except psycopg_pool.PoolTimeout:
            # The pool says only that it waited: ask the server directly why (unreachable, refused, ...).
            raise StoreError(f"{self.source}: {self._why_unreachable()}") from None
        except psycopg_pool.PoolClosed:
            raise StoreError(f"{self.source}: the store was closed") from None

    def _why_unreachable(self) -> str:
        try:
            psycopg.connect(self.target.conninfo).close()
        except psycopg.Error as error:
            return describe_postgres_error(error, self.target)
        return f"no connection to the server was free within {self.pool.timeout:.0f} s (all {self.pool_size} busy)"

    def _putconn(self, connection: psycopg.Connection, broken: bool = False) -> None:
        if broken and not connection.closed:
            connection.close()  # the pool sees it closed and opens another
        try:
            self.pool.putconn(connection)
        except psycopg_pool.PoolClosed:
            connection.close()

    def _translated(self, error: BaseException) -> BaseException:
        if isinstance(error, pg_errors.SerializationFailure | pg_errors.DeadlockDetected):
            return RetryableError(f"{self.source}: {describe_postgres_error(error, self.target)}")
        if isinstance(error, psycopg.Error):
            if isinstance(error, pg_errors.CharacterNotInRepertoire | pg_errors.UntranslatableCharacter):
                return InvalidValueError(f"text the database cannot store: {describe_postgres_error(error)}")
            return StoreError(f"{self.source}: {describe_postgres_error(error, self.target)}")
        if isinstance(error, UnicodeEncodeError):
            text = error.object if isinstance(error.object, str) else ""
            return InvalidValueError("text that is not valid Unicode (a lone surrogate): "
                                     f"{text[max(0, error.start - 40):error.end + 10]!r}")
        return error

    # -- transactions -----------------------------------------------------------------------------

    def write(self) -> _PgTransaction:
        """One READ COMMITTED transaction; the instance a step loads is locked until it ends."""
        return _PgTransaction(self, write=True)

    def read(self) -> _PgTransaction:
        """A REPEATABLE READ READ ONLY transaction: every query inside it sees the same snapshot."""
        return _PgTransaction(self, write=False)

    def close(self) -> None:
        with self._watch_lock:
            if self._watch is not None:
                self._watch.close()
                self._watch = None
        self._notifier.close()
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        self.pool.close()

    def wait_for_work(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for a commit (on any host) that created executions; ``True`` when one
        came. For the worker runtime's listener thread: one connection, LISTENing on ``wfconsole_work``. A
        lost connection is opened again at the next call (``False`` meanwhile: the runtime's poll goes on)."""
        try:
            if self._listener is None or self._listener.closed:
                self._listener = psycopg.connect(self.target.conninfo, autocommit=True)
                self._listener.execute(f"LISTEN {WORK_CHANNEL}")
            return any(True for _ in self._listener.notifies(timeout=timeout, stop_after=1))
        except psycopg.Error as error:
            listener, self._listener = self._listener, None
            if listener is not None:
                listener.close()
            raise StoreError(f"{self.source}: {describe_postgres_error(error, self.target)}") from None

    def change_token(self) -> int:
        """The server's current snapshot (``pg_current_snapshot()``): it changes whenever a write transaction
        on the server ends, on any host. Read-only transactions leave it alone, so a console polling it does not
        wake itself. Writes to other databases of the same server move it too: one refresh too many, never
        one missed."""
        with self._watch_lock:
            for attempt in range(2):
                if self._watch is None or self._watch.closed:
                    try:
                        self._watch = psycopg.connect(self.target.conninfo, autocommit=True)
                    except psycopg.Error as error:
                        raise StoreError(f"{self.source}: {describe_postgres_error(error, self.target)}") from None
                try:
                    snapshot = self._watch.execute("SELECT pg_current_snapshot()::text").fetchone()[0]
                    break
                except psycopg.OperationalError as error:
                    self._watch.close()
                    if attempt:
                        raise StoreError(f"{self.source}: {describe_postgres_error(error, self.target)}") from None
        return int.from_bytes(hashlib.blake2b(snapshot.encode(), digest_size=8).digest(), "big")

    def _after_copy(self, cursor: Any) -> None:
        """Rows were copied in with their numbers: the sequences go on after the largest."""
        cursor.execute("SELECT setval('instances_no_seq', COALESCE((SELECT MAX(no) FROM instances), 0) + 1, false)")
        cursor.execute("SELECT setval('history_seq', COALESCE((SELECT MAX(seq) FROM history), 0) + 1, false)")

    # The store's own transactions, retried after a deadlock or serialization failure. (The engine's steps run
    # at READ COMMITTED, which has no serialization failures, and lock their instance before anything else and
    # its executions in id order, as these do: they cannot deadlock with each other or with these.)
    claim_execution = retried(SqliteStore.claim_execution)
    renew_leases = retried(SqliteStore.renew_leases)
    renew_claims = retried(SqliteStore.renew_claims)
    release_leases = retried(SqliteStore.release_leases)
    take_turn = retried(SqliteStore.take_turn)
    save_blueprints = retried(SqliteStore.save_blueprints)
    append_history = retried(SqliteStore.append_history)

    # A claim skips an execution another host is claiming at this moment (SKIP LOCKED) instead of waiting for
    # it: that host gets it.
    _CLAIM = ("UPDATE executions SET lease_owner = ?, lease_until = ?, updated_at = ?, claim = claim + 1 "
              f"WHERE id = (SELECT id FROM executions WHERE id = ? AND {SqliteStore._CLAIMABLE} "
              "FOR UPDATE SKIP LOCKED)")


# -- schema ----------------------------------------------------------------------------------------------

_TEXT_TYPE = re.compile(r"\b(VARCHAR|TEXT)\b(?! COLLATE)")
_SEQUENCES = ("instances_no_seq", "history_seq")


def schema_statements() -> list[str]:
    """The DDL of a new database at ``tables.SCHEMA_VERSION``, from the table models: text columns in the
    "C" collation (byte order, as SQLite compares: ids range-scanned by prefix, times as ISO text), and the
    sequences that number instances and history entries."""
    dialect = postgresql.dialect()
    statements = []
    for table in SQLModel.metadata.sorted_tables:
        statements.append(_TEXT_TYPE.sub('TEXT COLLATE "C"', str(CreateTable(table).compile(dialect=dialect))))
        for index in sorted(table.indexes, key=lambda i: i.name):
            statements.append(str(CreateIndex(index).compile(dialect=dialect)))
    statements += [f"CREATE SEQUENCE {name}" for name in _SEQUENCES]
    return statements


def prepare_postgres_schema(connection: psycopg.Connection, target: PostgresTarget) -> None:
    """Create the tables in a new database (its current schema); upgrade an older one; refuse a newer one or
    one that holds other tables. In one transaction, under an advisory lock."""
    source = target.source
    with connection.transaction():
        cursor = PgCursor(connection.cursor())
        cursor.execute("SELECT pg_advisory_xact_lock(?)", (_SCHEMA_LOCK,))
        schema = cursor.execute("SELECT current_schema()").fetchone()[0]
        if schema is None:
            raise StoreError(f"{source}: no schema to create the tables in (the search_path names none that "
                             "exists)")
        existing = {row[0] for row in cursor.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = ?", (schema,))}
        if "wf_meta" in existing:
            row = cursor.execute("SELECT value FROM wf_meta WHERE key = 'schema_version'").fetchone()
            found = int(row[0]) if row else 0
            if found > tables.SCHEMA_VERSION:
                raise StoreError(f"{source}: written by a newer wfconsole (schema version {found}; this one "
                                 f"knows up to {tables.SCHEMA_VERSION}); upgrade wfconsole to open it")
            if found < tables.SCHEMA_VERSION:
                migrations.upgrade(cursor, found, tables.SCHEMA_VERSION, source, dialect="postgresql")
            return
        if existing:
            raise StoreError(f"{source}: not a wfconsole database (its schema {schema} has tables "
                             f"{', '.join(sorted(existing))})")
        for statement in schema_statements():
            cursor.execute(statement)
        cursor.execute("INSERT INTO wf_meta (key, value) VALUES ('schema_version', ?)", (str(tables.SCHEMA_VERSION),))


def open_postgres_store(url: str, *, pool_size: int = 8) -> PostgresStore:
    """Open (creating the tables if needed) a wfconsole database on a PostgreSQL server.

    Raises ``engine.StoreError`` with one line naming the server and what is wrong (unreachable, refused
    password, missing database or user, a newer schema, not a wfconsole database), never the password.
    """
    target = PostgresTarget(url)
    try:
        connection = psycopg.connect(target.conninfo, autocommit=True)
    except psycopg.Error as error:
        raise DatabaseConnectionError(f"{target.source}: {describe_postgres_error(error, target)}") from None
    try:
        with connection:
            prepare_postgres_schema(connection, target)
    except StoreError:
        raise
    except psycopg.Error as error:
        raise StoreError(f"{target.source}: {describe_postgres_error(error, target)}") from None
    return PostgresStore(target, pool_size=pool_size)
