"""Soak test (issue 8): workers and racing operators on one database for minutes, with periodic kill -9s.

    .venv/bin/python bench/soak.py                  # 10 minutes, 4 processes
    .venv/bin/python bench/soak.py --minutes 30 --processes 6
    .venv/bin/python bench/soak.py --quick          # about 30 seconds, for a smoke test

Not part of CI. One database file; the main process starts instances of a mixed workflow (automatic tasks
run by worker runtimes, manual ones done by operators, a parallel block, an exclusive split, a loop) and
keeps a bounded number in flight. Half the processes are worker runtimes (``WorkerRuntime``; their tasks
fail now and then, so retries and incidents happen), the other half operators (complete manual tasks,
retry incidents, fail and cancel now and then, set variables, send duplicate completions). Every
``--kill-every`` seconds a random runtime is SIGKILLed and restarted. Every ``--report-every`` seconds a
line of throughput is printed.

At the end the starts stop, kills stop, everything in flight is driven to its end, and every instance is
checked against every invariant of ``tests/reliability/invariants.py`` (token placement, joins, finished
instances, append-only history, replay == stored state, no execution completed twice), plus: every
completion a runtime acknowledged is stored, and no caller saw a ``StoreError`` (``database is locked``) or
any unexpected error. The exit code is 0 only if all of it holds.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from engine import InstanceQuery, InvalidStateError, WorkflowManager  # noqa: E402
from engine.workers import worker  # noqa: E402

FLOW = {
    "workflow_id": "soak",
    "nodes": [
        {"id": "start", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "START"},
        {"id": "fetch", "type": "TASK", "task_id": "soak_fetch", "input_mapping": {"seed": "seed"},
         "output_mapping": {"amount": "amount"}},
        {"id": "split", "type": "INTERNAL", "internal_type": "GATEWAY", "gateway_type": "PARALLEL_SPLIT"},
        {"id": "score", "type": "TASK", "task_id": "soak_score", "input_mapping": {"amount": "amount"},
         "output_mapping": {"score": "score"}},
        {"id": "review", "type": "TASK", "task_id": "soak_review", "output_mapping": {"note": "note"}},
        {"id": "join", "type": "INTERNAL", "internal_type": "GATEWAY", "gateway_type": "PARALLEL_JOIN"},
        {"id": "route", "type": "INTERNAL", "internal_type": "GATEWAY", "gateway_type": "EXCLUSIVE_SPLIT"},
        {"id": "approve", "type": "TASK", "task_id": "soak_approve"},
        {"id": "reject", "type": "TASK", "task_id": "soak_reject"},
        {"id": "merge", "type": "INTERNAL", "internal_type": "GATEWAY", "gateway_type": "EXCLUSIVE_JOIN"},
        {"id": "again", "type": "INTERNAL", "internal_type": "GATEWAY", "gateway_type": "EXCLUSIVE_JOIN"},
        {"id": "poll", "type": "TASK", "task_id": "soak_poll", "output_mapping": {"done": "done"}},
        {"id": "until", "type": "INTERNAL", "internal_type": "GATEWAY", "gateway_type": "EXCLUSIVE_SPLIT"},
        {"id": "end", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "END"},
    ],
    "edges": [
        {"id": "e1", "source_id": "start", "target_id": "fetch"},
        {"id": "e2", "source_id": "fetch", "target_id": "split"},
        {"id": "e3", "source_id": "split", "target_id": "score"},
        {"id": "e4", "source_id": "split", "target_id": "review"},
        {"id": "e5", "source_id": "score", "target_id": "join"},
        {"id": "e6", "source_id": "review", "target_id": "join"},
        {"id": "e7", "source_id": "join", "target_id": "route"},
        {"id": "e8", "source_id": "route", "target_id": "approve", "condition": "score > 50"},
        {"id": "e9", "source_id": "route", "target_id": "reject"},
        {"id": "e10", "source_id": "approve", "target_id": "merge"},
        {"id": "e11", "source_id": "reject", "target_id": "merge"},
        {"id": "e12", "source_id": "merge", "target_id": "again"},
        {"id": "e13", "source_id": "again", "target_id": "poll"},
        {"id": "e14", "source_id": "poll", "target_id": "until"},
        {"id": "e15", "source_id": "until", "target_id": "again", "condition": "done == false"},
        {"id": "e16", "source_id": "until", "target_id": "end"},
    ],
}
MANUAL = ("soak_review", "soak_approve")


# -- the workers (loaded from this file by the runtime processes) -----------------------------------


@worker("soak_fetch", attempts=3, backoff=0.05, timeout=30)
def fetch(inputs: dict) -> dict:
    time.sleep(random.uniform(0.001, 0.005))
    return {"amount": random.randint(0, 100)}


@worker("soak_score", attempts=2, backoff=0.05, timeout=30)
def score(inputs: dict) -> dict:
    if random.random() < 0.15:
        raise ConnectionError("scoring service unavailable")
    return {"score": (inputs.get("amount") or 0) + random.randint(-10, 10)}


@worker("soak_reject", attempts=3, backoff=0.05, timeout=30)
def reject(inputs: dict) -> dict:
    return {}


@worker("soak_poll", attempts=3, backoff=0.05, timeout=30)
def poll(inputs: dict) -> dict:
    time.sleep(random.uniform(0.001, 0.01))
    return {"done": random.random() < 0.6}


# -- roles ------------------------------------------------------------------------------------------


def run_runtime(db: str, owner: str, acks: str) -> None:
    import logging

    from engine.runtime import WorkerRuntime
    from engine.workers import load_workers
    from store import open_store

    def acknowledge(execution, outcome, elapsed, error) -> None:
        if outcome.value == "completed":
            with open(acks, "a") as handle:
                handle.write(execution.id + "\n")

    logging.getLogger("apscheduler").setLevel(logging.ERROR)  # "skipped: maximum number of running instances"
    manager = WorkflowManager(open_store(db))
    runtime = WorkerRuntime(manager, load_workers(__file__), owner=owner, lease_seconds=2.0, poll_interval=0.2,
                            stuck_interval=3600, max_workers=4, on_outcome=acknowledge)
    runtime.start()
    while True:
        time.sleep(3600)


def run_operator(db: str, index: int, stop_file: str, out: str) -> None:
    from store import open_store

    store = open_store(db)
    manager = WorkflowManager(store)
    rng = random.Random(index)
    log = {"operations": 0, "lost_races": 0, "errors": []}
    actor = f"operator-{index}"
    while not Path(stop_file).exists():
        try:
            open_ones = store.list_executions(["ACTIVE", "FAILED"], limit=100)
            manual = [e for e in open_ones if e.task_id in MANUAL and e.status == "ACTIVE"]
            incidents = [e for e in open_ones if e.status == "FAILED"]
            action = rng.choices(["complete", "retry", "fail", "cancel", "variables", "duplicate"],
                                 weights=[65, 15, 4, 1, 7, 8])[0]
            if action == "complete" and manual:
                execution = rng.choice(manual)
                outputs = {"note": f"ok by {actor}"} if execution.task_id == "soak_review" else {}
                manager.task_done(execution.id, outputs, actor=actor)
            elif action == "retry" and incidents:
                manager.retry(rng.choice(incidents).id, actor=actor)
            elif action == "fail" and manual:
                manager.fail_task(rng.choice(manual).id, "operator says no", actor=actor)
            elif action == "cancel" and open_ones:
                manager.cancel(rng.choice(open_ones).instance_id, "soak cancel", actor=actor)
            elif action == "variables" and open_ones:
                manager.set_variables(rng.choice(open_ones).instance_id, {"seed": rng.randrange(1000)}, actor=actor)
            elif action == "duplicate":
                done = store.list_executions(["COMPLETED"], limit=50)
                if done:
                    manager.task_done(rng.choice(done).id, {"note": "duplicate"}, actor=actor)
            else:
                time.sleep(0.01)
                continue
            log["operations"] += 1
        except InvalidStateError:
            log["lost_races"] += 1
        except Exception as error:  # StoreError ('database is locked') or a bug
            log["errors"].append(f"{type(error).__name__}: {error}")
        if log["operations"] % 50 == 0:
            Path(out).write_text(json.dumps(log))
    Path(out).write_text(json.dumps(log))
    store.close()


# -- the main process -------------------------------------------------------------------------------


class Soak:
    def __init__(self, args: argparse.Namespace) -> None:
        from store import open_store

        self.args = args
        self.dir = Path(args.dir or tempfile.mkdtemp(prefix="wfsoak-"))
        self.db = self.dir / "soak.db"
        self.acks = self.dir / "acks.log"
        self.stop_file = self.dir / "stop"
        self.store = open_store(self.db)
        self.manager = WorkflowManager(self.store)
        self.manager.add_workflow(FLOW)
        self.rng = random.Random(args.seed)
        self.runtimes: list[subprocess.Popen] = []
        self.operators: list[subprocess.Popen] = []
        self.started_runtimes = 0
        self.kills = 0
        self.instances = 0

    def spawn(self, *role: str) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, __file__, *role], env={**os.environ, "PYTHONPATH": str(ROOT)})

    def start_runtime(self) -> None:
        owner = f"soak-runtime-{self.started_runtimes}"
        self.started_runtimes += 1
        self.runtimes.append(self.spawn("--role", "runtime", "--db", str(self.db), "--owner", owner,
                                        "--acks", str(self.acks)))

    def counts(self) -> dict[str, int]:
        with self.store.read() as cursor:
            rows = cursor.execute("SELECT status, COUNT(*) FROM executions GROUP BY status").fetchall()
        counts = {f"executions {s}": n for s, n in rows}
        counts.update({f"instances {s}": n for s, n in self.store.count_instances().items()})
        return counts

    def run(self) -> int:
        args = self.args
        runtimes = max(1, args.processes // 2)
        operators = max(1, args.processes - runtimes)
        print(f"soak: {args.minutes:g} min, {runtimes} runtime + {operators} operator processes, kill -9 every "
              f"{args.kill_every:g} s, database {self.db}", flush=True)
        for _ in range(runtimes):
            self.start_runtime()
        for n in range(operators):
            self.operators.append(self.spawn("--role", "operator", "--db", str(self.db), "--index", str(n),
                                             "--stop", str(self.stop_file), "--out", str(self.dir / f"op-{n}.json")))
        began = time.monotonic()
        end = began + args.minutes * 60
        next_kill = began + args.kill_every if args.kill_every else float("inf")
        next_report = began + args.report_every
        last = (began, 0)
        try:
            while time.monotonic() < end:
                active = self.store.count_instances(InstanceQuery(status="ACTIVE")).get("ACTIVE", 0)
                for _ in range(max(0, args.in_flight - active)):
                    self.manager.start_workflow("soak", {"seed": self.rng.randrange(1000)}, actor="soak")
                    self.instances += 1
                now = time.monotonic()
                if now >= next_kill:
                    victim = self.rng.choice(self.runtimes)
                    victim.send_signal(signal.SIGKILL)
                    victim.wait()
                    self.runtimes.remove(victim)
                    self.kills += 1
                    self.start_runtime()
                    next_kill = now + args.kill_every
                if now >= next_report:
                    counts = self.counts()
                    done = counts.get("executions COMPLETED", 0)
                    rate = (done - last[1]) / (now - last[0])
                    last = (now, done)
                    print(f"{now - began:7.1f}s  {rate:7.1f} completions/s  instances started {self.instances}  "
                          f"kills {self.kills}  {counts}", flush=True)
                    next_report = now + args.report_every
                time.sleep(0.05)
            print("soak: draining (no more starts or kills)", flush=True)
            self.drain(time.monotonic() + args.drain_seconds)
        finally:
            self.stop_file.write_text("stop")
            for process in self.operators:
                process.wait(timeout=60)
            for process in self.runtimes:
                process.send_signal(signal.SIGKILL)
                process.wait()
        elapsed = time.monotonic() - began
        return self.verify(elapsed)

    def drain(self, deadline: float) -> None:
        """Operators and runtimes go on; the main process helps with manual tasks and incidents."""
        while time.monotonic() < deadline:
            if not self.store.count_instances(InstanceQuery(status="ACTIVE")).get("ACTIVE"):
                return
            for execution in self.store.list_executions(["ACTIVE", "FAILED"], limit=200):
                try:
                    if execution.status == "FAILED":
                        self.manager.retry(execution.id, actor="drain")
                    elif execution.task_id in MANUAL:
                        self.manager.task_done(execution.id, {"note": "drained"}, actor="drain")
                except InvalidStateError:
                    pass
            time.sleep(0.1)

    def verify(self, elapsed: float) -> int:
        from reliability.invariants import check_instance

        from engine.model import HistoryKind
        from engine.validate import compile_blueprint

        problems: list[str] = []
        bp = compile_blueprint(FLOW)
        statuses: dict[str, int] = {}
        completed: set[str] = set()
        final: dict[str, str] = {}
        offset = 0
        while True:
            page = self.manager.list_instances(InstanceQuery(limit=500, offset=offset))
            if not page:
                break
            offset += len(page)
            for summary in page:
                view = self.manager.get_status(summary.id)
                statuses[str(view.status)] = statuses.get(str(view.status), 0) + 1
                problems += check_instance(view, bp, structured=True)
                completed |= {h.execution_id for h in view.history if h.kind is HistoryKind.EXECUTION_COMPLETED}
                final.update((e.id, str(e.status)) for e in view.executions)
        if statuses.get("ACTIVE"):
            problems.append(f"{statuses['ACTIVE']} instance(s) still ACTIVE after the drain")
        acked = set(self.acks.read_text().split()) if self.acks.exists() else set()
        # A runtime acknowledges when task_done returned: applied, or a no-op because an operator
        # cancelled the instance meanwhile.
        missing = {e for e in acked if not (e in completed or final.get(e) == "CANCELLED")}
        if missing:
            problems.append(f"{len(missing)} acknowledged completion(s) missing, e.g. {sorted(missing)[:3]}")
        operations = lost = 0
        for out in sorted(self.dir.glob("op-*.json")):
            log = json.loads(out.read_text())
            operations += log["operations"]
            lost += log["lost_races"]
            problems += [f"{out.stem}: {e}" for e in log["errors"]]
        done = len(completed)
        print(f"soak: {elapsed:.0f} s, {self.instances} instances started ({statuses}), {done} completions "
              f"({done / elapsed:.1f}/s), {len(acked)} acknowledged by runtimes, {operations} operator actions "
              f"({lost} lost races), {self.kills} runtime kill -9s", flush=True)
        checks = {
            "invariants of every instance (replay included)": not any(p.startswith("instance ") for p in problems),
            "no execution completed twice": not any("completed twice" in p for p in problems),
            "every acknowledged completion stored": not missing,
            "no caller saw a StoreError or unexpected error": not any(p.startswith("op-") for p in problems),
            "every instance finished": not statuses.get("ACTIVE"),
        }
        for name, ok in checks.items():
            print(f"  [{'ok' if ok else 'FAIL'}] {name}")
        for problem in problems[:50]:
            print(f"  {problem}")
        print(f"soak: database kept at {self.db}" if problems else "soak: all checks passed", flush=True)
        self.store.close()
        return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0, help="how long to run (default 10)")
    parser.add_argument("--processes", type=int, default=4, help="runtime + operator processes (default 4)")
    parser.add_argument("--kill-every", type=float, default=5.0, help="seconds between kill -9s (0: never)")
    parser.add_argument("--report-every", type=float, default=10.0, help="seconds between throughput lines")
    parser.add_argument("--in-flight", type=int, default=100, help="instances kept ACTIVE (default 100)")
    parser.add_argument("--drain-seconds", type=float, default=60.0, help="time allowed to finish at the end")
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--dir", help="where to put the database (default: a new temporary directory)")
    parser.add_argument("--quick", action="store_true", help="a short run: 0.4 minutes, 2 processes")
    parser.add_argument("--role", choices=["main", "runtime", "operator"], default="main", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--owner", help=argparse.SUPPRESS)
    parser.add_argument("--acks", help=argparse.SUPPRESS)
    parser.add_argument("--index", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--stop", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.role == "runtime":
        run_runtime(args.db, args.owner, args.acks)
        return 0
    if args.role == "operator":
        run_operator(args.db, args.index, args.stop, args.out)
        return 0
    if args.quick:
        args.minutes, args.processes, args.kill_every, args.report_every = 0.4, 2, 4.0, 5.0
        args.in_flight, args.drain_seconds = min(args.in_flight, 30), min(args.drain_seconds, 30.0)
    return Soak(args).run()


if __name__ == "__main__":
    sys.exit(main())
