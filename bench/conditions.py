"""The cost bound on conditions (engine/cel_cost.py): the costliest conditions it admits, timed.

    .venv/bin/python bench/conditions.py            # every probe, a table (about a minute)
    .venv/bin/python bench/conditions.py --json     # the same as JSON
    .venv/bin/python bench/conditions.py --quick    # a few small probes, for the smoke test; numbers meaningless

Each **probe** is a condition whose cost grows with its inputs along one line of the cost model
(comprehensions, ``in``, ``map`` and ``filter``, equality, string functions, patterns, the conversion of
large values, literals). For each, the largest input size whose estimate is within ``COST_LIMIT`` is found
by bisection; then ``Condition.evaluate`` over that input is timed end to end (the estimate, handing the
values to the binding, the evaluation): the best of ``--repeats`` rounds over all the probes. ``ns/unit``
is that time over the estimate: it must stay at or under about 1 for the limit to mean what its docstring
says, and the slowest probe is the worst the limit lets through (inside the write lock, in the engine).
Every probe is shown refused one size up.

The **hot path** part times an ordinary condition (``amount > 100 && region in ['EU', 'US']``) and a
comprehension over a short list, each as the engine evaluated it before the bound (the binding alone) and
now (``Condition.evaluate``), interleaved in one process: microseconds per evaluation, best of the rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

from engine.cel_cost import COST_LIMIT  # noqa: E402
from engine.conditions import ConditionEvaluationError, compile_condition  # noqa: E402


def _ints(n: int) -> list[int]:
    return list(range(n))


def _words(n: int) -> list[str]:
    return [f"w{i:07d}" for i in range(n)]


def _objects(n: int) -> list[dict[str, Any]]:
    return [{"sku": f"A{i:06d}", "qty": i, "price": 1.5, "tags": ["x", "y"], "ok": True} for i in range(n)]


# (name, condition, inputs for size n): each condition evaluates without error over its inputs.
PROBES: list[tuple[str, str | Callable[[int], str], Callable[[int], dict[str, Any]]]] = [
    ("exists over ints", "l.exists(x, x < 0)", lambda n: {"l": _ints(n)}),
    ("exists over objects, a field", "l.exists(o, o.qty < 0)", lambda n: {"l": _objects(n)}),
    ("x in m inside exists", "l.exists(x, x in m)", lambda n: {"l": _ints(n), "m": [-1] * n}),
    ("string in list inside all", "l.all(x, x in m)", lambda n: {"l": _words(n), "m": _words(n)[::-1]}),
    ("exists_one", "l.exists_one(x, x == 0)", lambda n: {"l": _ints(n)}),
    ("map over ints", "size(l.map(x, x + 1)) > 0", lambda n: {"l": _ints(n)}),
    ("filter over objects", "size(l.filter(o, o.ok)) > 0", lambda n: {"l": _objects(n)}),
    ("map with a filter over words", "size(l.map(x, x != '', x + x)) > 0", lambda n: {"l": _words(n)}),
    ("chained filter then exists", "l.filter(x, x >= 0).exists(y, y < 0)", lambda n: {"l": _ints(n)}),
    ("list equality, ints", "l == m", lambda n: {"l": _ints(n), "m": _ints(n)}),
    ("list equality, objects", "l == m", lambda n: {"l": _objects(n), "m": _objects(n)}),
    ("list concatenation", "size(l + l + l) > 0", lambda n: {"l": _ints(n)}),
    ("map keys, m[k]", "m.all(k, m[k] >= 0)", lambda n: {"m": {f"k{i}": i for i in range(n)}}),
    ("size of a list of objects", "size(l) > 0", lambda n: {"l": _objects(n)}),
    ("size of a list of words", "size(l) > 0", lambda n: {"l": _words(n)}),
    ("size of a list of floats", "size(l) > 0", lambda n: {"l": [0.5] * n}),
    ("a field of each object in a map", "o.lines.all(l, l.qty >= 0)",
     lambda n: {"o": {"total": 1, "lines": _objects(n)}}),
    ("string contains", "s.contains('zz')", lambda n: {"s": "ab" * n}),
    ("string equality", "s == t", lambda n: {"s": "ab" * n, "t": "ab" * n}),
    ("matches over a long string", "s.matches('a+b+c')", lambda n: {"s": "ab" * n}),
    ("matches, a pattern from the context", "s.matches(p)", lambda n: {"s": "abc", "p": f"a{{{n}}}"}),
    ("pattern \\w{n}", lambda n: f"s.matches('\\\\w{{{n}}}')", lambda n: {"s": "abc"}),
    ("pattern \\d{n}", lambda n: f"s.matches('\\\\d{{{n}}}')", lambda n: {"s": "abc"}),
    ("pattern .{n}b over 10,000 characters", lambda n: f"s.matches('.{{{n}}}b')", lambda n: {"s": "a" * 10_000}),
    ("pattern [^b]{n}c", lambda n: f"s.matches('[^b]{{{n}}}c')", lambda n: {"s": "a" * 1000}),
    ("pattern (a|b|c){n}", lambda n: f"s.matches('(a|b|c){{{n}}}')", lambda n: {"s": "abc"}),
    ("pattern (?i)[a-z]{n}", lambda n: f"s.matches('(?i)[a-z]{{{n}}}')", lambda n: {"s": "abc"}),
    ("timestamp() inside exists", "l.exists(x, timestamp(x) < timestamp('2000-01-01T00:00:00Z'))",
     lambda n: {"l": ["2024-01-01T00:00:00Z"] * n}),
    ("string() inside exists", "l.exists(x, string(x) == 'z')", lambda n: {"l": _ints(n)}),
    ("a literal list mapped", lambda n: "size([" + ",".join(["1"] * n) + "].map(x, x)) > 0", lambda n: {}),
]
QUICK = {"exists over ints", "map over ints", "pattern \\w{n}", "size of a list of words"}


def _condition(source: str | Callable[[int], str], n: int):
    return compile_condition(source(n) if callable(source) else source)


def _estimate(source, inputs, n: int) -> int | None:
    """The estimate at size ``n``, or None when it is refused (at load or at evaluation)."""
    try:
        return _condition(source, n).estimated_cost(inputs(n))
    except (ConditionEvaluationError, ValueError):
        return None


def largest_admitted(source, inputs, high: int) -> int:
    """The largest n whose estimate is within the limit, by bisection from ``high`` up."""
    low = 0
    while _estimate(source, inputs, high) is not None:
        if high > 10**7:
            raise SystemExit(f"{source!r} is admitted at every size: not a probe of the limit")
        low, high = high, high * 4
    while high - low > 1:
        middle = (low + high) // 2
        if _estimate(source, inputs, middle) is None:
            high = middle
        else:
            low = middle
    return low


def run_probes(names: set[str] | None, repeats: int) -> list[dict[str, Any]]:
    """Each probe at its largest admitted size, timed ``repeats`` times in rounds over all the probes (the
    machine is shared: a burst of other work slows a round, not every sample of one probe)."""
    chosen = []
    for name, source, inputs in PROBES:
        if names is not None and name not in names:
            continue
        n = largest_admitted(source, inputs, 16)
        condition, context = _condition(source, n), inputs(n)
        chosen.append((name, n, condition, context, _estimate(source, inputs, n + 1) is None))
        print(f"  {name}: n={n:,}", file=sys.stderr)
    best = [float("inf")] * len(chosen)
    for _ in range(repeats):
        for i, (_, _, condition, context, _) in enumerate(chosen):
            started = time.perf_counter()
            condition.evaluate(context)
            best[i] = min(best[i], time.perf_counter() - started)
    results = []
    for (name, n, condition, context, refused_above), seconds in zip(chosen, best, strict=True):
        estimate = condition.estimated_cost(context)
        results.append({"probe": name, "n": n, "estimate": estimate, "ms": seconds * 1e3,
                        "ns_per_unit": seconds * 1e9 / estimate, "refused_one_size_up": refused_above})
    return results


HOT = [
    ("amount > 100 && region in ['EU', 'US']", {"amount": 150, "region": "EU", "customer": "c1"}),
    ("items.exists(i, i.sku == 'A000003')", {"items": _objects(5)}),
]


def run_hot_path(rounds: int, calls: int) -> list[dict[str, Any]]:
    results = []
    for source, context in HOT:
        condition = compile_condition(source)
        program, names = condition.program, condition.variables

        def before(context=context, program=program, names=names):
            # Condition.evaluate as it was before the bound: the named values, the binding, a type check.
            result = program.execute({name: context.get(name) for name in names})
            return isinstance(result, bool)

        best = {"before": float("inf"), "after": float("inf")}
        for round_number in range(rounds):
            order = ("before", "after") if round_number % 2 == 0 else ("after", "before")
            for which in order:
                call = before if which == "before" else (lambda c=condition, x=context: c.evaluate(x))
                started = time.perf_counter()
                for _ in range(calls):
                    call()
                best[which] = min(best[which], (time.perf_counter() - started) / calls)
        results.append({"condition": source, "before_us": best["before"] * 1e6, "after_us": best["after"] * 1e6,
                        "ratio": best["after"] / best["before"]})
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--quick", action="store_true", help="a few probes, few repeats (the smoke test)")
    parser.add_argument("--repeats", type=int, default=9, help="timed rounds over the probes; the best counts (9)")
    args = parser.parse_args(argv)

    repeats = 1 if args.quick else args.repeats
    probes = run_probes(QUICK if args.quick else None, repeats)
    hot = run_hot_path(rounds=2 if args.quick else 7, calls=200 if args.quick else 20_000)
    worst = max(probes, key=lambda r: r["ms"])
    result = {
        "machine": {"cores": os.cpu_count(), "python": platform.python_version(), "machine": platform.machine(),
                    "date": datetime.now(UTC).isoformat(timespec="seconds")},
        "cost_limit": COST_LIMIT, "probes": probes, "worst": worst, "hot_path": hot,
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"COST_LIMIT {COST_LIMIT:,} units; each probe at the largest size admitted")
    print(f"{'probe':44} {'n':>10} {'estimate':>11} {'ms':>8} {'ns/unit':>8}  refused at n+1")
    print("-" * 100)
    for r in probes:
        print(f"{r['probe']:44} {r['n']:>10,} {r['estimate']:>11,} {r['ms']:>8.2f} {r['ns_per_unit']:>8.2f}  "
              f"{'yes' if r['refused_one_size_up'] else 'NO'}")
    print(f"\nworst admitted: {worst['probe']} (n={worst['n']:,}): {worst['ms']:.2f} ms")
    print(f"\n{'hot path':48} {'before µs':>10} {'after µs':>10} {'after/before':>13}")
    for r in hot:
        print(f"{r['condition']:48} {r['before_us']:>10.2f} {r['after_us']:>10.2f} {r['ratio']:>13.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
