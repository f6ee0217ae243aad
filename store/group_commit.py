"""Group commit: concurrent write steps of one store gathered into one transaction and one commit.

Without it every step (a ``task_done``, a claim, an operator's action) is one ``BEGIN IMMEDIATE … COMMIT``
and, at ``synchronous=FULL``, one ``fsync``; threads of one process that write at once also wait for
SQLite's write lock in its busy handler, which sleeps milliseconds at a time. With it, a store's
``write()`` hands out *steps* of a shared transaction:

- The first step to arrive when no transaction is open (the *leader*) begins one and runs its body at once,
  exactly as a lone transaction would: a lone caller waits for nobody.
- Steps that arrive while a transaction is open queue, in arrival order. When a step's body ends, the next
  queued step runs its body in the same transaction, inside a ``SAVEPOINT``: it sees the effects of the
  steps before it, and a step that fails (a refusal, a constraint, an exception in the engine) is rolled
  back to its savepoint alone; its caller gets its own error, the others go on.
- The transaction commits when a step ends and nobody is queued, or once it holds ``max_steps`` steps or
  has been open ``max_seconds`` (the steps still queued then start the next one). Every step's caller
  returns only after that commit, its error included: nothing is acknowledged, not even a refusal that saw
  the batch's uncommitted state, before the batch is durable under the store's durability. A failed
  commit (or an error that makes SQLite abandon the whole transaction) is every successful step's error.

The bodies run on their callers' threads, one at a time, so nothing about a step's code changes: what it
runs after ``write()`` (task and completion handlers) runs after the commit, once per step. The module
knows nothing of SQL: a store gives it a factory of :class:`Transaction` objects (its one-transaction
context manager plus a few savepoint operations), so any store with savepoints can use it.
"""

from __future__ import annotations

import copy
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from engine.errors import StoreError


@dataclass(frozen=True)
class GroupCommitSettings:
    """The bounds of one batch. ``max_steps=1`` turns group commit off: every write is its own transaction,
    as before (and in-process writers then wait for the write lock in the database, not in a queue)."""

    max_steps: int = 64
    max_seconds: float = 0.010

    def __post_init__(self) -> None:
        if self.max_steps < 1:
            raise ValueError(f"max_steps must be at least 1, got {self.max_steps}")
        if not self.max_seconds >= 0:
            raise ValueError(f"max_seconds must not be negative, got {self.max_seconds}")

    @property
    def enabled(self) -> bool:
        return self.max_steps > 1


class Transaction(Protocol):
    """What a store gives the batcher: its own write transaction, able to hold several steps.

    As a context manager it is the store's plain write transaction: ``__enter__`` begins it and returns the
    first step's handle; ``__exit__`` commits it (no exception) or rolls it back, raising the store's error
    for a failed commit and returning ``False`` or raising the translated error otherwise.
    """

    def __enter__(self) -> Any: ...

    def __exit__(self, error_type: Any, error: BaseException | None, traceback: Any) -> bool: ...

    def next_step(self) -> Any:
        """Begin a later step: a savepoint, and a fresh handle on the same transaction."""

    def end_step(self, failed: bool) -> None:
        """End a later step: release its savepoint, or roll back to it (and drop what the store keeps of it)."""

    @property
    def alive(self) -> bool:
        """Whether the transaction is still open (an I/O error can make the database abandon it whole)."""

    def translated(self, error: BaseException) -> BaseException:
        """The store's error for a driver's error; ``error`` itself for any other."""


class _Batch:
    __slots__ = ("transaction", "started", "steps", "done", "failure")

    def __init__(self, transaction: Transaction) -> None:
        self.transaction = transaction
        self.started = time.monotonic()
        self.steps = 1
        self.done: threading.Event | None = None  # made when a second step joins: a lone one needs none
        self.failure: BaseException | None = None  # the commit's error, or what abandoned the transaction


class GroupCommit:
    """One store's batcher; :meth:`step` is what the store's ``write()`` returns."""

    def __init__(self, begin: Callable[[], Transaction], settings: GroupCommitSettings | None = None) -> None:
        self.begin = begin
        self.settings = settings or GroupCommitSettings()
        self._lock = threading.Lock()
        self._busy = False  # a step's body or a commit is running
        self._holder: int | None = None  # the thread whose body runs now
        self._queue: deque[_Step] = deque()
        # Counters, for benchmarks and tests: batches committed and the steps they held.
        self.batches = 0
        self.batched_steps = 0

    def step(self) -> _Step:
        return _Step(self)

    @property
    def queued(self) -> int:
        """How many writes wait for the open transaction now."""
        return len(self._queue)

    def _commit(self, batch: _Batch) -> None:
        """End the batch's transaction: commit it, or (after a failure) end it; record a failed commit."""
        transaction = batch.transaction
        if batch.failure is None:
            try:
                transaction.__exit__(None, None, None)  # COMMIT
            except Exception as failure:
                batch.failure = failure
            except BaseException as interrupt:  # Ctrl-C: the COMMIT may have finished before it was seen
                batch.failure = StoreError("the commit of a batch of steps was interrupted; each may or may "
                                           "not be stored: look before doing it again")
                self.batches += 1
                self.batched_steps += batch.steps
                raise interrupt
        else:
            try:
                transaction.__exit__(type(batch.failure), batch.failure, None)  # ends it; nothing to undo
            except BaseException:
                pass
        self.batches += 1
        self.batched_steps += batch.steps

    def _next(self, batch: _Batch | None) -> _Step | None:
        """Under the lock: the queued step that takes the connection next, joining ``batch`` (or beginning
        a new transaction when ``batch`` is None); None when nobody waits (the batcher is then idle)."""
        if self._queue:
            step = self._queue.popleft()
            step.batch = batch
            self._holder = step.thread
            return step
        self._busy = False
        self._holder = None
        return None

    def _hand_over(self) -> None:
        """The connection is free (a transaction ended): the first queued step begins the next one."""
        with self._lock:
            step = self._next(None)
        if step is not None:
            step.turn.release()


