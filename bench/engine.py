"""Engine throughput against the SQLite floor (issue 7).

    .venv/bin/python bench/engine.py            # the full benchmark, a table
    .venv/bin/python bench/engine.py --json     # the same as JSON
    .venv/bin/python bench/engine.py --quick    # a tiny run (seconds), for CI's smoke test

What it measures:

- **floor**: plain ``sqlite3`` with the store's pragmas (WAL, ``synchronous``, ``busy_timeout``,
  ``foreign_keys``), one ``BEGIN IMMEDIATE; UPDATE one row; INSERT one history row; COMMIT`` per completion;
- **engine**: N instances of the Go engine's verification flow through ``WorkflowManager`` on a file
  database: starts per second, then completions per second (3 ``task_done`` per instance);
- **its SQL replayed**: the very statements the store executed for those completions (recorded in an
  untimed run), replayed with plain ``sqlite3``: what the completions would cost with no engine at all;
- both durabilities (``FULL``, ``NORMAL``), each against its own floor;
- **scaling**: the engine on an empty database and on one preloaded with 100,000 finished instances
  (about 1,000,000 history rows, written by :mod:`bench.preload` with ``executemany``);
- **concurrency**: 4 processes completing tasks on one file at once, against 1 process doing the same work;
- peak RSS of each kind of run, each measured alone in a fresh child process.

The machine is shared, and the cost of an ``fsync`` swings with what else is writing to the disk. So the
runs that are compared are interleaved in one process, in batches of a few hundred completions, in a
different order each round: floor, engine and replay (or empty and preloaded database) see the same disk
and CPU weather. Each figure is the median over the repetitions; a ratio is the median of the
per-repetition ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import deque
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# Run as a script, this file's directory comes first on sys.path, and this file would shadow the
# ``engine`` package: put the repository root there instead.
_HERE = Path(__file__).resolve().parent
ROOT = _HERE.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(ROOT))

TARGETS = {"FULL": 0.50, "NORMAL": 0.20, "scaling": 0.80, "concurrency": 0.80}
PRAGMAS = ("journal_mode=WAL", "synchronous={durability}", "foreign_keys=ON", "busy_timeout=30000")


# -- helpers ---------------------------------------------------------------------------------------


def _peak_rss_mb() -> float:
    """This process's peak resident set, in MB.

    ``VmHWM`` rather than ``ru_maxrss``: Linux carries ``ru_maxrss`` over ``exec``, so a child started by a
    big parent would report the parent's peak.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # kB on Linux


def _remove_db(path: str | Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _connect(path: str | Path, durability: str) -> sqlite3.Connection:
    """A plain sqlite3 connection with the store's pragmas (see ``store.database``)."""
    connection = sqlite3.connect(path, isolation_level=None, timeout=30)
    for pragma in PRAGMAS:
        connection.execute("PRAGMA " + pragma.format(durability=durability))
    return connection


def _wal_frames(path: str | Path) -> int:
    wal = Path(f"{path}-wal")
    size = wal.stat().st_size if wal.exists() else 0
    return max(0, size - 32) // (24 + 4096)  # WAL header, then one frame header and page per frame


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


# -- the three kinds of work ------------------------------------------------------------------------


class Floor:
    """The one durable transaction a completion must make, with nothing else around it."""

    def __init__(self, path: Path, durability: str, rows: int) -> None:
        self.path = path
        self.connection = _connect(path, durability)
        self.connection.execute("CREATE TABLE items (id TEXT PRIMARY KEY, status TEXT NOT NULL, "
                                "updated_at TEXT NOT NULL)")
        self.connection.execute("CREATE TABLE history (seq INTEGER PRIMARY KEY, item_id TEXT NOT NULL "
                                "REFERENCES items(id), at TEXT NOT NULL, kind TEXT NOT NULL, details TEXT NOT NULL)")
        self.connection.execute("CREATE INDEX ix_history_item ON history (item_id, seq)")
        self.ids = [f"item-{i:08d}" for i in range(max(1, rows))]
        self.connection.execute("BEGIN")
        self.connection.executemany("INSERT INTO items VALUES (?, 'ACTIVE', '')", [(i,) for i in self.ids])
        self.connection.execute("COMMIT")
        self.cursor = self.connection.cursor()
        self.done = 0

    def run(self, count: int) -> int:
        cursor, ids = self.cursor, self.ids
        for n in range(self.done, self.done + count):
            item = ids[n % len(ids)]
            at = datetime.now(UTC).isoformat()
            cursor.execute("BEGIN IMMEDIATE")
            cursor.execute("UPDATE items SET status = 'DONE', updated_at = ? WHERE id = ?", (at, item))
            cursor.execute("INSERT INTO history (item_id, at, kind, details) VALUES (?, ?, 'DONE', '{}')", (item, at))
            cursor.execute("COMMIT")
        self.done += count
        return count

    def wal_frames_per_completion(self, sample: int = 300) -> float:
        """Untimed: the WAL pages one completion writes, with automatic checkpoints off."""
        self.connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.connection.execute("PRAGMA wal_autocheckpoint=0")
        self.run(sample)
        return _wal_frames(self.path) / sample

    def close(self) -> None:
        self.connection.close()


class Engine:
    """``WorkflowManager`` on a file database, running verification flows."""

    def __init__(self, path: Path, durability: str) -> None:
        from bench.preload import VERIFICATION_FLOW
        from engine import WorkflowManager
        from store import open_store

        self.store = open_store(path, durability=durability)
        self.manager = WorkflowManager(self.store)
        self.manager.add_workflow(VERIFICATION_FLOW)
        self.pending: deque[str] = deque()
        self.manager.register_task_handler(lambda payload: self.pending.append(payload.execution_id))
        self.started = 0

    def start(self, count: int) -> int:
        for i in range(self.started, self.started + count):
            self.manager.start_workflow("verification", {"customer": f"c-{i:06d}"})
        self.started += count
        return count

    def run(self, count: int) -> int:
        from bench.preload import outputs_for

        done = 0
        while self.pending and done < count:
            execution_id = self.pending.popleft()
            self.manager.task_done(execution_id, outputs_for(execution_id.split(":")[1]))
            done += 1
        return done

    def completed_instances(self) -> int:
        return self.store.count_instances().get("COMPLETED", 0)

    def close(self) -> None:
        self.store.close()


class _RecordingCursor:
    """Passes statements to the real cursor and keeps them, with their parameters, for a replay."""

    def __init__(self, cursor: sqlite3.Cursor, calls: list) -> None:
        self._cursor, self._calls = cursor, calls

    def execute(self, sql: str, parameters: Any = ()) -> sqlite3.Cursor:
        self._calls.append((sql, parameters, False))
        return self._cursor.execute(sql, parameters)

    def executemany(self, sql: str, rows: Any) -> sqlite3.Cursor:
        rows = list(rows)
        self._calls.append((sql, rows, True))
        return self._cursor.executemany(sql, rows)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)


