"""A multi-host soak on PostgreSQL: worker runtimes on three "hosts" (network namespaces), one cut off and killed.

    sudo .venv/bin/python bench/pg_soak.py [--seconds 40] [--json]

Needs root (``ip netns``), ``ip`` and PostgreSQL's server programs (``initdb``, ``pg_ctl``). What it does:

1. starts a PostgreSQL cluster of its own (``initdb`` in a temporary directory, scram-sha-256 passwords),
   listening on one address per host: 10.77.N.1, the root namespace's end of a veth pair;
2. makes three network namespaces ``wfsoakN``, each with the other end of its veth pair (10.77.N.2) and a
   worker runtime process inside it (``ip netns exec``), connecting to the server at 10.77.N.1;
3. starts instances of a three-task flow for ``--seconds`` seconds from the root namespace; half-way through
   it cuts host 2 off (its veth down: its connections hang, its leases lapse) and, a few seconds later,
   SIGKILLs its runtime;
4. afterwards (bounded), checks that every instance finished, that each execution was completed once and
   by an attempt that ran, that every completion a runtime acknowledged is stored, and that every history
   replays to its stored state; then removes the namespaces, the veths and the cluster.

A bench script with a bounded run time, not a CI test (CI has no root).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent
ROOT = _HERE.parent
if sys.path and Path(sys.path[0]).resolve() == _HERE:
    sys.path[0] = str(ROOT)
elif str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PASSWORD = "soak-Secret-7"
HOSTS = 3

FLOW = {
    "workflow_id": "soak",
    "nodes": [{"id": "start", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "START"},
              {"id": "a", "type": "TASK", "task_id": "a", "output_mapping": {"by": "a_by"}},
              {"id": "b", "type": "TASK", "task_id": "b", "output_mapping": {"by": "b_by"}},
              {"id": "c", "type": "TASK", "task_id": "c", "output_mapping": {"by": "c_by"}},
              {"id": "end", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "END"}],
    "edges": [{"id": "e1", "source_id": "start", "target_id": "a"}, {"id": "e2", "source_id": "a", "target_id": "b"},
              {"id": "e3", "source_id": "b", "target_id": "c"}, {"id": "e4", "source_id": "c", "target_id": "end"}],
}

WORKERS = textwrap.dedent("""
    import os, time
    from engine.workers import worker

    def _work():
        time.sleep(0.02)
        return {"by": os.getpid()}

    @worker("a", attempts=5, backoff=0.1, timeout=10)
    def a(inputs):
        return _work()

    @worker("b", attempts=5, backoff=0.1, timeout=10)
    def b(inputs):
        return _work()

    @worker("c", attempts=5, backoff=0.1, timeout=10)
    def c(inputs):
        return _work()
