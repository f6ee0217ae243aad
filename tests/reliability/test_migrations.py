"""Schema migrations: an older database is upgraded in one transaction, a newer one is refused.

The version-0 database is built by hand with the schema wfconsole had before the worker runtime (no
lease or retry-time columns on executions, fewer indexes), holding an instance the current engine
started, so the test shows that work in flight survives the upgrade.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from engine import StoreError, WorkflowManager
from engine.replay import differences
from store import migrations, open_store, tables

V0_SCHEMA = """
CREATE TABLE wf_meta ("key" VARCHAR NOT NULL, value VARCHAR NOT NULL, PRIMARY KEY ("key"));
CREATE TABLE blueprints (workflow_id VARCHAR NOT NULL, version INTEGER NOT NULL, name VARCHAR,
    definition VARCHAR NOT NULL, digest VARCHAR NOT NULL, warnings VARCHAR NOT NULL, node_count INTEGER NOT NULL,
    edge_count INTEGER NOT NULL, created_at VARCHAR NOT NULL, PRIMARY KEY (workflow_id, version));
CREATE TABLE instances (id VARCHAR NOT NULL, workflow_id VARCHAR NOT NULL, version INTEGER NOT NULL,
    status VARCHAR NOT NULL, error VARCHAR, created_at VARCHAR NOT NULL, updated_at VARCHAR NOT NULL,
    ended_at VARCHAR, PRIMARY KEY (id));
CREATE INDEX ix_instances_created ON instances (created_at);
CREATE INDEX ix_instances_updated ON instances (updated_at);
CREATE INDEX ix_instances_status_updated ON instances (status, updated_at);
CREATE INDEX ix_instances_workflow_status_updated ON instances (workflow_id, status, updated_at);
CREATE TABLE tokens (id VARCHAR NOT NULL, instance_id TEXT NOT NULL, node_id VARCHAR NOT NULL,
    status VARCHAR NOT NULL, created_at VARCHAR NOT NULL, PRIMARY KEY (id),
    FOREIGN KEY(instance_id) REFERENCES instances (id) ON DELETE CASCADE);
CREATE INDEX ix_tokens_node ON tokens (node_id);
CREATE INDEX ix_tokens_instance ON tokens (instance_id);
CREATE TABLE executions (id VARCHAR NOT NULL, instance_id TEXT NOT NULL, node_id VARCHAR NOT NULL,
    task_id VARCHAR NOT NULL, inputs VARCHAR NOT NULL, outputs VARCHAR, status VARCHAR NOT NULL,
    attempt INTEGER NOT NULL, error VARCHAR, created_at VARCHAR NOT NULL, updated_at VARCHAR NOT NULL,
    PRIMARY KEY (id), FOREIGN KEY(instance_id) REFERENCES instances (id) ON DELETE CASCADE);
CREATE INDEX ix_executions_instance_status ON executions (instance_id, status);
CREATE INDEX ix_executions_status_created ON executions (status, created_at);
CREATE TABLE context (instance_id TEXT NOT NULL, "key" VARCHAR NOT NULL, value VARCHAR NOT NULL,
    PRIMARY KEY (instance_id, "key"), FOREIGN KEY(instance_id) REFERENCES instances (id) ON DELETE CASCADE);
CREATE TABLE history (seq INTEGER NOT NULL, instance_id TEXT NOT NULL, at VARCHAR NOT NULL, kind VARCHAR NOT NULL,
    node_id VARCHAR, execution_id VARCHAR, details VARCHAR NOT NULL, actor VARCHAR, PRIMARY KEY (seq),
    FOREIGN KEY(instance_id) REFERENCES instances (id) ON DELETE CASCADE);
