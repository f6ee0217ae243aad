"""Group commit (issue 20): the measurements ``bench/engine.py --parts groupcommit`` runs, each in a child.

- **floor with K steps per commit**: the floor's completion (``UPDATE`` one row, ``INSERT`` one history row),
  K of them between one ``BEGIN IMMEDIATE`` and one ``COMMIT`` (K = 1 is the floor of one commit per step);
- **the engine with T threads** (1, 4, 8, 16) completing the verification flow's tasks on one store at once,
  each step's time taken (p50, p99); with group commit on and, for comparison, off (``batch_steps=1``);
- **WAL frames per completion** (automatic checkpoints off) of the engine alone and with 8 threads;
- **the worker runtime** with its pool running no-op workers for every task of the flow.

Every run of one child is interleaved in segments, in a different order each round, so that the runs see
the same disk and CPU. A child runs in any tree whose ``store.open_store`` it imports: run from a copy of
the tree before group commit (``--against DIR``), it measures the engine before the change in the same run.
"""

from __future__ import annotations

import gc
import statistics
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

FLOOR_KS = (1, 4, 16, 64)
THREADS = (1, 4, 8, 16)
WARMUP = 60  # unmeasured steps per engine and floor before the measured rounds


def _remove_db(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _wal_frames(path: Path) -> int:
    wal = Path(f"{path}-wal")
    size = wal.stat().st_size if wal.exists() else 0
    return max(0, size - 32) // (24 + 4096)


def _percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


class BatchedFloor:
    """The floor's completion, ``k`` to a commit."""

    def __init__(self, floor_class: Any, path: Path, durability: str, rows: int, k: int) -> None:
        self.floor = floor_class(path, durability, rows)
        self.k = k

    def run(self, count: int) -> int:
        floor, k = self.floor, self.k
        cursor, ids = floor.cursor, floor.ids
        at = time.strftime("%Y-%m-%dT%H:%M:%S")
        for start in range(floor.done, floor.done + count, k):
            cursor.execute("BEGIN IMMEDIATE")
            for n in range(start, min(start + k, floor.done + count)):
                item = ids[n % len(ids)]
                cursor.execute("UPDATE items SET status = 'DONE', updated_at = ? WHERE id = ?", (at, item))
                cursor.execute("INSERT INTO history (item_id, at, kind, details) VALUES (?, ?, 'DONE', '{}')",
                               (item, at))
            cursor.execute("COMMIT")
        floor.done += count
        return count

    def close(self) -> None:
        self.floor.close()


def open_engine_store(path: Path, durability: str, batch_steps: int | None) -> Any:
    """The tree's store; ``batch_steps`` only where the tree has group commit (``None``: its default)."""
    from store import open_store

    if batch_steps is None:
        return open_store(path, durability=durability)
    return open_store(path, durability=durability, batch_steps=batch_steps)


class ThreadedEngine:
    """``WorkflowManager`` on a file database; :meth:`run` completes tasks from ``threads`` threads at once."""

    def __init__(self, path: Path, durability: str, instances: int, batch_steps: int | None = None,
                 warmup: int = 0) -> None:
        from bench.preload import VERIFICATION_FLOW
        from engine import WorkflowManager

        self.store = open_engine_store(path, durability, batch_steps)
        self.manager = WorkflowManager(self.store)
        self.manager.add_workflow(VERIFICATION_FLOW)
        self.pending: deque[str] = deque()
        self.manager.register_task_handler(lambda payload: self.pending.append(payload.execution_id))
        for i in range(instances + warmup):
            self.manager.start_workflow("verification", {"customer": f"c-{i:06d}"})
        self.latencies: dict[int, list[float]] = {}
        if warmup:  # the first steps pay for lazy imports, compiled conditions, caches: not measured
            self.run(warmup, 1)
            self.run(warmup, 8)
            self.latencies.clear()

    def run(self, count: int, threads: int) -> int:
        from bench.preload import outputs_for

        manager, pending = self.manager, self.pending
        latencies = self.latencies.setdefault(threads, [])
        left = [count]
        lock = threading.Lock()

        def work() -> None:
            clock = time.perf_counter
            while True:
                with lock:
                    if left[0] <= 0:
                        return
                    left[0] -= 1
                try:
                    execution_id = pending.popleft()
                except IndexError:
                    return
                started = clock()
                manager.task_done(execution_id, outputs_for(execution_id.split(":")[1]))
                latencies.append(clock() - started)

        if threads == 1:
            work()
        else:
            workers = [threading.Thread(target=work) for _ in range(threads)]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
        return count - max(0, left[0])

    def batches(self) -> tuple[int, int] | None:
        group = getattr(self.store, "group_commit", None)
        return None if group is None else (group.batches, group.batched_steps)

    def close(self) -> None:
        self.store.close()


def measure_threads(workdir: str, durability: str, instances: int, segment: int, thread_counts: list[int],
                    floor_ks: list[int], batch_steps: int | None = None, off: bool = False,
                    freeze: bool = False, autocheckpoint: int | None = None) -> dict[str, Any]:
    """Floors of K steps per commit and the engine with each thread count, interleaved in segments.

    With ``off``, the engine with group commit off (``batch_steps=1``) runs beside, at each thread count.
    ``freeze``: ``gc.freeze()`` once everything is set up; ``autocheckpoint``: the engine's connections'
    ``wal_autocheckpoint`` (SQLite's default: 1000 pages).
    """
    from sqlalchemy import Engine as SqlEngine
    from sqlalchemy import event

    from bench.engine import Floor

    def checkpoint_interval(dbapi_connection, _record) -> None:
        dbapi_connection.execute(f"PRAGMA wal_autocheckpoint={int(autocheckpoint)}")

    if autocheckpoint is not None:
        event.listen(SqlEngine, "connect", checkpoint_interval)
    work = Path(workdir)
    runs: dict[str, Any] = {}
    for k in floor_ks:
        _remove_db(work / f"floor-{k}.db")
        runs[f"floor K={k}"] = BatchedFloor(Floor, work / f"floor-{k}.db", durability, instances, k)
    # Each engine completes 2 x WARMUP steps first (one thread, then 8), unmeasured: without it the first
    # engine in the rotation pays for the warm-up (it made "on, 1 thread" 30% slower than "off" on a quiet day).
    engines = {"on": ThreadedEngine(work / "engine.db", durability, instances, batch_steps, warmup=WARMUP)}
    if off:
        engines["off"] = ThreadedEngine(work / "engine-off.db", durability, instances, 1, warmup=WARMUP)
    for floor in runs.values():
        floor.run(WARMUP)
    if freeze:
        gc.freeze()  # everything made so far (modules, blueprints, the started instances) is never scanned
    names = list(runs) + [f"{mode} {t}" for mode in engines for t in thread_counts]
    totals = {name: 3 * instances // (len(thread_counts)) for name in names}
    for name in runs:
        totals[name] = 3 * instances
    done = dict.fromkeys(names, 0)
    seconds = dict.fromkeys(names, 0.0)
    round_number = 0
    while any(done[n] < totals[n] for n in names):
        shift = round_number % len(names)
        for name in names[shift:] + names[:shift]:
            want = min(segment, totals[name] - done[name])
            if want <= 0:
                continue
            started = time.perf_counter()
            if name in runs:
                got = runs[name].run(want)
            else:
                mode, threads = name.split()
                got = engines[mode].run(want, int(threads))
            seconds[name] += time.perf_counter() - started
            if got == 0:
                totals[name] = done[name]
            done[name] += got
        round_number += 1
    result: dict[str, Any] = {}
    for name in names:
        entry = {"completions": done[name], "seconds": seconds[name],
                 "per_s": done[name] / seconds[name] if seconds[name] else float("nan")}
        if name not in runs:
            mode, threads = name.split()
            lat = engines[mode].latencies.get(int(threads), [])
            entry["p50_ms"] = 1000 * _percentile(lat, 0.50)
            entry["p99_ms"] = 1000 * _percentile(lat, 0.99)
        result[name] = entry
    result["batches"] = engines["on"].batches()
    for runner in (*runs.values(), *engines.values()):
        runner.close()
    for name in ("engine.db", "engine-off.db", *(f"floor-{k}.db" for k in floor_ks)):
        _remove_db(work / name)
    return result


def measure_wal_frames(workdir: str, instances: int, thread_counts: list[int]) -> dict[str, float]:
    """WAL frames written per completion, checkpoints off: the engine at each thread count, and the floor."""
    from sqlalchemy import Engine as SqlEngine
    from sqlalchemy import event

    from bench.engine import Floor

    def no_checkpoints(dbapi_connection, _record) -> None:
        dbapi_connection.execute("PRAGMA wal_autocheckpoint=0")

    work = Path(workdir)
    result: dict[str, float] = {}
    for threads in thread_counts:
        path = work / f"frames-{threads}.db"
        _remove_db(path)
        event.listen(SqlEngine, "connect", no_checkpoints)
        try:
            engine = ThreadedEngine(path, "NORMAL", instances)
        finally:
            event.remove(SqlEngine, "connect", no_checkpoints)
        with engine.store.engine.connect() as connection:  # the starts are not counted
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        before = _wal_frames(path)
        done = engine.run(3 * instances, threads)
        result[f"engine, {threads} thread(s)"] = (_wal_frames(path) - before) / max(1, done)
        batches = engine.batches()
        if batches:
            result[f"engine, {threads} thread(s): steps per commit"] = batches[1] / max(1, batches[0])
        engine.close()
        _remove_db(path)
    path = work / "frames-floor.db"
    _remove_db(path)
    result["floor"] = Floor(path, "NORMAL", instances).wal_frames_per_completion()
    _remove_db(path)
    return result


def measure_runtime(workdir: str, durability: str, instances: int, workers: int, batch_steps: int) -> dict[str, Any]:
    """The worker runtime's pool running a no-op worker for every task of the verification flow: from the
    starts committed to the last instance completed (claims, completions and the new executions' dispatch)."""
    from bench.preload import VERIFICATION_FLOW, outputs_for
    from engine import WorkflowManager
    from engine.runtime import WorkerRuntime
    from engine.workers import WorkerRegistry

    path = Path(workdir) / f"runtime-{batch_steps}.db"
    _remove_db(path)
    store = open_engine_store(path, durability, batch_steps)
    manager = WorkflowManager(store)
    manager.add_workflow(VERIFICATION_FLOW)
    registry = WorkerRegistry()
    for node in VERIFICATION_FLOW["nodes"]:
        if node["type"] == "TASK":
            outputs = outputs_for(node["id"])
            registry.register(node["task_id"], lambda inputs, outputs=outputs: dict(outputs))
    finished = threading.Event()
    completed = [0]
    total = [0]

    def count(_view) -> None:
        completed[0] += 1
        if completed[0] >= instances:
            finished.set()

    manager.register_completion_handler(count)
    runtime = WorkerRuntime(manager, registry, max_workers=workers, poll_interval=0.5, stuck_interval=3600,
                            on_outcome=lambda *args: total.__setitem__(0, total[0] + 1))
    runtime.start()
    started = time.perf_counter()
    for i in range(instances):
        manager.start_workflow("verification", {"customer": f"c-{i:06d}"})
    finished.wait(600)
    elapsed = time.perf_counter() - started
    runtime.stop(grace=5)
    group = getattr(store, "group_commit", None)
    batches = None if group is None else (group.batches, group.batched_steps)
    store.close()
    _remove_db(path)
    return {"instances": completed[0], "seconds": elapsed, "completions_per_s": total[0] / elapsed,
            "instances_per_s": completed[0] / elapsed, "batches": batches}


def median(values: list[float]) -> float:
    values = [v for v in values if v == v]
    return statistics.median(values) if values else float("nan")
