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
from typing import TYPE_CHECKING, Annotated

import typer

from console.cli_input import print_store_warnings, require_database
from console.cli_options import DbOption, db_path, refuse_if_readonly
from engine import WorkflowManager
from engine.model import Execution
from engine.runtime import Outcome, WorkerRuntime
from engine.text import visible
from engine.workers import WorkerRegistry, load_workers
from store import open_store

if TYPE_CHECKING:
    from console.demo import DemoSummary


class VisibleFormatter(logging.Formatter):
    """Log lines with control and bidi characters made visible: a message quotes a worker's exception."""

    def format(self, record: logging.LogRecord) -> str:
        return visible(super().format(record), multiline=True)  # a traceback keeps its lines


def configure_logging(verbose: bool = False) -> None:
    """Log lines to stderr: time, level, message; the engine's chatter only with ``verbose``."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(VisibleFormatter("%(asctime)s %(levelname)-7s %(message)s", "%Y-%m-%d %H:%M:%S"))
    root = logging.getLogger("wfconsole")
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    root.propagate = False
    logging.getLogger("wfconsole.engine").setLevel(logging.DEBUG if verbose else logging.WARNING)
    # print_outcome already gives a line per attempt on stdout; the runtime's own lines are for --verbose.
    logging.getLogger("wfconsole.runtime").setLevel(logging.DEBUG if verbose else logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


def print_outcome(execution: Execution, outcome: Outcome, elapsed: float, error: str | None) -> None:
    """One line per finished attempt on stdout, for people watching the runtime."""
    stamp = datetime.now().strftime("%H:%M:%S")
    instance = execution.instance_id[:8]
    line = f"{stamp} {outcome.value:<9} {execution.task_id:<20} {instance}:{execution.node_id} " \
           f"attempt {execution.attempt} {elapsed:.2f}s"
    if error:
        line += f"  {error}"
    print(visible(line), flush=True)


def run_workers(db_path: str, modules: list[str], *, poll_interval: float = 1.0, stuck_interval: float = 30.0,
                lease_seconds: float = 30.0, max_workers: int = 4, grace: float = 30.0,
                verbose: bool = False, stop_event: threading.Event | None = None) -> int:
    """Run the runtime until SIGINT/SIGTERM (or ``stop_event``); return the process exit code."""
    configure_logging(verbose)
    registry: WorkerRegistry = load_workers(*modules)
    store = open_store(db_path)
    print_store_warnings(store)
    manager = WorkflowManager(store)
    runtime = WorkerRuntime(manager, registry, poll_interval=poll_interval, stuck_interval=stuck_interval,
                            lease_seconds=lease_seconds, max_workers=max_workers, on_outcome=print_outcome)
    stop = stop_event or threading.Event()
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, lambda *_: stop.set())
    serving = (f"{len(registry)} worker(s) for {', '.join(registry.task_ids)}" if len(registry)
               else "no workers, firing timers only")
    print(visible(f"wfconsole workers on {db_path}: {serving}; runtime {runtime.owner}. Ctrl-C stops."), flush=True)
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
    extra = "".join(f", {count} {what}" for count, what in ((stats.stale, "stale"), (stats.zombies, "zombie"))
                    if count)  # rare: shown only when they happened
    print(f"stopped: {stats.completed} completed, {stats.retried} retried, {stats.failed} failed, "
          f"{stats.stuck} stuck{extra}", flush=True)
    return 0


def _demo_built(summary: DemoSummary) -> str:
    """What ``demo`` did to the instances, for its one line of output."""
    if not summary.total_created:
        return f"{summary.existing} instances already there"
    built = ", ".join(f"{count} {state}" for state, count in summary.created.most_common())
    text = f"created {summary.total_created} instances ({built})"
    if summary.finished:
        text += f"; finished the {summary.finished} instance an interrupted build had left half-way"
    if summary.existing:
        text += f"; {summary.existing} were there already"
    return text


ModulesOption = Annotated[
    list[str],
    typer.Option("--module", "-m", metavar="MODULE",
                 help="A workers module: a dotted name (sample_data.workers) or a file (sample_data/workers.py). "
                      "Repeat for several."),
]


def workers_command(
    ctx: typer.Context,
    module: ModulesOption = None,
    db: DbOption = None,
    poll: Annotated[float, typer.Option("--poll", min=0.05, help="Seconds between polls for runnable work.")] = 1.0,
    stuck_interval: Annotated[float, typer.Option("--stuck-interval", min=0.5,
                                                  help="Seconds between stuck-token checks.")] = 30.0,
    lease: Annotated[float, typer.Option("--lease", min=1.0, help="Lease length in seconds (renewed while "
                                                                  "an attempt runs).")] = 30.0,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, help="Attempts run at once.")] = 4,
    grace: Annotated[float, typer.Option("--grace", min=0.0, help="On SIGINT/SIGTERM, seconds running attempts "
                                                                  "get to finish.")] = 30.0,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log the engine's debug lines too.")] = False,
) -> None:
    """Run task workers headless: claim executions whose task has a worker, run them, record the outcome.

    Prints a line per finished attempt. Timers that come due are fired too (late ones first, in order, at start); without --module it only fires timers. Several `workers` processes may share one database: a lease makes sure an execution never runs twice at once, and work of a process that died is taken over. SIGINT/SIGTERM stop claiming, let running attempts finish within --grace seconds and release the leases of the rest.

    Example:  wfconsole workers --module sample_data/workers.py --db ops.db
    """
    refuse_if_readonly(ctx, "`wfconsole workers` runs task workers, which complete and fail tasks")
    path = db_path(ctx, db)
    require_database(path)  # a mistyped --db must not become an empty database polled for ever
    code = run_workers(path, module or [], poll_interval=poll, stuck_interval=stuck_interval,
                       lease_seconds=lease, max_workers=concurrency, grace=grace, verbose=verbose)
    raise typer.Exit(code)


def demo_command(
    ctx: typer.Context,
    db: DbOption = None,
    no_console: Annotated[bool, typer.Option("--no-console", help="Run the sample workers headless instead of "
                                                                   "opening the console.")] = False,
    build_only: Annotated[bool, typer.Option("--build-only", help="Build the demo database and exit.")] = False,
) -> None:
    """Build (or refresh) a demo database from sample_data/, then open the console with the sample workers.

    The demo holds the sample blueprints and a few dozen instances in every state an operator meets: running, waiting at a join, waiting for a person, failed with an incident, stuck, failed at a split, completed, cancelled. Running it again adds nothing twice; after an interrupted build it finishes the demo, each instance made once.

    Example:  wfconsole demo            (then press ? in the console for its keys)
    """
    from console.demo import build_demo, sample_dir

    refuse_if_readonly(ctx, "`wfconsole demo` builds a database and runs workers")
    path = db_path(ctx, db)
    require_database(path, create=True)
    store = open_store(path)
    print_store_warnings(store)
    try:
        summary = build_demo(WorkflowManager(store))
    finally:
        store.close()
    print(f"demo database {path}: blueprints {', '.join(summary.blueprints)}; {_demo_built(summary)}", flush=True)
    if build_only:
        return
    workers_module = str(sample_dir() / "workers.py")
    if no_console:
        raise typer.Exit(run_workers(path, [workers_module]))
    from console.cli import open_console

    open_console(path, workers_module)
