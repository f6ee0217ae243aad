"""The bad-input corpus through the CLI: an exit code, one line on stderr naming the problem, nothing written.

The same files and values as ``test_bad_input.py`` (which checks the API), run through ``wfconsole`` in
process. Exit codes as ``wfconsole --help`` documents them: 1 refused (invalid blueprint, unusable
database), 2 bad input (bad JSON on the command line, values JSON cannot hold, text that is not UTF-8).
The console's own checks of unusable databases are in ``tests/console/test_cli_errors.py``.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import stat
from pathlib import Path

import pytest
from reliability import test_bad_input as corpus
from typer.testing import CliRunner, Result

from console.cli import app

BAD = corpus.BAD


class Cli:
    def __init__(self, db: Path) -> None:
        self.db = str(db)
        self.runner = CliRunner()

    def __call__(self, *args: str, db: bool = True) -> Result:
        return self.runner.invoke(app, [*args, "--db", self.db] if db else list(args))

    def json(self, *args: str) -> dict:
        result = self(*args, "--json")
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)


def one_line_error(result: Result, exit_codes: tuple[int, ...], *patterns: str) -> str:
    assert result.exit_code in exit_codes, f"exit {result.exit_code}: {result.output}"
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("wfconsole: error: "), result.stderr
    assert "Traceback" not in result.output and result.stdout == ""
    for pattern in patterns:
        assert re.search(pattern, lines[0]), f"{pattern!r} not in {lines[0]!r}"
    return lines[0]


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path / "wf.db")


@pytest.mark.parametrize("name", sorted(corpus.BLUEPRINTS))
def test_bad_blueprint_files_through_load_and_validate(name: str, cli: Cli) -> None:
    path = str(BAD / name)
    first = corpus.BLUEPRINTS[name][0]
    one_line_error(cli("load", path), (1, 2), re.escape(name), first)
    result = cli("validate", path, "--json", db=False)
    assert result.exit_code in (1, 2) and "Traceback" not in result.output
    if result.exit_code == 1:  # every problem listed, as the API reports them
        (report,) = json.loads(result.stdout)["files"]
        listed = "; ".join(f"{p['where']}: {p['message']}" for p in report["problems"])
        for pattern in corpus.BLUEPRINTS[name]:
            summary = f"{len(report['problems'])} errors; {listed}"
            assert re.search(pattern, summary), f"{pattern!r} not in {summary!r}"
    else:
        one_line_error(result, (2,), re.escape(name))
    assert stored_blueprints(cli) == 0


def stored_blueprints(cli: Cli) -> int:
    """How many blueprints the database holds (none when the file or its tables were never created)."""
    if not Path(cli.db).exists():
        return 0
    with sqlite3.connect(cli.db) as raw:
        if not raw.execute("SELECT 1 FROM sqlite_master WHERE name = 'blueprints'").fetchone():
            return 0
        count = raw.execute("SELECT COUNT(*) FROM blueprints").fetchone()[0]
    raw.close()
    return count


def test_a_good_file_is_not_loaded_with_a_bad_one(cli: Cli, tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps(corpus.ONE_TASK))
    one_line_error(cli("load", str(good), str(BAD / "duplicate_ids.json")), (1,), "duplicate_ids.json",
                   "nothing was loaded")
    assert stored_blueprints(cli) == 0


@pytest.fixture
def running(cli: Cli, tmp_path: Path) -> tuple[Cli, str, str]:
    """A database with one instance waiting at task ``t``: (cli, short id, execution id)."""
    blueprint = tmp_path / "w.json"
    blueprint.write_text(json.dumps(corpus.ONE_TASK))
    assert cli("load", str(blueprint)).exit_code == 0
    instance = cli.json("start", "w")["instance"]
    return cli, instance["short_id"], instance["open_executions"][0]["id"]


@pytest.mark.parametrize("outputs, pattern", [
    ('{"when": NaN}', r"NaN is not a JSON number"),
    ('{"when": Infinity}', r"Infinity is not a JSON number"),
    ('{"when": 1e999}', r"outputs\['when'\]: inf is not a JSON number"),
    ('{"when": ' + "9" * 5000 + "}", r"outputs.*(digits|too large)"),
    ('{"when": "\\ud800"}', r"outputs\['when'\]: a string that is not valid Unicode"),
    ('{"when": ' + "[" * 5000 + "]" * 5000 + "}", r"outputs"),
    ('["not", "an", "object"]', r"outputs.*(JSON object|object)"),
    ('{"when": 1', r"--outputs: invalid JSON"),
], ids=["nan", "infinity", "overflow", "huge-int", "surrogate", "deep", "not-an-object", "truncated"])
def test_outputs_json_cannot_hold_through_done(outputs: str, pattern: str, running) -> None:
    cli, short_id, execution_id = running
    before = cli.json("show", short_id)
    one_line_error(cli("done", execution_id, "--outputs", outputs), (2,), pattern)
    assert cli.json("show", short_id) == before


@pytest.mark.parametrize("damage", ["pages", "future"])
def test_unusable_databases_through_list(damage: str, running) -> None:
    cli, _, _ = running
    db = Path(cli.db)
    if damage == "pages":
        for suffix in ("-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        data = bytearray(db.read_bytes())
        data[4096:4096 * 3] = bytes(range(256)) * 32
        db.write_bytes(bytes(data))
        pattern = r"not a wfconsole database or is corrupted"
    else:
        with sqlite3.connect(db) as raw:
            raw.execute("UPDATE wf_meta SET value = '42' WHERE key = 'schema_version'")
        raw.close()
        pattern = r"newer wfconsole \(schema version 42"
    one_line_error(cli("list"), (1,), re.escape(db.name), pattern)


SAMPLES = Path(__file__).resolve().parents[2] / "sample_data"
SAMPLE = str(SAMPLES / "verification.json")
EXECUTION = "3fa85f64:t"
EVERY_DATABASE_COMMAND = [
    ["load", SAMPLE], ["start", "w"], ["list"], ["show", "3fa85f64"],
    ["overview"], ["incidents"], ["history"], ["blueprints"], ["done", EXECUTION], ["fail", EXECUTION, "--reason", "r"],
    ["retry", EXECUTION], ["retry-failed"], ["retry-instance", "3fa85f64"], ["cancel", "3fa85f64", "--reason", "r"],
    ["set", "3fa85f64", "a=1"], ["graph", "3fa85f64"], ["workers", "--module", str(SAMPLES / "workers.py")],
    ["demo", "--build-only"],
]


@pytest.mark.parametrize("args", EVERY_DATABASE_COMMAND, ids=lambda args: args[0])
def test_a_fifo_as_database_is_named_by_every_command(args: list[str], cli: Cli) -> None:
    os.mkfifo(cli.db)
    one_line_error(cli(*args), (2,), re.escape(cli.db) + r": is a FIFO \(a named pipe\), not a database file")
    assert stat.S_ISFIFO(os.stat(cli.db).st_mode)


@pytest.mark.parametrize("args", [["list"], ["load", SAMPLE]], ids=["list", "load"])
def test_a_character_device_as_database_is_named(args: list[str], cli: Cli) -> None:
    cli.db = os.devnull
    one_line_error(cli(*args), (2,), r"/dev/null: is a character device, not a database file")


BIG = 2 * 1024 * 1024  # characters of a value: twice the limit of outputs, variables and initial contexts


def _refused_size(what: str, size: int) -> str:
    return rf"{what}: {size:,} bytes of JSON; the limit is 1,048,576"


def test_values_over_the_size_limit_are_refused_by_every_command_with_their_size(running, tmp_path: Path) -> None:
    cli, short_id, execution_id = running
    before = cli.json("show", short_id)
    big = json.dumps({"when": "x" * BIG})
    size = len(big) - 1  # compact: without the space after the colon
    one_line_error(cli("done", execution_id, "--outputs", big), (2,), _refused_size("outputs", size))
    one_line_error(cli("set", short_id, "when=" + json.dumps("x" * BIG)), (2,), _refused_size("variables", size))
    one_line_error(cli("start", "w", "--context", big), (2,), _refused_size("initial context", size))
    context = tmp_path / "context.json"
    context.write_text(json.dumps({"when": "x" * BIG}, indent=4))  # measured as compact JSON, not as the file
    one_line_error(cli("start", "w", "--context-file", str(context)), (2,), _refused_size("initial context", size))
    stdin = cli.runner.invoke(app, ["start", "w", "--context-file", "-", "--db", cli.db], input=big)
    one_line_error(stdin, (2,), _refused_size("initial context", size))
    assert cli.json("show", short_id) == before
    assert cli.json("list")["total"] == 1


def test_a_context_file_past_the_file_limit_names_both_limits(cli: Cli, tmp_path: Path) -> None:
    context = tmp_path / "context.json"
    context.write_text(json.dumps({"when": "x" * (17 * 1024 * 1024)}))
    one_line_error(cli("start", "w", "--context-file", str(context)), (2,),
                   r"context\.json: larger than the 16 MiB limit; an initial context is at most 1,048,576 bytes")
