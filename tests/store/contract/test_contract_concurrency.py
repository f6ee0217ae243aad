"""Contract: threads and processes racing on one database: every execution applied exactly once, no lock errors."""

from __future__ import annotations

import multiprocessing
import threading

from engine import HistoryKind, WorkflowManager
from store import open_store

PARALLEL = {
    "workflow_id": "fanout",
    "nodes": [
        {"id": "start", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "START"},
        {"id": "split", "type": "INTERNAL", "internal_type": "GATEWAY", "gateway_type": "PARALLEL_SPLIT"},
        {"id": "a", "type": "TASK", "task_id": "work", "output_mapping": {"v": "a"}},
        {"id": "b", "type": "TASK", "task_id": "work", "output_mapping": {"v": "b"}},
        {"id": "c", "type": "TASK", "task_id": "work", "output_mapping": {"v": "c"}},
        {"id": "join", "type": "INTERNAL", "internal_type": "GATEWAY", "gateway_type": "PARALLEL_JOIN"},
        {"id": "end", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "END"},
    ],
    "edges": [
        {"id": "e0", "source_id": "start", "target_id": "split"},
        {"id": "e1", "source_id": "split", "target_id": "a"},
        {"id": "e2", "source_id": "split", "target_id": "b"},
        {"id": "e3", "source_id": "split", "target_id": "c"},
        {"id": "e4", "source_id": "a", "target_id": "join"},
        {"id": "e5", "source_id": "b", "target_id": "join"},
        {"id": "e6", "source_id": "c", "target_id": "join"},
        {"id": "e7", "source_id": "join", "target_id": "end"},
    ],
}


def _start_instances(db: str, count: int) -> list[str]:
    store = open_store(db)
    manager = WorkflowManager(store)
    manager.add_workflow(PARALLEL)
    executions: list[str] = []
    manager.register_task_handler(lambda payload: executions.append(payload.execution_id))
    for _ in range(count):
        manager.start_workflow("fanout", {})
    store.close()
    return executions


def _complete_all(db: str, executions: list[str], worker: int, errors) -> None:
    store = open_store(db)
    manager = WorkflowManager(store)
    try:
        for execution_id in executions:
            manager.task_done(execution_id, {"v": worker})
    except Exception as error:  # reported to the parent, which fails the test
        errors.append(f"{type(error).__name__}: {error}")
    finally:
        store.close()


def _assert_each_applied_once(db: str, instance_count: int, execution_count: int) -> None:
    store = open_store(db)
    manager = WorkflowManager(store)
    instances = manager.list_instances()
    assert len(instances) == instance_count
    completed = 0
    for summary in instances:
        view = manager.get_status(summary.id)
        assert view.status == "COMPLETED", view.id
        assert view.tokens == []
        done = [h.execution_id for h in view.history if h.kind is HistoryKind.EXECUTION_COMPLETED]
        assert len(done) == len(set(done)) == 3
        assert sum(1 for h in view.history if h.kind is HistoryKind.JOIN_FIRED) == 1
        assert sum(1 for h in view.history if h.kind is HistoryKind.INSTANCE_COMPLETED) == 1
        completed += len(done)
    assert completed == execution_count
    store.close()


def test_threads_racing_task_done_apply_each_execution_once(backend) -> None:
    db = backend.url
    executions = _start_instances(db, 20)
    errors: list[str] = []
    threads = [threading.Thread(target=_complete_all, args=(db, list(executions), n, errors))
               for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    _assert_each_applied_once(db, 20, len(executions))


def test_processes_racing_task_done_apply_each_execution_once(backend) -> None:
    db = backend.url
    executions = _start_instances(db, 20)
    context = multiprocessing.get_context("spawn")
    with context.Manager() as sync:
        errors = sync.list()
        # Each process walks the executions in a different order, so they collide on every instance.
        orders = [executions, executions[::-1], executions[1::2] + executions[::2], executions]
        processes = [context.Process(target=_complete_all, args=(db, order, n, errors))
                     for n, order in enumerate(orders)]
        for process in processes:
            process.start()
        for process in processes:
            process.join(timeout=120)
            assert process.exitcode == 0
        assert list(errors) == []
    _assert_each_applied_once(db, 20, len(executions))
