"""Smoke tests of the benchmarks: each runs with ``--quick --json`` and reports every field.

The numbers are not judged here (CI machines vary); BENCHMARKS.md records them.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_engine_benchmark_quick_run_reports_every_field(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "engine.py"), "--quick", "--json", "--dir",
                           str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)

    assert {"cores", "python", "sqlite", "machine", "date"} <= result["machine"].keys()
    assert set(result["durability"]) == {"FULL", "NORMAL"}
    for durability in result["durability"].values():
        for key in ("floor_completions_per_s", "engine_completions_per_s", "engine_starts_per_s", "ratio",
                    "target", "met", "statements_per_completion", "floor_peak_rss_mb", "engine_peak_rss_mb"):
            assert key in durability, key
        assert durability["engine_completions_per_s"] > 0 and durability["floor_completions_per_s"] > 0
    scaling = result["scaling"]
    for key in ("empty_completions_per_s", "preloaded_completions_per_s", "ratio", "target", "met",
                "empty_peak_rss_mb", "preloaded_peak_rss_mb"):
        assert key in scaling, key
    assert scaling["preload"]["instances"] > 0 and scaling["preload"]["history_rows"] > 0
    concurrency = result["concurrency"]
    assert concurrency["processes"] == 4
    for key in ("one_process_completions_per_s", "aggregate_completions_per_s", "ratio", "target", "met",
                "per_process_peak_rss_mb"):
        assert key in concurrency, key
    assert isinstance(result["targets_met"], bool)
    assert not list(tmp_path.iterdir()), "the benchmark left files behind"


def test_console_benchmark_quick_run_reports_every_field(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "console.py"), "--quick", "--json", "--dir",
                           str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)

    assert {"cores", "python", "sqlite", "machine", "date"} <= result["machine"].keys()
    assert result["database"]["instances"] > 0 and result["database"]["history_rows"] > 0
    assert set(result["database"]["statuses"]) == {"ACTIVE", "COMPLETED", "FAILED", "CANCELLED"}
    assert set(result["results"]) == {"first_page_s", "filter_s", "search_s", "detail_s", "peak_rss_mb"}
    for measure in result["results"].values():
        assert {"median", "worst", "target", "met"} <= measure.keys()
        assert measure["median"] > 0
    assert result["graph_drawn"] is True
    assert isinstance(result["targets_met"], bool)
    assert not list(tmp_path.iterdir()), "the benchmark left files behind"


def test_layouts_quick_run_replays_every_variant(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "layouts.py"), "--quick", "--json", "--dir",
                           str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)

    assert [r["durability"] for r in result["results"]] == ["FULL", "NORMAL"]
    for run in result["results"]:
        rows = {row["variant"]: row for row in run["rows"]}
        reference = rows["the layout as it is"]
        assert reference["delta_us"] == 0 and run["floor_us"] > 0
        assert all(row["us_per_completion"] > 0 for row in rows.values())
        # The page counts do not depend on timing: dropping the indexes a completion writes must show.
        assert rows["without all 6 of these indexes"]["wal_pages_per_completion"] < \
            reference["wal_pages_per_completion"]
        assert rows["open executions in the instance row (simulated)"]["wal_pages_per_completion"] > 0
        # A step that writes its history row alone writes fewer pages than one written behind in bulk,
        # which writes fewer than the layout as it is.
        log_alone = rows["event log: a step writes its history row alone"]["wal_pages_per_completion"]
        behind = rows["event log, the rest written behind every 100 steps"]["wal_pages_per_completion"]
        assert 0 < log_alone < behind < reference["wal_pages_per_completion"]
    assert not list(tmp_path.iterdir()), "the benchmark left files behind"


def test_preload_runs_as_a_script(tmp_path: Path) -> None:
    db = tmp_path / "big.db"
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "preload.py"), str(db), "--instances", "40",
                           "--history", "400", "--mixed"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    connection = sqlite3.connect(db)
    try:
        assert connection.execute("SELECT COUNT(*) FROM instances").fetchone()[0] == 40
        assert connection.execute("SELECT COUNT(DISTINCT status) FROM instances").fetchone()[0] > 1
    finally:
        connection.close()


def test_text_benchmark_quick_run_reports_every_field() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "text.py"), "--quick", "--json"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert set(result["per_call"]) == {"id", "ascii reason", "non-ASCII name", "hostile"}
    for row in result["per_call"].values():
        assert row["visible_ns"] > 0 and row["identity_ns"] > 0
    assert set(result["output"]) == {"show", "show --json"}
    for row in result["output"].values():
        assert row["escaped_ms"] > 0 and row["unescaped_ms"] > 0 and row["ratio"] > 0


def test_values_benchmark_quick_run_reports_every_case_and_the_previous_check() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "values.py"), "--quick", "--json", "--against", "HEAD"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["against"] == "HEAD" and len(result["results"]) >= 5
    for row in result["results"].values():
        assert {"check_us", "encode_us", "previous_us", "check/encode", "check/previous", "json_bytes"} <= row.keys()
        assert row["check_us"] > 0 and row["json_bytes"] > 0
    assert result["task_done"]["with_check_us"] > 0 and result["task_done"]["pass_through_us"] > 0


def test_conditions_benchmark_quick_run_reports_every_field() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "conditions.py"), "--quick", "--json"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)

    assert {"cores", "python", "machine", "date"} <= result["machine"].keys()
    assert result["cost_limit"] > 0 and result["probes"]
    for probe in result["probes"]:
        assert {"probe", "n", "estimate", "ms", "ns_per_unit", "refused_one_size_up"} <= probe.keys()
        assert 0 < probe["estimate"] <= result["cost_limit"] and probe["refused_one_size_up"] is True
    assert result["worst"] in result["probes"]
    for row in result["hot_path"]:
        assert row["before_us"] > 0 and row["after_us"] > 0


def test_graph_fit_quick_run_reports_every_blueprint_zoom_and_orientation() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "graph_fit.py"), "--quick", "--json"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)

    assert {"cores", "python", "machine", "date"} <= result["machine"].keys()
    rows = {row["name"]: row for row in result["blueprints"]}
    assert {"loan_approval", "order_fulfilment", "user_onboarding", "verification"} <= rows.keys()
    assert len(rows) == 4 + result["settings"]["random"]
    for row in rows.values():
        assert 10 <= row["nodes"] <= 30 or "instance" in row  # random ones have 10 to 30 nodes
        for kind in ("blueprint", "instance") if "instance" in row else ("blueprint",):
            assert set(row[kind]) == {"full", "short", "compact"}
            for zoom in row[kind].values():
                assert set(zoom) == {"LR", "TB"} and all(w > 0 and h > 0 for w, h in zoom.values())
        # The layout does not depend on timing: symbols are never wider than short labels, left to right.
        assert row["blueprint"]["compact"]["LR"][0] <= row["blueprint"]["short"]["LR"][0]
    assert [timing["name"] for timing in result["timing"]][1:] == ["verification"]
    for timing in result["timing"]:
        assert {"all six views", "all six again", "full LR", "compact TB", "old layout"} <= timing["ms"].keys()
        assert all(ms > 0 for ms in timing["ms"].values())
    assert isinstance(result["targets_met"], bool) and result["targets"]


def test_postgres_benchmark_quick_run_reports_every_field() -> None:
    import postgres_server

    server = postgres_server.server()  # skips (or fails, in CI) without a server
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "postgres.py"), "--quick", "--json", "--url",
                           server.url], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert {"server_version", "synchronous_commit"} <= result["machine"]["postgres"].keys()
    pair = result["floor_and_engine"]
    assert pair["floor_per_s"] > 0 and pair["engine_per_s"] > 0 and pair["ratio"] > 0
    for backend in ("postgres", "sqlite"):
        rows = result["scaling"][backend]
        assert [row["processes"] for row in rows] == [1, 2] and rows[0]["vs_one"] == 1.0
        assert all(row["completions"] == row["processes"] * 5 * 3 for row in rows)
