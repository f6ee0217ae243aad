"""The SQLite implementation of the engine's :class:`~engine.ports.Store`.

Every write is one ``BEGIN IMMEDIATE`` transaction on a pooled driver connection (prepared by the
``connect`` hook of :mod:`store.database`: pragmas set, the driver's own transaction handling off): a
handful of cached, parameterised statements per step, no ORM identity map on the hot path. Reads use
short deferred transactions, so they see one snapshot.

The layout (schema v4, ``store.tables``) is made for the step: an instance's context and tokens are
columns of its row, its executions a range of the executions' primary key, and a step's history entries
one row. A step of an instance this connection wrote last reads nothing back (``_States``); it writes
the instance row, the executions it completes or creates, and one history row.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from engine.blueprint import Blueprint
from engine.errors import BlueprintConflictError, InvalidValueError, Problem, StoreError
from engine.model import (
    ChangeSet,
    Execution,
    ExecutionStatus,
    HistoryEntry,
    InstanceState,
    InstanceStatus,
    Token,
    TokenStatus,
    Wait,
    WaitKind,
)
from engine.ports import (
    BlueprintSummary,
    DueTimer,
    InstanceQuery,
    InstanceSummary,
    InstanceView,
    StoredBlueprint,
)
from store.codec import canonical_json, dump_json, dump_time, like_pattern, load_json, load_time
from store.database import describe_database_error
from store.group_commit import GroupCommit, GroupCommitSettings
from store.history import HISTORY_COLUMNS, history_entries, insert_history
from store.reports import SqliteReports
from store.tables import CONTEXT_INLINE_LIMIT, OPEN_EXECUTIONS

_EXECUTION_COLUMNS = (
    "id, instance_id, node_id, task_id, inputs, outputs, status, attempt, error, created_at, updated_at, "
    "lease_owner, lease_until, next_attempt_at, claim, due_at, assignee, candidate_group"
)


# Statuses by their text: a dict lookup, where calling the enum class costs ten times more.
_EXECUTION_STATUS = {status.value: status for status in ExecutionStatus}
_TOKEN_STATUS = {status.value: status for status in TokenStatus}
# The text of a status or history kind (StrEnum members are str): str.__str__ is a C call, where the Enum
# ``value`` property is a Python one, and a step writes a dozen of them.
_text = str.__str__


class _Executions(dict):
    """Executions by the row they were read from or written as (a tuple of the ``_EXECUTION_COLUMNS``),
    kept by a connection: an open execution is read again at every step of its instance, and decoding its JSON
    and times cost more than looking the row up. Bounded: past ``limit`` rows, or past ``budget`` characters of
    their inputs' and outputs' JSON (a task can be handed a large document), the oldest go."""

    limit = 4096
    budget = 4 << 20  # characters of JSON; the decoded values take several times as many bytes

    def __init__(self) -> None:
        super().__init__()
        self.weight = 0

    def get_or_decode(self, row: tuple) -> Execution:
        execution = self.get(row)
        if execution is None:
            execution = self.remember(row, _execution(row))
        return execution

    def remember(self, row: tuple, execution: Execution) -> Execution:
        weight = _row_weight(row)
        if weight > self.budget or row in self:
            return execution
        while self and (len(self) >= self.limit or self.weight + weight > self.budget):
            del self[next(iter(self))]  # the oldest (first in): no bookkeeping on a hit, unlike an LRU
        self[row] = execution
        self.weight += weight
        return execution

    def __delitem__(self, row: tuple) -> None:
        super().__delitem__(row)
        self.weight -= _row_weight(row)

    def clear(self) -> None:
        super().clear()
        self.weight = 0


def _row_weight(row: tuple) -> int:
    """The characters of JSON an execution row holds (its inputs and outputs)."""
    return len(row[4]) + (len(row[5]) if row[5] is not None else 0)


def _execution(row: tuple) -> Execution:
    return Execution(
        id=row[0], instance_id=row[1], node_id=row[2], task_id=row[3], inputs=load_json(row[4]),
        outputs=load_json(row[5]), status=_EXECUTION_STATUS[row[6]], attempt=row[7], error=row[8],
        created_at=load_time(row[9]), updated_at=load_time(row[10]), lease_owner=row[11],
        lease_until=load_time(row[12]), next_attempt_at=load_time(row[13]), claim=row[14],
        due_at=load_time(row[15]), assignee=row[16], candidate_group=row[17],
    )


def _tokens(text: str) -> list[Token]:
    """The tokens of an instance row's ``tokens`` column."""
    return [Token(id=i, node_id=n, status=_TOKEN_STATUS[s], created_at=load_time(c)) for i, n, s, c in load_json(text)]


def _instance_range(instance_id: str) -> tuple[str, str]:
    """Bounds of the ids of an instance's executions, ``<instance_id>:...``: ids sort between these two
    (':' is followed by ';'), so the primary key finds them."""
    return instance_id + ":", instance_id + ";"



_INSTANCE_COLUMNS = (
    "id, workflow_id, version, status, error, created_at, updated_at, ended_at, context, tokens, no, waits")


def _wait_row(wait: Wait) -> list:
    """A wait as the instance row's ``waits`` column lists it."""
    return [wait.id, _text(wait.kind), wait.node_id, wait.token_id, dump_time(wait.created_at),
            dump_time(wait.due_at), wait.boundary, wait.message]


def _waits(text: str | None) -> tuple[Wait, ...]:
    """The waits of an instance row's ``waits`` column (NULL: none)."""
    if not text:
        return ()
    return tuple(Wait(id=row[0], kind=_WAIT_KIND[row[1]], node_id=row[2], token_id=row[3], created_at=load_time(row[4]),
                      due_at=load_time(row[5]), boundary=row[6], message=row[7] if len(row) > 7 else None)
                 for row in load_json(text))


_WAIT_KIND = {kind.value: kind for kind in WaitKind}

# engine.ports.INSTANCE_ORDERS as SQL: ix_instances_created (or the status and workflow indexes) read either way.
_INSTANCE_ORDERS = {"-started": "created_at DESC, id DESC", "started": "created_at ASC, id ASC"}
# An instance's open executions: "+status" makes SQLite take the primary key's range, not the partial index of
# every open execution.
_OPEN_EXECUTIONS_OF = f"SELECT {_EXECUTION_COLUMNS} FROM executions WHERE id > ? AND id < ? AND +{OPEN_EXECUTIONS}"


