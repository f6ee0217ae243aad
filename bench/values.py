"""The check of the values a caller hands the engine (``check_json_object``: outputs on every ``task_done``,
variables, an initial context), in µs per call, on the shapes the sample workers return and a few more; and
its share of a whole ``task_done``.

    .venv/bin/python bench/values.py                    # a table (about a minute)
    .venv/bin/python bench/values.py --against 6090117  # and the check as it was at that git revision
    .venv/bin/python bench/values.py --json             # the same as JSON
    .venv/bin/python bench/values.py --quick            # a tiny run (numbers meaningless)

Baselines, measured in the same run: for the check, writing the same values as compact JSON text (the
standard library's encoder with the store's settings), what measuring their size by serialising them would
cost on every call; for ``task_done`` (a one-task instance on an in-memory store, outputs like
``send_email``'s), the same ``task_done`` with the check replaced by a pass-through, in interleaved batches.
Each figure is the best of its interleaved batches: the machine is shared, and the best batch is the one
least disturbed.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import engine.manager  # noqa: E402
from engine import WorkflowManager  # noqa: E402
from engine.values import check_json_object  # noqa: E402
from store import open_store  # noqa: E402

ONE_TASK = {
    "workflow_id": "one_task",
    "nodes": [{"id": "start", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "START"},
              {"id": "send", "type": "TASK", "task_id": "send_email",
               "output_mapping": {"status": "email_status", "message_id": "message_id"}},
              {"id": "end", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "END"}],
    "edges": [{"id": "e1", "source_id": "start", "target_id": "send"},
              {"id": "e2", "source_id": "send", "target_id": "end"}],
}

CASES: dict[str, dict[str, Any]] = {
    "one ASCII string": {"status": "captured"},
    "send_email": {"status": "sent", "message_id": "<3f2a9c1e8b7d4e0f9a6b5c4d3e2f1a0b@mail.internal>"},
    "manual_review": {"decision": "approved", "notes": "income documents checked", "reviewer": "demo-reviewer"},
    "numbers and a flag": {"score": 712, "bureau_ref": "CB-000712", "ok": True, "total": 129.9},
    "non-ASCII text": {"notes": "Zahlung geprüft – Überweisung folgt", "reviewer": "j.müller"},
    "nested items": {"items": [{"sku": "SKU-120", "qty": 2, "price": 49.0}, {"sku": "SKU-404", "qty": 1,
                                                                            "price": 19.9}], "currency": "EUR"},
    "40 KB document": {"document": "x" * 40_000, "pages": 12},
}


def encode(values: dict[str, Any]) -> str:
    return json.dumps(values, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def previous_check(revision: str) -> Callable[[Any, str], Any]:
    """``check_json_object`` as it was at a git revision (``engine/values.py``, before that ``engine/manager.py``)."""
    for path in ("engine/values.py", "engine/manager.py"):
        shown = subprocess.run(["git", "show", f"{revision}:{path}"], cwd=ROOT, capture_output=True, text=True)
        if shown.returncode == 0 and "def check_json_object" in shown.stdout:
            module = types.ModuleType(f"previous_{path.replace('/', '_')[:-3]}")
            sys.modules[module.__name__] = module
            exec(compile(shown.stdout, f"{revision}:{path}", "exec"), module.__dict__)  # noqa: S102 - our own code
            return module.check_json_object
    raise SystemExit(f"no check_json_object at {revision}")


def measure(calls: int, rounds: int, previous: Callable | None) -> dict[str, dict[str, float]]:
    """µs per call of the check, the baseline and the previous check, each the best of ``rounds`` batches of
    ``calls`` calls, the batches of the three interleaved."""
    functions = {"check_us": check_json_object, "encode_us": lambda values, _what: encode(values)}
    if previous is not None:
        functions["previous_us"] = previous
    clock = time.perf_counter_ns
    results = {}
    for name, value in CASES.items():
        n = max(1, calls // 100) if len(encode(value)) > 10_000 else calls
        best = dict.fromkeys(functions, float("inf"))
        for _ in range(rounds):
            for label, function in functions.items():
                started = clock()
                for _ in range(n):
                    function(value, "outputs")
                best[label] = min(best[label], (clock() - started) / n / 1000)
        row = {label: round(us, 3) for label, us in best.items()}
        row["check/encode"] = round(best["check_us"] / best["encode_us"], 3)
        if previous is not None:
            row["check/previous"] = round(best["check_us"] / best["previous_us"], 3)
        results[name] = {**row, "json_bytes": len(encode(value).encode())}
    return results


def task_done_us(batch: int, rounds: int) -> dict[str, float]:
    """µs per ``task_done`` with the check and with a pass-through instead: each round a fresh in-memory
    database holding both batches' instances, the two batches in turn first."""
    real, best = engine.manager.check_json_object, {"with_check_us": float("inf"), "pass_through_us": float("inf")}
    checks = [("with_check_us", real), ("pass_through_us", lambda values, _what: values)]
    try:
        for round_number in range(rounds):
            store = open_store(":memory:")
            manager = WorkflowManager(store)
            manager.add_workflow(ONE_TASK)
            opened: list[str] = []
            manager.register_task_handler(lambda payload, opened=opened: opened.append(payload.execution_id))
            for _ in range(2 * batch):
                manager.start_workflow("one_task")
            for index, (name, check) in enumerate(checks[::-1] if round_number % 2 else checks):
                engine.manager.check_json_object = check
                started = time.perf_counter_ns()
                for execution_id in opened[index * batch:(index + 1) * batch]:
                    manager.task_done(execution_id, CASES["send_email"])
                best[name] = min(best[name], (time.perf_counter_ns() - started) / batch / 1000)
                engine.manager.check_json_object = real
            store.close()
    finally:
        engine.manager.check_json_object = real
    return {k: round(v, 2) for k, v in best.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000, help="calls per batch")
    parser.add_argument("--rounds", type=int, default=100, help="batches of each function, interleaved")
    parser.add_argument("--against", metavar="REVISION", help="also the check as it was at this git revision")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    calls, rounds = (200, 2) if args.quick else (args.calls, args.rounds)
    previous = previous_check(args.against) if args.against else None
    results = measure(calls, rounds, previous)
    task_done = task_done_us(50 if args.quick else 500, 2 if args.quick else 30)
    if args.json:
        print(json.dumps({"machine": {"python": platform.python_version(), "machine": platform.machine()},
                          "against": args.against, "results": results, "task_done": task_done}, indent=2))
        return
    against = f"{args.against[:10]} µs".rjust(13) + "check/it".rjust(10) if previous else ""
    print(f"{'case':<22}{'JSON bytes':>11}{'check µs':>10}{'encode µs':>11}{'check/encode':>14}{against}")
    for name, row in results.items():
        line = (f"{name:<22}{row['json_bytes']:>11,}{row['check_us']:>10.3f}{row['encode_us']:>11.3f}"
                f"{row['check/encode']:>14.2f}")
        if previous:
            line += f"{row['previous_us']:>13.3f}{row['check/previous']:>10.2f}"
        print(line)
    print(f"task_done on an in-memory store: {task_done['with_check_us']:.2f} µs with the check, "
          f"{task_done['pass_through_us']:.2f} µs with a pass-through instead")


if __name__ == "__main__":
    main()