def record_completions(path: Path, durability: str, instances: int) -> tuple[Path, list[list]]:
    """Untimed: start ``instances`` flows, keep a copy of the database, then complete them while recording
    every statement the store executes. Returns the copy (the state before) and one list per transaction."""
    import store.sqlite as store_sqlite

    engine = Engine(path, durability)
    engine.start(instances)
    engine.close()  # the last connection to close checkpoints the WAL into the file
    before = path.with_suffix(".before")
    shutil.copyfile(path, before)
    transactions: list[list] = []
    original_init = store_sqlite.SqliteWriteTransaction.__init__

    def recording_init(self, cursor, *caches) -> None:
        transactions.append([])
        original_init(self, _RecordingCursor(cursor, transactions[-1]), *caches)

    pending = engine.pending
    store_sqlite.SqliteWriteTransaction.__init__ = recording_init
    try:
        engine = Engine(path, durability)
        transactions.clear()  # add_workflow's check that the blueprint is stored
        engine.pending = pending
        while engine.run(1000):
            pass
        engine.close()
    finally:
        store_sqlite.SqliteWriteTransaction.__init__ = original_init
    _remove_db(path)
    return before, transactions


class Replay:
    """The engine's recorded statements, replayed with plain sqlite3 (no engine): its cost at the floor."""

    def __init__(self, path: Path, before: Path, durability: str, transactions: list[list]) -> None:
        shutil.copyfile(before, path)
        self.path, self.transactions, self.done = path, transactions, 0
        self.connection = _connect(path, durability)
        self.cursor = self.connection.cursor()

    def run(self, count: int) -> int:
        cursor = self.cursor
        batch = self.transactions[self.done:self.done + count]
        for transaction in batch:
            cursor.execute("BEGIN IMMEDIATE")
            for sql, parameters, many in transaction:
                if many:
                    cursor.executemany(sql, parameters)
                else:
                    cursor.execute(sql, parameters).fetchall()
            cursor.execute("COMMIT")
        self.done += len(batch)
        return len(batch)

    def close(self) -> None:
        self.connection.close()


def replay_wal_frames(path: Path, before: Path, transactions: list[list]) -> float:
    """Untimed: the WAL pages one completion of the engine writes, with automatic checkpoints off."""
    replay = Replay(path, before, "OFF", transactions)  # the page count does not depend on syncing
    replay.connection.execute("PRAGMA wal_autocheckpoint=0")
    replay.run(len(transactions))
    frames = _wal_frames(path) / max(1, len(transactions))
    replay.close()
    _remove_db(path)
    return frames


def interleave(workers: dict[str, Any], totals: dict[str, int], batch: int, method: str = "run") -> dict:
    """Run each worker's ``method`` in batches, round after round, in a different order each round, until
    each has done its total; return completions and seconds per worker."""
    done = {name: 0 for name in workers}
    seconds = {name: 0.0 for name in workers}
    names = list(workers)
    round_number = 0
    while any(done[name] < totals[name] for name in names):
        shift = round_number % len(names)
        for name in names[shift:] + names[:shift]:
            want = min(batch, totals[name] - done[name])
            if want <= 0:
                continue
            started = time.perf_counter()
            got = getattr(workers[name], method)(want)
            seconds[name] += time.perf_counter() - started
            if got == 0:
                totals[name] = done[name]  # nothing left to do
            done[name] += got
        round_number += 1
    return {name: {"completions": done[name], "seconds": seconds[name],
                   "per_s": done[name] / seconds[name] if seconds[name] else float("nan")} for name in names}


