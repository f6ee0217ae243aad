"""``wfconsole workers``: the worker runtime, headless, with a log line per execution.

SIGINT and SIGTERM stop it gracefully: no new claims, running attempts get ``grace`` seconds to finish,
the leases of the rest are released so another runtime can take them over at once.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from datetime import datetime

from engine import WorkflowManager
from engine.model import Execution
from engine.runtime import Outcome, WorkerRuntime
from engine.workers import WorkerRegistry, load_workers
from store import open_store


def configure_logging(verbose: bool = False) -> None:
    """Log lines to stderr: time, level, message; the engine's chatter only with ``verbose``."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(message)s", "%Y-%m-%d %H:%M:%S"))
    root = logging.getLogger("wfconsole")
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    root.propagate = False
    logging.getLogger("wfconsole.engine").setLevel(logging.DEBUG if verbose else logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


def print_outcome(execution: Execution, outcome: Outcome, elapsed: float, error: str | None) -> None:
    """One line per finished attempt on stdout, for people watching the runtime."""
    stamp = datetime.now().strftime("%H:%M:%S")
    instance = execution.instance_id[:8]
    line = f"{stamp} {outcome.value:<9} {execution.task_id:<20} {instance}:{execution.node_id} " \
           f"attempt {execution.attempt} {elapsed:.2f}s"
    if error:
        line += f"  {error}"
    print(line, flush=True)


def run_workers(db_path: str, modules: list[str], *, poll_interval: float = 1.0, stuck_interval: float = 30.0,
                lease_seconds: float = 30.0, max_workers: int = 4, grace: float = 30.0,
                verbose: bool = False, stop_event: threading.Event | None = None) -> int:
    """Run the runtime until SIGINT/SIGTERM (or ``stop_event``); return the process exit code."""
    configure_logging(verbose)
    registry: WorkerRegistry = load_workers(*modules)
    store = open_store(db_path)
    manager = WorkflowManager(store)
    runtime = WorkerRuntime(manager, registry, poll_interval=poll_interval, stuck_interval=stuck_interval,
                            lease_seconds=lease_seconds, max_workers=max_workers, on_outcome=print_outcome)
    stop = stop_event or threading.Event()
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, lambda *_: stop.set())
    print(f"wfconsole workers on {db_path}: {len(registry)} worker(s) for {', '.join(registry.task_ids)}; "
          f"runtime {runtime.owner}. Ctrl-C stops.", flush=True)
    runtime.start()
    try:
        while not stop.wait(0.5):
            pass
        print(f"stopping: waiting up to {grace:g}s for {runtime.running_count} running attempt(s)", flush=True)
        runtime.stop(grace=grace)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        store.close()
    stats = runtime.stats
    print(f"stopped: {stats.completed} completed, {stats.retried} retried, {stats.failed} failed, "
          f"{stats.stuck} stuck", flush=True)
    return 0
