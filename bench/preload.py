"""Fill a wfconsole database quickly with finished instances, for the benchmarks.

The rows are copies of instances that really ran through the engine (so they look exactly like the
engine's own rows: ids, JSON, times, history kinds), written with ``executemany`` in one transaction
instead of going through the engine, so 100,000 instances take seconds rather than minutes.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from engine import WorkflowManager
from store import open_store
from store.codec import dump_time

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
    """The rows of one finished instance, with its id and times as placeholders."""

    instance_id: str
    start: datetime
    instance: tuple
    context: list[tuple]
    executions: list[tuple]
    history: list[tuple]


def _capture_templates(directory: Path) -> list[Template]:
    """Run one instance of each flow through the engine and read back its rows."""
    path = directory / "template.db"
    store = open_store(path, durability="NORMAL")
    manager = WorkflowManager(store)
    pending: list[str] = []
    manager.register_task_handler(lambda payload: pending.append(payload.execution_id))
    templates = []
    for flow in (VERIFICATION_FLOW, ONE_TASK_FLOW):
        manager.add_workflow(flow)
        instance_id = manager.start_workflow(flow["workflow_id"], {"customer": "c-000001", "n": 1})
        run_to_completion(manager, pending)
        view = manager.get_status(instance_id)
        assert view.status == "COMPLETED", view.status
        with store.read() as cur:
            instance = cur.execute("SELECT * FROM instances WHERE id = ?", (instance_id,)).fetchone()
            context = cur.execute("SELECT * FROM context WHERE instance_id = ?", (instance_id,)).fetchall()
            executions = cur.execute("SELECT * FROM executions WHERE instance_id = ? ORDER BY rowid",
                                     (instance_id,)).fetchall()
            history = cur.execute("SELECT instance_id, at, kind, node_id, execution_id, details, actor FROM history "
                                  "WHERE instance_id = ? ORDER BY seq", (instance_id,)).fetchall()
        templates.append(Template(instance_id, view.created_at, instance, context, executions, history))
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


def _copy(value: Any, old_id: str, new_id: str) -> Any:
    return value.replace(old_id, new_id) if isinstance(value, str) and old_id in value else value


def preload(path: str | os.PathLike, instances: int = 100_000, history_rows: int = 1_000_000,
            workdir: str | os.PathLike | None = None) -> dict[str, Any]:
    """Add ``instances`` COMPLETED instances with about ``history_rows`` history rows to the database at
    ``path`` (created if missing, blueprints included). Returns what was written."""
    path = Path(path)
    templates = _capture_templates(Path(workdir) if workdir else path.parent)
    long, short = templates  # verification (about 29 rows) and one_task (about 9 rows)
    # Mix the two so that the total comes out near ``history_rows``.
    per_long, per_short = len(long.history), len(short.history)
    target = min(max(history_rows, instances * per_short), instances * per_long)
    n_long = round((target - instances * per_short) / max(1, per_long - per_short))
    store = open_store(path)
    manager = WorkflowManager(store)
    manager.add_workflow(VERIFICATION_FLOW)
    manager.add_workflow(ONE_TASK_FLOW)
    store.close()

    ids = sorted(str(uuid.uuid4()) for _ in range(instances))  # sorted: the indexes fill in order
    first = datetime.now(UTC) - timedelta(days=30)
    step = timedelta(days=29) / max(1, instances)
    stride = max(1, instances // n_long) if n_long else 0
    written = {"instances": 0, "context": 0, "executions": 0, "history": 0}
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode=DELETE")
        connection.execute("PRAGMA synchronous=OFF")
        connection.execute("PRAGMA cache_size=-400000")
        connection.execute("BEGIN")
        for chunk in range(0, instances, 10_000):
            rows: dict[str, list[tuple]] = {table: [] for table in written}
            for position in range(chunk, min(chunk + 10_000, instances)):
                index = (position * 7919) % instances  # spread the start times over the id order
                template = long if stride and index % stride == 0 else short
                _copy_instance(template, ids[position], first + step * index, rows)
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
    return {"instances": written["instances"], "history_rows": written["history"],
            "executions": written["executions"], "file_mb": round(path.stat().st_size / 2**20, 1)}


_INSERT = {
    "instances": None, "context": None, "executions": None,
    "history": "INSERT INTO history (instance_id, at, kind, node_id, execution_id, details, actor) "
               "VALUES (?, ?, ?, ?, ?, ?, ?)",
}


def _copy_instance(template: Template, new_id: str, base: datetime, rows: dict[str, list[tuple]]) -> None:
    """Append the rows of ``template`` as an instance ``new_id`` started at ``base``."""
    cache: dict[str, str] = {}
    old = template.instance_id

    def fix(value: Any) -> Any:
        return _retime(_copy(value, old, new_id), template, base, cache)

    rows["instances"].append(tuple(map(fix, template.instance)))
    rows["context"].extend(tuple(map(fix, row)) for row in template.context)
    rows["executions"].extend(tuple(map(fix, row)) for row in template.executions)
    rows["history"].extend(tuple(map(fix, row)) for row in template.history)