# -- measurements (each runs in a child process) ------------------------------------------------------


def measure_durability(workdir: str, durability: str, instances: int, batch: int) -> dict[str, Any]:
    """Floor, engine and the replay of the engine's SQL, interleaved in batches."""
    work = Path(workdir)
    for name in ("record.db", "floor.db", "engine.db", "replay.db", "frames.db", "record.before"):
        _remove_db(work / name)
    before, transactions = record_completions(work / "record.db", durability, instances)
    floor = Floor(work / "floor.db", durability, instances)
    engine = Engine(work / "engine.db", durability)
    replay = Replay(work / "replay.db", before, durability, transactions)
    completions = 3 * instances
    starts = interleave({"engine": engine}, {"engine": instances}, batch, method="start")["engine"]
    runs = interleave({"floor": floor, "engine": engine, "replay": replay},
                      {"floor": completions, "engine": completions, "replay": len(transactions)}, batch)
    finished = engine.completed_instances()
    if finished != instances or runs["engine"]["completions"] != completions:
        raise RuntimeError(f"the engine finished {finished} of {instances} instances")
    for worker in (floor, engine, replay):
        worker.close()
    floor_frames = Floor(work / "frames.db", durability, instances).wal_frames_per_completion()
    _remove_db(work / "frames.db")
    engine_frames = replay_wal_frames(work / "frames.db", before, transactions)
    for name in ("floor.db", "engine.db", "replay.db", "record.before"):
        _remove_db(work / name)
    return {"floor": runs["floor"], "engine": runs["engine"], "replay": runs["replay"], "starts": starts,
            "floor_wal_frames_per_completion": floor_frames, "engine_wal_frames_per_completion": engine_frames}


def measure_scaling(workdir: str, preloaded: str, instances: int, batch: int) -> dict[str, Any]:
    """The engine on an empty database and on a preloaded one, interleaved in batches (FULL)."""
    work = Path(workdir)
    _remove_db(work / "empty.db")
    engines = {"empty": Engine(work / "empty.db", "FULL"), "preloaded": Engine(Path(preloaded), "FULL")}
    starts = interleave(engines, {"empty": instances, "preloaded": instances}, batch, method="start")
    runs = interleave(engines, {"empty": 3 * instances, "preloaded": 3 * instances}, batch)
    for engine in engines.values():
        engine.close()
    _remove_db(work / "empty.db")
    return {"runs": runs, "starts": starts}


def measure_alone(path: str, durability: str, instances: int, count_statements: bool = True) -> dict[str, Any]:
    """One kind of run alone in this process, for its peak RSS (and the statements a step executes)."""
    engine = Engine(Path(path), durability)
    engine.start(instances)
    while engine.run(1000):
        pass
    engine.close()
    result: dict[str, Any] = {}
    if count_statements:
        result.update(_count_statements(Path(path), durability, 5))
    result["peak_rss_mb"] = _peak_rss_mb()
    return result


def measure_floor_alone(path: str, durability: str, instances: int) -> dict[str, Any]:
    floor = Floor(Path(path), durability, instances)
    floor.run(3 * instances)
    floor.close()
    return {"peak_rss_mb": _peak_rss_mb()}


def _count_statements(path: Path, durability: str, instances: int) -> dict[str, float]:
    """SQL statements executed per start and per completion (BEGIN and COMMIT included)."""
    from sqlalchemy import Engine as SqlEngine
    from sqlalchemy import event

    counter = [0]

    def trace(dbapi_connection, _record) -> None:
        dbapi_connection.set_trace_callback(lambda _sql: counter.__setitem__(0, counter[0] + 1))

    event.listen(SqlEngine, "connect", trace)  # every connection of the store opened below is traced
    try:
        engine = Engine(path, durability)
    finally:
        event.remove(SqlEngine, "connect", trace)
    engine.start(instances)  # the first starts of a process read the blueprint
    counter[0] = 0
    engine.start(instances)
    per_start = counter[0] / instances
    counter[0] = 0
    done = engine.run(10 * instances)
    engine.close()
    return {"statements_per_start": per_start, "statements_per_completion": counter[0] / done}


def concurrency_worker(path: str, durability: str, executions: list[str]) -> dict[str, Any]:
    """Complete ``executions`` and whatever they lead to; wait for the parent's go on stdin first."""
    engine = Engine(Path(path), durability)
    engine.pending.extend(executions)
    print(json.dumps({"ready": True}), flush=True)
    sys.stdin.readline()
    started = time.monotonic()  # CLOCK_MONOTONIC: comparable between processes on one machine
    completions = 0
    while got := engine.run(1000):
        completions += got
    ended = time.monotonic()
    engine.close()
    return {"completions": completions, "started": started, "ended": ended, "peak_rss_mb": _peak_rss_mb()}