class _Step:
    """One caller's write: a context manager that yields the store's transaction handle for its body."""

    __slots__ = ("group", "batch", "turn", "thread", "leader", "plain", "error")

    def __init__(self, group: GroupCommit) -> None:
        self.group = group
        self.batch: _Batch | None = None
        self.plain: Transaction | None = None
        self.error: BaseException | None = None

    def __enter__(self) -> Any:
        group = self.group
        me = threading.get_ident()
        with group._lock:
            if not group._busy:
                group._busy = True
                group._holder = me
                queued = False
            elif group._holder == me:  # a write inside a write on this thread: it cannot join its own batch
                queued = None
            else:
                self.thread = me
                self.turn = threading.Lock()
                self.turn.acquire()
                group._queue.append(self)
                queued = True
        if queued is None:
            self.plain = group.begin()
            return self.plain.__enter__()
        if queued:
            self._wait_for_turn()
        if self.batch is None:
            return self._begin()
        self.leader = False
        try:
            return self.batch.transaction.next_step()
        except BaseException as error:
            self.error = error
            self._end_member(started=False)
            raise

    def _wait_for_turn(self) -> None:
        try:
            self.turn.acquire()
        except BaseException:  # interrupted (Ctrl-C) while queued: leave the queue, or pass the turn on
            group = self.group
            with group._lock:
                try:
                    group._queue.remove(self)
                    queued = True
                except ValueError:
                    queued = False
            if not queued:  # the connection was handed to this step: hand it on untouched
                if self.batch is None:
                    group._hand_over()
                else:
                    self._close_or_pass(self.batch)
            raise

    def _begin(self) -> Any:
        self.leader = True
        transaction = self.group.begin()
        try:
            handle = transaction.__enter__()
        except BaseException:
            self.group._hand_over()
            raise
        self.batch = _Batch(transaction)
        return handle

    def __exit__(self, error_type: Any, error: BaseException | None, traceback: Any) -> bool:
        if self.plain is not None:
            return self.plain.__exit__(error_type, error, traceback)
        batch = self.batch
        if self.leader:
            if error is not None:  # the transaction holds this step alone: rolled back as without batching
                try:
                    return batch.transaction.__exit__(error_type, error, traceback)
                finally:
                    self.group._hand_over()
        else:
            self.error = error
            return self._end_member(started=True)
        self._close_or_pass(batch)
        return self._outcome(batch, None)

    def _end_member(self, started: bool) -> bool:
        """A later step's body ended (``self.error`` holds its exception, if any): keep or undo its work,
        then close the batch or pass it on, wait for the commit; raise the translated error of this step or
        of the batch, or return ``False`` (what ``__exit__`` returns: this step's own exception goes on)."""
        batch = self.batch
        transaction = batch.transaction
        if started:
            try:
                transaction.end_step(failed=self.error is not None)
            except BaseException as problem:  # the savepoint could not be released (or rolled back)
                if self.error is None:
                    self.error = problem
                    try:
                        transaction.end_step(failed=True)
                    except BaseException:
                        pass
        if not transaction.alive:  # the database abandoned the whole transaction (an I/O error, ...)
                failure = transaction.translated(self.error) if self.error is not None else None
                batch.failure = failure if isinstance(failure, StoreError) else StoreError(
                    "the database abandoned the transaction of a batch of steps")
        self._close_or_pass(batch)
        return self._outcome(batch, self.error)

    def _close_or_pass(self, batch: _Batch) -> None:
        """Hand the open transaction to the next queued step, or commit it (and wake its steps)."""
        group, settings = self.group, self.group.settings
        with group._lock:
            if (batch.failure is None and group._queue and batch.steps < settings.max_steps
                    and time.monotonic() - batch.started < settings.max_seconds):
                batch.steps += 1
                if batch.done is None:
                    batch.done = threading.Event()
                step = group._next(batch)
            else:
                step = None
        if step is not None:
            step.turn.release()
            batch.done.wait()
            return
        try:
            group._commit(batch)
        finally:
            if batch.done is not None:
                batch.done.set()
            group._hand_over()

    def _outcome(self, batch: _Batch, error: BaseException | None) -> bool:
        """After the batch ended: this step's own error, else the batch's, else nothing (``False``)."""
        if error is not None:
            translated = batch.transaction.translated(error)
            if translated is error:
                return False
            raise translated from None
        if batch.failure is not None:
            raise copy.copy(batch.failure) from None  # one exception object per raising thread
        return False