""")

RUNTIME = textwrap.dedent("""
    import os, sys, time
    from engine import WorkflowManager
    from engine.runtime import WorkerRuntime
    from engine.workers import load_workers
    from store import open_store

    db, owner, acks, workers = sys.argv[1:5]

    def acknowledge(execution, outcome, elapsed, error):
        if outcome.value == "completed":
            fd = os.open(acks, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            os.write(fd, (execution.id + "\\n").encode())
            os.close(fd)

    runtime = WorkerRuntime(WorkflowManager(open_store(db)), load_workers(workers), owner=owner, lease_seconds=3.0,
                            poll_interval=0.2, stuck_interval=5, max_workers=4, on_outcome=acknowledge)
    runtime.start()
    time.sleep(3600)
""")


def run(*command: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(list(command), check=check, capture_output=True, text=True, timeout=120)


class Cluster:
    """A PostgreSQL cluster of the soak's own, owned by ``postgres`` (initdb refuses root)."""

    def __init__(self, folder: Path, addresses: list[str]) -> None:
        self.folder = folder
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
        self.bin = found[-1].parent if found else Path(shutil.which("initdb") or "initdb").parent
        self.data = folder / "data"
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        shutil.chown(folder, "postgres")
        (folder / "pw").write_text(PASSWORD + "\n")
        shutil.chown(folder / "pw", "postgres")
        self._pg("initdb", "-D", str(self.data), "-A", "scram-sha-256", "-U", "wf", f"--pwfile={folder / 'pw'}")
        with open(self.data / "pg_hba.conf", "a") as hba:
            hba.write("host all all 10.77.0.0/16 scram-sha-256\n")
        listen = ",".join(["127.0.0.1", *addresses])
        self._pg("pg_ctl", "-D", str(self.data), "-o", f"-p {self.port} -k {folder} -c listen_addresses={listen} "
                 "-c max_connections=200", "-l", str(folder / "log"), "-w", "start")

    def _pg(self, program: str, *args: str) -> None:
        run("runuser", "-u", "postgres", "--", str(self.bin / program), *args)

    def url(self, address: str = "127.0.0.1") -> str:
        return f"postgresql://wf:{PASSWORD}@{address}:{self.port}/postgres"

    def stop(self) -> None:
        self._pg("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")


def make_hosts() -> None:
    for n in range(1, HOSTS + 1):
        ns, outside, inside = f"wfsoak{n}", f"wfsv{n}", f"wfsp{n}"
        run("ip", "netns", "add", ns)
        run("ip", "link", "add", outside, "type", "veth", "peer", "name", inside)
        run("ip", "link", "set", inside, "netns", ns)
        run("ip", "addr", "add", f"10.77.{n}.1/24", "dev", outside)
        run("ip", "link", "set", outside, "up")
        run("ip", "netns", "exec", ns, "ip", "addr", "add", f"10.77.{n}.2/24", "dev", inside)
        run("ip", "netns", "exec", ns, "ip", "link", "set", inside, "up")
        run("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")


def remove_hosts() -> None:
    for n in range(1, HOSTS + 1):
        run("ip", "link", "del", f"wfsv{n}", check=False)
        run("ip", "netns", "del", f"wfsoak{n}", check=False)


def soak(seconds: float) -> dict[str, Any]:
    from engine import HistoryKind, WorkflowManager
    from engine.replay import differences
    from store import open_store

    folder = Path(tempfile.mkdtemp(prefix="wfconsole-pg-soak-"))
    folder.chmod(0o755)
    remove_hosts()  # a previous run's, if it was killed
    make_hosts()
    cluster = Cluster(folder, [f"10.77.{n}.1" for n in range(1, HOSTS + 1)])
    (folder / "soak_workers.py").write_text(WORKERS)
    acks = folder / "acks.log"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    runtimes: dict[int, subprocess.Popen] = {}
    result: dict[str, Any] = {"seconds": seconds, "hosts": HOSTS}
    try:
        store = open_store(cluster.url())
        manager = WorkflowManager(store)
        manager.add_workflow(FLOW)
        for n in range(1, HOSTS + 1):
            runtimes[n] = subprocess.Popen(
                ["ip", "netns", "exec", f"wfsoak{n}", sys.executable, "-c", RUNTIME, cluster.url(f"10.77.{n}.1"),
                 f"host{n}", str(acks), str(folder / "soak_workers.py")], env=env,
                stdout=subprocess.DEVNULL, stderr=open(folder / f"host{n}.err", "w"))
        instance_ids: list[str] = []
        started = time.monotonic()
        cut_at, killed_at = started + seconds / 2, None
        while time.monotonic() - started < seconds:
            instance_ids.append(manager.start_workflow("soak", {"n": len(instance_ids)}))
            now = time.monotonic()
            if cut_at is not None and now >= cut_at:
                run("ip", "link", "set", "wfsv2", "down")  # host 2 cut off: its connections hang
                result["cut_after_s"] = round(now - started, 1)
                cut_at, killed_at = None, now + 3
            if killed_at is not None and now >= killed_at:
                runtimes[2].send_signal(signal.SIGKILL)  # ip netns exec execs: this is the runtime itself
                runtimes[2].wait()
                result["killed_after_s"] = round(now - started, 1)
                killed_at = None
            time.sleep(0.05)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if store.count_instances().get("COMPLETED", 0) == len(instance_ids):
                break
            time.sleep(0.5)
        result["finished_after_s"] = round(time.monotonic() - started, 1)
        problems: list[str] = []
        completed: set[str] = set()
        by_host: dict[str, int] = {}
        for instance_id in instance_ids:
            view = manager.get_status(instance_id)
            if view.status != "COMPLETED":
                problems.append(f"{instance_id} is {view.status}")
                continue
            done = [h for h in view.history if h.kind is HistoryKind.EXECUTION_COMPLETED]
            if len(done) != 3 or len({h.execution_id for h in done}) != 3:
                problems.append(f"{instance_id}: {len(done)} completions")
            for h in done:
                completed.add(h.execution_id)
                by_host[h.actor or "?"] = by_host.get(h.actor or "?", 0) + 1
            problems += [f"{instance_id}: {d}" for d in differences(view)]
        acknowledged = set(acks.read_text().split()) if acks.exists() else set()
        if not acknowledged <= completed:
            problems.append(f"{len(acknowledged - completed)} acknowledged completion(s) missing")
        result.update(instances=len(instance_ids), completions=len(completed), by_runtime=by_host,
                      problems=problems[:20], ok=not problems)
        if problems:  # what the runtimes said, before their folder goes
            result["runtime_errors"] = {n: (folder / f"host{n}.err").read_text()[-800:] for n in runtimes}
        store.close()
    finally:
        for process in runtimes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                process.wait()
        remove_hosts()
        try:
            cluster.stop()
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=40.0, help="how long instances are started (default 40)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("pg_soak: needs root (ip netns, a cluster run as postgres)", file=sys.stderr)
        return 2
    result = soak(args.seconds)
    print(json.dumps(result, indent=2) if args.json else "\n".join(f"{k}: {v}" for k, v in result.items()))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
