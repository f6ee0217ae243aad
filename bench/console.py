"""The console at 100,000 instances (issue 7).

    .venv/bin/python bench/console.py            # the full benchmark, a table
    .venv/bin/python bench/console.py --json     # the same as JSON
    .venv/bin/python bench/console.py --quick    # a tiny run (seconds), for CI's smoke test

It builds a database of 100,000 instances of mixed statuses (80% completed, 12% running of which 2% with
an incident, 5% failed, 3% cancelled) with about 1,000,000 history rows, written by :mod:`bench.preload`
with ``executemany`` in seconds. Then, in a fresh process each time, it drives the real ``WfConsoleApp``
with Textual's headless pilot and measures:

- **first page**: from the start of the process (before Textual and the console are imported) until the
  instances table shows its first page;
- **filter**: from a status key's action (``f``, ``r``, ``c``, ``x``, ``a``) until the table shows that
  status's first page;
- **search**: from Enter in the search line until the table shows the matches (a customer id held in one
  instance's context, and a node name held by thousands);
- **detail**: from Enter on a running instance until its detail screen shows, token graph included;

"Shows" means the screen's data is in its widgets and every widget has handled the messages that caused
(layout, refresh). The actions are called as their keys would call them: the pilot's own key presses wait
for the process to look idle, in 20 ms steps, which would be measured too.
- the peak RSS of that process (``VmHWM``).

Each figure is the median over the runs (and, within a run, over the repeated actions).
"""

from __future__ import annotations

import time

_PROCESS_STARTED = time.perf_counter()  # before anything heavy is imported: "launch" counts from here

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import sqlite3  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from collections.abc import Callable  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

_HERE = Path(__file__).resolve().parent
ROOT = _HERE.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(ROOT))

TARGETS = {"first_page_s": 1.0, "filter_s": 0.2, "search_s": 0.5, "detail_s": 0.3, "peak_rss_mb": 300.0}
SIZE = (160, 48)
TIMEOUT_S = 60.0


