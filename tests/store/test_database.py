"""The SQLite set-up: pragmas, BEGIN IMMEDIATE, file mode, schema version, unusable files."""

from __future__ import annotations

import os
import re
import socket
import sqlite3
import stat
from pathlib import Path

import pytest

from engine import StoreError
from store import open_store


def _pragma(store, name: str):
    with store.read() as cursor:
        return cursor.execute(f"PRAGMA {name}").fetchone()[0]


def test_database_uses_wal_full_sync_foreign_keys_and_busy_timeout(tmp_path: Path) -> None:
    store = open_store(tmp_path / "wf.db")
    assert _pragma(store, "journal_mode") == "wal"
    assert _pragma(store, "synchronous") == 2  # FULL
    assert _pragma(store, "foreign_keys") == 1
    assert _pragma(store, "busy_timeout") == 30_000


def test_normal_durability_on_request(tmp_path: Path) -> None:
    store = open_store(tmp_path / "wf.db", durability="normal")
    assert _pragma(store, "synchronous") == 1  # NORMAL


def test_write_transaction_takes_the_write_lock_before_reading(tmp_path: Path) -> None:
    db = tmp_path / "wf.db"
    store = open_store(db)
    other = sqlite3.connect(db, timeout=0, isolation_level=None)
    with store.write() as tx:
        tx.load_instance("nothing")  # only a read so far, yet the lock is held
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
    other.execute("BEGIN IMMEDIATE")
    other.execute("ROLLBACK")


def test_new_database_file_is_private_to_its_owner(tmp_path: Path) -> None:
    db = tmp_path / "wf.db"
    open_store(db)
    assert stat.S_IMODE(db.stat().st_mode) == 0o600


def test_database_of_a_newer_schema_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "wf.db"
    open_store(db).close()
    with sqlite3.connect(db) as raw:
        raw.execute("UPDATE wf_meta SET value = '999' WHERE key = 'schema_version'")
    with pytest.raises(StoreError, match="newer wfconsole.*999"):
        open_store(db)


def test_corrupt_file_gives_a_store_error_naming_the_file(tmp_path: Path) -> None:
    db = tmp_path / "broken.db"
    db.write_bytes(b"this is not sqlite" * 1000)
    with pytest.raises(StoreError, match="broken.db.*not a wfconsole database or is corrupted"):
        open_store(db)


def test_foreign_sqlite_database_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "other.db"
    with sqlite3.connect(db) as raw:
        raw.execute("CREATE TABLE customers (id INTEGER)")
    with pytest.raises(StoreError, match="not a wfconsole database"):
        open_store(db)


def test_missing_directory_is_reported(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        open_store(tmp_path / "nowhere" / "wf.db")


def test_instance_listing_says_which_instances_carry_an_incident(tmp_path: Path) -> None:
    from engine import InstanceQuery, WorkflowManager

    manager = WorkflowManager(open_store(tmp_path / "wf.db"))
    manager.add_workflow({
        "workflow_id": "w",
        "nodes": [{"id": "s", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "START"},
                  {"id": "t", "type": "TASK", "task_id": "t"},
                  {"id": "e", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "END"}],
        "edges": [{"id": "e1", "source_id": "s", "target_id": "t"}, {"id": "e2", "source_id": "t", "target_id": "e"}],
    })
    healthy = manager.start_workflow("w", {})
    broken = manager.start_workflow("w", {})
    manager.fail_task(manager.get_status(broken).executions[0].id, "boom", actor="test")
    listed = {s.id: s for s in manager.list_instances(InstanceQuery())}
    assert listed[broken].has_incident and listed[broken].token_statuses == ["FAILED"]
    assert not listed[healthy].has_incident and listed[healthy].token_statuses == ["ACTIVE"]


@pytest.mark.parametrize("kind", ["fifo", "socket", "device", "directory"])
def test_a_path_that_is_not_a_regular_file_is_refused_naming_what_it_is(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "wf.db"
    if kind == "fifo":
        os.mkfifo(path)
        expected = "is a FIFO"
    elif kind == "socket":
        listener = socket.socket(socket.AF_UNIX)
        listener.bind(str(path))
        listener.close()
        expected = "is a socket"
    elif kind == "device":
        path = Path(os.devnull)
        expected = "is a character device"
    else:
        path.mkdir()
        expected = "is a directory"
    before = path.stat()
    with pytest.raises(StoreError, match=f"{re.escape(str(path))}: {expected}.*, not a database file"):
        open_store(path)
    assert path.stat().st_mode == before.st_mode  # left as it was: not replaced, not opened for writing
    assert not Path(f"{path}-wal").exists()


def test_a_database_file_other_users_can_read_is_kept_as_it_is_with_one_warning(tmp_path: Path) -> None:
    db = tmp_path / "wf.db"
    db.touch()
    os.chmod(db, 0o644)
    store = open_store(db)
    try:
        with store.write():
            pass
        (warning,) = store.warnings
        assert warning.startswith(f"{db} has mode 0644: users other than its owner can read it")
        assert "-wal and -shm" in warning and f"chmod 600 {db}" in warning
        assert stat.S_IMODE(db.stat().st_mode) == 0o644  # not changed behind the owner's back
        assert stat.S_IMODE(Path(f"{db}-wal").stat().st_mode) == 0o644  # what the warning says SQLite does
    finally:
        store.close()
    os.chmod(db, 0o660)
    (warning,) = open_store(db).warnings
    assert "mode 0660: users other than its owner can read and write it" in warning


def test_no_warning_for_a_private_file_a_url_or_memory(tmp_path: Path) -> None:
    db = tmp_path / "wf.db"
    assert open_store(db).warnings == []  # created 0600
    os.chmod(db, 0o700)  # wider for its owner only
    assert open_store(db).warnings == []
    os.chmod(db, 0o644)
    assert open_store(f"sqlite:///{db}").warnings == []
    assert open_store(":memory:").warnings == []
