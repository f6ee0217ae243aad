"""Engine throughput against the SQLite floor (issue 7).

    .venv/bin/python bench/engine.py            # the full benchmark, a table
    .venv/bin/python bench/engine.py --json     # the same as JSON
    .venv/bin/python bench/engine.py --quick    # a tiny run (seconds), for CI's smoke test

What it measures, each run in a fresh child process (so that its peak RSS is its own):

- **floor**: plain ``sqlite3`` with the store's pragmas (WAL, ``synchronous``, ``busy_timeout``,
  ``foreign_keys``), one ``BEGIN IMMEDIATE; UPDATE one row; INSERT one history row; COMMIT`` per completion;
- **engine**: N instances of the Go engine's verification flow through ``WorkflowManager`` on a file
  database: starts per second, then completions per second (3 ``task_done`` per instance);
- both durabilities (``FULL``, ``NORMAL``), each against its own floor, floor and engine interleaved in each
  repetition so that the load of a shared machine falls on both;
- **scaling**: the engine on an empty database and on one preloaded with 100,000 finished instances
  (about 1,000,000 history rows, written by :mod:`bench.preload` with ``executemany``);
- **concurrency**: 4 processes completing tasks on one file at once, against 1 process doing the same work.

Every figure is the median over the repetitions; ratios are medians of the per-repetition ratios.
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


# -- measurements (each runs in a child process) ----------------------------------------------------


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


def measure_floor(path: str, durability: str, completions: int, rows: int) -> dict[str, Any]:
    """The cost of the one durable transaction a completion must make, with nothing else around it."""
    connection = sqlite3.connect(path, isolation_level=None, timeout=30)
    for pragma in ("journal_mode=WAL", f"synchronous={durability}", "foreign_keys=ON", "busy_timeout=30000"):
        connection.execute(f"PRAGMA {pragma}")
    connection.execute("CREATE TABLE IF NOT EXISTS items (id TEXT PRIMARY KEY, status TEXT NOT NULL, "
                       "updated_at TEXT NOT NULL)")
    connection.execute("CREATE TABLE IF NOT EXISTS history (seq INTEGER PRIMARY KEY, item_id TEXT NOT NULL "
                       "REFERENCES items(id), at TEXT NOT NULL, kind TEXT NOT NULL, details TEXT NOT NULL)")
    connection.execute("CREATE INDEX IF NOT EXISTS ix_history_item ON history (item_id, seq)")
    ids = [f"item-{i:08d}" for i in range(max(1, rows))]
    connection.execute("BEGIN")
    connection.executemany("INSERT OR IGNORE INTO items VALUES (?, 'ACTIVE', '')", [(i,) for i in ids])
    connection.execute("COMMIT")
    cursor = connection.cursor()
    started = time.perf_counter()
    for n in range(completions):
        item = ids[n % len(ids)]
        at = datetime.now(UTC).isoformat()
        cursor.execute("BEGIN IMMEDIATE")
        cursor.execute("UPDATE items SET status = 'DONE', updated_at = ? WHERE id = ?", (at, item))
        cursor.execute("INSERT INTO history (item_id, at, kind, details) VALUES (?, ?, 'DONE', '{}')", (item, at))
        cursor.execute("COMMIT")
    seconds = time.perf_counter() - started
    connection.close()
    return {"completions": completions, "seconds": seconds, "completions_per_s": completions / seconds,
            "peak_rss_mb": _peak_rss_mb()}


def _open_manager(path: str, durability: str):
    from bench.preload import VERIFICATION_FLOW
    from engine import WorkflowManager
    from store import open_store

    store = open_store(path, durability=durability)
    manager = WorkflowManager(store)
    manager.add_workflow(VERIFICATION_FLOW)
    pending: deque[str] = deque()
    manager.register_task_handler(lambda payload: pending.append(payload.execution_id))
    return store, manager, pending


def _complete(manager, pending: deque[str]) -> int:
    from bench.preload import outputs_for

    done = 0
    while pending:
        execution_id = pending.popleft()
        manager.task_done(execution_id, outputs_for(execution_id.split(":")[1]))
        done += 1
    return done


def _count_statements(store, manager, pending: deque[str], instances: int) -> dict[str, float]:
    """SQL statements executed per start and per completion (BEGIN and COMMIT included)."""
    from sqlalchemy import event

    counter = [0]
    store.engine.dispose()  # new connections get the trace callback

    @event.listens_for(store.engine, "connect")
    def _trace(dbapi_connection, _record) -> None:
        dbapi_connection.set_trace_callback(lambda _sql: counter.__setitem__(0, counter[0] + 1))

    for _ in range(instances):
        manager.start_workflow("verification", {"customer": "c-000001"})
    per_start = counter[0] / instances
    counter[0] = 0
    done = _complete(manager, pending)
    return {"statements_per_start": per_start, "statements_per_completion": counter[0] / done}


def measure_engine(path: str, durability: str, instances: int, count_statements: bool = True) -> dict[str, Any]:
    """Start ``instances`` verification flows, then complete their 3 tasks each, through the manager."""
    store, manager, pending = _open_manager(path, durability)
    started = time.perf_counter()
    for i in range(instances):
        manager.start_workflow("verification", {"customer": f"c-{i:06d}"})
    start_seconds = time.perf_counter() - started
    started = time.perf_counter()
    completions = _complete(manager, pending)
    seconds = time.perf_counter() - started
    finished = store.count_instances().get("COMPLETED", 0)
    result = {"instances": instances, "completions": completions, "seconds": seconds,
              "completions_per_s": completions / seconds, "starts_per_s": instances / start_seconds,
              "completed_instances": finished}
    if count_statements:
        result.update(_count_statements(store, manager, pending, 5))
    store.close()
    result["peak_rss_mb"] = _peak_rss_mb()
    return result


def concurrency_worker(path: str, durability: str, executions: list[str]) -> dict[str, Any]:
    """Complete ``executions`` and whatever they lead to; wait for the parent's go on stdin first."""
    store, manager, pending = _open_manager(path, durability)
    pending.extend(executions)
    print(json.dumps({"ready": True}), flush=True)
    sys.stdin.readline()
    started = time.monotonic()  # CLOCK_MONOTONIC: comparable between processes on one machine
    completions = _complete(manager, pending)
    ended = time.monotonic()
    store.close()
    return {"completions": completions, "started": started, "ended": ended, "peak_rss_mb": _peak_rss_mb()}


