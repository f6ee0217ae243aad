"""Processes and threads racing on one database (a file, then a PostgreSQL database): completing, failing,
retrying and cancelling.

Three processes with three operator threads and one reader thread each pick random instances and random
executions of them, and complete, re-complete, fail, retry, set variables or cancel, with collisions on
every instance. Afterwards (the parent then finishes every instance):

- every execution was completed at most once, and every instance satisfies every invariant of
  :mod:`reliability.invariants` (its history, replayed, rebuilds the stored state);
- no update was lost or applied twice: each ``fail_task``, ``retry`` and ``cancel`` that returned normally
  appears exactly once in the histories, and nothing else does (each can succeed at most once per
  execution or instance, whoever raced for it);
- no caller saw ``database is locked`` or any other ``StoreError``: only the ``InvalidStateError`` of an
  operation that lost a race (the execution or instance changed first), which changed nothing.
"""

from __future__ import annotations

import json
import multiprocessing
import random
import threading
import time
from collections import Counter
from pathlib import Path

from reliability.invariants import check_instance

from engine import InvalidStateError, WorkflowManager
from engine.model import HistoryKind
from engine.validate import compile_blueprint
from store import open_store

FANOUT = {
    "workflow_id": "race",
    "nodes": [
        {"id": "start", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "START"},
        {"id": "split", "type": "INTERNAL", "internal_type": "GATEWAY", "gateway_type": "PARALLEL_SPLIT"},
        {"id": "a", "type": "TASK", "task_id": "work", "output_mapping": {"v": "a"}},
        {"id": "b", "type": "TASK", "task_id": "work", "input_mapping": {"seed": "seed"},
         "output_mapping": {"v": "b"}},
        {"id": "c", "type": "TASK", "task_id": "work", "output_mapping": {"v": "c"}},
        {"id": "join", "type": "INTERNAL", "internal_type": "GATEWAY", "gateway_type": "PARALLEL_JOIN"},
        {"id": "review", "type": "TASK", "task_id": "review", "input_mapping": {"a": "a", "b": "b", "c": "c"}},
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
        {"id": "e7", "source_id": "join", "target_id": "review"},
        {"id": "e8", "source_id": "review", "target_id": "end"},
    ],
}

INSTANCES = 30
PROCESSES = 3
THREADS = 3
OPERATIONS = 50  # per operator thread
TIME_CAP = 15.0  # seconds per process, whatever the machine


def operate(manager: WorkflowManager, instance_ids: list[str], rng: random.Random, log: dict, actor: str) -> None:
    """One random operation on one random instance; successes and errors go into ``log``."""
    for _ in range(5):  # mostly instances still running: operations on finished ones only lose
        instance_id = rng.choice(instance_ids)
        view = manager.get_status(instance_id)
        if view.status == "ACTIVE":
            break
    executions = view.executions
    open_ones = [e for e in executions if e.status in ("ACTIVE", "FAILED", "STUCK")]
    roll = rng.random()
    try:
        if roll < 0.45 and open_ones:
            execution = rng.choice(open_ones)
            manager.task_done(execution.id, {"v": rng.randrange(100)}, actor=actor)
            log["completed"].append(execution.id)
        elif roll < 0.55 and executions:
            manager.task_done(rng.choice(executions).id, {"v": -1}, actor=actor)  # often a duplicate
        elif roll < 0.70 and executions:
            execution = rng.choice([e for e in executions if e.status == "ACTIVE"] or executions)
            manager.fail_task(execution.id, f"failed by {actor}", actor=actor)
            log["failed"].append(execution.id)
        elif roll < 0.88 and executions:
            execution = rng.choice([e for e in executions if e.status == "FAILED"] or executions)
            log["retried"].append([execution.id, manager.retry(execution.id, actor=actor)])
        elif roll < 0.95:
            manager.set_variables(instance_id, {"seed": rng.randrange(100), actor: True}, actor=actor)
            log["variables"].append(instance_id)
        else:
            manager.cancel(instance_id, f"cancelled by {actor}", actor=actor)
            log["cancelled"].append(instance_id)
    except InvalidStateError:
        log["lost_races"] += 1
    except Exception as error:  # StoreError ('database is locked') or anything else: a failure
        log["errors"].append(f"{type(error).__name__}: {error}")


