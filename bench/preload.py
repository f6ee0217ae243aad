"""Fill a wfconsole database quickly with finished instances, for the benchmarks.

The rows are copies of instances that really ran through the engine (so they look exactly like the
engine's own rows: ids, JSON, times, history kinds), written with ``executemany`` in one transaction
instead of going through the engine, so 100,000 instances take seconds rather than minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

# Run as a script, this file's directory comes first on sys.path, and bench/engine.py would shadow the
# engine package (as in bench/engine.py).
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

from engine import WorkflowManager  # noqa: E402  (after the path fix above)
from store import open_store  # noqa: E402
from store.codec import dump_time  # noqa: E402

VERIFICATION_FLOW: dict[str, Any] = {
    "workflow_id": "verification",
    "name": "Verification Flow",
    "version": 1,
    "nodes": [
        {"id": "start", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "START"},
        {"id": "init", "type": "TASK", "task_id": "init", "output_mapping": {"ok": "ok"}},
        {"id": "split", "type": "INTERNAL", "internal_type": "GATEWAY", "gateway_type": "EXCLUSIVE_SPLIT"},
        {"id": "p_split", "type": "INTERNAL", "internal_type": "GATEWAY", "gateway_type": "PARALLEL_SPLIT"},
        {"id": "t1", "type": "TASK", "task_id": "task_1"},
        {"id": "t2", "type": "TASK", "task_id": "task_2"},
        {"id": "p_join", "type": "INTERNAL", "internal_type": "GATEWAY", "gateway_type": "PARALLEL_JOIN"},
        {"id": "alt_path", "type": "TASK", "task_id": "alternative"},
        {"id": "e_join", "type": "INTERNAL", "internal_type": "GATEWAY", "gateway_type": "EXCLUSIVE_JOIN"},
        {"id": "end", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "END"},
    ],
    "edges": [
        {"id": "e0", "source_id": "start", "target_id": "init"},
        {"id": "e1", "source_id": "init", "target_id": "split"},
        {"id": "e2", "source_id": "split", "target_id": "p_split", "condition": "ok == true"},
        {"id": "e_alt", "source_id": "split", "target_id": "alt_path", "condition": "ok == false"},
        {"id": "e3", "source_id": "p_split", "target_id": "t1"},
        {"id": "e4", "source_id": "p_split", "target_id": "t2"},
        {"id": "e5", "source_id": "t1", "target_id": "p_join"},
        {"id": "e6", "source_id": "t2", "target_id": "p_join"},
        {"id": "e7", "source_id": "p_join", "target_id": "e_join"},
        {"id": "e8", "source_id": "alt_path", "target_id": "e_join"},
        {"id": "e9", "source_id": "e_join", "target_id": "end"},
    ],
}
"""The Go engine's verification flow (init, exclusive split on ``ok``, parallel t1/t2, join, alternative
path, exclusive join, end): three ``task_done`` calls per instance on the ``ok == true`` path."""

ONE_TASK_FLOW: dict[str, Any] = {
    "workflow_id": "one_task",
    "name": "One task",
    "version": 1,
    "nodes": [
        {"id": "start", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "START"},
        {"id": "work", "type": "TASK", "task_id": "work", "input_mapping": {"n": "n"},
         "output_mapping": {"result": "result"}},
        {"id": "end", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "END"},
    ],
    "edges": [
        {"id": "e1", "source_id": "start", "target_id": "work"},
        {"id": "e2", "source_id": "work", "target_id": "end"},
    ],
}
"""A short flow whose finished instances have about nine history rows each."""


def outputs_for(node_id: str) -> dict[str, Any]:
    """What the benchmark's task handler returns for a node of the flows above."""
    if node_id == "init":
        return {"ok": True}
    if node_id == "work":
        return {"result": "done"}
    return {"status": "done"}


def run_to_completion(manager: WorkflowManager, pending: list[str]) -> int:
    """Complete every execution in ``pending`` (a list the task handler appends to); return how many."""
    done = 0
    while pending:
        execution_id = pending.pop(0)
        manager.task_done(execution_id, outputs_for(execution_id.split(":")[1]))
        done += 1
    return done


@dataclass
class Template:
    """The rows of one instance, with its id, times and customer as placeholders."""

    status: str
    instance_id: str
    start: datetime
    instance: tuple  # with the context and the tokens (JSON columns)
    executions: list[tuple]
    history: list[tuple[int, str, str, int | None]]  # runs (store.tables.HistoryRow): (entries, at, JSON, notable)

    @property
    def entries(self) -> int:
        """How many history entries the instance has."""
        return sum(run[0] for run in self.history)


CUSTOMER = "c-000001"  # every template's customer; each copy gets its own, of the same length