def preload_database(path: str, instances: int, history_rows: int, workdir: str) -> dict[str, Any]:
    from bench.preload import preload

    started = time.perf_counter()
    loaded = preload(path, instances, history_rows, workdir=workdir)
    return {**loaded, "seconds": round(time.perf_counter() - started, 1), "peak_rss_mb": _peak_rss_mb()}


CHILD_KINDS = {"floor": measure_floor, "engine": measure_engine, "worker": concurrency_worker,
               "preload": preload_database}


def _child_main(spec: str) -> None:
    args = json.loads(spec)
    kind = args.pop("kind")
    print(json.dumps(CHILD_KINDS[kind](**args)), flush=True)


# -- orchestration (the parent) --------------------------------------------------------------------


def run_child(kind: str, **args: Any) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter; return its JSON result."""
    spec = json.dumps({"kind": kind, **args})
    done = subprocess.run([sys.executable, __file__, "--child", spec], cwd=ROOT, capture_output=True, text=True)
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
        line = child.stdout.readline()
        if not line:
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
            "completions_per_s": completions / seconds, "peak_rss_mb": max(r["peak_rss_mb"] for r in results),
            "peak_rss_mb_each": [r["peak_rss_mb"] for r in results]}


def start_instances(path: str, durability: str, instances: int) -> list[str]:
    """Start ``instances`` verification flows (not timed); return their first executions."""
    store, manager, pending = _open_manager(path, durability)
    for i in range(instances):
        manager.start_workflow("verification", {"customer": f"c-{i:06d}"})
    store.close()
    return list(pending)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def bench_durability(workdir: Path, durability: str, instances: int, repeats: int) -> dict[str, Any]:
    floors, engines, ratios = [], [], []
    for repeat in range(repeats):
        floor_db, engine_db = workdir / f"floor-{durability}.db", workdir / f"engine-{durability}.db"
        _remove_db(floor_db)
        _remove_db(engine_db)
        order = ("floor", "engine") if repeat % 2 == 0 else ("engine", "floor")  # neither always goes first
        got: dict[str, dict[str, Any]] = {}
        for kind in order:
            if kind == "floor":
                got[kind] = run_child("floor", path=str(floor_db), durability=durability,
                                      completions=3 * instances, rows=instances)
            else:
                got[kind] = run_child("engine", path=str(engine_db), durability=durability, instances=instances)
                if got[kind]["completed_instances"] != instances:
                    raise RuntimeError(f"engine run finished {got[kind]['completed_instances']} of {instances}")
        floors.append(got["floor"])
        engines.append(got["engine"])
        ratios.append(got["engine"]["completions_per_s"] / got["floor"]["completions_per_s"])
    ratio = median(ratios)
    return {
        "durability": durability, "instances": instances, "completions": 3 * instances,
        "floor_completions_per_s": median([f["completions_per_s"] for f in floors]),
        "engine_completions_per_s": median([e["completions_per_s"] for e in engines]),
        "engine_starts_per_s": median([e["starts_per_s"] for e in engines]),
        "ratio": ratio, "ratios": ratios, "target": TARGETS[durability], "met": ratio >= TARGETS[durability],
        "statements_per_start": engines[-1]["statements_per_start"],
        "statements_per_completion": engines[-1]["statements_per_completion"],
        "floor_peak_rss_mb": max(f["peak_rss_mb"] for f in floors),
        "engine_peak_rss_mb": max(e["peak_rss_mb"] for e in engines),
    }


def bench_scaling(workdir: Path, instances: int, repeats: int, preload_instances: int,
                  preload_history: int) -> dict[str, Any]:
    big_db = workdir / "preloaded.db"
    _remove_db(big_db)
    loaded = run_child("preload", path=str(big_db), instances=preload_instances, history_rows=preload_history,
                       workdir=str(workdir))
    empties, preloads, ratios = [], [], []
    for repeat in range(repeats):
        empty_db = workdir / "empty.db"
        _remove_db(empty_db)
        got: dict[str, dict[str, Any]] = {}
        for kind in (("empty", "preloaded") if repeat % 2 == 0 else ("preloaded", "empty")):
            path = empty_db if kind == "empty" else big_db
            got[kind] = run_child("engine", path=str(path), durability="FULL", instances=instances,
                                  count_statements=False)
        empties.append(got["empty"])
        preloads.append(got["preloaded"])
        ratios.append(got["preloaded"]["completions_per_s"] / got["empty"]["completions_per_s"])
    _remove_db(big_db)
    ratio = median(ratios)
    return {
        "durability": "FULL", "instances": instances, "preload": loaded,
        "empty_completions_per_s": median([e["completions_per_s"] for e in empties]),
        "preloaded_completions_per_s": median([p["completions_per_s"] for p in preloads]),
        "empty_starts_per_s": median([e["starts_per_s"] for e in empties]),
        "preloaded_starts_per_s": median([p["starts_per_s"] for p in preloads]),
        "ratio": ratio, "ratios": ratios, "target": TARGETS["scaling"], "met": ratio >= TARGETS["scaling"],
        "empty_peak_rss_mb": max(e["peak_rss_mb"] for e in empties),
        "preloaded_peak_rss_mb": max(p["peak_rss_mb"] for p in preloads),
    }


def bench_concurrency(workdir: Path, instances: int, processes: int, repeats: int) -> dict[str, Any]:
    """``instances`` in all, completed by 1 process, then by ``processes`` processes at once."""
    ones, manys, ratios = [], [], []
    for repeat in range(repeats):
        got: dict[str, dict[str, Any]] = {}
        for kind in (("one", "many") if repeat % 2 == 0 else ("many", "one")):
            db = workdir / f"concurrency-{kind}.db"
            _remove_db(db)
            executions = start_instances(str(db), "FULL", instances)
            count = 1 if kind == "one" else processes
            groups = [executions[i::count] for i in range(count)]
            got[kind] = run_workers(str(db), "FULL", groups)
            if got[kind]["completions"] != 3 * instances:
                raise RuntimeError(f"{count} process(es) completed {got[kind]['completions']} of {3 * instances}")
            _remove_db(db)
        ones.append(got["one"])
        manys.append(got["many"])
        ratios.append(got["many"]["completions_per_s"] / got["one"]["completions_per_s"])
    ratio = median(ratios)
    return {
        "durability": "FULL", "processes": processes, "instances": instances, "completions": 3 * instances,
        "one_process_completions_per_s": median([o["completions_per_s"] for o in ones]),
        "aggregate_completions_per_s": median([m["completions_per_s"] for m in manys]),
        "ratio": ratio, "ratios": ratios, "target": TARGETS["concurrency"], "met": ratio >= TARGETS["concurrency"],
        "one_process_peak_rss_mb": max(o["peak_rss_mb"] for o in ones),
        "per_process_peak_rss_mb": max(m["peak_rss_mb"] for m in manys),
    }


def machine() -> dict[str, Any]:
    return {"cores": os.cpu_count(), "python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
            "machine": platform.machine(), "system": f"{platform.system()} {platform.release()}",
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")}


def run(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="wfbench-", dir=args.dir))
    try:
        result: dict[str, Any] = {"machine": machine(), "settings": {
            "instances": args.instances, "repeats": args.repeats, "preload_instances": args.preload_instances,
            "preload_history": args.preload_history, "processes": args.processes, "quick": args.quick,
            "workdir_filesystem": str(args.dir or tempfile.gettempdir())}}
        parts = set(args.parts.split(","))
        if "durability" in parts:
            result["durability"] = {d: bench_durability(workdir, d, args.instances, args.repeats)
                                    for d in ("FULL", "NORMAL")}
        if "scaling" in parts:
            result["scaling"] = bench_scaling(workdir, args.instances, args.repeats, args.preload_instances,
                                              args.preload_history)
        if "concurrency" in parts:
            result["concurrency"] = bench_concurrency(workdir, args.instances, args.processes, args.repeats)
        result["targets_met"] = all([*(d["met"] for d in result.get("durability", {}).values()),
                                     *(result[p]["met"] for p in ("scaling", "concurrency") if p in result)])
        return result
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def table(result: dict[str, Any]) -> str:
    m, s = result["machine"], result["settings"]
    lines = [f"{m['cores']} cores, {m['machine']}, Python {m['python']}, SQLite {m['sqlite']}, {m['date']}; "
             f"{s['instances']} instances x 3 completions, median of {s['repeats']}",
             "",
             f"{'run':<34}{'completions/s':>14}{'starts/s':>10}{'vs':>10}{'ratio':>8}{'target':>8}"
             f"{'met':>5}{'peak RSS MB':>13}{'stmts/step':>12}",
             "-" * 114]

    def row(name, per_s, starts, against, ratio, target, met, rss, statements="") -> None:
        lines.append(f"{name:<34}{per_s:>14,.0f}{starts:>10}{against:>10}{ratio:>8}{target:>8}{met:>5}"
                     f"{rss:>13}{statements:>12}")

    for d in result.get("durability", {}).values():
        row(f"floor, sqlite3, {d['durability']}", d["floor_completions_per_s"], "", "", "", "", "",
            f"{d['floor_peak_rss_mb']:.0f}", "4")
        row(f"engine, {d['durability']}", d["engine_completions_per_s"], f"{d['engine_starts_per_s']:,.0f}",
            "floor", f"{d['ratio']:.0%}", f"{d['target']:.0%}", "yes" if d["met"] else "NO",
            f"{d['engine_peak_rss_mb']:.0f}", f"{d['statements_per_completion']:.1f}")
    sc = result.get("scaling")
    if sc:
        row("engine, FULL, empty database", sc["empty_completions_per_s"], f"{sc['empty_starts_per_s']:,.0f}",
            "", "", "", "", f"{sc['empty_peak_rss_mb']:.0f}")
        row(f"engine, FULL, {sc['preload']['instances']:,} preloaded", sc["preloaded_completions_per_s"],
            f"{sc['preloaded_starts_per_s']:,.0f}", "empty", f"{sc['ratio']:.0%}", f"{sc['target']:.0%}",
            "yes" if sc["met"] else "NO", f"{sc['preloaded_peak_rss_mb']:.0f}")
    cc = result.get("concurrency")
    if cc:
        row("engine, FULL, 1 process", cc["one_process_completions_per_s"], "", "", "", "", "",
            f"{cc['one_process_peak_rss_mb']:.0f}")
        row(f"engine, FULL, {cc['processes']} processes (aggregate)", cc["aggregate_completions_per_s"], "",
            "1 proc", f"{cc['ratio']:.0%}", f"{cc['target']:.0%}", "yes" if cc["met"] else "NO",
            f"{cc['per_process_peak_rss_mb']:.0f} each")
    lines.append("")
    if sc:
        p = sc["preload"]
        lines.append(f"preloaded database: {p['instances']:,} finished instances, {p['history_rows']:,} history "
                     f"rows, {p['file_mb']} MB, written in {p['seconds']} s (peak RSS {p['peak_rss_mb']:.0f} MB)")
    lines.append("all targets met" if result["targets_met"] else "targets NOT all met")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--quick", action="store_true", help="a tiny run for a smoke test (numbers meaningless)")
    parser.add_argument("--instances", type=int, default=1000, help="instances per engine run (3 completions each)")
    parser.add_argument("--repeats", type=int, default=5, help="repetitions; medians are reported")
    parser.add_argument("--preload-instances", type=int, default=100_000)
    parser.add_argument("--preload-history", type=int, default=1_000_000)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--dir", default=None, help="where the database files go (default: the temp dir)")
    parser.add_argument("--parts", default="durability,scaling,concurrency",
                        help="comma-separated subset of durability,scaling,concurrency")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child_main(args.child)
        return 0
    if args.quick:
        args.instances, args.repeats, args.preload_instances, args.preload_history = 20, 1, 500, 5000
    result = run(args)
    print(json.dumps(result, indent=2) if args.json else table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
