"""Faults of a real PostgreSQL server of the test's own: a refused password (scram-sha-256), and the server
restarted under running workers.

The module starts a cluster of its own (``initdb`` in a temporary directory, its own port, password
authentication), which the shared test server (trust authentication) cannot play: workers keep running
while ``pg_ctl restart -m fast`` drops every connection. Afterwards every instance has finished, each
execution was completed once, and every history replays. Skipped (one line) where PostgreSQL's server
programs are not installed.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from console.cli import app
from engine import HistoryKind, WorkflowManager
from engine.errors import DatabaseConnectionError
from engine.replay import differences
from engine.runtime import WorkerRuntime
from engine.workers import WorkerRegistry
from store import open_store

PASSWORD = "own-Secret-9"


def _bin_dir() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    return versions[-1].parent if versions else None


class OwnServer:
    """A PostgreSQL cluster in ``folder``, owned by the user ``postgres`` when the tests run as root (initdb
    refuses root)."""

    def __init__(self, folder: Path, bin_dir: Path) -> None:
        self.folder, self.bin = folder, bin_dir
        self.data = folder / "data"
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.prefix:
            shutil.chown(folder, "postgres")
        (folder / "pw").write_text(PASSWORD + "\n")
        if self.prefix:
            shutil.chown(folder / "pw", "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "scram-sha-256", "-U", "wf", f"--pwfile={folder / 'pw'}")
        self.options = f"-p {self.port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", self.options, "-l", str(folder / "log"), "-w", "start")
        self.url = f"postgresql://wf:{PASSWORD}@127.0.0.1:{self.port}/postgres"

    def _run(self, program: str, *args: str) -> None:
        subprocess.run([*self.prefix, str(self.bin / program), *args], check=True, capture_output=True, timeout=120)

    def restart(self) -> None:
        # -l as at the start: without it the new server would write to (and hold open) this process's pipe.
        self._run("pg_ctl", "-D", str(self.data), "-o", self.options, "-l", str(self.folder / "log"), "-m", "fast",
                  "-w", "restart")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")


@pytest.fixture(scope="module")
def own_server() -> Iterator[OwnServer]:
    bin_dir = _bin_dir()
    if bin_dir is None or not (bin_dir / "initdb").exists():
        pytest.skip("PostgreSQL's server programs (initdb, pg_ctl) are not installed: install postgresql to run "
                    "these tests")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        pytest.skip("running as root without runuser: initdb must run as another user")
    # Not under pytest's tmp_path: its parent is private to root, and the server runs as postgres.
    folder = Path(tempfile.mkdtemp(prefix="wfconsole-own-postgres-"))
    folder.chmod(0o755)
    try:
        server = OwnServer(folder, bin_dir)
    except subprocess.CalledProcessError as error:
        shutil.rmtree(folder, ignore_errors=True)
        pytest.fail(f"could not start a PostgreSQL server of the test's own: {error.stderr.decode()[-300:]}")
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def test_a_real_server_refusing_the_password_or_missing_one_is_one_line(own_server: OwnServer) -> None:
    wrong = own_server.url.replace(PASSWORD, "not-it")
    with pytest.raises(DatabaseConnectionError, match=r"the server refused the password of wf "
                                                      r"\(password authentication failed\)$"):
        open_store(wrong)
    none = own_server.url.replace(f":{PASSWORD}", "")
    env = {key: value for key, value in os.environ.items() if key != "PGPASSWORD"}
    result = CliRunner(env=env).invoke(app, ["--db", none, "list"])
    assert result.exit_code == 2 and "asks wf for a password and none was given" in result.stderr
    assert result.stderr.count("\n") == 1 and "not-it" not in result.stderr


def chain(workflow_id: str, *tasks: str) -> dict:
    nodes = [{"id": "start", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "START"}]
    nodes += [{"id": t, "type": "TASK", "task_id": t, "output_mapping": {"done": f"{t}_done"}} for t in tasks]
    nodes.append({"id": "end", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "END"})
    ids = [n["id"] for n in nodes]
    pairs = zip(ids, ids[1:], strict=False)
    edges = [{"id": f"e{i}", "source_id": a, "target_id": b} for i, (a, b) in enumerate(pairs)]
    return {"workflow_id": workflow_id, "nodes": nodes, "edges": edges}


def test_workers_go_on_by_themselves_after_the_server_restarts_mid_run(own_server: OwnServer) -> None:
    store = open_store(own_server.url)
    manager = WorkflowManager(store)
    manager.add_workflow(chain("restart", "first", "second"))
    ran: list[str] = []
    lock = threading.Lock()

    def work(inputs: dict) -> dict:
        time.sleep(0.01)
        with lock:
            ran.append("x")
        return {"done": True}

    registry = WorkerRegistry()
    registry.register("first", work)
    registry.register("second", work)
    runtime = WorkerRuntime(WorkflowManager(open_store(own_server.url)), registry, owner="survivor",
                            poll_interval=0.1, lease_seconds=2, stuck_interval=3600)
    instance_ids = [manager.start_workflow("restart") for _ in range(10)]
    runtime.start()
    try:
        deadline = time.monotonic() + 30
        while len(ran) < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
        own_server.restart()  # every connection dropped, some of them inside a step
        instance_ids += [manager.start_workflow("restart") for _ in range(10)]  # the first one reconnects
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if store.count_instances().get("COMPLETED", 0) == len(instance_ids):
                break
            time.sleep(0.1)
    finally:
        runtime.stop(grace=5)
        runtime.store.close()
    assert store.count_instances() == {"COMPLETED": len(instance_ids)}
    for instance_id in instance_ids:
        view = manager.get_status(instance_id)
        done = [h.execution_id for h in view.history if h.kind is HistoryKind.EXECUTION_COMPLETED]
        assert len(done) == len(set(done)) == 2, view.history
        assert differences(view) == []
    store.close()