class _OpenState:
    """An instance's context and tokens as its row holds them, kept by a write transaction so that a change
    set (which says what changed) can be turned into the new column values."""

    __slots__ = ("context", "tokens", "marks", "no", "context_size", "tokens_size", "spilled")

    def __init__(self, context: dict[str, Any], tokens: dict[str, list], marks: str | None, no: int | None) -> None:
        self.context = context
        self.tokens = tokens  # token id -> [id, node_id, status, created_at], in the order they were made
        self.marks = marks
        self.no = no  # the instance's number (instances.no), which its history rows carry
        # The length of the columns' JSON text as last read or written: what keeping this state weighs.
        self.context_size = self.tokens_size = 0
        self.spilled = False  # the context is in the ``contexts`` table (see tables.CONTEXT_INLINE_LIMIT)

    @classmethod
    def from_columns(cls, cursor: sqlite3.Cursor, context: str, tokens: str, no: int) -> _OpenState:
        """From an instance row's ``context``, ``tokens`` and ``no``."""
        spilled = context == ""
        if spilled:
            context = _spilled_context(cursor, no)
        listed = {t[0]: t for t in load_json(tokens)}
        opened = cls(load_json(context), listed, _marks(listed.values()), no)
        opened.context_size, opened.tokens_size, opened.spilled = len(context), len(tokens), spilled
        return opened


def _spilled_context(cursor: sqlite3.Cursor, instance_no: int) -> str:
    """The context JSON of an instance whose row's ``context`` is '' (it is in the ``contexts`` table)."""
    row = cursor.execute("SELECT context FROM contexts WHERE instance_no = ?", (instance_no,)).fetchone()
    if row is None:
        raise StoreError(f"the context of instance number {instance_no} is missing from the database")
    return row[0]


def _marks(tokens: Any) -> str | None:
    """The ``token_marks`` column: the distinct statuses of tokens that are not ACTIVE, or NULL."""
    statuses = {t[2] for t in tokens}
    statuses.discard("ACTIVE")
    return ",".join(sorted(statuses)) if statuses else None


class _States(dict):
    """Instances as a connection last wrote them: id -> (state, row columns). Valid while no other connection
    has written to the database: SQLite's ``PRAGMA data_version`` on this connection tells (it moves when
    another connection commits, not for this one's own commits). A step of an instance this connection wrote
    last then reads nothing back: no SELECT, no decoding. Emptied whenever the version moved or a
    transaction of the connection failed; past ``limit`` instances, or past ``budget`` characters of their
    context and tokens JSON (a context can hold large documents), the oldest go. A write of this
    connection that changes an instance's tokens, context or open executions other than through
    :meth:`SqliteWriteTransaction.apply` must drop its state (:meth:`SqliteWriteTransaction.forget`), as the
    claims and leases do."""

    limit = 4096
    budget = 8 << 20  # characters of JSON; the decoded values take several times as many bytes

    def __init__(self) -> None:
        super().__init__()
        self.version: int | None = None
        self.weight = 0  # the sum of the kept entries' weights (their third item)

    def check(self, cursor: sqlite3.Cursor) -> None:
        """Start of a transaction: forget everything if another connection has written since."""
        version = cursor.execute("PRAGMA data_version").fetchone()[0]
        if version != self.version:
            self.clear()
            self.version = version

    def keep(self, instance_id: str, state: InstanceState, opened: _OpenState) -> None:
        self.drop(instance_id)  # kept again: now the newest
        weight = opened.context_size + opened.tokens_size
        if weight > self.budget:
            return
        while self and (len(self) >= self.limit or self.weight + weight > self.budget):
            self.drop(next(iter(self)))
        self[instance_id] = (state, opened, weight)
        self.weight += weight

    def drop(self, instance_id: str) -> None:
        kept = self.pop(instance_id, None)
        if kept is not None:
            self.weight -= kept[2]

    def clear(self) -> None:
        super().clear()
        self.weight = 0