def _scenarios(manager: WorkflowManager, pending: list[str]) -> dict[str, str]:
    """Run one instance of each kind through the engine; return their ids by kind."""
    from engine import NoMatchingConditionError

    def start(flow: dict[str, Any]) -> str:
        pending.clear()
        return manager.start_workflow(flow["workflow_id"], {"customer": CUSTOMER, "n": 1})

    made = {}
    made["completed_long"] = start(VERIFICATION_FLOW)
    run_to_completion(manager, pending)
    made["completed_short"] = start(ONE_TASK_FLOW)
    run_to_completion(manager, pending)
    made["active"] = start(VERIFICATION_FLOW)  # init done: waiting at t1 and t2
    manager.task_done(pending.pop(0), {"ok": True})
    made["incident"] = start(VERIFICATION_FLOW)  # init done, t1 failed: an incident
    manager.task_done(pending.pop(0), {"ok": True})
    manager.fail_task(next(e for e in pending if ":t1:" in e), "connection refused", actor="bench")
    made["failed"] = start(VERIFICATION_FLOW)  # ok is neither true nor false: no edge of the split matches
    try:
        manager.task_done(pending.pop(0), {"ok": "maybe"})
    except NoMatchingConditionError:
        pass
    made["cancelled"] = start(ONE_TASK_FLOW)
    manager.cancel(made["cancelled"], "customer withdrew", actor="bench")
    return made


def _capture_templates(directory: Path) -> dict[str, Template]:
    """Run one instance of each kind through the engine and read back its rows."""
    path = directory / "template.db"
    store = open_store(path, durability="NORMAL")
    manager = WorkflowManager(store)
    pending: list[str] = []
    manager.register_task_handler(lambda payload: pending.append(payload.execution_id))
    manager.add_workflow(VERIFICATION_FLOW)
    manager.add_workflow(ONE_TASK_FLOW)
    templates = {}
    for kind, instance_id in _scenarios(manager, pending).items():
        view = manager.get_status(instance_id)
        with store.read() as cur:
            instance = cur.execute("SELECT * FROM instances WHERE id = ?", (instance_id,)).fetchone()
            executions = cur.execute("SELECT * FROM executions WHERE instance_id = ? ORDER BY id",
                                     (instance_id,)).fetchall()
            history = cur.execute("SELECT seq - first_seq + 1, at, entries, notable FROM history "
                                  "WHERE instance_id = ? ORDER BY seq", (instance_id,)).fetchall()
        templates[kind] = Template(str(view.status), instance_id, view.created_at, instance, executions, history)
    store.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return templates


def _retime(text: Any, template: Template, base: datetime, cache: dict[str, str]) -> Any:
    """A time of the template moved to an instance started at ``base``; other values unchanged."""
    if not isinstance(text, str) or len(text) != 32 or text[10:11] != "T":
        return text
    moved = cache.get(text)
    if moved is None:
        moved = cache[text] = dump_time(base + (datetime.fromisoformat(text) - template.start))
    return moved


def _copy(value: Any, replacements: tuple[tuple[str, str], ...]) -> Any:
    if isinstance(value, str):
        for old, new in replacements:
            if old in value:
                value = value.replace(old, new)
    return value


FINISHED = {"completed": 1.0}
"""The engine benchmark's mix: every instance finished."""

MIXED = {"completed": 0.80, "active": 0.10, "incident": 0.02, "failed": 0.05, "cancelled": 0.03}
"""The console benchmark's mix of statuses (``incident``: ACTIVE with a FAILED execution)."""


def _kinds(templates: dict[str, Template], instances: int, history_rows: int,
           mix: dict[str, float]) -> list[str]:
    """The kind of each instance, in a spread-out order, so that the history comes out near ``history_rows``:
    the completed ones are split between the long flow and the short one to get there."""
    counts = {kind: round(instances * share) for kind, share in mix.items() if kind != "completed"}
    completed = instances - sum(counts.values())
    rest = sum(templates[kind].entries * count for kind, count in counts.items())
    per_long, per_short = templates["completed_long"].entries, templates["completed_short"].entries
    wanted = min(max(history_rows - rest, completed * per_short), completed * per_long)
    counts["completed_long"] = round((wanted - completed * per_short) / max(1, per_long - per_short))
    counts["completed_short"] = completed - counts["completed_long"]
    kinds = [kind for kind, count in counts.items() for _ in range(count)]
    return [kinds[(position * 7919) % len(kinds)] for position in range(len(kinds))] if kinds else []