def race_process(db: str, instance_ids: list[str], index: int, out: str) -> None:
    """A process of the race: THREADS operator threads and one reader on one store."""
    store = open_store(db)
    manager = WorkflowManager(store)
    log = {"completed": [], "failed": [], "retried": [], "cancelled": [], "variables": [], "errors": [],
           "lost_races": 0, "reads": 0}
    lock = threading.Lock()
    deadline = time.monotonic() + TIME_CAP
    done = threading.Event()

    def operator(thread: int) -> None:
        rng = random.Random(index * 100 + thread)
        mine = {k: ([] if isinstance(v, list) else 0) for k, v in log.items()}
        for _ in range(OPERATIONS):
            if time.monotonic() > deadline:
                break
            try:
                operate(manager, instance_ids, rng, mine, f"p{index}t{thread}")
            except Exception as error:  # a failed read: as bad as a failed write
                mine["errors"].append(f"{type(error).__name__}: {error}")
        with lock:
            for key, value in mine.items():
                log[key] += value

    def reader() -> None:
        rng = random.Random(index)
        while not done.is_set():
            try:
                manager.get_status(rng.choice(instance_ids))
                manager.list_instances()
                with lock:
                    log["reads"] += 1
            except Exception as error:
                with lock:
                    log["errors"].append(f"reader {type(error).__name__}: {error}")

    threads = [threading.Thread(target=operator, args=(t,)) for t in range(THREADS)]
    watcher = threading.Thread(target=reader)
    watcher.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    watcher.join()
    store.close()
    Path(out).write_text(json.dumps(log))


def finish_all(manager: WorkflowManager, instance_ids: list[str]) -> None:
    """Drive every instance to its end: retry what failed, complete what runs."""
    for _ in range(20):
        busy = False
        for instance_id in instance_ids:
            view = manager.get_status(instance_id)
            for execution in view.executions:
                if execution.status == "FAILED":
                    manager.retry(execution.id, actor="drain")
                    busy = True
                elif execution.status == "ACTIVE":
                    manager.task_done(execution.id, {"v": 0}, actor="drain")
                    busy = True
        if not busy:
            return


def test_processes_and_threads_racing_lose_nothing_and_apply_nothing_twice(database: str, tmp_path: Path) -> None:
    db = database  # a file, then a PostgreSQL database (tests/conftest.py)
    store = open_store(db)
    manager = WorkflowManager(store)
    manager.add_workflow(FANOUT)
    instance_ids = [manager.start_workflow("race", {"seed": n}) for n in range(INSTANCES)]

    context = multiprocessing.get_context("spawn")
    outs = [tmp_path / f"log-{n}.json" for n in range(PROCESSES)]
    processes = [context.Process(target=race_process, args=(str(db), instance_ids, n, str(outs[n])))
                 for n in range(PROCESSES)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=90)
        assert process.exitcode == 0, f"a racing process died (exit code {process.exitcode})"
    logs = [json.loads(out.read_text()) for out in outs]

    errors = [e for log in logs for e in log["errors"]]
    assert errors == [], "callers saw errors:\n" + "\n".join(errors[:20])
    assert all(log["reads"] > 0 for log in logs)

    finish_all(manager, instance_ids)
    bp = compile_blueprint(FANOUT)
    histories = []
    for instance_id in instance_ids:
        view = manager.get_status(instance_id)
        assert view.status in ("COMPLETED", "CANCELLED"), f"{instance_id} is {view.status}"
        problems = check_instance(view, bp, structured=True)
        assert problems == [], "\n".join(problems)
        histories.extend(view.history)

    def recorded(kind: HistoryKind, actor_prefix: str = "p") -> Counter:
        return Counter(h.execution_id if h.execution_id else h.instance_id for h in histories
                       if h.kind is kind and (h.actor or "").startswith(actor_prefix))

    # Each successful call is in the history exactly once; nothing that failed is.
    failed = Counter(e for log in logs for e in log["failed"])
    assert max(failed.values(), default=1) == 1, "an execution was failed twice"
    assert failed == recorded(HistoryKind.EXECUTION_FAILED)
    retried = Counter(old for log in logs for old, _ in log["retried"])
    assert max(retried.values(), default=1) == 1, "an execution was retried twice"
    assert retried == recorded(HistoryKind.EXECUTION_RETRIED)
    new_ids = [new for log in logs for _, new in log["retried"]]
    assert len(new_ids) == len(set(new_ids))
    cancelled = Counter(i for log in logs for i in log["cancelled"])
    assert max(cancelled.values(), default=1) == 1, "an instance was cancelled twice"
    assert cancelled == recorded(HistoryKind.INSTANCE_CANCELLED)
    # A completion that returned was applied, or lost to another completion, a retry or a cancel.
    final = {e.id: e.status for i in instance_ids for e in manager.get_status(i).executions}
    assert {final[e] for log in logs for e in log["completed"]} <= {"COMPLETED", "RETRIED", "CANCELLED"}
    # The race did race: operations collided and every kind of operation happened.
    assert sum(log["lost_races"] for log in logs) > 0
    assert failed and retried and sum(len(log["completed"]) for log in logs) > 20
    store.close()