CREATE INDEX ix_history_instance_seq ON history (instance_id, seq);
"""

CHAIN = {
    "workflow_id": "chain",
    "nodes": [{"id": "start", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "START"},
              {"id": "a", "type": "TASK", "task_id": "a", "input_mapping": {"x": "x"},
               "output_mapping": {"y": "y"}},
              {"id": "b", "type": "TASK", "task_id": "b"},
              {"id": "end", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "END"}],
    "edges": [{"id": "e1", "source_id": "start", "target_id": "a"}, {"id": "e2", "source_id": "a", "target_id": "b"},
              {"id": "e3", "source_id": "b", "target_id": "end"}],
}

TABLES = ("blueprints", "instances", "tokens", "executions", "context", "history")  # all there ever were
COPIED = ("blueprints", "instances", "executions")  # tables of today's schema and of version 0, alike


def _shape(db: Path) -> dict[str, list[str]]:
    """Each table's columns and each index's name: what must match a fresh database after an upgrade."""
    with sqlite3.connect(db) as raw:
        shape = {t: [r[1] for r in raw.execute(f"PRAGMA table_info({t})")] for t in (*TABLES, "wf_meta")}
        shape["indexes"] = sorted(r[0] for r in raw.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_autoindex%'"))
    return shape


def _schema_version(db: Path) -> str | None:
    with sqlite3.connect(db) as raw:
        row = raw.execute("SELECT value FROM wf_meta WHERE key = 'schema_version'").fetchone()
    return row[0] if row else None


@pytest.fixture
def v0_db(tmp_path: Path) -> tuple[Path, str]:
    """A version-0 database holding one running instance (started by today's engine, copied over)."""
    current = tmp_path / "current.db"
    store = open_store(current)
    manager = WorkflowManager(store)
    manager.add_workflow(CHAIN)
    instance_id = manager.start_workflow("chain", {"x": 41})
    history = manager.get_status(instance_id).history
    store.close()

    old = tmp_path / "old.db"
    with sqlite3.connect(old) as raw:
        raw.executescript(V0_SCHEMA)
        raw.execute("INSERT INTO wf_meta VALUES ('schema_version', '0')")
        raw.execute("ATTACH DATABASE ? AS cur", (str(current),))
        for table in COPIED:
            columns = ", ".join(f'"{r[1]}"' for r in raw.execute(f"PRAGMA main.table_info({table})"))
            raw.execute(f"INSERT INTO main.{table} ({columns}) SELECT {columns} FROM cur.{table}")
        # Version 0 kept the context and the tokens in tables of their own, and a row per history entry.
        raw.executemany("INSERT INTO main.history VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [
            (h.seq, h.instance_id, h.at.isoformat(timespec="microseconds"), str(h.kind), h.node_id, h.execution_id,
             json.dumps(h.details), h.actor) for h in history])
        for iid, context, tokens in raw.execute("SELECT id, context, tokens FROM cur.instances").fetchall():
            raw.executemany("INSERT INTO main.context VALUES (?, ?, ?)",
                            [(iid, key, json.dumps(value)) for key, value in json.loads(context).items()])
            raw.executemany("INSERT INTO main.tokens VALUES (?, ?, ?, ?, ?)",
                            [(tid, iid, node, status, at) for tid, node, status, at in json.loads(tokens)])
    raw.close()
    return old, instance_id


def test_a_version_0_database_is_upgraded_and_its_work_goes_on(v0_db, tmp_path: Path) -> None:
    db, instance_id = v0_db
    assert "lease_owner" not in _shape(db)["executions"]
    store = open_store(db)
    assert _schema_version(db) == str(tables.SCHEMA_VERSION)
    fresh = tmp_path / "fresh.db"
    open_store(fresh).close()
    assert _shape(db) == _shape(fresh)

    manager = WorkflowManager(store)
    view = manager.get_status(instance_id)
    current = open_store(tmp_path / "current.db")
    assert view.history == current.get_instance(instance_id).history  # each entry its own run, as it was
    current.close()
    (execution,) = view.executions
    assert execution.inputs == {"x": 41} and execution.lease_owner is None
    assert store.claim_execution(execution.id, "worker-1", view.created_at, view.created_at) is not None
    manager.task_done(execution.id, {"y": 42})
    view = manager.get_status(instance_id)
    assert view.context == {"x": 41, "y": 42} and [t.node_id for t in view.tokens] == ["b"]
    assert differences(view) == []
    store.close()
    open_store(db).close()  # opening it again changes nothing
    assert _schema_version(db) == str(tables.SCHEMA_VERSION)


def test_version_4_moves_context_and_tokens_into_the_instance_row(v0_db) -> None:
    """The upgrade computes in SQL what the store writes in Python: tokens in the order they were made, their
    nodes one per line, the statuses that are not ACTIVE sorted, and the context with its JSON values."""
    db, _ = v0_db
    with sqlite3.connect(db) as raw:
        raw.execute("INSERT INTO instances VALUES ('other', 'chain', 1, 'ACTIVE', NULL, "
                    "'2026-01-01T00:00:00.000000+00:00', '2026-01-01T00:00:00.000000+00:00', NULL)")
        raw.executemany("INSERT INTO tokens VALUES (?, 'other', ?, ?, ?)", [
            ("other:b:2", "b", "WAITING", "2026-01-01T00:00:02.000000+00:00"),
            ("other:a:1", "a", "FAILED", "2026-01-01T00:00:01.000000+00:00"),
            ("other:c:3", "c", "ACTIVE", "2026-01-01T00:00:02.000000+00:00")])
        raw.executemany("INSERT INTO context VALUES ('other', ?, ?)",
                        [("n", "1"), ("s", '"text"'), ("o", '{"k":[1,null]}')])
        raw.executemany("INSERT INTO history (instance_id, at, kind, node_id, execution_id, details, actor) "
                        "VALUES ('other', '2026-01-01T00:00:03.000000+00:00', ?, 'a', 'other:a:1', ?, 'ops')",
                        [("EXECUTION_FAILED", '{"error":"boom"}'), ("EDGE_TAKEN", '{}')])
    raw.close()
    open_store(db).close()
    with sqlite3.connect(db) as raw:
        context, tokens, nodes, marks = raw.execute(
            "SELECT context, tokens, token_nodes, token_marks FROM instances WHERE id = 'other'").fetchone()
    raw.close()
    assert json.loads(context) == {"n": 1, "s": "text", "o": {"k": [1, None]}}
    assert [t[0] for t in json.loads(tokens)] == ["other:a:1", "other:b:2", "other:c:3"]
    assert json.loads(tokens)[1] == ["other:b:2", "b", "WAITING", "2026-01-01T00:00:02.000000+00:00"]
    assert nodes == "a\nb\nc" and marks == "FAILED,WAITING"
    with sqlite3.connect(db) as raw:
        rows = raw.execute("SELECT entries, notable FROM history WHERE instance_id = 'other' ORDER BY seq").fetchall()
    raw.close()
    assert [(json.loads(entries)[0][0], notable) for entries, notable in rows] == [
        ("EXECUTION_FAILED", 1), ("EDGE_TAKEN", None)]
    assert json.loads(rows[0][0]) == [["EXECUTION_FAILED", "a", "other:a:1", {"error": "boom"}, "ops"]]