def preload(path: str | os.PathLike, instances: int = 100_000, history_rows: int = 1_000_000,
            workdir: str | os.PathLike | None = None, mix: dict[str, float] | None = None) -> dict[str, Any]:
    """Add ``instances`` instances with about ``history_rows`` history rows to the database at ``path``
    (created if missing, blueprints included). ``mix`` gives the share of each kind (:data:`FINISHED` by
    default, or :data:`MIXED`). Returns what was written."""
    path = Path(path)
    templates = _capture_templates(Path(workdir) if workdir else path.parent)
    kinds = _kinds(templates, instances, history_rows, mix or FINISHED)
    store = open_store(path)
    manager = WorkflowManager(store)
    manager.add_workflow(VERIFICATION_FLOW)
    manager.add_workflow(ONE_TASK_FLOW)
    store.close()

    ids = sorted(str(uuid.uuid4()) for _ in range(len(kinds)))  # sorted: the indexes fill in order
    first = datetime.now(UTC) - timedelta(days=30)
    step = timedelta(days=29) / max(1, len(kinds))
    written = {"instances": 0, "executions": 0, "history": 0}
    statuses: dict[str, int] = {}
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode=DELETE")
        connection.execute("PRAGMA synchronous=OFF")
        connection.execute("PRAGMA cache_size=-100000")
        connection.execute("BEGIN")
        numbered = connection.execute("SELECT COALESCE(MAX(no), 0) FROM instances").fetchone()[0]
        seq = connection.execute("SELECT COALESCE(MAX(seq), 0) FROM history").fetchone()[0]
        entries = 0
        for chunk in range(0, len(kinds), 10_000):
            rows: dict[str, list[tuple]] = {table: [] for table in written}
            for position in range(chunk, min(chunk + 10_000, len(kinds))):
                template = templates[kinds[position]]
                order = (position * 7919) % len(kinds)  # spread the start times over the id order
                seq = _copy_instance(template, ids[position], numbered + position + 1, seq, f"c-{order:06d}",
                                     first + step * order, rows)
                entries += template.entries
                statuses[template.status] = statuses.get(template.status, 0) + 1
            for table, table_rows in rows.items():
                if table_rows:
                    connection.executemany(_INSERT[table] or
                                           f"INSERT INTO {table} VALUES ({', '.join('?' for _ in table_rows[0])})",
                                           table_rows)
                    written[table] += len(table_rows)
        connection.execute("COMMIT")
        connection.execute("PRAGMA journal_mode=WAL")
    finally:
        connection.close()
    return {"instances": written["instances"], "history_rows": entries,
            "executions": written["executions"], "statuses": statuses,
            "file_mb": round(path.stat().st_size / 2**20, 1)}


# instances: id, workflow_id, version, status, error, created_at, updated_at, ended_at, context, tokens, ...
TOKENS_COLUMN, NO_COLUMN = 9, 12

_INSERT = {
    "instances": None, "executions": None,
    "history": "INSERT INTO history (seq, first_seq, instance_no, instance_id, at, entries, notable) "
               "VALUES (?, ?, ?, ?, ?, ?, ?)",
}


def _copy_instance(template: Template, new_id: str, no: int, seq: int, customer: str, base: datetime,
                   rows: dict[str, list[tuple]]) -> int:
    """Append the rows of ``template`` as an instance ``new_id`` (number ``no``) of ``customer`` started at
    ``base``, its history entries numbered after ``seq``; return the last entry's number."""
    cache: dict[str, str] = {}
    replacements = ((template.instance_id, new_id), (CUSTOMER, customer))

    def fix(value: Any) -> Any:
        return _retime(_copy(value, replacements), template, base, cache)

    instance = list(map(fix, template.instance))
    tokens = json.loads(instance[TOKENS_COLUMN])  # their times are inside the JSON
    instance[TOKENS_COLUMN] = json.dumps([[*t[:3], fix(t[3])] for t in tokens], separators=(",", ":"))
    instance[NO_COLUMN] = no
    rows["instances"].append(tuple(instance))
    rows["executions"].extend(tuple(map(fix, row)) for row in template.executions)
    for count, at, entries, notable in template.history:
        rows["history"].append((seq + count, seq + 1, no, new_id, fix(at), fix(entries), notable))
        seq += count
    return seq


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fill a wfconsole database with instances, for the benchmarks "
                                                 "or to try the console on a large database.")
    parser.add_argument("db", help="the database file (created if missing)")
    parser.add_argument("--instances", type=int, default=100_000)
    parser.add_argument("--history", type=int, default=1_000_000, help="about this many history rows")
    parser.add_argument("--mixed", action="store_true",
                        help="mixed statuses (active, incidents, failed, cancelled) instead of all finished")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    written = preload(args.db, args.instances, args.history, mix=MIXED if args.mixed else None)
    print(f"{args.db}: {json.dumps(written, default=str)} in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