def start_instances(path: str, durability: str, instances: int) -> dict[str, Any]:
    """Start ``instances`` verification flows (not timed); return their first executions."""
    engine = Engine(Path(path), durability)
    engine.start(instances)
    engine.close()
    return {"executions": list(engine.pending)}


def preload_database(path: str, instances: int, history_rows: int, workdir: str) -> dict[str, Any]:
    from bench.preload import preload

    started = time.perf_counter()
    loaded = preload(path, instances, history_rows, workdir=workdir)
    return {**loaded, "seconds": round(time.perf_counter() - started, 1), "peak_rss_mb": _peak_rss_mb()}


def _spiff_peer_child(**args: Any) -> Any:
    from bench.spiff_peer import measure_peer

    return measure_peer(**args)


def _group_commit_child(name: str):
    def child(**args: Any) -> Any:
        from bench import group_commit

        return getattr(group_commit, name)(**args)
    return child


CHILD_KINDS = {"durability": measure_durability, "scaling": measure_scaling, "alone": measure_alone,
               "floor_alone": measure_floor_alone, "worker": concurrency_worker, "start": start_instances,
               "preload": preload_database, "threads": _group_commit_child("measure_threads"),
               "wal_frames": _group_commit_child("measure_wal_frames"),
               "runtime": _group_commit_child("measure_runtime"), "peer": _spiff_peer_child}



def _child_main(spec: str) -> None:
    args = json.loads(spec)
    kind = args.pop("kind")
    print(json.dumps(CHILD_KINDS[kind](**args)), flush=True)


# -- orchestration (the parent) --------------------------------------------------------------------


IN_PROCESS = False  # --quick runs the measurements in this process (numbers meaningless anyway)


