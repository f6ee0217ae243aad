"""The command line's read side and set-up: validate, load, start, list, show, help, the console entry."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import blueprints as bps
import pytest
from cli_support import SAMPLE_FILES, Cli, assert_one_line_error, write_json
from typer.testing import CliRunner

from console.cli import COMMANDS, app
from console.settings import DEFAULT_DB_PATH, resolve_db_path


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(str(tmp_path / "wf.db"), CliRunner())


def _broken_blueprint() -> dict:
    """Three independent errors: an edge to nowhere, an unreachable task, a condition that does not compile."""
    return bps.blueprint(
        "broken",
        [bps.start(), bps.task("a"), bps.task("orphan"), bps.xsplit("route"), bps.end()],
        [bps.edge("e1", "start", "a"), bps.edge("e2", "a", "route"), bps.edge("to_ghost", "a", "ghost"),
         bps.edge("bad_condition", "route", "end", "amount >> 3"), bps.edge("e3", "route", "end")],
    )


# -- settings -------------------------------------------------------------------------------------


def test_db_path_is_option_then_environment_then_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WFCONSOLE_DB", raising=False)
    assert resolve_db_path(None) == DEFAULT_DB_PATH == "./wfconsole.db"
    monkeypatch.setenv("WFCONSOLE_DB", "/srv/ops.db")
    assert resolve_db_path(None) == "/srv/ops.db"
    assert resolve_db_path("mine.db") == "mine.db"
    monkeypatch.setenv("WFCONSOLE_DB", "  ")
    assert resolve_db_path("") == DEFAULT_DB_PATH


def test_subcommands_use_wfconsole_db_from_the_environment(cli: Cli) -> None:
    cli.load_samples()
    result = cli.runner.invoke(app, ["list", "--json"], env={"WFCONSOLE_DB": cli.db})
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["total"] == 0


def test_db_given_before_the_subcommand_applies_to_it(cli: Cli) -> None:
    cli.load_samples()
    cli.start("user_onboarding", {"user_email": "ada@example.com"})
    result = cli.runner.invoke(app, ["--db", cli.db, "list", "--json"], env={"WFCONSOLE_DB": "/nowhere.db"})
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["total"] == 1


# -- help and the console entry -------------------------------------------------------------------


def test_help_explains_every_subcommand_with_an_example(cli: Cli) -> None:
    top = cli.ok("--help", db=False).stdout
    assert "Example" in top and "Exit codes" in top
    for name, _ in COMMANDS:
        assert name in top
        text = cli.ok(name, "--help", db=False).stdout
        assert "Example" in text and f"wfconsole {name}" in text, name


def test_no_subcommand_opens_the_console_with_the_resolved_db(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    fake = types.ModuleType("console.app")
    fake.run = lambda db_path, workers_module=None, readonly=False: calls.append((db_path, workers_module))
    monkeypatch.setitem(sys.modules, "console.app", fake)
    cli.ok("--db", "ops.db", "--workers", "sample_data.workers", db=False)
    cli.ok(db=False, env={"WFCONSOLE_DB": "from-env.db"})
    assert calls == [("ops.db", "sample_data.workers"), ("from-env.db", None)]


def test_the_console_without_a_terminal_is_refused_before_any_database_is_made(cli: Cli) -> None:
    assert_one_line_error(cli(), 2, "the console needs a terminal", "subcommand")  # CliRunner: no terminal
    assert not Path(cli.db).exists()


def test_version_flag(cli: Cli) -> None:
    assert cli.ok("--version", db=False).stdout.startswith("wfconsole ")


# -- validate -------------------------------------------------------------------------------------


def test_validate_passes_the_sample_blueprints(cli: Cli) -> None:
    out = cli.ok("validate", *SAMPLE_FILES, db=False).stdout
    assert out.count("valid") == len(SAMPLE_FILES) and "error" not in out


def test_validate_reports_every_error_naming_its_edge_or_node_and_exits_1(cli: Cli, tmp_path: Path) -> None:
    path = write_json(tmp_path / "broken.json", _broken_blueprint())
    result = cli("validate", path, db=False)
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    out = " ".join(result.stdout.split())  # the table may wrap long cells
    for fragment in ("edge 'to_ghost'", "'ghost' is not a node", "node 'orphan'", "not reachable from START",
                     "edge 'bad_condition'", "does not compile"):
        assert fragment in out, fragment
    assert "✗" in out and "error(s)" in out


def test_validate_json_lists_problems_with_severity_where_and_message(cli: Cli, tmp_path: Path) -> None:
    broken = write_json(tmp_path / "broken.json", _broken_blueprint())
    result = cli("validate", SAMPLE_FILES[0], broken, "--json", db=False)
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["valid"] is False
    good, bad = doc["files"]
    assert good == {"file": SAMPLE_FILES[0], "workflow_id": good["workflow_id"], "version": 1, "valid": True,
                    "errors": 0, "warnings": 0, "problems": []}
    assert bad["workflow_id"] == "broken" and bad["valid"] is False and bad["errors"] >= 3
    assert set(bad["problems"][0]) == {"severity", "where", "message"}
    assert {"edge 'to_ghost'", "node 'orphan'", "edge 'bad_condition'"} <= {p["where"] for p in bad["problems"]}


def test_validate_keeps_warnings_without_failing(cli: Cli, tmp_path: Path) -> None:
    bp = bps.linear("warned")
    bp["edges"].append(bps.edge("after_end", "end", "task_a"))  # an END's outgoing edge is never followed
    doc = json.loads(cli("validate", write_json(tmp_path / "w.json", bp), "--json", db=False).stdout)
    assert doc["valid"] is True
    assert [p["severity"] for p in doc["files"][0]["problems"]] == ["warning"]


def test_strict_refuses_warnings_in_validate_and_load(cli: Cli, tmp_path: Path) -> None:
    bp = bps.linear("typo")
    bp["nodes"][1]["due"] = "PT1H"  # meant "deadline": a warning, since the Go engine ignored unknown fields
    path = write_json(tmp_path / "typo.json", bp)
    assert cli("validate", path, db=False).exit_code == 0
    strict = cli("validate", path, "--strict", db=False)
    assert strict.exit_code == 1 and "(--strict refuses warnings)" in strict.stdout
    assert json.loads(cli("validate", path, "--strict", "--json", db=False).stdout)["valid"] is False
    assert_one_line_error(cli("load", path, "--strict"), 1, "typo.json: 1 warning(s), refused under --strict: "
                          "node 'task_a': field 'due' is not one wfconsole reads (did you mean 'deadline'?",
                          "nothing was loaded")
    assert not Path(cli.db).exists()
    assert cli("load", path).exit_code == 0  # without --strict it loads, and says the warning


def test_validate_unparsable_json_gives_its_position(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "cut.json"
    path.write_text('{"workflow_id": "x",\n "nodes": [')
    result = cli("validate", str(path), "--json", db=False)
    assert result.exit_code == 1
    problem = json.loads(result.stdout)["files"][0]["problems"][0]
    assert "line 2" in problem["where"]


def test_validate_missing_file_is_bad_input(cli: Cli, tmp_path: Path) -> None:
    assert_one_line_error(cli("validate", str(tmp_path / "nope.json"), db=False), 2, "nope.json", "no such")


def test_validate_directory_and_binary_file_are_bad_input(cli: Cli, tmp_path: Path) -> None:
    assert_one_line_error(cli("validate", str(tmp_path), db=False), 2, "is a directory")
    binary = tmp_path / "blob.json"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    assert_one_line_error(cli("validate", str(binary), db=False), 2, "blob.json", "not UTF-8")


# -- load -----------------------------------------------------------------------------------------


def test_load_stores_blueprints_and_prints_versions(cli: Cli) -> None:
    out = cli.ok("load", *SAMPLE_FILES).stdout
    for file in SAMPLE_FILES:
        assert file in out
    assert out.count(" v1 stored") == len(SAMPLE_FILES)
    again = cli.json("load", *SAMPLE_FILES)["loaded"]
    assert [item["created"] for item in again] == [False] * len(SAMPLE_FILES)
    assert {item["workflow_id"] for item in again} == {
        "loan_approval", "order_fulfilment", "user_onboarding", "verification"}
    assert set(again[0]) == {"file", "workflow_id", "version", "name", "created", "warnings"}


def test_load_refuses_everything_when_one_file_is_invalid(cli: Cli, tmp_path: Path) -> None:
    broken = write_json(tmp_path / "broken.json", _broken_blueprint())
    assert_one_line_error(cli("load", SAMPLE_FILES[0], broken), 1, "broken.json", "node 'orphan'",
                          "edge 'to_ghost'", "nothing was loaded (1 of 2 file(s) refused")
    also_broken = write_json(tmp_path / "also.json", {"workflow_id": "also", "nodes": "none"})
    result = cli("load", broken, also_broken)
    lines = result.stderr.splitlines()
    assert result.exit_code == 1 and len(lines) == 2  # one line per refused file
    assert "broken.json" in lines[0] and "also.json" in lines[1] and "nothing was loaded" in lines[1]
    assert not Path(cli.db).exists()  # every file is checked before the database is even opened


def test_load_refuses_a_changed_blueprint_under_the_same_version(cli: Cli, tmp_path: Path) -> None:
    cli.ok("load", write_json(tmp_path / "a.json", bps.linear("flow")))
    changed = write_json(tmp_path / "b.json", bps.linear("flow", task_id="other_task"))
    assert_one_line_error(cli("load", changed), 1, "b.json", "version 1", "'flow'", "already stored")


def test_load_stores_nothing_when_a_file_conflicts_with_the_database_or_the_batch(cli: Cli, tmp_path: Path) -> None:
    cli.ok("load", write_json(tmp_path / "a.json", bps.linear("flow")))
    v2 = write_json(tmp_path / "v2.json", bps.linear("flow", version=2))
    changed = write_json(tmp_path / "b.json", bps.linear("flow", task_id="other_task"))
    assert_one_line_error(cli("load", v2, changed), 1, "b.json", "already stored")
    listed = cli.json("blueprints")["blueprints"]
    assert [(b["workflow_id"], b["version"]) for b in listed] == [("flow", 1)]  # v2 not stored
    one = write_json(tmp_path / "one.json", bps.linear("other"))
    two = write_json(tmp_path / "two.json", bps.linear("other", task_id="other_task"))
    assert_one_line_error(cli("load", one, two), 1, "two.json", "also in", "one.json")
    assert [b["workflow_id"] for b in cli.json("blueprints")["blueprints"]] == ["flow"]


# -- start ----------------------------------------------------------------------------------------


def test_start_prints_the_instance_and_where_it_waits(cli: Cli) -> None:
    cli.load_samples()
    out = cli.ok("start", "user_onboarding", "--context", '{"user_email": "ada@example.com"}').stdout
    assert out.startswith("Started instance ")
    assert "is ACTIVE; open: create_account (ACTIVE)" in out


def test_start_that_stops_at_a_split_without_a_match_still_gives_the_instance(cli: Cli, tmp_path: Path) -> None:
    flow = bps.blueprint("straight_to_split", [bps.start(), bps.xsplit("split"), bps.task("a"), bps.end()],
                         [bps.edge("e1", "start", "split"), bps.edge("e2", "split", "a", "go == true"),
                          bps.edge("e3", "a", "end")])
    cli.ok("load", write_json(tmp_path / "flow.json", flow))
    result = cli("start", "straight_to_split", "--json")
    assert result.exit_code == 3
    doc = json.loads(result.stdout)
    assert doc["instance"]["status"] == "FAILED" and doc["instance"]["instance_id"]
    [line] = result.stderr.splitlines()
    assert "the instance was started, but" in line and "retry-instance" in line


def test_start_json_gives_ids_for_scripts(cli: Cli) -> None:
    cli.load_samples()
    doc = cli.json("start", "order_fulfilment", "--context", '{"order_id": "SO-1", "items": [{"sku": "A", "qty": 2}]}')
    instance = doc["instance"]
    assert doc["action"] == "start"
    assert instance["status"] == "ACTIVE" and instance["workflow_id"] == "order_fulfilment"
    assert instance["short_id"] == instance["instance_id"][:8]
    [opened] = instance["open_executions"]
    assert opened["node_id"] == "validate_order" and opened["id"].startswith(instance["instance_id"] + ":")
    assert cli.json("show", instance["short_id"])["context"]["items"] == [{"sku": "A", "qty": 2}]


def test_start_reads_the_context_from_a_file_or_stdin(cli: Cli, tmp_path: Path) -> None:
    cli.load_samples()
    path = write_json(tmp_path / "ctx.json", {"user_email": "file@example.com"})
    from_file = cli.json("start", "user_onboarding", "--context-file", path)["instance"]["instance_id"]
    from_stdin = cli.json("start", "user_onboarding", "--context-file", "-",
                          input='{"user_email": "stdin@example.com"}')["instance"]["instance_id"]
    assert cli.json("show", from_file)["context"] == {"user_email": "file@example.com"}
    assert cli.json("show", from_stdin)["context"] == {"user_email": "stdin@example.com"}
    assert_one_line_error(cli("start", "user_onboarding", "--context-file", "-", input=b'{"a": "\xff"}'), 2,
                          "stdin: not UTF-8 text")


@pytest.mark.parametrize(("context", "fragments"), [
    ('{"user_email": ', ("--context", "invalid JSON", "column 16")),
    ('["a"]', ("--context", "expected a JSON object", "an array")),
    ('{"amount": NaN}', ("--context", "NaN is not a JSON number")),
])
def test_start_with_bad_context_is_bad_input(cli: Cli, context: str, fragments: tuple[str, ...]) -> None:
    cli.load_samples()
    assert_one_line_error(cli("start", "user_onboarding", "--context", context), 2, *fragments)
    assert cli.json("list")["total"] == 0


def test_start_with_both_context_options_or_a_missing_file_is_bad_input(cli: Cli, tmp_path: Path) -> None:
    cli.load_samples()
    path = write_json(tmp_path / "c.json", {})
    assert_one_line_error(cli("start", "user_onboarding", "--context", "{}", "--context-file", path), 2, "not both")
    assert_one_line_error(cli("start", "user_onboarding", "--context-file", str(tmp_path / "x.json")), 2,
                          "x.json", "no such context file")


def test_start_unknown_workflow_is_refused(cli: Cli) -> None:
    cli.load_samples()
    assert_one_line_error(cli("start", "payroll"), 1, "unknown workflow 'payroll'")


def test_read_and_operator_commands_do_not_create_a_missing_database(cli: Cli) -> None:
    assert_one_line_error(cli("start", "user_onboarding"), 2, cli.db, "no such database")
    assert_one_line_error(cli("list"), 2, "no such database")
    assert not Path(cli.db).exists()


# -- list -----------------------------------------------------------------------------------------


def _mixed_instances(cli: Cli) -> dict[str, str]:
    """One ACTIVE onboarding, one CANCELLED order, one FAILED verification: status -> instance id."""
    cli.load_samples()
    active = cli.start("user_onboarding", {"user_email": "a@example.com"})["instance_id"]
    cancelled = cli.start("order_fulfilment", {"order_id": "SO-9"})["instance_id"]
    cli.ok("cancel", cancelled, "--reason", "duplicate order")
    failed = cli.start("verification", {"customer_id": "C-1"})["instance_id"]
    cli("done", f"{failed[:8]}:init", "--outputs", "{}")  # no `ok`: the split matches nothing
    return {"ACTIVE": active, "CANCELLED": cancelled, "FAILED": failed}


def test_list_shows_short_ids_newest_first_with_counts(cli: Cli) -> None:
    ids = _mixed_instances(cli)
    out = cli.ok("list").stdout
    rows = [line for line in out.splitlines() if line[:8] in {i[:8] for i in ids.values()}]
    assert [row[:8] for row in rows] == [ids["FAILED"][:8], ids["CANCELLED"][:8], ids["ACTIVE"][:8]]
    assert "verification v1" in rows[0] and "FAILED" in rows[0] and "records_ok" in rows[0]
    assert ids["ACTIVE"] not in out  # short ids only
    assert "3 of 3 instance(s) shown" in out


def test_list_filters_by_status_and_workflow_and_limits(cli: Cli) -> None:
    ids = _mixed_instances(cli)
    failed = cli.json("list", "--status", "failed")
    assert [i["id"] for i in failed["instances"]] == [ids["FAILED"]] and failed["total"] == 1
    assert [i["id"] for i in cli.json("list", "-w", "order_fulfilment")["instances"]] == [ids["CANCELLED"]]
    limited = cli.json("list", "--limit", "2")
    assert len(limited["instances"]) == 2 and limited["total"] == 3
    assert limited["counts"] == {"ACTIVE": 1, "CANCELLED": 1, "FAILED": 1}


def test_list_searches_ids_workflows_nodes_and_context_values_as_the_console_does(cli: Cli) -> None:
    ids = _mixed_instances(cli)
    found = cli.json("list", "--search", "A@EXAMPLE.com")  # a context value, in any case
    assert [i["id"] for i in found["instances"]] == [ids["ACTIVE"]] and found["total"] == 1
    assert [i["id"] for i in cli.json("list", "-q", "records_ok")["instances"]] == [ids["FAILED"]]  # a node
    assert [i["id"] for i in cli.json("list", "-q", ids["CANCELLED"][:8])["instances"]] == [ids["CANCELLED"]]
    assert cli.json("list", "-q", "user_email")["instances"] == []  # a variable's name is not its value
    both = cli.json("list", "-q", "o", "--status", "cancelled")
    assert [i["id"] for i in both["instances"]] == [ids["CANCELLED"]] and both["counts"]["CANCELLED"] == 1
    assert cli.ok("list", "-q", "nowhere").stdout.strip() == "no instances matching 'nowhere'"
    assert_one_line_error(cli("list", "--search", "  "), 2, "--search needs some text")


def test_list_json_fields(cli: Cli) -> None:
    ids = _mixed_instances(cli)
    row = next(i for i in cli.json("list")["instances"] if i["id"] == ids["FAILED"])
    assert set(row) == {"id", "short_id", "workflow_id", "version", "status", "token_nodes", "token_statuses",
                        "has_incident", "error", "created_at", "updated_at", "ended_at"}
    assert row["token_nodes"] == ["records_ok"] and "records_ok" in row["error"]
    assert row["token_statuses"] == ["FAILED"] and row["has_incident"] is True
    assert row["created_at"].endswith("+00:00")
    cancelled = next(i for i in cli.json("list")["instances"] if i["id"] == ids["CANCELLED"])
    assert cancelled["ended_at"].endswith("+00:00") and cancelled["error"] is None


def test_list_bad_filters(cli: Cli) -> None:
    cli.load_samples()
    assert_one_line_error(cli("list", "--status", "RUNNING"), 2, "--status", "'RUNNING'", "ACTIVE, COMPLETED")
    assert_one_line_error(cli("list", "--limit", "0"), 2, "--limit")
    assert_one_line_error(cli("list", "--workflow", "payroll"), 1, "unknown workflow 'payroll'")


def test_workers_on_a_database_that_does_not_exist_is_refused_and_creates_nothing(cli: Cli) -> None:
    assert_one_line_error(cli("workers", "-m", "sample_data/workers.py"), 2, "no such database")
    assert not Path(cli.db).exists()


def test_list_by_open_task(cli: Cli) -> None:
    cli.load_samples()
    waiting = cli.start("user_onboarding", {"user_email": "a@example.com"})["instance_id"]
    moved_on = cli.start("user_onboarding", {"user_email": "b@example.com"})["instance_id"]
    cli.ok("done", f"{moved_on[:8]}:create_account", "-o", "{}")
    listed = cli.json("list", "--task", "create_account")
    assert [i["id"] for i in listed["instances"]] == [waiting] and listed["total"] == 1
    assert cli.ok("list", "--task", "nothing_like_it").stdout.strip() == \
        "no instances with an open execution of task nothing_like_it"


def test_list_on_an_empty_database(cli: Cli) -> None:
    cli.load_samples()
    assert cli.ok("list").stdout.strip() == "no instances"


# -- show -----------------------------------------------------------------------------------------


def test_show_prints_status_tokens_executions_context_and_history(cli: Cli) -> None:
    cli.load_samples()
    instance = cli.start("user_onboarding", {"user_email": "ada@example.com"})
    execution = instance["open_executions"][0]["id"]
    out = cli.ok("show", instance["short_id"]).stdout
    for fragment in ("Instance", instance["instance_id"], "user_onboarding v1", "ACTIVE", "Tokens", "Executions",
                     "Context", "History", "create_account", "INSTANCE_STARTED", "user_email", '"ada@example.com"'):
        assert fragment in out, fragment
    assert execution in out  # the full id, ready to copy into `done`


def test_show_json_has_every_section(cli: Cli) -> None:
    cli.load_samples()
    instance = cli.start("user_onboarding", {"user_email": "ada@example.com"})
    doc = cli.json("show", instance["instance_id"])
    assert set(doc) == {"id", "short_id", "workflow_id", "version", "status", "error", "created_at", "updated_at",
                        "ended_at", "context", "tokens", "executions", "incidents", "history", "waits"}
    assert doc["tokens"][0]["node_id"] == "create_account" and doc["tokens"][0]["status"] == "ACTIVE"
    execution = doc["executions"][0]
    assert set(execution) == {"id", "instance_id", "node_id", "task_id", "status", "attempt", "inputs", "outputs",
                              "error", "created_at", "updated_at", "due_at", "assignee", "candidate_group"}
    assert execution["inputs"] == {"email": "ada@example.com", "full_name": None, "plan": None}
    assert doc["history"][0]["kind"] == "INSTANCE_STARTED" and doc["history"][0]["seq"] >= 1
    assert len(cli.json("show", instance["short_id"], "--history", "2")["history"]) == 2


def test_show_accepts_any_unique_prefix_in_any_case(cli: Cli) -> None:
    cli.load_samples()
    instance_id = cli.start("user_onboarding")["instance_id"]
    for given in (instance_id, instance_id[:8], instance_id[:3], instance_id[:12].upper()):
        assert cli.json("show", given)["id"] == instance_id


def test_show_ambiguous_prefix_lists_the_candidates(cli: Cli) -> None:
    cli.load_samples()
    ids = [cli.start("user_onboarding")["instance_id"] for _ in range(17)]  # 16 hex digits: two must share one
    first = next(c for c in "0123456789abcdef" if sum(i.startswith(c) for i in ids) >= 2)
    line = assert_one_line_error(cli("show", first), 2, f"prefix {first!r} is ambiguous", "give more characters")
    assert sum(i in line for i in ids) >= 2


def test_show_unknown_and_malformed_ids(cli: Cli) -> None:
    cli.load_samples()
    cli.start("user_onboarding")
    assert_one_line_error(cli("show", "ffffffff-ffff-4fff-bfff-ffffffffffff"), 1, "unknown instance")
    other = "0123456789" if not cli.json("list")["instances"][0]["id"].startswith("0") else "f123456789"
    assert_one_line_error(cli("show", other), 1, f"no instance id starts with {other!r}")
    assert_one_line_error(cli("show", "not-an-id!"), 2, "'not-an-id!' is not an instance id")
    assert_one_line_error(cli("show", "g" * 36), 2, "is not an instance id")
