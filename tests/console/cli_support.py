"""Helpers for the command-line tests: run ``wfconsole`` in-process, check its errors, find ids.

``Cli`` wraps ``typer.testing.CliRunner`` around one database file; every call adds ``--db`` unless the
test gives its own. ``assert_one_line_error`` pins the contract for a user's mistake: the exit code, one
line on stderr naming the problem, no traceback, nothing on stdout.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from typer.testing import CliRunner, Result

from console.cli import app

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "sample_data"
SAMPLE_FILES = sorted(str(p) for p in SAMPLES.glob("*.json"))


@dataclass
class Cli:
    """``wfconsole`` on one database file."""

    db: str
    runner: CliRunner

    def __call__(self, *args: str, input: str | None = None, env: dict[str, str] | None = None,
                 db: bool = True) -> Result:
        argv = [*args, "--db", self.db] if db else list(args)
        return self.runner.invoke(app, argv, input=input, env=env)

    def ok(self, *args: str, **kwargs: Any) -> Result:
        """Run and require exit code 0 with nothing on stderr."""
        result = self(*args, **kwargs)
        assert result.exit_code == 0, f"exit {result.exit_code}\nstdout: {result.stdout}\nstderr: {result.stderr}"
        assert result.stderr == "", result.stderr
        return result

    def json(self, *args: str, **kwargs: Any) -> Any:
        """Run with ``--json``, require success, return the parsed document."""
        return json.loads(self.ok(*args, "--json", **kwargs).stdout)

    def load_samples(self) -> None:
        self.ok("load", *SAMPLE_FILES)

    def start(self, workflow: str, context: dict[str, Any] | None = None) -> dict[str, Any]:
        """Start an instance; return the ``instance`` part of ``start --json``."""
        return self.json("start", workflow, "--context", json.dumps(context or {}))["instance"]

    def open_execution(self, instance_id: str, node_id: str) -> str:
        """The full id of the open execution at ``node_id``, read through ``show --json``."""
        shown = self.json("show", instance_id)
        found = [e["id"] for e in shown["executions"]
                 if e["node_id"] == node_id and e["status"] in ("ACTIVE", "FAILED", "STUCK")]
        assert len(found) == 1, f"open executions at {node_id}: {found}"
        return found[0]


def assert_one_line_error(result: Result, exit_code: int, *fragments: str) -> str:
    """Require ``exit_code``, exactly one line on stderr containing every fragment, and no traceback."""
    assert result.exit_code == exit_code, (
        f"exit {result.exit_code} (wanted {exit_code})\nstdout: {result.stdout}\nstderr: {result.stderr}")
    lines = result.stderr.splitlines()
    assert len(lines) == 1, f"wanted one line on stderr, got {len(lines)}: {result.stderr!r}"
    line = lines[0]
    assert line.startswith("wfconsole: error: "), line
    for fragment in fragments:
        assert fragment in line, f"{fragment!r} not in {line!r}"
    assert "Traceback" not in result.output
    assert result.stdout == "", f"nothing belongs on stdout after an error: {result.stdout!r}"
    return line


def write_json(path: Path, document: Any) -> str:
    path.write_text(json.dumps(document))
    return str(path)
