"""``wfconsole workers`` and ``wfconsole demo`` as a user runs them."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import blueprints as bps

from engine import WorkflowManager
from store import open_store

ROOT = Path(__file__).resolve().parents[2]
WFCONSOLE = [sys.executable, "-m", "console.cli"]
STATES = {"completed", "running", "waiting for a person", "waiting at a join", "failed with an incident",
          "stuck", "failed at a split", "cancelled"}


def run(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([*WFCONSOLE, *args], cwd=ROOT, capture_output=True, text=True, timeout=120, **kwargs)


def test_demo_builds_every_state_once_and_is_safe_to_run_twice(tmp_path: Path) -> None:
    db = str(tmp_path / "demo.db")
    first = run("demo", "--db", db, "--build-only")
    assert first.returncode == 0, first.stderr
    assert "created 42 instances" in first.stdout
    for state in STATES:
        assert state in first.stdout
    second = run("demo", "--db", db, "--build-only")
    assert second.returncode == 0 and "42 instances already there" in second.stdout
    store = open_store(db)
    counts = store.count_instances()
    assert sum(counts.values()) == 42
    assert {"ACTIVE", "COMPLETED", "FAILED", "CANCELLED"} <= set(counts)
    assert len(store.list_executions(["FAILED"])) == 2 and len(store.list_executions(["STUCK"])) == 1
    listing = json.loads(run("list", "--db", db, "--json", "--limit", "100").stdout)
    assert len(listing["instances"]) == 42


def test_demo_killed_half_way_and_run_again_finishes_the_demo_with_no_order_twice(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    process = subprocess.Popen([*WFCONSOLE, "demo", "--db", str(db), "--build-only"], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            if _instances(db) >= 10:
                break
            time.sleep(0.005)  # waiting on another process, not on our own clock
    finally:
        process.kill()
        process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL
    assert 10 <= _instances(db) < 42
    again = run("demo", "--db", str(db), "--build-only")
    assert again.returncode == 0, again.stderr
    assert "were there already" in again.stdout
    listing = json.loads(run("list", "--db", str(db), "--json", "--limit", "100").stdout)["instances"]
    assert len(listing) == 42
    store = open_store(db)
    try:
        manager = WorkflowManager(store)
        orders = [manager.get_status(row["id"]).context["order_id"] for row in listing
                  if row["workflow_id"] == "order_fulfilment"]
        assert len(orders) == len(set(orders)) == 9
        assert len(store.list_executions(["FAILED"])) == 2 and len(store.list_executions(["STUCK"])) == 1
    finally:
        store.close()


def _instances(db: Path) -> int:
    """How many instances ``db`` holds: a plain read, which never waits for the demo's write lock."""
    try:
        with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as raw:
            return raw.execute("SELECT count(*) FROM instances").fetchone()[0]
    except sqlite3.OperationalError:  # not created yet
        return 0


def test_workers_run_until_sigterm_then_stop_gracefully(tmp_path: Path) -> None:
    db = tmp_path / "wf.db"
    assert run("load", "--db", str(db), "sample_data/order_fulfilment.json").returncode == 0
    context = json.dumps({"order_id": "SO-1", "customer_id": "C1", "items": [{"sku": "A", "qty": 1, "price": 10}],
                          "customer_email": "a@example.com", "warehouse": "BER-1", "shipping_address": "x"})
    started = run("start", "--db", str(db), "order_fulfilment", "--context", context, "--json")
    instance_id = json.loads(started.stdout)["instance"]["instance_id"]
    env = {**os.environ, "WFCONSOLE_DEMO_SPEED": "0"}
    process = subprocess.Popen([*WFCONSOLE, "workers", "--module", "sample_data/workers.py", "--db", str(db),
                                "--poll", "0.1"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    store = open_store(db)
    manager = WorkflowManager(store)
    try:
        deadline = time.monotonic() + 60
        while manager.get_status(instance_id).status == "ACTIVE" and time.monotonic() < deadline:
            time.sleep(0.1)  # waiting on another process, not on our own clock
    finally:
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    view = manager.get_status(instance_id)
    # charge_payment fails now and then on purpose; with retries the order still ships.
    assert view.status == "COMPLETED", stdout + stderr
    assert "completed validate_order" in " ".join(stdout.split())
    assert "stopped:" in stdout and "Traceback" not in stderr
    assert all(e.lease_owner is None for e in view.executions)


def test_workers_meeting_a_full_disk_print_one_line_per_failure_and_go_on(tmp_path: Path) -> None:
    """A claim that fails (the disk is full) is one line on stderr, not a traceback; the polls back off and
    the runtime goes on once the store works again."""
    db = tmp_path / "wf.db"
    store = open_store(db)
    manager = WorkflowManager(store)
    manager.add_workflow(bps.linear())
    instance_id = manager.start_workflow("linear", {})
    env = {**os.environ, "WF_DISK_FULL_CLAIMS": "3"}
    process = subprocess.Popen([*WFCONSOLE, "workers", "--module", "tests/engine/worker_modules/disk_full_workers.py",
                                "--db", str(db), "--poll", "0.1"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while manager.get_status(instance_id).status == "ACTIVE" and time.monotonic() < deadline:
            time.sleep(0.1)  # waiting on another process, not on our own clock
    finally:
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert manager.get_status(instance_id).status == "COMPLETED", stdout + stderr
    assert "Traceback" not in stderr, stderr
    failures = [line for line in stderr.splitlines() if "disk is full" in line]
    assert len(failures) == 3 and stderr.count("disk is full") == 3, stderr
    assert all("claiming execution" in line and f"{db}: database or disk is full; next try in" in line
               for line in failures), failures
    assert [line.rsplit(" ", 2)[-2] for line in failures] == ["0.1", "0.2", "0.4"]
    assert "completed do_a" in " ".join(stdout.split())
    store.close()


def test_workers_with_a_missing_module_is_one_line_exit_2(tmp_path: Path) -> None:
    open_store(str(tmp_path / "wf.db")).close()
    result = run("workers", "--module", "no_such_workers_module", "--db", str(tmp_path / "wf.db"))
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "no_such_workers_module: module not found" in result.stderr
