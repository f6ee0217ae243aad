"""``wfconsole --readonly``: reads work; every write is refused by the engine with one line, exit 1."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_support import SAMPLES, Cli, assert_one_line_error
from typer.testing import CliRunner


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    made = Cli(str(tmp_path / "wf.db"), CliRunner())
    made.load_samples()
    return made


def test_reads_work_read_only(cli: Cli) -> None:
    loan = cli.start("loan_approval", {"applicant_id": "A-1", "amount": 25000})
    assert cli.ok("--readonly", "list").stdout.count(loan["instance_id"][:8]) == 1
    cli.ok("--readonly", "show", loan["instance_id"][:8])
    cli.ok("--readonly", "incidents")
    cli.ok("--readonly", "history")


@pytest.mark.parametrize("command", [
    ("start", "loan_approval"),
    ("done", "{execution}", "--outputs", '{"score": 700}'),
    ("fail", "{execution}", "--reason", "no"),
    ("claim", "{execution}"),
    ("release", "{execution}"),
    ("set", "{instance}", "amount=1"),
    ("cancel", "{instance}", "--reason", "no"),
    ("load", str(SAMPLES / "loan_approval.json")),
    ("move", "{instance}", "--from", "credit_check", "--to", "manual_review"),
    ("batch", "cancel", "--workflow", "loan_approval", "--reason", "no", "--yes"),
])
def test_every_write_is_refused_read_only(cli: Cli, command: tuple[str, ...]) -> None:
    loan = cli.start("loan_approval", {"applicant_id": "A-1", "amount": 25000})
    execution = cli.open_execution(loan["instance_id"], "credit_check")
    before = cli.json("show", loan["instance_id"])
    argv = [part.replace("{execution}", execution).replace("{instance}", loan["instance_id"]) for part in command]
    assert_one_line_error(cli("--readonly", *argv), 1, "read-only")
    assert cli.json("show", loan["instance_id"]) == before  # nothing changed


def test_workers_are_refused_read_only(cli: Cli) -> None:
    result = cli("--readonly", "workers", "--module", str(SAMPLES / "workers.py"))
    assert_one_line_error(result, 2, "--readonly")
