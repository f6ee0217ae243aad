"""The console's read-only views as subcommands: ``incidents``, ``history`` (across instances), ``blueprints``."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_support import Cli, assert_one_line_error
from typer.testing import CliRunner


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(str(tmp_path / "wf.db"), CliRunner())


def _incidents(cli: Cli) -> dict[str, str]:
    """An instance with a failed execution, one stopped at a split, one running: what -> instance id."""
    cli.load_samples()
    running = cli.start("user_onboarding", {"user_email": "a@example.com"})["instance_id"]
    failed = cli.start("order_fulfilment", {"order_id": "SO-9"})["instance_id"]
    cli.ok("fail", f"{failed[:8]}:validate_order", "--reason", "card declined", "--actor", "ops-ada")
    no_match = cli.start("verification", {"customer_id": "C-1"})["instance_id"]
    cli("done", f"{no_match[:8]}:init", "--outputs", "{}")  # no `ok`: the split matches nothing
    return {"running": running, "failed": failed, "no_match": no_match}


def test_incidents_lists_failed_executions_and_stopped_splits_oldest_first(cli: Cli) -> None:
    ids = _incidents(cli)
    found = cli.json("incidents")
    assert [(i["kind"], i["instance_id"], i["node_id"]) for i in found["incidents"]] == [
        ("FAILED", ids["failed"], "validate_order"), ("NO_MATCH", ids["no_match"], "records_ok")]
    failed = found["incidents"][0]
    assert failed["reason"] == "card declined" and failed["task_id"] == "validate_order"
    assert failed["execution_id"].startswith(f"{ids['failed']}:validate_order:") and failed["attempt"] == 1
    assert found["incidents"][1]["execution_id"] is None
    assert (found["total"], found["failed"], found["stuck"]) == (2, 2, 0)
    out = cli.ok("incidents", env={"COLUMNS": "200"}).stdout
    assert f"{ids['failed'][:8]}:validate_order" in out  # what `done`/`retry` take
    assert f"{ids['no_match'][:8]} at records_ok" in out and "NO MATCH" in out
    assert "2 of 2 incident(s) shown" in out
    assert len(cli.json("incidents", "--limit", "1")["incidents"]) == 1


def test_incidents_go_once_resolved(cli: Cli) -> None:
    ids = _incidents(cli)
    cli.ok("retry", f"{ids['failed'][:8]}:validate_order")
    cli.ok("cancel", ids["no_match"][:8], "--reason", "duplicate")
    assert cli.json("incidents")["incidents"] == []
    assert cli.ok("incidents").stdout.strip() == "no incidents"


def test_history_searches_every_instance_newest_first(cli: Cli) -> None:
    ids = _incidents(cli)
    failures = cli.json("history", "--kind", "execution-failed")["entries"]
    assert [(e["instance_id"], e["node_id"], e["actor"]) for e in failures] == [
        (ids["failed"], "validate_order", "ops-ada")]
    assert failures[0]["workflow_id"] == "order_fulfilment" and failures[0]["details"]["error"] == "card declined"
    by_actor = cli.json("history", "--actor", "OPS-A")["entries"]
    assert {e["kind"] for e in by_actor} == {"EXECUTION_FAILED", "TOKEN_STATUS"}  # what `fail` recorded
    started = cli.json("history", "-k", "INSTANCE_STARTED")["entries"]
    assert [e["instance_id"] for e in started] == [ids["no_match"], ids["failed"], ids["running"]]
    one = cli.json("history", "--instance", ids["running"][:8])["entries"]
    assert {e["instance_id"] for e in one} == {ids["running"]}
    assert [e["seq"] for e in one] == sorted((e["seq"] for e in one), reverse=True)
    assert [e["kind"] for e in cli.json("history", "--node", "RECORDS", "-n", "1")["entries"]] == ["INSTANCE_FAILED"]
    assert cli.json("history", "--since", "1h", "-k", "INSTANCE_STARTED")["entries"] == started
    assert cli.json("history", "--until", "1h", "-k", "INSTANCE_STARTED")["entries"] == []
    out = cli.ok("history", "-k", "EXECUTION_FAILED", env={"COLUMNS": "200"}).stdout
    assert "card declined" in out and ids["failed"][:8] in out and "1 entry, newest first" in out
    assert cli.ok("history", "--actor", "nobody").stdout.strip() == "no history entries match"


def test_history_bad_filters_are_one_line_errors(cli: Cli) -> None:
    cli.load_samples()
    assert_one_line_error(cli("history", "--kind", "EXPLODED"), 2, "--kind", "'EXPLODED'", "EXECUTION_FAILED")
    assert_one_line_error(cli("history", "--since", "yesterday"), 2, "--since", "'yesterday'", "30m")
    assert_one_line_error(cli("history", "--since", "2months"), 2, "--since", "'2months'")  # not 2 minutes
    assert_one_line_error(cli("history", "--since", "99999999d"), 2, "--since", "too long ago")
    assert_one_line_error(cli("history", "--since", "1h", "--until", "2h"), 2, "not before --until")
    assert_one_line_error(cli("history", "--actor", "x" * 1001), 2, "--actor", "1,001 characters")
    assert_one_line_error(cli("list", "--search", "y" * 100_000), 2, "--search", "at most 1,000")
    assert_one_line_error(cli("history", "--instance", "zz"), 2, "'zz'")
    assert_one_line_error(cli("history", "--limit", "0"), 2, "--limit")


def test_blueprints_lists_every_version_with_its_instances(cli: Cli) -> None:
    ids = _incidents(cli)
    assert ids
    listed = {b["workflow_id"]: b for b in cli.json("blueprints")["blueprints"]}
    assert set(listed) == {"loan_approval", "user_onboarding", "order_fulfilment", "verification"}
    assert listed["verification"]["instances"] == {"FAILED": 1}
    assert listed["order_fulfilment"]["instances"] == {"ACTIVE": 1} and listed["order_fulfilment"]["version"] == 1
    assert listed["user_onboarding"]["nodes"] > 0
    out = cli.ok("blueprints", env={"COLUMNS": "200"}).stdout
    assert "order_fulfilment" in out and "ACTIVE 1" in out and "FAILED 1" in out


def test_blueprints_on_an_empty_database(cli: Cli) -> None:
    cli.load_samples()
    cli.ok("blueprints")
    assert cli.json("blueprints")["blueprints"][0]["instances"] == {}


def test_overview_counts_instances_open_tasks_incidents_and_the_last_hour(cli: Cli) -> None:
    ids = _incidents(cli)
    done = cli.start("user_onboarding", {"user_email": "b@example.com"})["instance_id"]
    cli.ok("done", f"{done[:8]}:create_account", "--outputs", "{}")
    found = cli.json("overview")
    assert found["instances"] == {"ACTIVE": 3, "FAILED": 1}
    assert found["by_workflow"]["verification"] == {"FAILED": 1}
    # Waiting: create_account of the first onboarding, welcome_email of the second.
    assert found["executions"] == {"running": 0, "waiting": 2}
    assert found["incidents"] == {"failed": 2, "stuck": 0}  # validate_order, and the split with no match
    tasks = {t["task_id"]: t for t in found["open_tasks"]}
    assert (tasks["validate_order"]["failed"], tasks["validate_order"]["waiting"]) == (1, 0)
    assert tasks["create_account"]["waiting"] == 1 and tasks["create_account"]["oldest_waiting"].endswith("+00:00")
    hour = found["last_hour"]
    assert (hour["instances_started"], hour["tasks_completed"]) == (4, 2)  # init (no match) and create_account
    assert len(hour["per_minute"]["tasks_completed"]) == 60 and sum(hour["per_minute"]["tasks_completed"]) == 2
    out = cli.ok("overview", env={"COLUMNS": "200"}).stdout
    assert "instances   4 · ACTIVE 3 · FAILED 1" in out and "2 waiting\nincidents   FAILED 2 · STUCK 0" in out
    assert "validate_order" in out and "4 started" in out
    assert ids


def test_overview_of_an_empty_database(cli: Cli) -> None:
    cli.load_samples()
    found = cli.json("overview")
    assert found["instances"] == {} and found["open_tasks"] == [] and found["last_hour"]["instances_started"] == 0
    assert "instances   0 · none" in cli.ok("overview").stdout
