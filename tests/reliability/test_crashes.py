"""Crashes: worker-runtime processes SIGKILLed at random moments, and completions that survive a kill -9.

1. Two runtime processes work through instances (a parallel block, then a task; each attempt a short
   sleep). Five times (seeded), a new batch of instances is started, one runtime is SIGKILLed while one of
   its attempts is running (plus a random few milliseconds) and is restarted at once under a new owner.
   Afterwards every instance has finished; every completion a runtime acknowledged (its
   ``task_done`` returned) is stored; no execution was completed twice; every attempt a killed process
   left unfinished was run again by another process (at-least-once execution of task code); every
   instance satisfies every invariant, replay included.
2. ``fsync``-level: a child process on a ``synchronous=FULL`` store completes executions and SIGKILLs
   itself right after one ``task_done`` returns; every completion it reported is in the database. (A
   SIGKILL cannot cut the power: what it shows is that a returned ``task_done`` has committed -- nothing
   is buffered in the process -- on a connection with ``synchronous=FULL``, under which SQLite syncs the
   WAL before the commit returns.)
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import postgres_server
import pytest
from reliability.invariants import check_instance

from engine import WorkflowManager
from engine.model import HistoryKind
from engine.validate import compile_blueprint
from store import open_store

ROOT = Path(__file__).resolve().parents[2]
WORKERS = Path(__file__).resolve().parent / "crash_workers.py"

FLOW = {
    "workflow_id": "crash",
    "nodes": [
        {"id": "start", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "START"},
        {"id": "split", "type": "INTERNAL", "internal_type": "GATEWAY", "gateway_type": "PARALLEL_SPLIT"},
        {"id": "a", "type": "TASK", "task_id": "a", "input_mapping": {"marker": "marker"},
         "output_mapping": {"by": "a_by"}},
        {"id": "b", "type": "TASK", "task_id": "b", "input_mapping": {"marker": "marker"},
         "output_mapping": {"by": "b_by"}},
        {"id": "join", "type": "INTERNAL", "internal_type": "GATEWAY", "gateway_type": "PARALLEL_JOIN"},
        {"id": "c", "type": "TASK", "task_id": "c", "input_mapping": {"marker": "marker"},
         "output_mapping": {"by": "c_by"}},
        {"id": "end", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "END"},
    ],
    "edges": [
        {"id": "e0", "source_id": "start", "target_id": "split"},
        {"id": "e1", "source_id": "split", "target_id": "a"},
        {"id": "e2", "source_id": "split", "target_id": "b"},
        {"id": "e3", "source_id": "a", "target_id": "join"},
        {"id": "e4", "source_id": "b", "target_id": "join"},
        {"id": "e5", "source_id": "join", "target_id": "c"},
        {"id": "e6", "source_id": "c", "target_id": "end"},
    ],
}

RUNTIME = textwrap.dedent("""
    import os, sys, time
    from engine import WorkflowManager
    from engine.runtime import WorkerRuntime
    from engine.workers import load_workers
    from store import open_store

    db, owner, acks, workers = sys.argv[1:5]

    def acknowledge(execution, outcome, elapsed, error):
        if outcome.value == "completed":  # task_done returned
            fd = os.open(acks, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            os.write(fd, (execution.id + "\\n").encode())
            os.fsync(fd)
            os.close(fd)

    manager = WorkflowManager(open_store(db))
    runtime = WorkerRuntime(manager, load_workers(workers), owner=owner, lease_seconds=1.0,
                            poll_interval=0.05, stuck_interval=3600, max_workers=4, on_outcome=acknowledge)
    runtime.start()
    time.sleep(600)
""")

TRIALS = 5
BATCH = 6


class Runtimes:
    def __init__(self, tmp: Path, db: Path) -> None:
        self.tmp, self.db = tmp, db
        self.acks = tmp / "acks.log"
        self.log = tmp / "attempts.log"
        self.env = {**os.environ, "PYTHONPATH": str(ROOT), "WF_CRASH_LOG": str(self.log)}
        self.live: list[subprocess.Popen] = []
        self.killed: list[int] = []
        self.started = 0

    def start(self) -> None:
        owner = f"runtime-{self.started}"
        self.started += 1
        self.live.append(subprocess.Popen([sys.executable, "-c", RUNTIME, str(self.db), owner, str(self.acks),
                                           str(WORKERS)], env=self.env))

    def attempts(self) -> list[list[str]]:
        return [line.split() for line in self.log.read_text().splitlines()] if self.log.exists() else []

    def running_attempts(self, pid: int) -> int:
        started, ended = 0, 0
        for event, _task, _marker, by in self.attempts():
            if int(by) == pid:
                started += event == "start"
                ended += event == "end"
        return started - ended

    def kill_one(self, rng: random.Random) -> None:
        victim = rng.choice(self.live)
        deadline = time.monotonic() + 5
        while self.running_attempts(victim.pid) == 0 and time.monotonic() < deadline and victim.poll() is None:
            time.sleep(0.005)
        time.sleep(rng.uniform(0, 0.03))
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        self.live.remove(victim)
        self.killed.append(victim.pid)

    def stop(self) -> None:
        for process in self.live:
            process.send_signal(signal.SIGKILL)
            process.wait()


def test_runtimes_killed_at_random_moments_lose_nothing_and_complete_nothing_twice(database: str,
                                                                                   tmp_path: Path) -> None:
    db = database  # a file, then a PostgreSQL database (tests/conftest.py)
    store = open_store(db)
    manager = WorkflowManager(store)
    manager.add_workflow(FLOW)
    runtimes = Runtimes(tmp_path, db)
    rng = random.Random(20260101)
    instance_ids: list[str] = []
    try:
        runtimes.start()
        runtimes.start()
        for trial in range(TRIALS):
            instance_ids += [manager.start_workflow("crash", {"marker": f"{trial}.{n}"}) for n in range(BATCH)]
            runtimes.kill_one(rng)
            runtimes.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if all(manager.get_status(i).status == "COMPLETED" for i in instance_ids):
                break
            time.sleep(0.05)
    finally:
        runtimes.stop()

    bp = compile_blueprint(FLOW)
    completed: dict[str, dict] = {}
    for instance_id in instance_ids:
        view = manager.get_status(instance_id)
        assert view.status == "COMPLETED", f"{instance_id} is {view.status} with {view.tokens}"
        problems = check_instance(view, bp, structured=True)
        assert problems == [], "\n".join(problems)
        for execution in view.executions:
            assert execution.status == "COMPLETED"
            completed[execution.id] = {"by": execution.outputs["by"], "marker": view.context["marker"],
                                       "task": execution.task_id}
        done = [h for h in view.history if h.kind is HistoryKind.EXECUTION_COMPLETED]
        assert len(done) == 3 == len({h.execution_id for h in done})

    acknowledged = set(runtimes.acks.read_text().split())
    assert acknowledged <= set(completed), "an acknowledged completion is missing"

    attempts = runtimes.attempts()
    ran = {(task, marker, int(pid)) for event, task, marker, pid in attempts if event == "start"}
    finished = {(task, marker, int(pid)) for event, task, marker, pid in attempts if event == "end"}
    for execution in completed.values():  # each completion's outputs came from an attempt that ran
        assert (execution["task"], execution["marker"], execution["by"]) in finished
    cut_short = {(task, marker, pid) for task, marker, pid in ran - finished if pid in runtimes.killed}
    assert cut_short, "no runtime was killed in the middle of an attempt: the test did not test"
    completed_by = {(e["task"], e["marker"]): e["by"] for e in completed.values()}
    for task, marker, pid in cut_short:  # run again, to the end, by another process
        assert completed_by[(task, marker)] != pid
    assert len(runtimes.killed) == TRIALS
    store.close()


SELF_KILL = textwrap.dedent("""
    import os, signal, sys
    from engine import WorkflowManager
    from store import open_store

    db, kill_after = sys.argv[1], int(sys.argv[2])
    store = open_store(db)
    with store.read() as cursor:
        setting = "SHOW synchronous_commit" if db.startswith("postgresql") else "PRAGMA synchronous"
        print("synchronous", cursor.execute(setting).fetchone()[0], flush=True)
    manager = WorkflowManager(store)
    pending = []
    manager.register_task_handler(lambda payload: pending.append(payload.execution_id))
    for n in range(kill_after + 5):
        manager.start_workflow("crash", {"marker": str(n)})
    for count, execution_id in enumerate(list(pending), start=1):
        manager.task_done(execution_id, {"by": os.getpid()})
        print("done", execution_id, flush=True)
        if count == kill_after:
            os.kill(os.getpid(), signal.SIGKILL)
""")


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_completion_that_returned_survives_kill_9_with_synchronous_full(backend: str, tmp_path: Path) -> None:
    """On SQLite with synchronous=FULL; on PostgreSQL with synchronous_commit on (its default): a commit
    returned once the server had the WAL on disk."""
    rng = random.Random(9)
    for round_ in range(3):
        db = tmp_path / f"durable-{round_}.db" if backend == "sqlite" else postgres_server.server().fresh_schema()
        store = open_store(db)
        WorkflowManager(store).add_workflow(FLOW)
        store.close()
        kill_after = rng.randint(1, 12)
        child = subprocess.run([sys.executable, "-c", SELF_KILL, str(db), str(kill_after)], capture_output=True,
                               text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
        assert child.returncode == -signal.SIGKILL, child.stderr
        lines = child.stdout.splitlines()
        assert lines[0] == ("synchronous 2" if backend == "sqlite" else "synchronous on")  # FULL; on
        reported = [line.split()[1] for line in lines[1:]]
        assert len(reported) == kill_after
        if backend == "sqlite":
            assert Path(f"{db}-wal").exists()  # the commits are in the WAL, not yet checkpointed

        store = open_store(db)
        manager = WorkflowManager(store)
        for execution_id in reported:
            execution = manager.get_execution(execution_id)
            assert execution.status == "COMPLETED" and execution.outputs is not None, execution_id
        executions = [e for i in manager.list_instances() for e in manager.get_status(i.id).executions]
        assert sum(e.status == "COMPLETED" for e in executions) == kill_after
        store.close()