def _peak_rss_mb() -> float:
    """This process's peak resident set (``VmHWM``: ``ru_maxrss`` would carry the parent's over ``exec``)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


# -- the pilot (a child process) ----------------------------------------------------------------------


async def _until(pilot: Any, condition: Callable[[], bool]) -> float:
    """Let the app run until ``condition`` holds and the screen has handled what that caused (layout,
    refresh); return that time (perf_counter).

    Polls with ``asyncio.sleep`` rather than ``pilot.pause()``: the pilot's pause and key presses wait for
    the *process* to look idle (CPU time against wall time, in 20 ms steps), which would add tens of
    milliseconds to every figure.
    """
    deadline = time.perf_counter() + TIMEOUT_S
    while time.perf_counter() < deadline:
        if condition():
            await pilot._wait_for_screen()  # every widget has processed its pending messages
            return time.perf_counter()
        await asyncio.sleep(0.001)
    raise TimeoutError("the console did not get there in time")


async def _drive(db: str, customer: str, node: str, rounds: int) -> dict[str, Any]:
    """Open the console on ``db`` and time its reactions; actions are invoked as their keys would."""
    from console.app import WfConsoleApp
    from console.screens.instance_detail_screen import InstanceDetailScreen
    from console.screens.instances_screen import InstancesScreen
    from console.widgets.instances_table import InstancesTable
    from engine import InstanceStatus

    app = WfConsoleApp(db, start_mode="instances")
    result: dict[str, Any] = {"filter_s": [], "search_s": [], "detail_s": []}

    def screen() -> InstancesScreen:
        return app.screen  # type: ignore[return-value]

    def shown(status: InstanceStatus | None = None, text: str | None = None) -> Callable[[], bool]:
        def check() -> bool:
            current = app.screen
            return (isinstance(current, InstancesScreen) and current.page is not None
                    and current.page.query == current._query and current.page.query.status == status
                    and current.page.query.text == text and current.query_one(InstancesTable).row_count > 0)
        return check

    async with app.run_test(size=SIZE) as pilot:
        result["first_page_s"] = await _until(pilot, shown()) - _PROCESS_STARTED
        result["total_instances"] = screen().page.total
        for _ in range(rounds):
            for status in ("FAILED", "ACTIVE", "COMPLETED", "CANCELLED", ""):  # /status=... on the filter line
                started = time.perf_counter()
                screen().apply_view({"status": status.lower()} if status else {})
                wanted = InstanceStatus(status) if status else None
                result["filter_s"].append(await _until(pilot, shown(wanted)) - started)
            for text in (customer, node):  # / text: what the filter line does once the typing pauses
                started = time.perf_counter()
                screen().apply_view({}, text)
                result["search_s"].append(await _until(pilot, shown(None, text)) - started)
                result.setdefault("search_matches", {})[text] = screen().page.total
            screen().action_clear_filters()  # Esc
            await _until(pilot, shown())
            screen().apply_view({"status": "active"})
            await _until(pilot, shown(InstanceStatus.ACTIVE))
            for row in range(3):  # Enter on a running instance
                table = screen().query_one(InstancesTable)
                table.move_cursor(row=row, animate=False)
                opened = table.selected_instance_id
                started = time.perf_counter()
                screen().action_open()
                result["detail_s"].append(await _until(
                    pilot, lambda opened=opened: isinstance(app.screen, InstanceDetailScreen)
                    and app.screen.detail is not None and app.screen.detail.view.id == opened) - started)
                result["graph_drawn"] = app.screen.detail.drawing is not None
                app.screen.action_back()
                await _until(pilot, shown(InstanceStatus.ACTIVE))
            screen().apply_view({})
            await _until(pilot, shown())
    result["peak_rss_mb"] = _peak_rss_mb()
    return result


def pilot_run(db: str, customer: str, node: str, rounds: int) -> dict[str, Any]:
    return asyncio.run(_drive(db, customer, node, rounds))


def build(path: str, instances: int, history_rows: int, workdir: str) -> dict[str, Any]:
    from bench.preload import MIXED, preload

    started = time.perf_counter()
    loaded = preload(path, instances, history_rows, workdir=workdir, mix=MIXED)
    return {**loaded, "seconds": round(time.perf_counter() - started, 1), "peak_rss_mb": _peak_rss_mb()}


CHILD_KINDS = {"pilot": pilot_run, "build": build}


# -- orchestration -----------------------------------------------------------------------------------


def run_child(kind: str, **args: Any) -> dict[str, Any]:
    spec = json.dumps({"kind": kind, **args})
    done = subprocess.run([sys.executable, __file__, "--child", spec], cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{kind} run failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="wfbench-console-", dir=args.dir))
    try:
        db = workdir / "console.db"
        built = run_child("build", path=str(db), instances=args.instances, history_rows=args.history,
                          workdir=str(workdir))
        customer = f"c-{(2 * args.instances) // 3:06d}"  # held by one instance
        runs = [run_child("pilot", db=str(db), customer=customer, node="t1", rounds=args.rounds)
                for _ in range(args.repeats)]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    measured = {
        "first_page_s": statistics.median(r["first_page_s"] for r in runs),
        "filter_s": statistics.median(x for r in runs for x in r["filter_s"]),
        "search_s": statistics.median(x for r in runs for x in r["search_s"]),
        "detail_s": statistics.median(x for r in runs for x in r["detail_s"]),
        "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
    }
    worst = {"filter_s": max(x for r in runs for x in r["filter_s"]),
             "search_s": max(x for r in runs for x in r["search_s"]),
             "detail_s": max(x for r in runs for x in r["detail_s"]),
             "first_page_s": max(r["first_page_s"] for r in runs)}
    return {
        "machine": {"cores": os.cpu_count(), "python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
                    "machine": platform.machine(), "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")},
        "settings": {"instances": args.instances, "history": args.history, "repeats": args.repeats,
                     "rounds": args.rounds, "quick": args.quick},
        "database": built,
        "search_matches": runs[-1].get("search_matches", {}),
        "graph_drawn": all(r.get("graph_drawn") for r in runs),
        "results": {name: {"median": value, "worst": worst.get(name, value), "target": TARGETS[name],
                           "met": value < TARGETS[name]} for name, value in measured.items()},
        "runs": runs,
        "targets_met": all(value < TARGETS[name] for name, value in measured.items()),
    }


LABELS = {"first_page_s": "launch to first page of instances", "filter_s": "status filter",
          "search_s": "text search", "detail_s": "instance detail with graph", "peak_rss_mb": "peak RSS"}


def table(result: dict[str, Any]) -> str:
    m, s, d = result["machine"], result["settings"], result["database"]
    lines = [f"{m['cores']} cores, {m['machine']}, Python {m['python']}, SQLite {m['sqlite']}, {m['date']}",
             f"database: {d['instances']:,} instances {d['statuses']}, {d['history_rows']:,} history rows, "
             f"{d['file_mb']} MB, built in {d['seconds']} s; median of {s['repeats']} runs x {s['rounds']} rounds",
             "", f"{'measure':<36}{'median':>10}{'worst':>10}{'target':>10}{'met':>6}", "-" * 72]
    def fmt(name: str, value: float) -> str:
        return f"{value:.0f} MB" if name == "peak_rss_mb" else f"{value:.3f} s"

    for name, r in result["results"].items():
        lines.append(f"{LABELS[name]:<36}{fmt(name, r['median']):>10}{fmt(name, r['worst']):>10}"
                     f"{'< ' + fmt(name, r['target']):>10}"
                     f"{'yes' if r['met'] else 'NO':>6}")
    lines += ["", f"search matches: {result['search_matches']}",
              "all targets met" if result["targets_met"] else "targets NOT all met"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--quick", action="store_true", help="a tiny run for a smoke test (numbers meaningless)")
    parser.add_argument("--instances", type=int, default=100_000)
    parser.add_argument("--history", type=int, default=1_000_000, help="about this many history rows")
    parser.add_argument("--repeats", type=int, default=3, help="pilot runs, each in a fresh process")
    parser.add_argument("--rounds", type=int, default=2, help="times each action is repeated in a run")
    parser.add_argument("--dir", default=None, help="where the database goes (default: the temp dir)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        spec = json.loads(args.child)
        print(json.dumps(CHILD_KINDS[spec.pop("kind")](**spec)), flush=True)
        return 0
    if args.quick:
        args.instances, args.history, args.repeats, args.rounds = 1000, 10_000, 1, 1
    result = run(args)
    print(json.dumps(result, indent=2) if args.json else table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