class SqliteWriteTransaction:
    """One ``BEGIN IMMEDIATE`` transaction: read an instance, then apply a change set.

    The statements that differ on another database are class attributes and :meth:`_insert_history`, which
    :class:`store.postgres.PostgresWriteTransaction` overrides (there: the instance row locked ``FOR UPDATE``,
    numbers from sequences).
    """

    # The instance row (locked for the rest of the transaction where the database locks rows).
    _LOAD_INSTANCE = f"SELECT {_INSTANCE_COLUMNS} FROM instances WHERE id = ?"
    _LOAD_OPEN = "SELECT context, tokens, no FROM instances WHERE id = ?"
    # A new instance's number: writes are serialised (BEGIN IMMEDIATE), so it cannot be taken meanwhile.
    _NEXT_NO = "(SELECT COALESCE(MAX(no), 0) + 1 FROM instances)"

    def __init__(self, cursor: sqlite3.Cursor, decoded: _Executions | None = None,
                 states: _States | None = None) -> None:
        self.cursor = cursor
        self._decoded = decoded if decoded is not None else _Executions()
        self._states = states if states is not None else _States()
        # Executions as this transaction last read or wrote them: an update then sets only the columns
        # that changed, so SQLite leaves the indexes of the others (lease_owner, ...) alone.
        self._known: dict[str, Execution] = {}
        # Instances' context and tokens as this transaction last read or wrote them.
        self._open: dict[str, _OpenState] = {}

    def load_instance(self, instance_id: str) -> InstanceState | None:
        kept = self._states.get(instance_id)
        if kept is not None:
            state, self._open[instance_id], _ = kept
            self._known.update(state.executions)
            return state
        cur = self.cursor
        found = cur.execute(self._LOAD_INSTANCE, (instance_id,))
        sent = self._send(_OPEN_EXECUTIONS_OF, _instance_range(instance_id))
        row = found.fetchone()
        if row is None:
            return None
        opened = self._open[instance_id] = _OpenState.from_columns(cur, row[8], row[9], row[10])
        executions = {e.id: e for e in map(self._decoded.get_or_decode, sent if sent is not None else cur.execute(
            _OPEN_EXECUTIONS_OF, _instance_range(instance_id)))}
        self._known.update(executions)
        return InstanceState(
            id=row[0], workflow_id=row[1], version=row[2], status=InstanceStatus(row[3]), error=row[4],
            created_at=load_time(row[5]), updated_at=load_time(row[6]), ended_at=load_time(row[7]),
            context=dict(opened.context),
            tokens={t[0]: Token(id=t[0], node_id=t[1], status=_TOKEN_STATUS[t[2]], created_at=load_time(t[3]))
                    for t in opened.tokens.values()},
            executions=executions, waits=_waits(row[11]),
        )

    def _send(self, sql: str, params: tuple) -> Any:
        """Where the database takes statements without waiting for each answer (PostgreSQL's pipeline), send
        ``sql`` now, to be read later, and return its cursor; here ``None``: it runs when it is read."""
        return None

    def take_schedule(self, workflow_id: str, expected: datetime | None, next_due: datetime) -> bool:
        """Move a timer start's next due time from ``expected`` (``None``: it has none yet) to ``next_due``, if it
        is still ``expected``: one conditional write, so two runtimes never both take one due time."""
        key = f"schedule:{workflow_id}"
        if expected is None:
            return self.cursor.execute("INSERT INTO wf_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING "
                                       "RETURNING key", (key, dump_time(next_due))).fetchone() is not None
        return self.cursor.execute("UPDATE wf_meta SET value = ? WHERE key = ? AND value = ? RETURNING key",
                                   (dump_time(next_due), key, dump_time(expected))).fetchone() is not None

    def forget(self, execution_ids: list[str] | None = None) -> None:
        """Drop the kept states of the instances of these executions (all, for ``None``): for a write that
        changes executions other than through :meth:`apply` (claims and leases)."""
        if execution_ids is None:
            self._states.clear()
        else:
            for execution_id in execution_ids:
                self._states.drop(execution_id.split(":", 1)[0])

    def load_execution(self, execution_id: str) -> Execution | None:
        row = self.cursor.execute(f"SELECT {_EXECUTION_COLUMNS} FROM executions WHERE id = ?",
                                  (execution_id,)).fetchone()
        if row is None:
            return None
        execution = self._known[execution_id] = _execution(row)
        return execution

    def _opened(self, instance_id: str) -> _OpenState:
        opened = self._open.get(instance_id)
        if opened is None:  # a change set for an instance this transaction did not load
            row = self.cursor.execute(self._LOAD_OPEN, (instance_id,)).fetchone()
            if row is None:
                raise StoreError(f"instance {instance_id!r} is not stored")
            opened = self._open[instance_id] = _OpenState.from_columns(self.cursor, *row)
        return opened

    def apply(self, changes: ChangeSet, result: InstanceState | None = None) -> None:
        cur = self.cursor
        iid = changes.instance_id
        now = dump_time(changes.history[-1].at) if changes.history else None
        new = changes.new_instance
        opened = _OpenState({}, {}, None, None) if new is not None else self._opened(iid)
        if changes.context:
            opened.context.update(changes.context)
        for key in changes.context_removed:
            opened.context.pop(key, None)
        tokens_changed = bool(changes.tokens_added or changes.tokens_removed or changes.token_status)
        if tokens_changed:
            tokens = opened.tokens
            for token_id in changes.tokens_removed:
                tokens.pop(token_id, None)
            for t in changes.tokens_added:
                tokens[t.id] = [t.id, t.node_id, _text(t.status), dump_time(t.created_at)]
            for token_id, status in changes.token_status.items():
                token = tokens.get(token_id)
                if token is not None:
                    token[2] = _text(status)
        if new is not None:
            opened.marks = _marks(opened.tokens.values())
            context_text, tokens_text = dump_json(opened.context), dump_json(list(opened.tokens.values()))
            opened.context_size, opened.tokens_size = len(context_text), len(tokens_text)
            opened.spilled = len(context_text) > CONTEXT_INLINE_LIMIT
            opened.no = cur.execute(
                "INSERT INTO instances (id, workflow_id, version, status, error, created_at, updated_at, ended_at, "
                f"context, tokens, token_nodes, token_marks, no) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                f"{self._NEXT_NO}) RETURNING no",
                (new.id, new.workflow_id, new.version, (changes.status or new.status).value, changes.error,
                 dump_time(new.created_at), now or dump_time(new.updated_at), dump_time(changes.ended_at),
                 "" if opened.spilled else context_text, tokens_text,
                 "\n".join(t[1] for t in opened.tokens.values()), opened.marks)).fetchone()[0]
            if opened.spilled:
                cur.execute("INSERT INTO contexts (instance_no, context) VALUES (?, ?)", (opened.no, context_text))
            self._open[iid] = opened
        else:
            sets, params = ["updated_at = ?"], [now]
            if changes.status is not None:
                sets.append("status = ?")
                params.append(_text(changes.status))
            if changes.error is not None:
                sets.append("error = ?")
                params.append(changes.error)
            elif changes.clear_error:
                sets.append("error = NULL")
            if changes.ended_at is not None:
                sets.append("ended_at = ?")
                params.append(dump_time(changes.ended_at))
            if changes.version is not None:  # a migration to another version of the workflow
                sets.append("version = ?")
                params.append(changes.version)
            if changes.context or changes.context_removed:
                context_text = dump_json(opened.context)
                opened.context_size = len(context_text)
                if opened.spilled or len(context_text) > CONTEXT_INLINE_LIMIT:
                    # Its own row: the steps that do not change the context leave it alone.
                    cur.execute("INSERT INTO contexts (instance_no, context) VALUES (?, ?) "
                                "ON CONFLICT (instance_no) DO UPDATE SET context = excluded.context",
                                (opened.no, context_text))
                    if not opened.spilled:
                        sets.append("context = ''")
                        opened.spilled = True
                else:
                    sets.append("context = ?")
                    params.append(context_text)
            if tokens_changed:
                listed = list(opened.tokens.values())
                sets.append("tokens = ?, token_nodes = ?")
                tokens_text = dump_json(listed)
                opened.tokens_size = len(tokens_text)
                params.append(tokens_text)
                params.append("\n".join([t[1] for t in listed]))
                token_marks = _marks(listed)
                if token_marks != opened.marks:  # only then: the column has an index
                    sets.append("token_marks = ?")
                    params.append(token_marks)
                    opened.marks = token_marks
            params.append(iid)
            cur.execute(f"UPDATE instances SET {', '.join(sets)} WHERE id = ?", params)
        added = changes.executions_added
        if added:
            rows = [_execution_params(e) for e in added]
            cur.executemany(
                f"INSERT INTO executions ({_EXECUTION_COLUMNS}, step_order) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(*row, n) for n, row in enumerate(rows)])
            remember, known = self._decoded.remember, self._known
            for row, e in zip(rows, added, strict=True):
                remember(row, e)
                known[e.id] = e
        updated = changes.executions_updated
        if len(updated) > 1:  # in id order, as every write that locks several executions takes them
            updated = sorted(updated, key=_execution_id)
        for execution in updated:
            self._update_execution(execution)
        if changes.waits_added or changes.waits_removed:
            self._write_waits(iid, changes, result)
        if changes.history:
            self._insert_history(opened.no, iid, changes.history)
        if result is not None and result.executions.keys() <= self._known.keys():
            # What load_instance would read back after the commit (a failed commit empties _states).
            self._states.keep(iid, result, opened)
        else:
            self._states.drop(iid)

    def _write_waits(self, instance_id: str, changes: ChangeSet, result: InstanceState | None) -> None:
        """The instance's waits changed: its row's column, and the ``waits`` table that indexes them."""
        cur = self.cursor
        if changes.waits_removed:
            cur.executemany("DELETE FROM waits WHERE id = ?", [(w,) for w in changes.waits_removed])
        if changes.waits_added:
            cur.executemany("INSERT INTO waits (id, instance_id, kind, node_id, due_at, created_at, message) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?)",
                            [(w.id, instance_id, _text(w.kind), w.node_id, dump_time(w.due_at), dump_time(w.created_at),
                              w.message) for w in changes.waits_added])
        if result is not None:
            waits = list(result.waits)
        else:  # the change set alone: the column as stored, with the changes
            row = cur.execute("SELECT waits FROM instances WHERE id = ?", (instance_id,)).fetchone()
            removed = set(changes.waits_removed)
            waits = [w for w in _waits(row[0] if row else None) if w.id not in removed] + changes.waits_added
        cur.execute("UPDATE instances SET waits = ? WHERE id = ?",
                    (dump_json([_wait_row(w) for w in waits]) if waits else None, instance_id))

    def _insert_history(self, instance_no: int | None, instance_id: str, entries: list[HistoryEntry]) -> None:
        insert_history(self.cursor, instance_no, instance_id, entries)

    def _update_execution(self, e: Execution) -> None:
        before = self._known.get(e.id)
        old, new = (None if before is None else before.__dict__), e.__dict__  # plain dataclasses: no getattr
        sets, params = [], []
        for column in _EXECUTION_UPDATE_COLUMNS:
            value = new[column]
            if old is None or old[column] != value:
                sets.append(f"{column} = ?")
                encode = _EXECUTION_ENCODERS.get(column)
                params.append(encode(value) if encode else value)
        if sets:
            self.cursor.execute(f"UPDATE executions SET {', '.join(sets)} WHERE id = ?", (*params, e.id))
        self._known[e.id] = e


def _execution_id(execution: Execution) -> str:
    return execution.id


def _json_or_none(value: Any) -> str | None:
    return None if value is None else dump_json(value)


# The columns of an execution that change after it is created, and how those that are not text or numbers
# are written.
_EXECUTION_UPDATE_COLUMNS = (
    "outputs", "status", "error", "updated_at", "lease_owner", "lease_until", "next_attempt_at", "attempt",
    "assignee",
)
_EXECUTION_ENCODERS = {"outputs": _json_or_none, "status": _text, "updated_at": dump_time,
                       "lease_until": dump_time, "next_attempt_at": dump_time}


def _execution_params(e: Execution) -> tuple:
    return (e.id, e.instance_id, e.node_id, e.task_id, dump_json(e.inputs),
            None if e.outputs is None else dump_json(e.outputs), _text(e.status), e.attempt, e.error,
            dump_time(e.created_at), dump_time(e.updated_at), e.lease_owner, dump_time(e.lease_until),
            dump_time(e.next_attempt_at), e.claim, dump_time(e.due_at), e.assignee, e.candidate_group)


class _Transaction:
    """One transaction on a connection of the store; a context manager (a class, not a generator: this
    runs twice per engine step).

    It uses the driver's connection straight from the pool, with BEGIN and COMMIT issued on it: going
    through an SQLAlchemy Connection (its begin event, execution context and result machinery) cost more
    per step than the step's own statements. The pool still sets the pragmas when it connects. The last
    connection used waits in the store's ``_idle`` rather than going back to SQLAlchemy's pool, whose
    checkout and reset-on-return cost as much as a small step's statements. Only one: the others go back
    to the pool, so that threads waiting there for a connection are not starved.
    """

    __slots__ = ("store", "write", "pooled", "connection", "cursor", "states", "step_cursor")

    def __init__(self, store: SqliteStore, write: bool) -> None:
        self.store = store
        self.write = write
        self.states: _States | None = None

    def __enter__(self) -> Any:
        store = self.store
        try:
            # Kept with its driver connection: SQLAlchemy's driver_connection property is two Python calls.
            self.pooled, self.connection = store._idle.pop()
        except IndexError:
            try:
                self.pooled = store.engine.raw_connection()
            except (DBAPIError, sqlite3.DatabaseError) as error:
                raise StoreError(f"{store.source}: {describe_database_error(error)}") from None
            self.connection = self.pooled.driver_connection
        try:
            self.cursor = self.connection.cursor()
            self.cursor.execute("BEGIN IMMEDIATE" if self.write else "BEGIN DEFERRED")
        except BaseException as error:
            self._end()
            raise self._translated(error) from None
        if not self.write:
            return self.cursor
        # Both caches belong to the connection, which one transaction uses at a time: no locking.
        info = self.pooled.info
        states = info.get("wf_states")
        if states is None:
            states = info["wf_states"] = _States()
            info["wf_decoded"] = _Executions()
        try:
            states.check(self.cursor)
        except BaseException as error:
            self._end()
            raise self._translated(error) from None
        self.states = states
        return SqliteWriteTransaction(self.cursor, info["wf_decoded"], states)

    def __exit__(self, error_type: Any, error: BaseException | None, traceback: Any) -> bool:
        try:
            if error is None:
                try:
                    self.cursor.execute("COMMIT")
                except BaseException as commit_error:
                    error = commit_error
            if error is not None and self.states is not None:
                self.states.clear()  # it may hold what was rolled back
            if error is not None and self.connection.in_transaction:
                try:
                    self.connection.rollback()
                except sqlite3.Error:
                    pass  # the connection is not reused (below); the original error says more
        finally:
            self._end()
        if error is None:
            return False
        translated = self._translated(error)
        if translated is error:
            if error_type is None:
                raise error  # the COMMIT failed
            return False  # let the body's own exception go on as it is
        raise translated from None

    # -- several steps in one transaction (store.group_commit) --------------------------------------

    def next_step(self) -> SqliteWriteTransaction:
        """A later step of this write transaction, in a savepoint of its own."""
        try:
            self.cursor.execute("SAVEPOINT wf_step")
        except BaseException as error:
            raise self._translated(error) from None
        self.step_cursor = self.connection.cursor()
        return SqliteWriteTransaction(self.step_cursor, self.pooled.info["wf_decoded"], self.states)

    def end_step(self, failed: bool) -> None:
        """Keep the later step's work, or undo it (and forget the states: they may hold what was undone)."""
        self.step_cursor.close()
        if failed:
            self.states.clear()
            self.cursor.execute("ROLLBACK TO wf_step")
        self.cursor.execute("RELEASE wf_step")

    @property
    def alive(self) -> bool:
        return self.connection.in_transaction

    def translated(self, error: BaseException) -> BaseException:
        return self._translated(error)

    def _end(self) -> None:
        """Close the cursor; keep the connection for the next transaction, or give it back to the pool."""
        cursor = getattr(self, "cursor", None)
        if cursor is not None:
            cursor.close()
        idle = self.store._idle
        if not self.connection.in_transaction and not idle:
            idle.append((self.pooled, self.connection))
        else:
            # Back to SQLAlchemy's pool, which rolls it back. Only the connection kept idle keeps its
            # caches: a pool of many connections would otherwise hold many copies of the states.
            self.pooled.info.pop("wf_states", None)
            self.pooled.info.pop("wf_decoded", None)
            self.pooled.close()

    def _translated(self, error: BaseException) -> BaseException:
        """The store's error for a driver error; ``error`` itself for anything else."""
        if isinstance(error, (DBAPIError, sqlite3.DatabaseError)):
            return StoreError(f"{self.store.source}: {describe_database_error(error)}")
        if isinstance(error, UnicodeEncodeError):  # a lone surrogate, e.g. undecodable bytes from a shell argument
            text = error.object if isinstance(error.object, str) else ""
            return InvalidValueError("text that is not valid Unicode (a lone surrogate): "
                                     f"{text[max(0, error.start - 40):error.end + 10]!r}")
        return error


class SqliteStore(SqliteReports):
    """Blueprints and instances in one SQLite file, safe for many threads and processes."""

    # The claim of an execution (claim_execution): claim + 1 is the new claim's fencing token; a report under
    # any earlier one is stale from then on.
    _CLAIMABLE = ("status = 'ACTIVE' AND (lease_until IS NULL OR lease_until < ?) "
                  "AND (next_attempt_at IS NULL OR next_attempt_at <= ?) "
                  "AND (SELECT status FROM instances WHERE id = executions.instance_id) = 'ACTIVE'")
    _CLAIM = ("UPDATE executions SET lease_owner = ?, lease_until = ?, updated_at = ?, claim = claim + 1 "
              f"WHERE id = ? AND {_CLAIMABLE}")

    def __init__(self, engine: Engine, source: str, busy_timeout_ms: int, *, warnings: list[str] | None = None,
                 group_commit: GroupCommitSettings | None = None) -> None:
        self.engine = engine
        self.source = source
        self.busy_timeout_ms = busy_timeout_ms
        self.warnings: list[str] = list(warnings or [])  # about the file, found when it was opened; for people
        self._version_connection: Any = None  # kept apart: data_version only moves for *other* connections
        self._version_lock = threading.Lock()
        # The last pooled connection used, between transactions, with its driver connection.
        self._idle: list[tuple[Any, sqlite3.Connection]] = []
        self._blueprints: dict[tuple[str, int, str], StoredBlueprint] = {}
        group_commit = group_commit or GroupCommitSettings()
        self.group_commit = GroupCommit(lambda: _Transaction(self, write=True), group_commit) \
            if group_commit.enabled else None

    # -- transactions -----------------------------------------------------------------------------

    def write(self) -> _Transaction:
        """One BEGIN IMMEDIATE transaction; commit on normal exit, roll back on an exception.

        Use as ``with store.write() as tx:``; ``tx`` is a :class:`SqliteWriteTransaction`. With group commit
        (on unless ``group_commit.max_steps`` is 1), writes of other threads that arrive meanwhile join the
        transaction, each in a savepoint, and every one returns after the one commit (store.group_commit).
        """
        group = self.group_commit
        return group.step() if group is not None else _Transaction(self, write=True)

    def read(self) -> _Transaction:
        """A deferred transaction: every query inside it sees the same snapshot.

        Use as ``with store.read() as cursor:``; ``cursor`` is the driver's cursor.
        """
        return _Transaction(self, write=False)

    def close(self) -> None:
        while self._idle:
            try:
                self._idle.pop()[0].close()
            except IndexError:  # taken meanwhile by a transaction of another thread
                break
        with self._version_lock:
            if self._version_connection is not None:
                self._version_connection.close()
                self._version_connection = None
        self.engine.dispose()

    def change_token(self) -> int:
        """SQLite's ``PRAGMA data_version`` on a connection kept for it alone: a cheap change signal.

        The number changes whenever any other connection (this process's writes included, as they use
        pooled connections) commits to the database file; compare successive values, never their size.
        """
        with self._version_lock:
            if self._version_connection is None:
                self._version_connection = self.engine.raw_connection()
            cursor = self._version_connection.cursor()
            try:
                return int(cursor.execute("PRAGMA data_version").fetchone()[0])
            finally:
                cursor.close()

    # -- blueprints -------------------------------------------------------------------------------

    def save_blueprint(self, blueprint: Blueprint, warnings: list[Problem]) -> bool:
        return self.save_blueprints([(blueprint, warnings)])[0]

    def save_blueprints(self, blueprints: list[tuple[Blueprint, list[Problem]]]) -> list[bool]:
        stored = []
        with self.write() as tx:  # a conflict rolls back every blueprint of the call
            for blueprint, warnings in blueprints:
                definition = blueprint.model_dump_json(exclude_none=True)
                digest = hashlib.sha256(canonical_json(blueprint.model_dump(mode="json")).encode()).hexdigest()
                if tx.cursor.execute("SELECT 1 FROM blueprints WHERE workflow_id = ? AND version = ?",
                                     (blueprint.workflow_id, blueprint.version)).fetchone() is not None:
                    stored.append(self._stored_digest_is(tx.cursor, blueprint, digest))
                    continue
                # ON CONFLICT: another host storing the same version at this moment (on PostgreSQL, where
                # this transaction does not hold the whole database) stored it first.
                inserted = tx.cursor.execute(
                    "INSERT INTO blueprints (workflow_id, version, name, definition, digest, warnings, node_count, "
                    "edge_count, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING 1",
                    (blueprint.workflow_id, blueprint.version, blueprint.name, definition, digest,
                     dump_json([[p.where, p.message, p.severity] for p in warnings]), len(blueprint.nodes),
                     len(blueprint.edges), dump_time(datetime.now(UTC)))).fetchone()
                if inserted is None:
                    stored.append(self._stored_digest_is(tx.cursor, blueprint, digest))
                    continue
                stored.append(True)
        return stored

    @staticmethod
    def _stored_digest_is(cursor: Any, blueprint: Blueprint, digest: str) -> bool:
        """``False`` when the stored version is this very blueprint; a conflict when it is another one."""
        row = cursor.execute("SELECT digest FROM blueprints WHERE workflow_id = ? AND version = ?",
                             (blueprint.workflow_id, blueprint.version)).fetchone()
        if row[0] == digest:
            return False
        raise BlueprintConflictError(
            f"version {blueprint.version} of workflow {blueprint.workflow_id!r} is already stored with "
            "different content; give the changed blueprint a new version",
            key=(blueprint.workflow_id, blueprint.version))

    def get_blueprint(self, workflow_id: str, version: int | None = None) -> StoredBlueprint | None:
        """The stored blueprint; parsed once per (workflow, version, digest) and then shared: read-only."""
        with self.read() as cur:
            if version is None:
                row = cur.execute("SELECT version, digest FROM blueprints WHERE workflow_id = ? "
                                  "ORDER BY version DESC LIMIT 1", (workflow_id,)).fetchone()
            else:
                row = cur.execute("SELECT version, digest FROM blueprints WHERE workflow_id = ? AND version = ?",
                                  (workflow_id, version)).fetchone()
            if row is None:
                return None
            # A stored version never changes (a different one is refused), so its parsed form can be kept:
            # start_workflow asks for the newest version on every call.
            key = (workflow_id, row[0], row[1])
            stored = self._blueprints.get(key)
            if stored is None:
                definition, warnings, created_at = cur.execute(
                    "SELECT definition, warnings, created_at FROM blueprints WHERE workflow_id = ? AND version = ?",
                    (workflow_id, row[0])).fetchone()
                stored = self._blueprints[key] = StoredBlueprint(
                    blueprint=Blueprint.model_validate_json(definition),
                    warnings=[Problem(*item) for item in load_json(warnings)],
                    created_at=load_time(created_at),
                )
        return stored

    def list_blueprints(self) -> list[BlueprintSummary]:
        with self.read() as cur:
            rows = cur.execute("SELECT workflow_id, version, name, node_count, edge_count, warnings, created_at "
                               "FROM blueprints ORDER BY workflow_id, version").fetchall()
            counts: dict[tuple[str, int], dict[str, int]] = {}
            for wf, version, status, count in cur.execute(
                    "SELECT workflow_id, version, status, COUNT(*) FROM instances GROUP BY 1, 2, 3"):
                counts.setdefault((wf, version), {})[status] = count
        return [BlueprintSummary(workflow_id=r[0], version=r[1], name=r[2], nodes=r[3], edges=r[4],
                                 warnings=len(load_json(r[5])), created_at=load_time(r[6]),
                                 instances=counts.get((r[0], r[1]), {})) for r in rows]

    # -- the worker runtime ------------------------------------------------------------------------

    def claim_execution(self, execution_id: str, owner: str, now: datetime,
                        lease_until: datetime) -> Execution | None:
        stamp = dump_time(now)
        with self.write() as tx:
            tx.forget([execution_id])
            claimed = tx.cursor.execute(self._CLAIM, (owner, dump_time(lease_until), stamp, execution_id, stamp,
                                                      stamp)).rowcount
            return tx.load_execution(execution_id) if claimed else None

    def renew_leases(self, owner: str, execution_ids: list[str], lease_until: datetime) -> int:
        if not execution_ids:
            return 0
        with self.write() as tx:
            tx.forget(execution_ids)
            tx.cursor.executemany(
                "UPDATE executions SET lease_until = ? WHERE id = ? AND lease_owner = ? AND status = 'ACTIVE'",
                [(dump_time(lease_until), execution_id, owner) for execution_id in sorted(execution_ids)])
            return tx.cursor.rowcount

    def renew_claims(self, owner: str, claims: dict[str, int], lease_until: datetime) -> list[str]:
        if not claims:
            return []
        lost = []
        until = dump_time(lease_until)
        with self.write() as tx:
            tx.forget(list(claims))
            # A statement each, which ones matched being the answer; in id order, as a step locks them.
            for execution_id, claim in sorted(claims.items()):
                if not tx.cursor.execute(
                        "UPDATE executions SET lease_until = ? WHERE id = ? AND claim = ? AND lease_owner = ? "
                        "AND status IN ('ACTIVE', 'STUCK')", (until, execution_id, claim, owner)).rowcount:
                    lost.append(execution_id)
        return lost

    def release_leases(self, owner: str, execution_ids: list[str] | None = None) -> int:
        with self.write() as tx:
            tx.forget(execution_ids)
            if execution_ids is None:
                return tx.cursor.execute("UPDATE executions SET lease_owner = NULL, lease_until = NULL "
                                         "WHERE lease_owner = ? AND status IN ('ACTIVE', 'STUCK')",
                                         (owner,)).rowcount
            tx.cursor.executemany("UPDATE executions SET lease_owner = NULL, lease_until = NULL "
                                  "WHERE id = ? AND lease_owner = ?", [(e, owner) for e in sorted(execution_ids)])
            return tx.cursor.rowcount

    def runnable_executions(self, task_ids: list[str], now: datetime, limit: int = 100) -> list[Execution]:
        if not task_ids:
            return []
        stamp = dump_time(now)
        marks = ", ".join("?" for _ in task_ids)
        with self.read() as cur:
            rows = cur.execute(
                f"SELECT {_EXECUTION_COLUMNS} FROM executions WHERE status = 'ACTIVE' AND {OPEN_EXECUTIONS} "
                f"AND task_id IN ({marks}) "
                "AND (lease_until IS NULL OR lease_until < ?) AND (next_attempt_at IS NULL OR next_attempt_at <= ?) "
                "AND (SELECT status FROM instances WHERE id = executions.instance_id) = 'ACTIVE' "
                "ORDER BY created_at LIMIT ?", (*task_ids, stamp, stamp, limit)).fetchall()
        return [_execution(r) for r in rows]

    def active_executions_before(self, updated_before: datetime, limit: int = 500) -> list[Execution]:
        with self.read() as cur:
            rows = cur.execute(
                f"SELECT {_EXECUTION_COLUMNS} FROM executions WHERE status = 'ACTIVE' AND {OPEN_EXECUTIONS} "
                "AND updated_at < ? "
                "AND (SELECT status FROM instances WHERE id = executions.instance_id) = 'ACTIVE' "
                "ORDER BY created_at LIMIT ?", (dump_time(updated_before), limit)).fetchall()
        return [_execution(r) for r in rows]

    def instances_with_waiting_tokens(self, limit: int = 500) -> list[str]:
        with self.read() as cur:
            rows = cur.execute(
                "SELECT id FROM instances INDEXED BY ix_instances_token_marks WHERE token_marks IS NOT NULL "
                "AND token_marks LIKE '%WAITING%' AND status = 'ACTIVE' LIMIT ?", (limit,)).fetchall()
        return [r[0] for r in rows]

    def due_timers(self, now: datetime, limit: int = 100) -> list[DueTimer]:
        with self.read() as cur:
            rows = cur.execute(
                "SELECT w.instance_id, w.id, w.due_at FROM waits w INDEXED BY ix_waits_due "
                "WHERE w.due_at IS NOT NULL AND w.due_at <= ? "
                "AND (SELECT status FROM instances WHERE id = w.instance_id) = 'ACTIVE' "
                "ORDER BY w.due_at, w.id LIMIT ?", (dump_time(now), limit)).fetchall()
        return [DueTimer(r[0], r[1], load_time(r[2])) for r in rows]

    def schedule_due(self, workflow_id: str) -> datetime | None:
        """When the timer start of ``workflow_id`` is next due, or ``None`` before its first schedule."""
        with self.read() as cur:
            row = cur.execute("SELECT value FROM wf_meta WHERE key = ?", (f"schedule:{workflow_id}",)).fetchone()
        return load_time(row[0]) if row else None

    def message_waits(self, name: str, limit: int = 1000) -> list[tuple[str, str]]:
        """(instance id, wait id) of the ACTIVE instances waiting for the message ``name``, oldest first."""
        with self.read() as cur:
            rows = cur.execute(
                "SELECT w.instance_id, w.id FROM waits w INDEXED BY ix_waits_message WHERE w.message = ? "
                "AND (SELECT status FROM instances WHERE id = w.instance_id) = 'ACTIVE' "
                "ORDER BY w.created_at, w.id LIMIT ?", (name, limit)).fetchall()
        return [(r[0], r[1]) for r in rows]

    def take_turn(self, job: str, now: datetime, period: timedelta) -> bool:
        """A row of wf_meta per job holds when the next turn is due; one statement takes it and moves it on (the
        upsert's row lock makes it atomic on PostgreSQL, BEGIN IMMEDIATE on SQLite)."""
        with self.write() as tx:
            return tx.cursor.execute(
                "INSERT INTO wf_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE "
                "SET value = excluded.value WHERE wf_meta.value <= ? RETURNING key",
                (f"turn:{job}", dump_time(now + period), dump_time(now))).fetchone() is not None

    # -- copying a database -------------------------------------------------------------------------

    def copy_from(self, source: SqliteStore, *, force: bool = False, progress: Any = None) -> Any:
        """Copy everything ``source`` (a store of either backend) holds into this database and verify it; a
        non-empty one is refused unless ``force`` (:func:`store.copy.copy_database`)."""
        from store.copy import copy_database

        return copy_database(source, self, force=force, progress=progress)

    @staticmethod
    def _stream(cursor: Any, sql: str) -> Any:
        """``sql``'s rows, to be read with ``fetchmany`` without holding them all (SQLite's cursor steps)."""
        return cursor.execute(sql)

    def _after_copy(self, cursor: Any) -> None:
        """After rows were copied in with their numbers: nothing to do where numbers are MAX() + 1."""

    # -- instances --------------------------------------------------------------------------------

    def append_history(self, instance_id: str, entries: list[HistoryEntry]) -> None:
        with self.write() as tx:
            tx._insert_history(tx._opened(instance_id).no, instance_id, entries)

    def get_instance(self, instance_id: str, history_limit: int | None = None) -> InstanceView | None:
        with self.read() as cur:
            row = cur.execute(f"SELECT {_INSTANCE_COLUMNS} FROM instances WHERE id = ?", (instance_id,)).fetchone()
            if row is None:
                return None
            executions = [_execution(r) for r in cur.execute(
                f"SELECT {_EXECUTION_COLUMNS} FROM executions WHERE id > ? AND id < ? "
                "ORDER BY created_at, step_order, id",
                _instance_range(instance_id))]
            history = self._history(cur, row[10], history_limit)
            context = load_json(row[8] or _spilled_context(cur, row[10]))
        return InstanceView(
            id=row[0], workflow_id=row[1], version=row[2], status=InstanceStatus(row[3]), error=row[4],
            created_at=load_time(row[5]), updated_at=load_time(row[6]), ended_at=load_time(row[7]),
            context=dict(sorted(context.items())), tokens=_tokens(row[9]), executions=executions,
            history=history, waits=list(_waits(row[11])),
        )

    @staticmethod
    def _history(cur: sqlite3.Cursor, instance_no: int, limit: int | None) -> list[HistoryEntry]:
        if limit is None:
            return [entry for row in cur.execute(
                f"SELECT {HISTORY_COLUMNS} FROM history WHERE instance_no = ? ORDER BY seq", (instance_no,))
                for entry in history_entries(row)]
        rows, count = [], 0
        if limit > 0:
            for row in cur.execute(f"SELECT {HISTORY_COLUMNS} FROM history WHERE instance_no = ? "
                                   "ORDER BY seq DESC", (instance_no,)):
                rows.append(row)
                count += row[0] - row[1] + 1
                if count >= limit:
                    break
        entries = [entry for row in reversed(rows) for entry in history_entries(row)]
        return entries[max(0, len(entries) - limit):] if limit > 0 else []

    def get_execution(self, execution_id: str) -> Execution | None:
        with self.read() as cur:
            return SqliteWriteTransaction(cur).load_execution(execution_id)

    def find_instance_ids(self, prefix: str, limit: int = 10) -> list[str]:
        """Ids of instances that start with ``prefix``, in id order, at most ``limit`` (for short ids)."""
        with self.read() as cur:
            rows = cur.execute("SELECT id FROM instances WHERE id >= ? AND id < ? ORDER BY id LIMIT ?",
                               (prefix, prefix + "\uffff", limit)).fetchall()
        return [r[0] for r in rows]

    def list_executions(self, statuses: list[str], limit: int = 200) -> list[Execution]:
        marks = ", ".join("?" for _ in statuses)
        with self.read() as cur:
            if set(statuses) <= {"ACTIVE", "FAILED", "STUCK"}:  # the partial index of open ones gives the order
                rows = cur.execute(f"SELECT {_EXECUTION_COLUMNS} FROM executions WHERE status IN ({marks}) "
                                   f"AND {OPEN_EXECUTIONS} ORDER BY created_at LIMIT ?", (*statuses, limit)).fetchall()
            else:
                rows = cur.execute(f"SELECT {_EXECUTION_COLUMNS} FROM executions WHERE status IN ({marks}) "
                                   "ORDER BY created_at LIMIT ?", (*statuses, limit)).fetchall()
        return [_execution(r) for r in rows]

    def list_instances(self, query: InstanceQuery) -> list[InstanceSummary]:
        where, params = self._instance_filter(query, with_status=True)
        with self.read() as cur:
            rows = cur.execute(
                "SELECT id, workflow_id, version, status, created_at, updated_at, ended_at, error, tokens "
                f"FROM instances{where} ORDER BY {_INSTANCE_ORDERS[query.order]} LIMIT ? OFFSET ?",
                (*params, query.limit, query.offset)).fetchall()
        summaries = []
        for r in rows:
            tokens = load_json(r[8])
            summaries.append(InstanceSummary(
                id=r[0], workflow_id=r[1], version=r[2], status=InstanceStatus(r[3]), created_at=load_time(r[4]),
                updated_at=load_time(r[5]), ended_at=load_time(r[6]), error=r[7],
                token_nodes=[t[1] for t in tokens], token_statuses=[t[2] for t in tokens]))
        return summaries

    def count_instances(self, query: InstanceQuery | None = None) -> dict[str, int]:
        where, params = self._instance_filter(query or InstanceQuery(), with_status=False)
        with self.read() as cur:
            rows = cur.execute(f"SELECT status, COUNT(*) FROM instances{where} GROUP BY status", params).fetchall()
        return {status: count for status, count in rows}

    @staticmethod
    def _instance_filter(query: InstanceQuery, with_status: bool) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if with_status and query.status is not None:
            clauses.append("status = ?")
            params.append(str(query.status))
        if query.workflow_id:
            clauses.append("workflow_id = ?")
            params.append(query.workflow_id)
        if query.version is not None:
            clauses.append("version = ?")
            params.append(query.version)
        if query.task_id:
            # The open executions' index (ix_executions_open), then their rows: a few, however many finished.
            clauses.append("id IN (SELECT instance_id FROM executions INDEXED BY ix_executions_open "
                           "WHERE status IN ('ACTIVE', 'FAILED', 'STUCK') AND task_id = ?)")
            params.append(query.task_id)
        if query.overdue_at is not None:
            clauses.append("id IN (SELECT instance_id FROM executions INDEXED BY ix_executions_open "
                           "WHERE status IN ('ACTIVE', 'FAILED', 'STUCK') AND status = 'ACTIVE' AND due_at < ?)")
            params.append(dump_time(query.overdue_at))
        if query.assignee:
            clauses.append("id IN (SELECT instance_id FROM executions INDEXED BY ix_executions_open "
                           "WHERE status IN ('ACTIVE', 'FAILED', 'STUCK') AND assignee = ?)")
            params.append(query.assignee)
        if query.waiting is not None:
            # As execution_counts counts "waiting for a person": ACTIVE, no live lease, not a task run here.
            local = query.waiting.local_task_ids
            if local:
                marks = ', '.join('?' for _ in local)
                clauses.append(f"id IN (SELECT instance_id FROM executions INDEXED BY ix_executions_open "
                               f"WHERE status = 'ACTIVE' AND {OPEN_EXECUTIONS} "
                               f"AND (lease_until IS NULL OR lease_until < ?) AND task_id NOT IN ({marks}))")
            else:
                clauses.append(f"id IN (SELECT instance_id FROM executions INDEXED BY ix_executions_open "
                               f"WHERE status = 'ACTIVE' AND {OPEN_EXECUTIONS} "
                               "AND (lease_until IS NULL OR lease_until < ?))")
            params.extend([dump_time(query.waiting.now), *local])
        if query.text:
            pattern = like_pattern(query.text)
            clauses.append(
                "(id LIKE ? ESCAPE '\\' OR workflow_id LIKE ? ESCAPE '\\' "
                # The token nodes (one per line) and the context (JSON) are columns of the row: one scan.
                "OR token_nodes LIKE ? ESCAPE '\\' "
                # Variable values only, not their names (every instance has a "customer"): json_each, run only
                # where the JSON text holds the words (as JSON writes them) at all.
                "OR (context LIKE ? ESCAPE '\\' "
                "AND EXISTS (SELECT 1 FROM json_each(instances.context) j WHERE j.value LIKE ? ESCAPE '\\')) "
                # A large context is in its own row (tables.CONTEXT_INLINE_LIMIT): the same test there.
                "OR (context = '' AND EXISTS (SELECT 1 FROM contexts c WHERE c.instance_no = instances.no "
                "AND c.context LIKE ? ESCAPE '\\' "
                "AND EXISTS (SELECT 1 FROM json_each(c.context) j WHERE j.value LIKE ? ESCAPE '\\'))))")
            in_json = like_pattern(dump_json(query.text)[1:-1])
            params.extend([pattern, pattern, pattern, in_json, pattern, in_json, pattern])
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


