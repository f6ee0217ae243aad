"""What making stored text visible (:func:`engine.text.visible`, :func:`engine.text.visible_json`) costs.

    .venv/bin/python bench/text.py            # a table
    .venv/bin/python bench/text.py --json     # the same as JSON
    .venv/bin/python bench/text.py --quick    # a tiny run for CI (tests/bench/test_bench_smoke.py)

- **per call**: ns per ``visible(text)`` on an id, an ASCII reason, a non-ASCII name and a hostile string,
  against a call of a function that returns its argument (the least any check could cost).
- **show** and **show --json**: ``wfconsole show`` of one instance with a large context and history, drawn
  by the command line's own code to a null console (``print_instance``) and written as JSON
  (``write_json``), with the escaping as it is and with ``visible`` / ``visible_json`` replaced by that
  identity function everywhere, in the same process, interleaved; the ratio is the median of the per-round
  ratios.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import timeit
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent
ROOT = _HERE.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]  # this folder would shadow `engine`
sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402

import engine.text  # noqa: E402
from console.cli_tables import print_instance  # noqa: E402
from console.output import instance_doc, write_json  # noqa: E402
from engine import WorkflowManager  # noqa: E402
from store import open_store  # noqa: E402

SAMPLES = {
    "id": "3fa85f64-5717-4562-b3fc-2c963f66afa6:manual_review",
    "ascii reason": "applicant unreachable by phone and e-mail since Monday; retry after the bank holiday",
    "non-ASCII name": "Prüfung der Bestellung 注文 — größer als 100 € ✓",
    "hostile": "\x1b]0;pwned\x07 \x1b]52;c;ZXZpbA==\x07 \x1b[2J \x9b2J \u202eevil [/] [bold]x[/]",
}
LINEAR = {
    "workflow_id": "bench_text", "version": 1,
    "nodes": [{"id": "start", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "START"},
              {"id": "review", "type": "TASK", "task_id": "review"},
              {"id": "end", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "END"}],
    "edges": [{"id": "e1", "source_id": "start", "target_id": "review"},
              {"id": "e2", "source_id": "review", "target_id": "end"}],
}


def _identity(text: str, *, multiline: bool = False) -> str:
    return text


def per_call(number: int, rounds: int) -> dict[str, dict[str, float]]:
    """ns per call of ``visible`` and of the identity function, best of ``rounds``."""
    found = {}
    for name, text in SAMPLES.items():
        best = {label: min(timeit.repeat(lambda f=function, t=text: f(t), number=number, repeat=rounds)) / number * 1e9
                for label, function in (("visible", engine.text.visible), ("identity", _identity))}
        found[name] = {"visible_ns": best["visible"], "identity_ns": best["identity"],
                       "extra_ns": best["visible"] - best["identity"]}
    return found


@contextlib.contextmanager
def without_escaping() -> Iterator[None]:
    """``visible`` and ``visible_json`` replaced by the identity everywhere they were imported."""
    originals = {"visible": engine.text.visible, "visible_json": engine.text.visible_json}
    patched = []
    for module in list(sys.modules.values()):
        for name, original in originals.items():
            if getattr(module, name, None) is original:
                setattr(module, name, _identity if name == "visible" else (lambda document: document))
                patched.append((module, name, original))
    try:
        yield
    finally:
        for module, name, original in patched:
            setattr(module, name, original)


def build_instance(folder: str, keys: int, updates: int) -> Any:
    """An instance with ``keys`` context keys and a history of about ``updates`` × 2 entries."""
    store = open_store(os.path.join(folder, "bench_text.db"), durability="NORMAL")
    manager = WorkflowManager(store)
    manager.add_workflow(LINEAR)
    instance_id = manager.start_workflow("bench_text", {f"key_{i}": SAMPLES["ascii reason"] for i in range(keys)})
    for i in range(updates):
        manager.set_variables(instance_id, {f"key_{i % keys}": f"{SAMPLES['non-ASCII name']} #{i}"}, actor="bench")
    view = manager.get_status(instance_id)
    store.close()
    return view


def _timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def output_costs(view: Any, rounds: int) -> dict[str, dict[str, float]]:
    """ms to draw ``show`` and to write ``show --json``, with and without escaping, interleaved."""
    def draw() -> None:
        print_instance(Console(file=io.StringIO(), width=200, highlight=False), view)

    def dump() -> None:
        with contextlib.redirect_stdout(io.StringIO()):
            write_json(instance_doc(view))

    found = {}
    for name, action in (("show", draw), ("show --json", dump)):
        action()  # warm up
        with_escaping, without = [], []
        for _ in range(rounds):
            with_escaping.append(_timed(action))
            with without_escaping():
                without.append(_timed(action))
        found[name] = {"escaped_ms": statistics.median(with_escaping) * 1e3,
                       "unescaped_ms": statistics.median(without) * 1e3,
                       "ratio": statistics.median(w / wo for w, wo in zip(with_escaping, without, strict=True))}
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--quick", action="store_true", help="a tiny run (numbers meaningless)")
    args = parser.parse_args()
    number, rounds, keys, updates = (2_000, 2, 20, 50) if args.quick else (200_000, 7, 200, 1_000)
    with tempfile.TemporaryDirectory() as folder:
        view = build_instance(folder, keys, updates)
    result = {
        "machine": {"cores": os.cpu_count(), "python": platform.python_version(), "machine": platform.machine(),
                    "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")},
        "per_call": per_call(number, rounds),
        "instance": {"context_keys": len(view.context), "history_entries": len(view.history)},
        "output": output_costs(view, rounds),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"visible(), ns per call (best of {rounds} × {number:,})")
    for name, row in result["per_call"].items():
        print(f"  {name:<16} {row['visible_ns']:8.0f}   identity {row['identity_ns']:6.0f}   "
              f"extra {row['extra_ns']:6.0f}")
    instance = result["instance"]
    print(f"one instance, {instance['context_keys']} context keys, {instance['history_entries']} history entries "
          f"(median of {rounds})")
    for name, row in result["output"].items():
        print(f"  {name:<12} escaped {row['escaped_ms']:8.1f} ms   unescaped {row['unescaped_ms']:8.1f} ms   "
              f"ratio {row['ratio']:.3f}")


if __name__ == "__main__":
    main()