def test_version_6_gives_every_execution_a_claim_counter_and_work_in_flight_goes_on(tmp_path: Path) -> None:
    """A version-5 database (no ``claim`` column) with an execution claimed by a worker of that version: after
    the upgrade it counts from 0, the next claim is 1, and a completion without a claim still applies."""
    db = tmp_path / "v5.db"
    store = open_store(db)
    manager = WorkflowManager(store)
    manager.add_workflow(CHAIN)
    instance_id = manager.start_workflow("chain", {"x": 1})
    (execution,) = manager.get_status(instance_id).executions
    store.close()
    with sqlite3.connect(db) as raw:
        raw.execute("ALTER TABLE executions DROP COLUMN claim")
        raw.execute("UPDATE executions SET lease_owner = 'old-worker', "
                    "lease_until = '2000-01-01T00:00:00.000000+00:00'")
        raw.execute("UPDATE wf_meta SET value = '5' WHERE key = 'schema_version'")
    raw.close()
    assert "claim" not in _shape(db)["executions"]
    store = open_store(db)
    assert _schema_version(db) == str(tables.SCHEMA_VERSION) == "6"
    assert _shape(db)["executions"][-1] == "claim"
    manager = WorkflowManager(store)
    assert manager.get_execution(execution.id).claim == 0
    now = manager.clock()
    assert store.claim_execution(execution.id, "new-worker", now, now).claim == 1
    assert manager.task_done(execution.id, {"y": 2}).applied
    assert differences(manager.get_status(instance_id)) == []
    store.close()


def test_a_database_without_a_recorded_version_counts_as_version_0(v0_db) -> None:
    db, _ = v0_db
    with sqlite3.connect(db) as raw:
        raw.execute("DELETE FROM wf_meta")
    raw.close()
    open_store(db).close()
    assert _schema_version(db) == str(tables.SCHEMA_VERSION)
    assert "next_attempt_at" in _shape(db)["executions"]


def test_a_failing_migration_leaves_the_database_unchanged(v0_db, monkeypatch) -> None:
    db, instance_id = v0_db
    before = _shape(db)

    def half_done(connection: sqlite3.Connection) -> None:
        connection.execute("ALTER TABLE executions ADD COLUMN lease_owner VARCHAR")
        connection.execute("DROP TABLE context")
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(migrations, "MIGRATIONS", [(1, half_done)])
    with pytest.raises(StoreError, match=r"old\.db.*from version 0 to 1 failed.*disk on fire.*left unchanged"):
        open_store(db)
    assert _shape(db) == before
    assert _schema_version(db) == "0"
    monkeypatch.undo()
    store = open_store(db)  # and the real migration still works afterwards
    assert WorkflowManager(store).get_status(instance_id).context == {"x": 41}
    store.close()


def test_a_database_of_a_newer_schema_is_refused_and_left_alone(tmp_path: Path) -> None:
    db = tmp_path / "future.db"
    open_store(db).close()
    with sqlite3.connect(db) as raw:
        raw.execute("UPDATE wf_meta SET value = ? WHERE key = 'schema_version'", (str(tables.SCHEMA_VERSION + 1),))
        raw.execute("CREATE TABLE from_the_future (x)")
    raw.close()
    before = _shape(db)
    with pytest.raises(StoreError, match=rf"future\.db: written by a newer wfconsole \(schema version "
                                         rf"{tables.SCHEMA_VERSION + 1}.*upgrade wfconsole"):
        open_store(db)
    assert _shape(db) == before and _schema_version(db) == str(tables.SCHEMA_VERSION + 1)


def test_the_migration_list_is_ordered_and_reaches_the_current_version() -> None:
    versions = [version for version, _ in migrations.MIGRATIONS]
    assert versions == sorted(set(versions)) and versions[0] == 1
    assert versions[-1] == tables.SCHEMA_VERSION


def test_the_postgres_migration_list_reaches_the_current_version_from_its_baseline() -> None:
    """A new schema version is a step for each database: PostgreSQL's list goes on from its baseline to the
    same version as SQLite's (see store/migrations.py, "To change the schema")."""
    versions = [version for version, _ in migrations.POSTGRES_MIGRATIONS]
    assert versions == list(range(migrations.POSTGRES_BASELINE + 1, tables.SCHEMA_VERSION + 1))
