"""Engine throughput on PostgreSQL against its floor, and scaling with processes beside SQLite (issue 16).

    .venv/bin/python bench/postgres.py                 # the full benchmark, a table
    .venv/bin/python bench/postgres.py --json          # the same as JSON
    .venv/bin/python bench/postgres.py --quick         # a tiny run (seconds; numbers meaningless)
    .venv/bin/python bench/postgres.py --url postgresql://user@host:5432/db   # default: $WFCONSOLE_TEST_POSTGRES_URL

The benchmark makes a database of its own on the server (dropped at the end). What it measures:

- **floor**: plain psycopg, one ``BEGIN; UPDATE one row; INSERT one history row; COMMIT`` per completion,
  on one connection (the server's defaults: ``synchronous_commit = on``, so every commit waits for its WAL
  flush, as the engine's do);
- **engine**: ``WorkflowManager`` on a PostgreSQL store, the verification flow of ``bench/engine.py``
  (3 ``task_done`` per instance), completions per second in one process. Floor and engine run interleaved
  in batches, in a different order each round; the ratio is the median of the per-round ratios;
- **scaling**: 1, 2, 4 and 8 processes, each completing the tasks of its own instances on one database at
  once (every process started and ready before a common go), on PostgreSQL and on an SQLite file
  (``synchronous=FULL``): total completions per second, and the ratio to one process of the same backend.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import deque
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent
ROOT = _HERE.parent
if sys.path and Path(sys.path[0]).resolve() == _HERE:
    sys.path[0] = str(ROOT)
elif str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"


def _url_with(url: str, **parts: Any) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(**parts).render_as_string(hide_password=False)


class Floor:
    """The one durable transaction a completion must make, over psycopg, with nothing else around it."""

    def __init__(self, url: str, rows: int) -> None:
        import psycopg

        self.connection = psycopg.connect(url, autocommit=True)
        self.connection.execute("CREATE SCHEMA floor")  # beside the engine's tables, not among them
        self.connection.execute("SET search_path = floor")
        self.connection.execute("CREATE TABLE items (id TEXT PRIMARY KEY, status TEXT NOT NULL, "
                                "updated_at TEXT NOT NULL)")
        self.connection.execute("CREATE TABLE floor_history (seq BIGSERIAL PRIMARY KEY, item_id TEXT NOT NULL "
                                "REFERENCES items(id), at TEXT NOT NULL, kind TEXT NOT NULL, details TEXT NOT NULL)")
        self.connection.execute("CREATE INDEX ix_floor_history_item ON floor_history (item_id, seq)")
        self.ids = [f"item-{i:08d}" for i in range(max(1, rows))]
        with self.connection.cursor() as cursor:
            cursor.executemany("INSERT INTO items VALUES (%s, 'ACTIVE', '')", [(i,) for i in self.ids])
        self.cursor = self.connection.cursor()
        self.done = 0

    def run(self, count: int) -> int:
        cursor, ids = self.cursor, self.ids
        for n in range(self.done, self.done + count):
            item = ids[n % len(ids)]
            at = datetime.now(UTC).isoformat()
            cursor.execute("BEGIN")
            cursor.execute("UPDATE items SET status = 'DONE', updated_at = %s WHERE id = %s", (at, item))
            cursor.execute("INSERT INTO floor_history (item_id, at, kind, details) VALUES (%s, %s, 'DONE', '{}')",
                           (item, at))
            cursor.execute("COMMIT")
        self.done += count
        return count

    def close(self) -> None:
        self.connection.close()


class Engine:
    """``WorkflowManager`` on a store, running verification flows; ``pending`` holds the open executions."""

    def __init__(self, db: str) -> None:
        from bench.preload import VERIFICATION_FLOW
        from engine import WorkflowManager
        from store import open_store

        self.store = open_store(db)
        self.manager = WorkflowManager(self.store)
        self.manager.add_workflow(VERIFICATION_FLOW)
        self.pending: deque[str] = deque()
        self.manager.register_task_handler(lambda payload: self.pending.append(payload.execution_id))

    def start(self, count: int, prefix: str = "c") -> None:
        for i in range(count):
            self.manager.start_workflow("verification", {"customer": f"{prefix}-{i:06d}"})

    def run(self, count: int) -> int:
        from bench.preload import outputs_for

        done = 0
        while self.pending and done < count:
            execution_id = self.pending.popleft()
            self.manager.task_done(execution_id, outputs_for(execution_id.split(":")[1]))
            done += 1
        return done

    def close(self) -> None:
        self.store.close()


def bench_floor_and_engine(url: str, instances: int, rounds: int, batch: int) -> dict[str, Any]:
    floor = Floor(url, instances)
    engine = Engine(url)
    engine.start(instances)  # not timed
    floor.run(50)  # warm: prepared statements, caches
    engine.run(30)
    rates: dict[str, list[float]] = {"floor": [], "engine": []}
    for round_ in range(rounds):
        for name in (("floor", "engine") if round_ % 2 == 0 else ("engine", "floor")):
            worker = floor if name == "floor" else engine
            started = time.perf_counter()
            done = worker.run(batch)
            elapsed = time.perf_counter() - started
            if done:
                rates[name].append(done / elapsed)
    floor.close()
    engine.close()
    pairs = list(zip(rates["engine"], rates["floor"], strict=False))
    return {"floor_per_s": statistics.median(rates["floor"]), "engine_per_s": statistics.median(rates["engine"]),
            "ratio": statistics.median(e / f for e, f in pairs), "rounds": len(pairs), "batch": batch}


def worker_main(db: str, instances: int, prefix: str) -> None:
    """A scaling process: start its instances (not timed), say ready, wait for the go, complete everything."""
    engine = Engine(db)
    engine.start(instances, prefix)
    print(json.dumps({"ready": True}), flush=True)
    sys.stdin.readline()
    started = time.monotonic()
    completions = 0
    while got := engine.run(1000):
        completions += got
    ended = time.monotonic()
    engine.close()
    print(json.dumps({"completions": completions, "started": started, "ended": ended}), flush=True)


def run_processes(db: str, processes: int, instances: int) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    children = [subprocess.Popen([sys.executable, __file__, "--worker", db, str(instances), f"p{n}"],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
                for n in range(processes)]
    for child in children:
        line = child.stdout.readline()
        if not line:
            raise RuntimeError(f"a scaling process died before it was ready (exit {child.wait()})")
    for child in children:
        child.stdin.write("go\n")
        child.stdin.flush()
    results = []
    for child in children:
        results.append(json.loads(child.stdout.readline()))
        child.wait()
    total = sum(r["completions"] for r in results)
    elapsed = max(r["ended"] for r in results) - min(r["started"] for r in results)
    return {"processes": processes, "completions": total, "seconds": elapsed, "per_s": total / elapsed}


def bench_scaling(url: str, workdir: Path, counts: list[int], instances: int) -> dict[str, Any]:
    import psycopg

    rows: dict[str, list[dict]] = {"postgres": [], "sqlite": []}
    for processes in counts:
        schema = f"scale_{processes}_{uuid.uuid4().hex[:6]}"
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f'CREATE SCHEMA "{schema}"')
        pg_db = f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
        Engine(pg_db).close()  # the tables, before the processes race to make them
        rows["postgres"].append(run_processes(pg_db, processes, instances))
        sqlite_db = str(workdir / f"scale-{processes}.db")
        Engine(sqlite_db).close()
        rows["sqlite"].append(run_processes(sqlite_db, processes, instances))
    for backend in rows.values():
        one = backend[0]["per_s"]
        for row in backend:
            row["vs_one"] = row["per_s"] / one
    return rows


def run(args: argparse.Namespace) -> dict[str, Any]:
    import psycopg

    base = args.url or os.environ.get("WFCONSOLE_TEST_POSTGRES_URL", DEFAULT_URL)
    database = f"wfconsole_bench_{os.getpid()}"
    with psycopg.connect(base, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{database}"')
        settings = {name: admin.execute(f"SHOW {name}").fetchone()[0]
                    for name in ("server_version", "synchronous_commit", "fsync", "shared_buffers")}
    url = _url_with(base, database=database, drivername="postgresql")
    try:
        quick = args.quick
        result: dict[str, Any] = {
            "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform(),
                        "postgres": settings},
            "floor_and_engine": bench_floor_and_engine(url, instances=30 if quick else 400,
                                                       rounds=2 if quick else 8, batch=20 if quick else 120),
        }
        with tempfile.TemporaryDirectory(prefix="wfconsole-bench-pg-") as workdir:
            result["scaling"] = bench_scaling(url, Path(workdir), [1, 2] if quick else [1, 2, 4, 8],
                                              instances=5 if quick else 80)
    finally:
        with psycopg.connect(base, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    return result


def table(result: dict[str, Any]) -> str:
    fe = result["floor_and_engine"]
    lines = [f"PostgreSQL {result['machine']['postgres']['server_version']} "
             f"(synchronous_commit={result['machine']['postgres']['synchronous_commit']}), "
             f"{result['machine']['cpus']} CPUs",
             "",
             f"floor (BEGIN; UPDATE; INSERT; COMMIT over psycopg): {fe['floor_per_s']:8.0f} /s",
             f"engine completions, one process:                  {fe['engine_per_s']:8.0f} /s",
             f"engine / floor (median of {fe['rounds']} interleaved rounds):     {fe['ratio']:8.0%}",
             "",
             "processes | PostgreSQL /s | vs 1 | SQLite /s | vs 1",
             "--------- | ------------- | ---- | --------- | ----"]
    for pg, lite in zip(result["scaling"]["postgres"], result["scaling"]["sqlite"], strict=True):
        lines.append(f"{pg['processes']:9d} | {pg['per_s']:13.0f} | {pg['vs_one']:4.2f} | {lite['per_s']:9.0f} | "
                     f"{lite['vs_one']:4.2f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--worker":
        worker_main(argv[1], int(argv[2]), argv[3])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--quick", action="store_true", help="a tiny run for a smoke test (numbers meaningless)")
    parser.add_argument("--url", help="the PostgreSQL server (default: $WFCONSOLE_TEST_POSTGRES_URL, else "
                                      f"{DEFAULT_URL}); the benchmark makes and drops a database of its own there")
    args = parser.parse_args(argv)
    result = run(args)
    print(json.dumps(result, indent=2) if args.json else table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
