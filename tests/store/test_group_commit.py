"""Group commit (store.group_commit): writes of threads that arrive while a transaction is open join it, each
in a savepoint; a failing step is undone alone and its caller gets its own error; every caller returns after
the one commit; a lone writer runs exactly the transaction it ran before.

Batches are made deterministic by holding one open: a thread's write (the batch's leader) waits inside its
body until the test has queued the writes it wants behind it, one at a time, in a known order.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import blueprints as bps
import pytest

from engine import InvalidStateError, StoreError, WorkflowManager, machine
from engine.model import HistoryKind
from store import open_store
from store.group_commit import GroupCommitSettings


def _wait_until(condition: Callable[[], bool], what: str) -> None:
    """Wait for another thread to reach a state (it takes microseconds; the bound is only against a hang)."""
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.001)


class HeldBatch:
    """A write of another thread held open until :meth:`release`; :meth:`queue` adds a write behind it."""

    def __init__(self, store, body: Callable[[Any], None] | None = None) -> None:
        self.store, self.group = store, store.group_commit
        self.gate, entered = threading.Event(), threading.Event()
        self.threads: list[threading.Thread] = []
        self.results: dict[str, Any] = {}
        self.batches_at_return: dict[str, int] = {}

        def lead() -> None:
            try:
                with store.write() as tx:
                    if body is not None:
                        body(tx)
                    entered.set()
                    self.gate.wait()
            except BaseException as error:  # noqa: BLE001 - the test looks at it
                self.results["leader"] = error

        leader = threading.Thread(target=lead)
        leader.start()
        self.threads.append(leader)
        entered.wait()
        self.batches_before = self.group.batches

    def queue(self, name: str, call: Callable[[], Any], check: Callable[[], None] | None = None) -> None:
        """Run ``call`` in a new thread, and wait until its write is queued behind the held one. When the call
        returns, ``check`` runs at once on that thread (before any other caller of the batch is told)."""
        waiting = self.group.queued

        def run() -> None:
            try:
                self.results[name] = call()
            except BaseException as error:  # noqa: BLE001 - the test looks at it
                self.results[name] = error
            self.batches_at_return[name] = self.group.batches
            if check is not None:
                try:
                    check()
                except BaseException as error:  # noqa: BLE001
                    self.results[name + " check"] = error

        thread = threading.Thread(target=run)
        thread.start()
        self.threads.append(thread)
        _wait_until(lambda: self.group.queued > waiting, f"{name} is queued")

    def release(self) -> dict[str, Any]:
        self.gate.set()
        for thread in self.threads:
            thread.join(60)
            assert not thread.is_alive()
        return self.results


@pytest.fixture
def store(db_path):
    """A store whose batches have no time bound: a held batch takes every write queued behind it."""
    opened = open_store(db_path, batch_ms=60_000)
    yield opened
    opened.close()


@pytest.fixture
def wf(store, clock) -> WorkflowManager:
    manager = WorkflowManager(store, clock=clock)
    manager.add_workflow(bps.two_tasks())
    manager.add_workflow(bps.parallel())
    return manager


def _first_execution(manager: WorkflowManager, instance_id: str) -> str:
    return next(e.id for e in manager.get_status(instance_id).executions if e.status == "ACTIVE")


def _committed(db: Path, sql: str, *params: Any) -> Any:
    """What a separate connection (another process, say) reads: only what is committed."""
    with sqlite3.connect(db) as connection:
        return connection.execute(sql, params).fetchone()


def test_writes_queued_behind_an_open_transaction_commit_with_it_and_see_each_other_in_arrival_order(
        wf, store, db_path) -> None:
    instance = wf.start_workflow("two_tasks")
    first = _first_execution(wf, instance)
    held = HeldBatch(store)

    def first_is_committed() -> None:
        assert _committed(db_path, "SELECT status FROM executions WHERE id = ?", first) == ("COMPLETED",)

    held.queue("complete", lambda: wf.task_done(first, {"value": 1}), check=first_is_committed)
    held.queue("again", lambda: wf.task_done(first, {"value": 2}))  # sees the completion before it
    held.queue("variables", lambda: wf.set_variables(instance, {"note": "x"}, actor="op"))
    held.queue("cancel", lambda: wf.cancel(instance, "done with it", actor="op"))
    results = held.release()

    assert store.group_commit.batches == held.batches_before + 1  # one commit for the five steps
    assert store.group_commit.batched_steps >= 5
    assert results["complete"].applied
    assert not results["again"].applied and "COMPLETED" in results["again"].message
    assert results["variables"] is None and results["cancel"] is None
    assert "complete check" not in results  # the caller returned after its step was committed
    assert all(count > held.batches_before for count in held.batches_at_return.values())
    view = wf.get_status(instance)
    assert view.status == "CANCELLED" and view.context["note"] == "x" and view.context["shared"] == 1
    kinds = [h.kind for h in view.history]
    # In arrival order: the completion (and the next task's creation), the variable, the cancellation.
    assert kinds.index(HistoryKind.EXECUTION_COMPLETED) < kinds.index(HistoryKind.CONTEXT_SET) \
        < kinds.index(HistoryKind.INSTANCE_CANCELLED)
    assert sum(k is HistoryKind.EXECUTION_COMPLETED for k in kinds) == 1


def test_a_step_failing_in_the_middle_of_a_batch_is_undone_alone_and_its_caller_gets_its_own_error(
        wf, store, db_path) -> None:
    victim = wf.start_workflow("parallel")
    other = wf.start_workflow("two_tasks")
    a, b = (e.id for e in wf.get_status(victim).executions)
    other_first = _first_execution(wf, other)
    wf.task_done(b, {"v": "b"})
    before_meta = _committed(db_path, "SELECT value FROM wf_meta WHERE key = 'schema_version'")
    dispatched: list[str] = []
    wf.register_task_handler(lambda payload: dispatched.append(payload.execution_id))
    held = HeldBatch(store)

    def engine_bug() -> None:  # applies a real change set, then raises before its body ends
        with store.write() as tx:
            state = tx.load_instance(victim)
            bp = wf.get_workflow(state.workflow_id, state.version)
            transition = machine.cancel(bp, state, "half done", machine.event_at(wf.clock(), "bug"))
            tx.apply(transition.changes, transition.state)
            raise RuntimeError("an exception in the engine")

    def constraint() -> None:
        with store.write() as tx:
            tx.cursor.execute("INSERT INTO wf_meta (key, value) VALUES ('schema_version', '0')")

    held.queue("before", lambda: wf.task_done(other_first, {"value": 7}))
    held.queue("bug", engine_bug)
    held.queue("constraint", constraint)
    held.queue("refused", lambda: wf.fail_task(b, "too late", actor="op"))  # b is COMPLETED
    held.queue("after", lambda: wf.task_done(a, {"v": "a"}))  # sees the instance as the bug never touched it
    results = held.release()

    assert store.group_commit.batches == held.batches_before + 1
    assert isinstance(results["bug"], RuntimeError) and str(results["bug"]) == "an exception in the engine"
    assert isinstance(results["constraint"], StoreError) and "UNIQUE" in str(results["constraint"])
    assert isinstance(results["refused"], InvalidStateError)
    assert results["before"].applied and results["after"].applied
    assert results["after"].instance_status == "COMPLETED"
    view = wf.get_status(victim)
    assert view.status == "COMPLETED"
    assert not any(h.kind is HistoryKind.INSTANCE_CANCELLED for h in view.history)
    assert {e.status for e in view.executions} == {"COMPLETED"}
    assert wf.get_status(other).context["shared"] == 7
    assert _committed(db_path, "SELECT value FROM wf_meta WHERE key = 'schema_version'") == before_meta
    # Handlers ran after the commit, once per step that made an execution: the other flow's second task.
    assert dispatched == [e.id for e in wf.get_status(other).executions if e.node_id == "second"]


def test_a_failed_commit_fails_every_step_of_the_batch_and_stores_none(wf, store) -> None:
    instance = wf.start_workflow("parallel")
    a, b = (e.id for e in wf.get_status(instance).executions)
    dispatched: list[str] = []
    wf.register_task_handler(lambda payload: dispatched.append(payload.execution_id))

    def violation_found_at_commit(tx) -> None:  # a foreign key checked only at COMMIT: the COMMIT fails
        tx.cursor.execute("PRAGMA defer_foreign_keys = ON")
        tx.cursor.execute("INSERT INTO contexts (instance_no, context) VALUES (999999, '{}')")

    held = HeldBatch(store, violation_found_at_commit)
    held.queue("a", lambda: wf.task_done(a, {"v": "a"}))
    held.queue("b", lambda: wf.task_done(b, {"v": "b"}))
    results = held.release()

    for name in ("leader", "a", "b"):
        assert isinstance(results[name], StoreError) and "FOREIGN KEY" in str(results[name])
    assert results["a"] is not results["b"]  # each thread raised its own exception object
    assert {e.status for e in wf.get_status(instance).executions} == {"ACTIVE"}
    assert dispatched == []
    assert wf.task_done(a, {"v": "a"}).applied  # the store goes on


def test_a_lone_writer_runs_the_same_statements_as_without_group_commit(wf, store) -> None:
    instance = wf.start_workflow("two_tasks")
    first = _first_execution(wf, instance)
    pooled, connection = store._idle[0]
    statements: list[str] = []
    connection.set_trace_callback(statements.append)
    batches = store.group_commit.batches
    try:
        wf.task_done(first, {"value": 1})
    finally:
        connection.set_trace_callback(None)
    assert statements[0] == "BEGIN IMMEDIATE" and statements[-1] == "COMMIT"
    assert not any("SAVEPOINT" in s for s in statements)
    assert store.group_commit.batches == batches + 1


@pytest.mark.parametrize(("settings", "expected"), [
    ({"batch_steps": 2, "batch_ms": 60_000}, [2, 2, 1]),  # the held write and one queued, then two, then the last
    ({"batch_ms": 0}, [1, 1, 1, 1, 1]),  # a batch past its time takes no queued write
    ({"batch_steps": 1}, None),  # off: each write its own transaction, no batcher at all
])
def test_a_batch_closes_at_its_bounds(tmp_path, settings, expected) -> None:
    store = open_store(tmp_path / "bounds.db", **settings)
    try:
        if expected is None:
            assert store.group_commit is None
            return
        manager = WorkflowManager(store)
        manager.add_workflow(bps.two_tasks())
        instances = [manager.start_workflow("two_tasks") for _ in range(4)]
        sizes: list[int] = []
        original = store.group_commit._commit
        store.group_commit._commit = lambda batch: (sizes.append(batch.steps), original(batch))[1]
        held = HeldBatch(store)
        for n, instance in enumerate(instances):
            held.queue(str(n), lambda instance=instance: manager.set_variables(instance, {"n": 1}, actor="op"))
        results = held.release()
        assert sizes == expected
        assert all(result is None for result in results.values())
    finally:
        store.close()


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="max_steps"):
        GroupCommitSettings(max_steps=0)
    with pytest.raises(ValueError, match="max_seconds"):
        GroupCommitSettings(max_seconds=-1)


def test_a_write_inside_a_write_on_one_thread_is_its_own_transaction_and_does_not_hang(tmp_path) -> None:
    store = open_store(tmp_path / "nested.db", busy_timeout_ms=100)  # the inner write waits for the outer
    try:
        with pytest.raises(StoreError, match="locked"):
            with store.write():
                with store.write():
                    pass
        with store.write() as tx:  # the batcher is free again
            tx.cursor.execute("SELECT 1")
    finally:
        store.close()


def test_threads_racing_on_one_store_complete_each_execution_once(tmp_path) -> None:
    store = open_store(tmp_path / "race.db", durability="NORMAL")
    manager = WorkflowManager(store)
    manager.add_workflow(bps.parallel())
    instances = [manager.start_workflow("parallel") for _ in range(40)]
    executions = [e.id for i in instances for e in manager.get_status(i).executions]
    errors: list[BaseException] = []
    applied: list[str] = []
    start = threading.Barrier(8)

    def race(offset: int) -> None:
        start.wait()
        try:  # every thread sends every completion, from a different place in the list
            for execution_id in executions[offset:] + executions[:offset]:
                if manager.task_done(execution_id, {"v": offset}).applied:
                    applied.append(execution_id)
        except BaseException as error:  # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=race, args=(n * 10,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert errors == []
        assert sorted(applied) == sorted(executions)  # each applied once, by one of the eight
        assert store.group_commit.batched_steps > store.group_commit.batches  # some commits held several
        for instance in instances:
            view = manager.get_status(instance)
            assert view.status == "COMPLETED"
            assert sum(h.kind is HistoryKind.EXECUTION_COMPLETED for h in view.history) == 2
    finally:
        store.close()
