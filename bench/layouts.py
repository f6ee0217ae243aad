"""What would the engine's SQL cost on another layout? Replays that answer it without building the layout.

    .venv/bin/python bench/layouts.py                    # both durabilities, a table
    .venv/bin/python bench/layouts.py --durability NORMAL --repeats 5
    .venv/bin/python bench/layouts.py --json
    .venv/bin/python bench/layouts.py --quick            # a tiny run (seconds), for CI's smoke test

``bench/engine.py`` records the statements the store executes for N verification flows' completions and
replays them with plain ``sqlite3`` ("its SQL replayed"): the cost of the engine's SQL with no engine. This
script replays the same recording on variants of the database, each a what-if:

- the layout as it is (the reference);
- without one secondary index, or without all of those a completion writes: what each index costs;
- with no automatic checkpoint: what the checkpoints a completion's WAL pages bring about cost;
- a simulated layout where an instance's open executions are part of its row (not rows of their own) and
  a finished execution is written once, to a table of finished executions indexed by time: the executions'
  INSERTs leave the recording, each completion's UPDATE becomes that INSERT, and the instance row carries
  the open executions' JSON;
- an event log: a step's transaction writes its history row alone (what a layout whose durable record of
  a step is its history entries would pay per step), and the same with the rest of each step's
  statements (the instance, its executions) written behind, together, every 100 steps. The second is
  the nearer to a design: state tables that lag the log by up to 100 steps, which every reader would
  have to catch up from the log (the console, the workers' queue, other processes).

Each replay runs interleaved with the floor of ``bench/engine.py`` (``BEGIN IMMEDIATE; UPDATE one row;
INSERT one history row; COMMIT``), in batches, in a different order each round; figures are medians over
``--repeats``. A variant that removes an index does not say the index can go: the reports, the console and
the workers use them (see ``store/tables.py``). It says what the index costs per completion, so that a
different layout can be weighed before it is built.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sqlite3
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent
ROOT = _HERE.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]  # see bench/engine.py
sys.path.insert(0, str(ROOT))

from bench.engine import (  # noqa: E402  (after the path fix above)
    Floor,
    Replay,
    _remove_db,
    interleave,
    machine,
    median,
    record_completions,
    replay_wal_frames,
)

# The secondary indexes a completion of the verification flow writes to.
STEP_INDEXES = ("ix_executions_open", "ix_executions_done", "ix_history_instance_no_seq",
                "ix_instances_status_created", "ix_instances_workflow_status_created", "ix_instances_completed")


@dataclass(frozen=True)
class Variant:
    name: str
    ddl: tuple[str, ...] = ()  # run on the database before the replay
    pragmas: tuple[str, ...] = ()  # set on the replaying connection
    rewrite: Callable[[Path, list[list]], list[list]] | None = None  # of the recorded transactions


def _executions_in_the_instance_row(before: Path, transactions: list[list]) -> list[list]:
    """The recording as a layout with open executions in the instance row would execute it (see above)."""
    connection = sqlite3.connect(before)
    columns = [r[1] for r in connection.execute("PRAGMA table_info(executions)")]
    rows = {r[0]: dict(zip(columns, r, strict=True)) for r in connection.execute("SELECT * FROM executions")}
    connection.close()
    insert = (f"INSERT INTO executions_finished ({', '.join(columns)}) "
              f"VALUES ({', '.join('?' for _ in columns)})")
    rewritten = []
    for transaction in transactions:
        out, opened = [], []
        for sql, parameters, many in transaction:
            if sql.startswith("INSERT INTO executions"):
                names = re.search(r"\(([^)]*)\)", sql).group(1).split(", ")
                for row in (parameters if many else [parameters]):
                    rows[row[0]] = dict(zip(names, row, strict=True))
                    opened.append(list(row))
                continue  # part of the instance row
            if sql.startswith("UPDATE executions"):
                names = re.findall(r"(\w+) = \?", sql.split(" WHERE ")[0])
                row = rows.pop(parameters[-1])
                row.update(zip(names, parameters[:-1], strict=True))
                out.append((insert, tuple(row[c] for c in columns), False))
                continue
            out.append((sql, parameters, many))
        if opened:  # the instance row now holds the new open executions too
            for i, (sql, parameters, many) in enumerate(out):
                if sql.startswith("UPDATE instances") and "tokens = ?" in sql:
                    at = re.findall(r"(\w+) = [?]", sql.split(" WHERE ")[0]).index("tokens")
                    grown = list(parameters)
                    grown[at] = grown[at] + json.dumps(opened)
                    out[i] = (sql, tuple(grown), many)
        rewritten.append(out)
    return rewritten


def _history_alone(before: Path, transactions: list[list]) -> list[list]:
    return [[s for s in transaction if s[0].startswith(_LOG)] for transaction in transactions]


def _state_written_behind(every: int) -> Callable[[Path, list[list]], list[list]]:
    def rewrite(before: Path, transactions: list[list]) -> list[list]:
        out, held = [], []
        for n, transaction in enumerate(transactions, 1):
            out.append([s for s in transaction if s[0].startswith(_LOG)])
            held += [s for s in transaction if not s[0].startswith(_LOG)]
            if n % every == 0 or n == len(transactions):
                out[-1] += held
                held = []
        return out
    return rewrite


# What a step of an event-log layout keeps in its own transaction: the history row (and the store's
# PRAGMA data_version, which any layout with a cache needs).
_LOG = ("INSERT INTO history", "PRAGMA")


def variants() -> list[Variant]:
    drop = [f"DROP INDEX {name}" for name in STEP_INDEXES]
    return [
        Variant("the layout as it is"),
        *[Variant(f"without {name}", ddl=(f"DROP INDEX {name}",)) for name in STEP_INDEXES[:3]],
        Variant("without the 3 instance status indexes", ddl=tuple(drop[3:])),
        Variant("without all 6 of these indexes", ddl=tuple(drop)),
        Variant("no automatic checkpoint (the WAL grows)", pragmas=("wal_autocheckpoint=0",)),
        Variant("open executions in the instance row (simulated)",
                ddl=("DROP INDEX ix_executions_open",
                     "CREATE TABLE executions_finished AS SELECT * FROM executions WHERE 0",
                     "CREATE UNIQUE INDEX ix_executions_finished_id ON executions_finished (id)",
                     "CREATE INDEX ix_executions_finished_at ON executions_finished (updated_at)"),
                rewrite=_executions_in_the_instance_row),
        Variant("event log: a step writes its history row alone", rewrite=_history_alone),
        Variant("event log, the rest written behind every 100 steps", rewrite=_state_written_behind(100)),
    ]


class _VariantReplay(Replay):
    def __init__(self, path: Path, before: Path, durability: str, transactions: list[list],
                 pragmas: tuple[str, ...]) -> None:
        super().__init__(path, before, durability, transactions)
        for pragma in pragmas:
            self.connection.execute("PRAGMA " + pragma)


def measure(workdir: Path, durability: str, instances: int, repeats: int, batch: int) -> dict[str, Any]:
    for name in ("record.db", "record.before"):
        _remove_db(workdir / name)
    before, transactions = record_completions(workdir / "record.db", durability, instances)
    prepared = []
    for n, variant in enumerate(variants()):
        base = workdir / f"variant{n}.before"
        shutil.copyfile(before, base)
        connection = sqlite3.connect(base)
        for statement in variant.ddl:
            connection.execute(statement)
        connection.commit()
        connection.close()
        recorded = variant.rewrite(base, transactions) if variant.rewrite else transactions
        prepared.append((variant, base, recorded))
    seconds: dict[str, list[float]] = {v.name: [] for v, _, _ in prepared}
    floor_us: list[float] = []
    for _ in range(repeats):
        workers: dict[str, Any] = {"floor": Floor(workdir / "floor.db", durability, instances)}
        totals = {"floor": len(transactions)}
        for n, (variant, base, recorded) in enumerate(prepared):
            workers[variant.name] = _VariantReplay(workdir / f"variant{n}.db", base, durability, recorded,
                                                   variant.pragmas)
            totals[variant.name] = len(recorded)
        runs = interleave(workers, totals, batch)
        for worker in workers.values():
            worker.close()
            _remove_db(worker.path)
        floor_us.append(1e6 / runs["floor"]["per_s"])
        for variant, _, _ in prepared:
            seconds[variant.name].append(1e6 / runs[variant.name]["per_s"])
    reference = median(seconds[prepared[0][0].name])
    floor = median(floor_us)
    rows = []
    for variant, base, recorded in prepared:
        us = median(seconds[variant.name])
        frames = replay_wal_frames(workdir / "frames.db", base, recorded) if not variant.pragmas else None
        rows.append({"variant": variant.name, "us_per_completion": us, "delta_us": us - reference,
                     "vs_floor": floor / us, "wal_pages_per_completion": frames})
        _remove_db(base)
    _remove_db(before)
    return {"durability": durability, "instances": instances, "repeats": repeats, "floor_us": floor, "rows": rows}


def print_table(result: dict[str, Any]) -> None:
    print(f"\n{result['durability']}: the engine's recorded SQL replayed with plain sqlite3, "
          f"{3 * result['instances']} completions, median of {result['repeats']}; "
          f"floor {result['floor_us']:.1f} µs per completion")
    print(f"{'variant':52} {'µs/completion':>13} {'vs as is':>9} {'SQL vs floor':>12} {'WAL pages':>9}")
    print("-" * 99)
    for row in result["rows"]:
        pages = "" if row["wal_pages_per_completion"] is None else f"{row['wal_pages_per_completion']:.1f}"
        print(f"{row['variant']:52} {row['us_per_completion']:13.1f} {row['delta_us']:+9.1f} "
              f"{row['vs_floor']:12.0%} {pages:>9}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--durability", choices=("FULL", "NORMAL", "both"), default="both")
    parser.add_argument("--instances", type=int, default=1000, help="instances recorded (3 completions each)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch", type=int, default=150, help="completions per batch when interleaving")
    parser.add_argument("--quick", action="store_true", help="a tiny run for a smoke test (numbers meaningless)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--dir", help="where the database files go (default: the temp dir)")
    args = parser.parse_args(argv)
    if args.quick:
        args.instances, args.repeats, args.batch = 30, 1, 20
    durabilities = ["FULL", "NORMAL"] if args.durability == "both" else [args.durability]
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="wf-layouts-") as workdir:
        results = [measure(Path(workdir), d, args.instances, args.repeats, args.batch) for d in durabilities]
    if args.json:
        print(json.dumps({"machine": machine(), "results": results}, indent=2))
    else:
        m = machine()
        print(f"{m['cores']} cores, {m['machine']}, Python {m['python']}, SQLite {m['sqlite']}, {m['date']}")
        for result in results:
            print_table(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
