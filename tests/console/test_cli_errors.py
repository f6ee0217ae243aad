"""Errors a user meets: unusable databases, bad usage, bugs, a missing console; and the real script end to end.

Each one must give its exit code and one line on stderr that names the problem, never a traceback.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from cli_support import SAMPLE_FILES, Cli, assert_one_line_error
from typer.testing import CliRunner

import console.cli_input
import console.cli_instances
from engine.errors import InvalidStateError


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(str(tmp_path / "wf.db"), CliRunner())


@pytest.fixture
def loaded(cli: Cli) -> Cli:
    cli.load_samples()
    return cli


# -- unusable databases ---------------------------------------------------------------------------


def test_corrupt_database_file(cli: Cli) -> None:
    Path(cli.db).write_bytes(b"this is not an SQLite file at all " * 200)
    for args in (["list"], ["start", "user_onboarding"], ["load", SAMPLE_FILES[0]]):
        assert_one_line_error(cli(*args), 1, cli.db, "not a wfconsole database or is corrupted")


def test_truncated_database_file(loaded: Cli) -> None:
    data = Path(loaded.db).read_bytes()
    for suffix in ("-wal", "-shm"):
        Path(loaded.db + suffix).unlink(missing_ok=True)
    Path(loaded.db).write_bytes(data[:100] + b"\x00" * 50)
    result = loaded("list")
    assert_one_line_error(result, 1, loaded.db)


def test_read_only_database_refuses_writes_in_one_line(loaded: Cli) -> None:
    instance = loaded.start("user_onboarding")
    read_only = f"sqlite:///file:{loaded.db}?mode=ro&uri=true"
    assert loaded("list", "--json", "--db", read_only, db=False).exit_code == 0  # reading still works
    result = loaded("set", instance["short_id"], "x=1", "--db", read_only, db=False)
    assert_one_line_error(result, 1, "read-only")
    assert "x" not in loaded.json("show", instance["short_id"])["context"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through file permissions")
def test_read_only_database_file_by_permissions(loaded: Cli) -> None:  # pragma: no cover - CI runs as a user
    instance = loaded.start("user_onboarding")
    directory = Path(loaded.db).parent
    os.chmod(loaded.db, 0o400)
    os.chmod(directory, 0o500)
    try:
        assert_one_line_error(loaded("set", instance["short_id"], "x=1"), 1, "read-only")
    finally:
        os.chmod(directory, 0o700)
        os.chmod(loaded.db, 0o600)


def test_database_locked_by_another_process_past_the_busy_timeout(loaded: Cli) -> None:
    instance = loaded.start("user_onboarding")
    holder = sqlite3.connect(loaded.db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        result = loaded("set", instance["short_id"], "x=1", env={"WFCONSOLE_BUSY_TIMEOUT_MS": "50"})
        assert_one_line_error(result, 1, "locked")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert "x" not in loaded.json("show", instance["short_id"])["context"]


def test_database_of_a_newer_schema_or_another_program(loaded: Cli, tmp_path: Path) -> None:
    with sqlite3.connect(loaded.db) as raw:
        raw.execute("UPDATE wf_meta SET value = '999' WHERE key = 'schema_version'")
    assert_one_line_error(loaded("list"), 1, "newer wfconsole", "schema version 999")
    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as raw:
        raw.execute("CREATE TABLE invoices (id INTEGER)")
    assert_one_line_error(loaded("list", "--db", str(foreign), db=False), 1, "not a wfconsole database", "invoices")


def test_database_path_that_is_a_directory_or_in_a_missing_directory(cli: Cli, tmp_path: Path) -> None:
    assert_one_line_error(cli("list", "--db", str(tmp_path), db=False), 2, "is a directory")
    missing = str(tmp_path / "no" / "such" / "wf.db")
    # The same mistake, the same answer, whether the command may create the database or not.
    assert_one_line_error(cli("load", SAMPLE_FILES[0], "--db", missing, db=False), 2, "does not exist")
    assert_one_line_error(cli("demo", "--build-only", "--db", missing, db=False), 2, "does not exist")
    assert_one_line_error(cli("load", SAMPLE_FILES[0], "--db", str(tmp_path), db=False), 2, "is a directory")
    empty = tmp_path / "empty.db"
    empty.touch()
    assert_one_line_error(cli("list", "--db", str(empty), db=False), 2, "is an empty file")
    assert empty.stat().st_size == 0


def test_a_database_file_other_users_can_read_is_one_warning_line_and_kept_as_it_is(loaded: Cli) -> None:
    os.chmod(loaded.db, 0o640)
    for args in (["list"], ["load", SAMPLE_FILES[0]], ["demo", "--build-only"]):
        result = loaded(*args)
        assert result.exit_code == 0, result.output
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"wfconsole: warning: {Path(loaded.db).resolve()} has mode "
                                                       "0640: users other than its owner can read it"), result.stderr
        assert f"chmod 600 {Path(loaded.db).resolve()}" in lines[0]
        console.cli_input._WARNED.clear()  # one line per process; these runs share one
    assert os.stat(loaded.db).st_mode & 0o777 == 0o640
    os.chmod(loaded.db, 0o600)
    assert loaded("list").stderr == ""


def test_a_warning_is_printed_once_per_process(capsys: pytest.CaptureFixture[str]) -> None:
    class Opened:
        warnings = ["x.db has mode 0644: ..."]

    console.cli_input.print_store_warnings(Opened())
    console.cli_input.print_store_warnings(Opened())  # demo opens its database twice
    assert capsys.readouterr().err == "wfconsole: warning: x.db has mode 0644: ...\n"


# -- bad usage ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("args", "fragments"), [
    (["frobnicate"], ("No such command 'frobnicate'", "wfconsole --help")),
    (["lst"], ("No such command 'lst'", "'list'")),
    (["list", "--colour"], ("No such option", "--colour", "wfconsole list --help")),
    (["show"], ("Missing argument", "INSTANCE")),
    (["list", "--limit", "many"], ("--limit", "integer")),
])
def test_bad_usage_is_one_line_and_exit_2(loaded: Cli, args: list[str], fragments: tuple[str, ...]) -> None:
    assert_one_line_error(loaded(*args), 2, *fragments)


# -- bugs and interruptions -----------------------------------------------------------------------


def test_an_unexpected_error_is_one_line_unless_debugging(loaded: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args, **_kwargs):
        raise RuntimeError("summary exploded")

    monkeypatch.setattr(console.cli_instances, "instance_summary_doc", broken)
    loaded.start("user_onboarding")
    assert_one_line_error(loaded("list", "--json"), 1, "unexpected RuntimeError: summary exploded",
                          "WFCONSOLE_DEBUG=1")
    debugging = loaded("list", "--json", env={"WFCONSOLE_DEBUG": "1"})
    assert debugging.exit_code == 1
    assert "Traceback" in debugging.stderr and "summary exploded" in debugging.stderr


def test_a_multi_line_message_is_folded_onto_one_line(loaded: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(*_args, **_kwargs):
        raise InvalidStateError("instance x is FAILED:\n  nothing to do\n")

    monkeypatch.setattr(console.cli_instances, "instance_summary_doc", refused)
    loaded.start("user_onboarding")
    line = assert_one_line_error(loaded("list", "--json"), 1)
    assert line == "wfconsole: error: instance x is FAILED: nothing to do"


def test_interrupt_exits_130(loaded: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*_args, **_kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(console.cli_instances, "instances_table", interrupted)
    loaded.start("user_onboarding")
    result = loaded("list")
    assert result.exit_code == 130 and "Traceback" not in result.output
    assert result.stderr == "wfconsole: error: interrupted\n"


def test_a_reader_that_goes_away_is_not_an_error(loaded: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """`wfconsole list | head -1`: Rich reports the closed pipe through on_broken_pipe (it would exit 1)."""
    from console.cli_tables import _StdoutConsole

    monkeypatch.setattr(_StdoutConsole, "print", lambda self, *args, **kwargs: self.on_broken_pipe())
    loaded.start("user_onboarding")
    result = loaded("list")
    assert (result.exit_code, result.stderr) == (0, "")


def test_missing_console_module_is_one_line(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "console.app", None)  # import of console.app now fails
    assert_one_line_error(cli(db=False), 1, "terminal console is not available")


# -- the installed script, end to end -------------------------------------------------------------


def _script() -> list[str]:
    installed = Path(sys.executable).parent / "wfconsole"
    return [str(installed)] if installed.exists() else [sys.executable, "-m", "console.cli"]


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("WFCONSOLE_DB", "WFCONSOLE_DEBUG")}
    return subprocess.run([*_script(), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60)


def test_script_runs_a_workflow_in_a_fresh_directory(tmp_path: Path) -> None:
    assert _run("load", *SAMPLE_FILES, cwd=tmp_path).returncode == 0
    assert (tmp_path / "wfconsole.db").exists()  # the default database is ./wfconsole.db
    started = _run("start", "user_onboarding", "--context", '{"user_email": "ada@example.com"}', cwd=tmp_path)
    assert started.returncode == 0, started.stderr
    short = _run("list", cwd=tmp_path).stdout.splitlines()[1][:8]
    done = _run("done", f"{short}:create_account", "--outputs", '{"account_id": "acc-1"}', cwd=tmp_path)
    assert done.returncode == 0 and "open: welcome_email (ACTIVE)" in done.stdout


def test_script_bad_input_and_corrupt_database_print_one_line(tmp_path: Path) -> None:
    missing = _run("start", "user_onboarding", "--context", "{", cwd=tmp_path)
    assert missing.returncode == 2
    assert missing.stderr.count("\n") == 1 and "--context: invalid JSON" in missing.stderr
    (tmp_path / "wfconsole.db").write_bytes(b"garbage" * 1000)
    corrupt = _run("list", cwd=tmp_path)
    assert corrupt.returncode == 1 and corrupt.stdout == ""
    assert corrupt.stderr.count("\n") == 1 and "corrupted" in corrupt.stderr and "Traceback" not in corrupt.stderr


def test_json_output_stays_valid_utf8_with_text_that_is_not_unicode(capsys: pytest.CaptureFixture[str]) -> None:
    from console.output import write_json

    write_json({"file": "caf\udce9.json", "name": "café"})  # a file name of undecodable bytes
    out = capsys.readouterr().out
    out.encode("utf-8")  # would raise on a lone surrogate
    assert json.loads(out) == {"file": "caf\udce9.json", "name": "café"}


def test_the_console_on_a_fifo_says_what_it_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import console.app

    fifo = tmp_path / "wf.db"
    os.mkfifo(fifo)
    monkeypatch.setattr(console.app, "require_terminal", lambda: None)  # the check before the database's
    with pytest.raises(SystemExit) as exited:
        console.app.run(str(fifo))
    assert str(exited.value) == f"wfconsole: {fifo}: is a FIFO (a named pipe), not a database file"