def run_child(kind: str, *, tree: Path | None = None, **args: Any) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter; return its JSON result. With ``tree``, this script runs
    from that copy of the repository (its ``bench/`` replaced by this one's), on that tree's engine."""
    spec = json.dumps({"kind": kind, **args})
    if IN_PROCESS and tree is None:  # --quick: the same code, without an interpreter's start-up each time
        return json.loads(json.dumps(CHILD_KINDS[kind](**args)))
    script, cwd = Path(__file__), ROOT
    if tree is not None:
        for name in ("engine.py", "group_commit.py", "preload.py"):
            shutil.copyfile(_HERE / name, tree / "bench" / name)
        script, cwd = tree / "bench" / "engine.py", tree
    done = subprocess.run([sys.executable, str(script), "--child", spec], cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{kind} run failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_workers(path: str, durability: str, groups: list[list[str]]) -> dict[str, Any]:
    """Start one worker process per group, release them together, aggregate their completions."""
    children = []
    for group in groups:
        spec = json.dumps({"kind": "worker", "path": path, "durability": durability, "executions": group})
        children.append(subprocess.Popen([sys.executable, __file__, "--child", spec], cwd=ROOT, text=True,
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    for child in children:
        if not child.stdout.readline():
            raise RuntimeError(f"worker failed to start:\n{child.stderr.read()}")
    for child in children:
        child.stdin.write("go\n")
        child.stdin.flush()
    results = []
    for child in children:
        out, err = child.communicate()
        if child.returncode != 0:
            raise RuntimeError(f"worker failed:\n{err}")
        results.append(json.loads(out.strip().splitlines()[-1]))
    completions = sum(r["completions"] for r in results)
    seconds = max(r["ended"] for r in results) - min(r["started"] for r in results)
    return {"processes": len(groups), "completions": completions, "seconds": seconds,
            "per_s": completions / seconds, "peak_rss_mb": max(r["peak_rss_mb"] for r in results)}


def bench_durability(workdir: Path, durability: str, instances: int, repeats: int, batch: int) -> dict[str, Any]:
    reps = [run_child("durability", workdir=str(workdir), durability=durability, instances=instances, batch=batch)
            for _ in range(repeats)]
    ratios = [r["engine"]["per_s"] / r["floor"]["per_s"] for r in reps]
    replay_ratios = [r["replay"]["per_s"] / r["floor"]["per_s"] for r in reps]
    db = workdir / "alone.db"
    _remove_db(db)
    alone = run_child("alone", path=str(db), durability=durability, instances=instances)
    _remove_db(db)
    floor_alone = run_child("floor_alone", path=str(db), durability=durability, instances=instances)
    _remove_db(db)
    ratio = median(ratios)
    return {
        "durability": durability, "instances": instances, "completions": 3 * instances,
        "floor_completions_per_s": median([r["floor"]["per_s"] for r in reps]),
        "engine_completions_per_s": median([r["engine"]["per_s"] for r in reps]),
        "engine_starts_per_s": median([r["starts"]["per_s"] for r in reps]),
        "ratio": ratio, "ratios": ratios, "target": TARGETS[durability], "met": ratio >= TARGETS[durability],
        "sql_replay_completions_per_s": median([r["replay"]["per_s"] for r in reps]),
        "sql_replay_ratio": median(replay_ratios), "sql_replay_ratios": replay_ratios,
        "statements_per_start": alone["statements_per_start"],
        "statements_per_completion": alone["statements_per_completion"],
        "floor_wal_frames_per_completion": reps[-1]["floor_wal_frames_per_completion"],
        "engine_wal_frames_per_completion": reps[-1]["engine_wal_frames_per_completion"],
        "floor_peak_rss_mb": floor_alone["peak_rss_mb"],
        "engine_peak_rss_mb": alone["peak_rss_mb"],
    }


def bench_scaling(workdir: Path, instances: int, repeats: int, batch: int, preload_instances: int,
                  preload_history: int) -> dict[str, Any]:
    big_db = workdir / "preloaded.db"
    _remove_db(big_db)
    loaded = run_child("preload", path=str(big_db), instances=preload_instances, history_rows=preload_history,
                       workdir=str(workdir))
    reps = [run_child("scaling", workdir=str(workdir), preloaded=str(big_db), instances=instances, batch=batch)
            for _ in range(repeats)]
    alone = run_child("alone", path=str(big_db), durability="FULL", instances=instances, count_statements=False)
    _remove_db(big_db)
    db = workdir / "alone.db"
    _remove_db(db)
    empty_alone = run_child("alone", path=str(db), durability="FULL", instances=instances, count_statements=False)
    _remove_db(db)
    ratios = [r["runs"]["preloaded"]["per_s"] / r["runs"]["empty"]["per_s"] for r in reps]
    ratio = median(ratios)
    return {
        "durability": "FULL", "instances": instances, "preload": loaded,
        "empty_completions_per_s": median([r["runs"]["empty"]["per_s"] for r in reps]),
        "preloaded_completions_per_s": median([r["runs"]["preloaded"]["per_s"] for r in reps]),
        "empty_starts_per_s": median([r["starts"]["empty"]["per_s"] for r in reps]),
        "preloaded_starts_per_s": median([r["starts"]["preloaded"]["per_s"] for r in reps]),
        "ratio": ratio, "ratios": ratios, "target": TARGETS["scaling"], "met": ratio >= TARGETS["scaling"],
        "empty_peak_rss_mb": empty_alone["peak_rss_mb"], "preloaded_peak_rss_mb": alone["peak_rss_mb"],
    }


def bench_concurrency(workdir: Path, instances: int, processes: int, repeats: int) -> dict[str, Any]:
    """``instances`` in all, completed by 1 process, then by ``processes`` processes at once (FULL)."""
    ones, manys, ratios = [], [], []
    for repeat in range(repeats):
        got: dict[str, dict[str, Any]] = {}
        for kind in (("one", "many") if repeat % 2 == 0 else ("many", "one")):
            db = workdir / f"concurrency-{kind}.db"
            _remove_db(db)
            executions = run_child("start", path=str(db), durability="FULL", instances=instances)["executions"]
            count = 1 if kind == "one" else processes
            got[kind] = run_workers(str(db), "FULL", [executions[i::count] for i in range(count)])
            if got[kind]["completions"] != 3 * instances:
                raise RuntimeError(f"{count} process(es) completed {got[kind]['completions']} of {3 * instances}")
            _remove_db(db)
        ones.append(got["one"])
        manys.append(got["many"])
        ratios.append(got["many"]["per_s"] / got["one"]["per_s"])
    ratio = median(ratios)
    return {
        "durability": "FULL", "processes": processes, "instances": instances, "completions": 3 * instances,
        "one_process_completions_per_s": median([o["per_s"] for o in ones]),
        "aggregate_completions_per_s": median([m["per_s"] for m in manys]),
        "ratio": ratio, "ratios": ratios, "target": TARGETS["concurrency"], "met": ratio >= TARGETS["concurrency"],
        "one_process_peak_rss_mb": max(o["peak_rss_mb"] for o in ones),
        "per_process_peak_rss_mb": max(m["peak_rss_mb"] for m in manys),
    }


def bench_group_commit(workdir: Path, durability: str, instances: int, repeats: int, segment: int,
                       against: Path | None) -> dict[str, Any]:
    """Floors of K steps per commit, the engine with 1/4/8/16 threads (group commit on and off) and, with
    ``against``, the engine of that tree with one thread: children alternating, each interleaved inside."""
    from bench.group_commit import FLOOR_KS, THREADS

    reps, befores = [], []
    for repeat in range(repeats):
        def after() -> None:
            reps.append(run_child("threads", workdir=str(workdir), durability=durability, instances=instances,
                                  segment=segment, thread_counts=list(THREADS), floor_ks=list(FLOOR_KS), off=True))

        def before() -> None:
            befores.append(run_child("threads", tree=against, workdir=str(workdir), durability=durability,
                                     instances=instances, segment=segment, thread_counts=[1], floor_ks=[1]))

        for step in ((after, before) if repeat % 2 == 0 else (before, after)):
            if step is after or against is not None:
                step()
    out: dict[str, Any] = {"durability": durability, "repeats": repeats, "runs": reps, "before_runs": befores}
    floor = [r["floor K=1"]["per_s"] for r in reps]
    out["floor"] = {f"K={k}": {"per_s": median([r[f"floor K={k}"]["per_s"] for r in reps]),
                               "vs_K1": median([r[f"floor K={k}"]["per_s"] / f
                                                for r, f in zip(reps, floor, strict=True)])}
                    for k in FLOOR_KS}
    for mode in ("on", "off"):
        out[mode] = {}
        for t in THREADS:
            key = f"{mode} {t}"
            out[mode][t] = {
                "per_s": median([r[key]["per_s"] for r in reps]),
                "vs_floor": median([r[key]["per_s"] / f for r, f in zip(reps, floor, strict=True)]),
                "vs_1_thread": median([r[key]["per_s"] / r[f"{mode} 1"]["per_s"] for r in reps]),
                "p50_ms": median([r[key]["p50_ms"] for r in reps]),
                "p99_ms": median([r[key]["p99_ms"] for r in reps]),
                "p99_vs_1_thread": median([r[key]["p99_ms"] / r[f"{mode} 1"]["p99_ms"] for r in reps]),
            }
    out["steps_per_commit"] = median([r["batches"][1] / r["batches"][0] for r in reps if r["batches"]])
    if befores:  # each against its own floor: the disk's weather cancels out
        after_ratio = [r["on 1"]["per_s"] / r["floor K=1"]["per_s"] for r in reps]
        before_ratio = [b["on 1"]["per_s"] / b["floor K=1"]["per_s"] for b in befores]
        out["before_1_thread_per_s"] = median([b["on 1"]["per_s"] for b in befores])
        out["one_thread_vs_before"] = median([a / b for a, b in zip(after_ratio, before_ratio, strict=True)])
        out["one_thread_vs_before_raw"] = median([r["on 1"]["per_s"] / b["on 1"]["per_s"]
                                                  for r, b in zip(reps, befores, strict=True)])
    on = out["on"]
    targets = {"8 threads >= 1.5x floor": (on[8]["vs_floor"], 1.5) if durability == "FULL" else None,
               "8 threads >= 2.5x 1 thread": (on[8]["vs_1_thread"], 2.5) if durability == "FULL" else None,
               "8 threads >= 2x 1 thread": (on[8]["vs_1_thread"], 2.0) if durability == "NORMAL" else None,
               "p99 8 threads <= 3x 1 thread": (on[8]["p99_vs_1_thread"], 3.0),
               "1 thread >= 95% of before": (out.get("one_thread_vs_before"), 0.95) if befores else None}
    out["targets"] = {}
    for name, pair in targets.items():
        if pair is None:
            continue
        value, bound = pair
        met = value <= bound if name.startswith("p99") else value >= bound
        out["targets"][name] = {"value": value, "bound": bound, "met": met}
    return out


def bench_runtime(workdir: Path, durability: str, instances: int, repeats: int, workers: int) -> dict[str, Any]:
    """The worker runtime's pool with no-op workers, group commit on and off, alternating."""
    runs: dict[str, list] = {"on": [], "off": []}
    for repeat in range(repeats):
        for mode in (("on", "off") if repeat % 2 == 0 else ("off", "on")):
            runs[mode].append(run_child("runtime", workdir=str(workdir), durability=durability, instances=instances,
                                        workers=workers, batch_steps=64 if mode == "on" else 1))
    return {"durability": durability, "workers": workers, "instances": instances, "runs": runs,
            "on_per_s": median([r["completions_per_s"] for r in runs["on"]]),
            "off_per_s": median([r["completions_per_s"] for r in runs["off"]]),
            "on_vs_off": median([a["completions_per_s"] / b["completions_per_s"]
                                 for a, b in zip(runs["on"], runs["off"], strict=True)]),
            "steps_per_commit": median([r["batches"][1] / r["batches"][0] for r in runs["on"] if r["batches"]])}


def bench_peer(workdir: Path, durability: str, instances: int, repeats: int, segment: int) -> dict[str, Any]:
    """SpiffWorkflow serialized to SQLite after each step, interleaved with the engine (one thread)."""
    reps = [run_child("peer", workdir=str(workdir), durability=durability, instances=instances, segment=segment)
            for _ in range(repeats)]
    for r in reps:
        if r["engine_completed"] != instances or r["spiff_completed"] != instances:
            raise RuntimeError(f"the peer run finished {r['engine_completed']} and {r['spiff_completed']} "
                               f"of {instances} instances")
    return {"durability": durability, "instances": instances,
            "engine_per_s": median([r["runs"]["engine"]["per_s"] for r in reps]),
            "spiff_per_s": median([r["runs"]["spiff"]["per_s"] for r in reps]),
            "engine_starts_per_s": median([r["starts"]["engine"]["per_s"] for r in reps]),
            "spiff_starts_per_s": median([r["starts"]["spiff"]["per_s"] for r in reps]),
            "engine_vs_spiff": median([r["runs"]["engine"]["per_s"] / r["runs"]["spiff"]["per_s"] for r in reps])}


def group_commit_table(result: dict[str, Any]) -> list[str]:
    lines = ["", "group commit (issue 20): completions/s, median of the runs; ratios are medians of per-run ratios"]
    for d in result.get("group_commit", {}).values():
        lines.append("")
        lines.append(f"{d['durability']}: floor with K steps per commit (plain sqlite3)")
        lines.append("  " + "   ".join(f"K={k.split('=')[1]}: {v['per_s']:,.0f}/s ({v['vs_K1']:.2f}x)"
                                       for k, v in d["floor"].items()))
        lines.append(f"{d['durability']}: the engine, T threads completing at once on one store "
                     f"(steps per commit with group commit: {d['steps_per_commit']:.2f})")
        lines.append(f"  {'threads':>7}  {'on /s':>8} {'vs floor':>8} {'vs 1 thr':>8} {'p50 ms':>7} {'p99 ms':>7}"
                     f" {'p99 vs 1':>8}   {'off /s':>8} {'vs floor':>8} {'p99 ms':>7}")
        for t, on in d["on"].items():
            off = d["off"][t]
            lines.append(f"  {t:>7}  {on['per_s']:>8,.0f} {on['vs_floor']:>8.2f} {on['vs_1_thread']:>8.2f} "
                         f"{on['p50_ms']:>7.2f} {on['p99_ms']:>7.2f} {on['p99_vs_1_thread']:>8.2f}   "
                         f"{off['per_s']:>8,.0f} {off['vs_floor']:>8.2f} {off['p99_ms']:>7.2f}")
        if "one_thread_vs_before" in d:
            lines.append(f"  1 thread before group commit: {d['before_1_thread_per_s']:,.0f}/s; after/before "
                         f"{d['one_thread_vs_before']:.3f} (each against its own floor), "
                         f"{d['one_thread_vs_before_raw']:.3f} raw")
        for name, target in d["targets"].items():
            lines.append(f"  target {name}: {target['value']:.2f} -> {'met' if target['met'] else 'NOT met'}")
    frames = result.get("wal_frames")
    if frames:
        lines.append("")
        lines.append("WAL frames per completion (NORMAL, checkpoints off): "
                     + ", ".join(f"{k} {v:.1f}" for k, v in frames.items()))
    rt = result.get("runtime")
    if rt:
        lines.append("")
        lines.append(f"worker runtime, {rt['workers']} pool threads, no-op workers, {rt['instances']} instances, "
                     f"{rt['durability']}: group commit on {rt['on_per_s']:,.0f} completions/s, off "
                     f"{rt['off_per_s']:,.0f}/s, on/off {rt['on_vs_off']:.2f}, "
                     f"{rt['steps_per_commit']:.2f} steps per commit")
    for p in result.get("peer", {}).values():
        lines.append(f"peer, {p['durability']}: SpiffWorkflow 3 serialized to SQLite after each "
                     f"step {p['spiff_per_s']:,.0f} completions/s ({p['spiff_starts_per_s']:,.0f} starts/s); the "
                     f"engine, one thread, {p['engine_per_s']:,.0f}/s ({p['engine_starts_per_s']:,.0f} starts/s): "
                     f"engine/peer {p['engine_vs_spiff']:.1f}x")
    return lines


def machine() -> dict[str, Any]:
    return {"cores": os.cpu_count(), "python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
            "machine": platform.machine(), "system": f"{platform.system()} {platform.release()}",
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")}


def run(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="wfbench-", dir=args.dir))
    try:
        result: dict[str, Any] = {"machine": machine(), "settings": {
            "instances": args.instances, "repeats": args.repeats, "batch": args.batch,
            "preload_instances": args.preload_instances, "preload_history": args.preload_history,
            "processes": args.processes, "quick": args.quick}}
        parts = set(args.parts.split(","))
        if "durability" in parts:
            result["durability"] = {d: bench_durability(workdir, d, args.instances, args.repeats, args.batch)
                                    for d in ("FULL", "NORMAL")}
        if "scaling" in parts:
            result["scaling"] = bench_scaling(workdir, args.instances, args.repeats, args.batch,
                                              args.preload_instances, args.preload_history)
        if "concurrency" in parts:
            result["concurrency"] = bench_concurrency(workdir, args.instances, args.processes, args.repeats)
        if "groupcommit" in parts:
            against = Path(args.against).resolve() if args.against else None
            result["group_commit"] = {d: bench_group_commit(workdir, d, args.instances, args.repeats, args.batch,
                                                            against) for d in ("FULL", "NORMAL")}
            result["wal_frames"] = run_child("wal_frames", workdir=str(workdir), instances=min(args.instances, 300),
                                             thread_counts=[1, 8])
            result["runtime"] = bench_runtime(workdir, "FULL", args.instances, args.repeats, 8)
            result["peer"] = {d: bench_peer(workdir, d, min(args.instances, 200), args.repeats, args.batch)
                              for d in ("FULL", "NORMAL")}
        result["targets_met"] = all([*(d["met"] for d in result.get("durability", {}).values()),
                                     *(result[p]["met"] for p in ("scaling", "concurrency") if p in result),
                                     *(t["met"] for d in result.get("group_commit", {}).values()
                                       for t in d["targets"].values())])
        return result
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def table(result: dict[str, Any]) -> str:
    m, s = result["machine"], result["settings"]
    lines = [f"{m['cores']} cores, {m['machine']}, Python {m['python']}, SQLite {m['sqlite']}, {m['date']}; "
             f"{s['instances']} instances x 3 completions per run, batches of {s['batch']}, "
             f"median of {s['repeats']} runs",
             "",
             f"{'run':<38}{'completions/s':>14}{'starts/s':>10}{'vs':>8}{'ratio':>7}{'target':>7}"
             f"{'met':>5}{'peak RSS MB':>13}{'stmts/step':>11}{'WAL pages/step':>16}",
             "-" * 129]

    def row(name, per_s, starts="", against="", ratio="", target="", met="", rss="", statements="",
            frames="") -> None:
        lines.append(f"{name:<38}{per_s:>14,.0f}{starts:>10}{against:>8}{ratio:>7}{target:>7}{met:>5}"
                     f"{rss:>13}{statements:>11}{frames:>16}")

    for d in result.get("durability", {}).values():
        row(f"floor, sqlite3, {d['durability']}", d["floor_completions_per_s"], rss=f"{d['floor_peak_rss_mb']:.0f}",
            statements="4", frames=f"{d['floor_wal_frames_per_completion']:.1f}")
        row(f"engine, {d['durability']}", d["engine_completions_per_s"], f"{d['engine_starts_per_s']:,.0f}",
            "floor", f"{d['ratio']:.0%}", f"{d['target']:.0%}", "yes" if d["met"] else "NO",
            f"{d['engine_peak_rss_mb']:.0f}", f"{d['statements_per_completion']:.1f}",
            f"{d['engine_wal_frames_per_completion']:.1f}")
        row(f"  its SQL replayed, no engine, {d['durability']}", d["sql_replay_completions_per_s"], "", "floor",
            f"{d['sql_replay_ratio']:.0%}")
    sc = result.get("scaling")
    if sc:
        row("engine, FULL, empty database", sc["empty_completions_per_s"], f"{sc['empty_starts_per_s']:,.0f}",
            rss=f"{sc['empty_peak_rss_mb']:.0f}")
        row(f"engine, FULL, {sc['preload']['instances']:,} preloaded", sc["preloaded_completions_per_s"],
            f"{sc['preloaded_starts_per_s']:,.0f}", "empty", f"{sc['ratio']:.0%}", f"{sc['target']:.0%}",
            "yes" if sc["met"] else "NO", f"{sc['preloaded_peak_rss_mb']:.0f}")
    cc = result.get("concurrency")
    if cc:
        row("engine, FULL, 1 process", cc["one_process_completions_per_s"],
            rss=f"{cc['one_process_peak_rss_mb']:.0f}")
        row(f"engine, FULL, {cc['processes']} processes (aggregate)", cc["aggregate_completions_per_s"], "",
            "1 proc", f"{cc['ratio']:.0%}", f"{cc['target']:.0%}", "yes" if cc["met"] else "NO",
            f"{cc['per_process_peak_rss_mb']:.0f} each")
    lines.append("")
    if sc:
        p = sc["preload"]
        lines.append(f"preloaded database: {p['instances']:,} finished instances, {p['history_rows']:,} history "
                     f"rows, {p['file_mb']} MB, written in {p['seconds']} s (peak RSS {p['peak_rss_mb']:.0f} MB)")
    lines.extend(group_commit_table(result))
    lines.append("all targets met" if result["targets_met"] else "targets NOT all met")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--quick", action="store_true", help="a tiny run for a smoke test (numbers meaningless)")
    parser.add_argument("--instances", type=int, default=1000, help="instances per run (3 completions each)")
    parser.add_argument("--repeats", type=int, default=5, help="repetitions; medians are reported")
    parser.add_argument("--batch", type=int, default=150, help="completions per batch when interleaving")
    parser.add_argument("--preload-instances", type=int, default=100_000)
    parser.add_argument("--preload-history", type=int, default=1_000_000)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--parts", default="durability,scaling,concurrency,groupcommit",
                        help="comma-separated subset of durability,scaling,concurrency,groupcommit")
    parser.add_argument("--against", default=None,
                        help="groupcommit: a copy of the tree before group commit, measured in the same run")
    parser.add_argument("--dir", default=None, help="where the database files go (default: the temp dir)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child_main(args.child)
        return 0
    if args.quick:
        global IN_PROCESS
        IN_PROCESS = True
        args.instances, args.repeats, args.batch = 20, 1, 10
        args.preload_instances, args.preload_history = 500, 5000
    result = run(args)
    print(json.dumps(result, indent=2) if args.json else table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
