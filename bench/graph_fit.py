"""How large the token graph is drawn, at each zoom level and orientation (issue 18, "a graph that fits").

    .venv/bin/python bench/graph_fit.py            # a table
    .venv/bin/python bench/graph_fit.py --json     # the same as JSON
    .venv/bin/python bench/graph_fit.py --quick    # a tiny run (seconds), for CI's smoke test

Over the four blueprints of ``sample_data/`` and ``--random`` random blueprints of 10 to 30 nodes (seeded:
the same blueprints every run), it draws each one at every zoom (full labels, short labels, symbols) and
orientation (left to right, top to bottom) and reports the width x height in cells of the graph (the
notes of shortened conditions not counted). Each sample is drawn twice: as a blueprint, and as an
instance shows it (every node with a state marker, two tokens on a task), which makes labels wider.

The baseline is the layout as it was before (commit :data:`BASELINE_COMMIT`, one zoom, left to right),
read from git and measured in the same run. The targets: at short labels (the zoom the console opens
a 13-node graph at on a 160-column terminal) ``loan_approval`` fits in 160 x 30 cells, and at symbols every
sample fits in 80 x 20 cells in one of the orientations. The layout times are those of the largest random
blueprint and of the verification flow (the one ``bench/console.py`` opens), per drawing and for all six
drawings the console makes of a graph in a worker thread: the first time, and again (layouts are kept, so
an instance whose tokens moved on is only drawn again).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

_HERE = Path(__file__).resolve().parent
ROOT = _HERE.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(ROOT))

from console.graph import build_graph  # noqa: E402
from console.graph.layout import Orientation  # noqa: E402
from console.graph.model import GraphModel, NodeState  # noqa: E402
from console.graph.text import clear_layout_cache, draw, drawing_rich  # noqa: E402
from console.graph.zoom import Zoom  # noqa: E402
from engine import NodeKind, compile_blueprint  # noqa: E402

BASELINE_COMMIT = "6090117"  # the last commit with the one-zoom, left-to-right layout
TARGET_DEFAULT = ("loan_approval", Zoom.SHORT, 160, 30)
TARGET_COMPACT = (Zoom.COMPACT, 80, 20)
SEED = 18
WORDS = ("check", "the", "order", "review", "customer", "documents", "payment", "send", "e-mail", "approve",
         "stock", "address", "record", "account", "invoice", "shipment", "notify", "collect", "verify", "score",
         "a", "of", "by", "hand", "manager", "risk", "limit", "contract")


# -- random blueprints ------------------------------------------------------------------------------


class _Builder:
    """Lays a random block tree out as nodes and edges (as tests/engine/strategies.py does for hypothesis)."""

    def __init__(self, chooser: random.Random) -> None:
        self.chooser = chooser
        self.nodes: list[dict[str, Any]] = []
        self.edges: list[dict[str, Any]] = []

    def node(self, prefix: str, **fields: Any) -> str:
        node_id = f"{prefix}{len(self.nodes)}"
        self.nodes.append({"id": node_id, **fields})
        return node_id

    def task(self) -> str:
        name = " ".join(self.chooser.choice(WORDS) for _ in range(self.chooser.randint(1, 5))).capitalize()
        return self.node("t", type="TASK", task_id=f"job{len(self.nodes)}", name=name)

    def gateway(self, prefix: str, kind: str) -> str:
        return self.node(prefix, type="INTERNAL", internal_type="GATEWAY", gateway_type=kind)

    def edge(self, source: str, target: str, condition: str | None = None) -> None:
        edge: dict[str, Any] = {"id": f"e{len(self.edges)}", "source_id": source, "target_id": target}
        if condition:
            edge["condition"] = condition
        self.edges.append(edge)

    def condition(self) -> str:
        variable = self.chooser.choice(("amount", "status", "risk_score", "ok", "region"))
        return self.chooser.choice((f"{variable} > {self.chooser.randint(1, 9999)}", f"{variable} == 'approved'",
                                    f"{variable} == true", f"{variable} in ['EU', 'US']"))

    def block(self, source: str, budget: int, condition: str | None = None) -> str:
        """Nodes after ``source`` using about ``budget`` nodes; returns the block's exit node."""
        shape = "task" if budget < 4 else self.chooser.choice(("seq", "seq", "par", "xor", "loop"))
        if shape == "task":
            node = self.task()
            self.edge(source, node, condition)
            return node if budget <= 1 else self.block(node, budget - 1)
        if shape == "seq":
            first = self.chooser.randint(1, budget - 1)
            return self.block(self.block(source, first, condition), budget - first)
        if shape == "loop":
            head = self.gateway("lh", "EXCLUSIVE_JOIN")
            self.edge(source, head, condition)
            tail = self.gateway("lt", "EXCLUSIVE_SPLIT")
            self.edge(self.block(self.task_after(head), budget - 3), tail)
            self.edge(tail, head, self.condition())
            return tail
        split = self.gateway("s", "PARALLEL_SPLIT" if shape == "par" else "EXCLUSIVE_SPLIT")
        join = self.gateway("j", "PARALLEL_JOIN" if shape == "par" else "EXCLUSIVE_JOIN")
        self.edge(source, split, condition)
        branches = self.chooser.randint(2, 3)
        for number in range(branches):
            branch_condition = None if shape == "par" or number == branches - 1 else self.condition()
            self.edge(self.block(split, max(1, (budget - 2) // branches), branch_condition), join)
        return join

    def task_after(self, source: str) -> str:
        node = self.task()
        self.edge(source, node)
        return node


def random_blueprint(seed: int) -> dict[str, Any]:
    """A valid, block-structured blueprint of 10 to 30 nodes with realistic names, the same for a seed."""
    chooser = random.Random(seed)
    while True:
        builder = _Builder(chooser)
        start = builder.node("start", type="INTERNAL", internal_type="EVENT", event_type="START")
        last = builder.block(start, chooser.randint(8, 28))
        builder.edge(last, builder.node("end", type="INTERNAL", internal_type="EVENT", event_type="END"))
        if 10 <= len(builder.nodes) <= 30:
            return {"workflow_id": f"random_{seed}", "version": 1, "nodes": builder.nodes, "edges": builder.edges}


def as_an_instance(model: GraphModel) -> GraphModel:
    """The model with a state on every node, as an instance's graph has: the widths of the markers count.

    Nodes are visited up to the middle of the blueprint, where a task holds two tokens; the rest is not
    reached.
    """
    tasks = [node.id for node in model.nodes if node.kind is NodeKind.TASK]
    busy = tasks[len(tasks) // 2] if tasks else None
    position = {node.id: number for number, node in enumerate(model.nodes)}
    middle = position.get(busy, len(model.nodes) // 2) if busy else len(model.nodes) // 2
    nodes = tuple(replace(node, state=NodeState.ACTIVE if node.id == busy else NodeState.VISITED
                          if position[node.id] < middle else NodeState.NOT_REACHED,
                          tokens=2 if node.id == busy else 0) for node in model.nodes)
    return replace(model, nodes=nodes, instance_id="bench", instance_status="ACTIVE")


# -- the old layout, from git -----------------------------------------------------------------------


def load_baseline(commit: str, workdir: Path) -> ModuleType | None:
    """The ``console.graph`` package as of ``commit``, importable as ``baseline_graph``; ``None`` when git
    cannot give it (not a clone, or a shallow one)."""
    package = workdir / "baseline_graph"
    package.mkdir()
    try:
        names = subprocess.run(["git", "-C", str(ROOT), "ls-tree", "--name-only", f"{commit}:console/graph"],
                               capture_output=True, text=True, check=True).stdout.split()
        for name in names:
            source = subprocess.run(["git", "-C", str(ROOT), "show", f"{commit}:console/graph/{name}"],
                                    capture_output=True, text=True, check=True).stdout
            (package / name).write_text(source.replace("console.graph", "baseline_graph"))
    except (OSError, subprocess.CalledProcessError):
        return None
    sys.path.insert(0, str(workdir))
    return importlib.import_module("baseline_graph.text")


# -- measuring --------------------------------------------------------------------------------------


def sizes(model: GraphModel) -> dict[str, dict[str, list[int]]]:
    """Width and height of ``model`` drawn at every zoom and orientation."""
    return {str(zoom): {str(orientation): list(draw(model, zoom, orientation).size) for orientation in Orientation}
            for zoom in Zoom}


def timed(functions: dict[str, Any], repeats: int) -> dict[str, float]:
    """The median time of ``repeats`` calls of each function, in milliseconds. The calls are interleaved,
    in a new order each round, so that a busy moment of the (shared) machine hits every one alike."""
    times: dict[str, list[float]] = {name: [] for name in functions}
    order = random.Random(SEED)
    for _ in range(repeats):
        names = list(functions)
        order.shuffle(names)
        for name in names:
            started = time.perf_counter()
            functions[name]()
            times[name].append(time.perf_counter() - started)
    return {name: round(statistics.median(values) * 1000, 2) for name, values in times.items()}


def measure(name: str, blueprint: dict[str, Any], baseline: ModuleType | None, instance: bool) -> dict[str, Any]:
    compiled = compile_blueprint(blueprint)
    model = build_graph(compiled)
    row: dict[str, Any] = {"name": name, "nodes": len(model.nodes), "edges": len(model.edges),
                           "blueprint": sizes(model)}
    if instance:
        row["instance"] = sizes(as_an_instance(model))
    if baseline is not None:
        old = baseline.layout_for_text(importlib.import_module("baseline_graph.model").build_graph(compiled))
        row["old"] = [old.width, old.height]
    return row


def timing(blueprint: dict[str, Any], baseline: ModuleType | None, repeats: int) -> dict[str, Any]:
    """Layout and drawing times of one blueprint: each view, the six the console draws, and the old one."""
    from console.widgets.token_graph import draw_every_view

    compiled = compile_blueprint(blueprint)
    model = as_an_instance(build_graph(compiled))
    functions: dict[str, Any] = {
        f"{zoom} {orientation}": lambda z=zoom, o=orientation: (clear_layout_cache(), drawing_rich(draw(model, z, o)))
        for zoom in Zoom for orientation in Orientation}
    functions["all six views"] = lambda: (clear_layout_cache(), draw_every_view(model))
    functions["all six again"] = lambda: draw_every_view(model)  # the next reload: the layouts are kept
    if baseline is not None:
        old_model = importlib.import_module("baseline_graph.model").build_graph(compiled)
        functions["old layout"] = lambda: baseline.render_rich(old_model)
    return {"name": blueprint["workflow_id"], "nodes": len(model.nodes), "ms": timed(functions, repeats)}


def fits(size: list[int], width: int, height: int) -> bool:
    return size[0] <= width and size[1] <= height


def targets(rows: list[dict[str, Any]]) -> dict[str, Any]:
    name, zoom, width, height = TARGET_DEFAULT
    loan = next(row for row in rows if row["name"] == name)
    checked = {f"{name} at {zoom} labels fits {width}x{height}":
               all(fits(loan[kind][str(zoom)][str(Orientation.LEFT_RIGHT)], width, height) or
                   fits(loan[kind][str(zoom)][str(Orientation.TOP_BOTTOM)], width, height)
                   for kind in ("blueprint", "instance"))}
    zoom, width, height = TARGET_COMPACT
    for row in rows:
        if "instance" in row:  # a sample
            checked[f"{row['name']} as {zoom} fits {width}x{height}"] = all(
                any(fits(row[kind][str(zoom)][str(o)], width, height) for o in Orientation)
                for kind in ("blueprint", "instance"))
    return checked


def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="wfbench-graph-") as workdir:
        baseline = load_baseline(args.baseline, Path(workdir))
        rows = [measure(path.stem, json.loads(path.read_text()), baseline, instance=True)
                for path in sorted((ROOT / "sample_data").glob("*.json"))]
        randoms = [random_blueprint(SEED + number) for number in range(args.random)]
        rows += [measure(blueprint["workflow_id"], blueprint, baseline, instance=False) for blueprint in randoms]
        largest = max(randoms, key=lambda blueprint: (len(blueprint["nodes"]), len(blueprint["edges"])))
        verification = json.loads((ROOT / "sample_data" / "verification.json").read_text())
        times = [timing(blueprint, baseline, args.repeats) for blueprint in (largest, verification)]
    checked = targets(rows)
    return {
        "machine": {"cores": os.cpu_count(), "python": platform.python_version(), "machine": platform.machine(),
                    "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")},
        "settings": {"random": args.random, "seed": SEED, "repeats": args.repeats, "quick": args.quick,
                     "baseline": args.baseline if baseline is not None else None},
        "blueprints": rows,
        "timing": times,
        "targets": checked,
        "targets_met": all(checked.values()),
    }


def _cell(size: list[int] | None) -> str:
    return "-" if size is None else f"{size[0]}x{size[1]}"


def table(result: dict[str, Any]) -> str:
    m, s = result["machine"], result["settings"]
    views = [(zoom, orientation) for zoom in Zoom for orientation in Orientation]
    lines = [f"{m['cores']} cores, {m['machine']}, Python {m['python']}, {m['date']}; "
             f"{s['random']} random blueprints from seed {s['seed']}; baseline {s['baseline'] or 'not found'}",
             "", f"{'blueprint':<22}{'nodes':>6}{'old':>10}" + "".join(f"{f'{z} {o}':>13}" for z, o in views),
             "-" * (38 + 13 * len(views))]
    for row in result["blueprints"]:
        for kind in ("blueprint", "instance"):
            if kind not in row:
                continue
            name = row["name"] if kind == "blueprint" else "  as an instance"
            old = _cell(row.get("old")) if kind == "blueprint" else ""
            lines.append(f"{name:<22}{row['nodes'] if kind == 'blueprint' else '':>6}{old:>10}"
                         + "".join(f"{_cell(row[kind][str(z)][str(o)]):>13}" for z, o in views))
    lines.append("")
    for t in result["timing"]:
        times = ", ".join(f"{view} {ms} ms" for view, ms in t["ms"].items())
        lines += [f"layout and drawing (as an instance) of {t['name']} ({t['nodes']} nodes), median of "
                  f"{s['repeats']} interleaved runs:", f"  {times}"]
    lines.append("")
    lines += [f"{'yes' if met else 'NO ':<4}{name}" for name, met in result["targets"].items()]
    lines.append("all targets met" if result["targets_met"] else "targets NOT all met")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--quick", action="store_true", help="a tiny run for a smoke test (numbers meaningless)")
    parser.add_argument("--random", type=int, default=20, help="how many random blueprints (10 to 30 nodes)")
    parser.add_argument("--repeats", type=int, default=20, help="timed runs of each layout")
    parser.add_argument("--baseline", default=BASELINE_COMMIT, help="the commit whose layout is the baseline")
    args = parser.parse_args(argv)
    if args.quick:
        args.random, args.repeats = 3, 2
    result = run(args)
    print(json.dumps(result, indent=2) if args.json else table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
