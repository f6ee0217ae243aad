"""Repair from the command line: move, migrate, batch, show --variable, and what a stopped split needs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_support import SAMPLES, Cli, assert_one_line_error
from typer.testing import CliRunner


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    made = Cli(str(tmp_path / "wf.db"), CliRunner())
    made.load_samples()
    return made


def _loan(cli: Cli, amount: int = 25000) -> dict:
    return cli.start("loan_approval", {"applicant_id": "A-1", "applicant_name": "Ada", "amount": amount,
                                       "applicant_email": "ada@example.com"})


def _token_nodes(cli: Cli, instance_id: str) -> list[str]:
    return sorted(t["node_id"] for t in cli.json("show", instance_id)["tokens"])


def test_move_skips_ahead_and_the_dry_run_changes_nothing(cli: Cli) -> None:
    loan = _loan(cli)
    preview = cli.json("move", loan["short_id"], "--from", "credit_check", "--to", "manual_review", "--dry-run")
    assert preview["dry_run"] is True and preview["executions_created"] == ["manual_review"]
    assert preview["executions_cancelled"] == ["credit_check"] and preview["refused"] is False
    assert _token_nodes(cli, loan["instance_id"]) == ["credit_check"]
    moved = cli.json("move", loan["short_id"], "--from", "credit_check", "--to", "manual_review", "--actor", "ops")
    assert moved["applied"] is True and moved["instance"]["token_nodes"] == ["manual_review"]
    kinds = [h["kind"] for h in cli.json("show", loan["instance_id"])["history"]]
    assert "INSTANCE_MODIFIED" in kinds


def test_a_move_that_would_leave_no_way_to_finish_is_refused_unless_forced(cli: Cli) -> None:
    order = cli.start("order_fulfilment", {"order_id": "O-1"})
    cli.ok("done", f"{order['short_id']}:validate_order", "--outputs", '{"total": 10, "currency": "EUR"}')
    assert _token_nodes(cli, order["instance_id"]) == ["charge_payment", "reserve_stock"]
    # Without the stock branch the join could never fire, and the order never finish.
    assert_one_line_error(cli("move", order["short_id"], "--from", "reserve_stock"), 1, "refused:",
                          "join 'join' needs 2 branches", "--force")
    assert _token_nodes(cli, order["instance_id"]) == ["charge_payment", "reserve_stock"]
    forced = cli.json("move", order["short_id"], "--from", "reserve_stock", "--force")
    assert forced["forced"] is True and forced["instance"]["token_nodes"] == ["charge_payment"]
    marker = next(h for h in cli.json("show", order["instance_id"])["history"] if h["kind"] == "INSTANCE_MODIFIED")
    assert marker["details"]["forced"] is True
    assert_one_line_error(cli("move", order["short_id"], "--from", "charge_payment", "--force"), 1,
                          "cancel it instead")


def test_move_names_an_unknown_node_and_the_nearest(cli: Cli) -> None:
    loan = _loan(cli)
    assert_one_line_error(cli("move", loan["short_id"], "--from", "credit_check", "--to", "manual_reveiw"), 2,
                          "has no node 'manual_reveiw'", "did you mean 'manual_review'")
    assert_one_line_error(cli("move", loan["short_id"]), 2, "give --from NODE")


def test_migrate_to_a_new_version_with_a_mapping(cli: Cli, tmp_path: Path) -> None:
    loan = _loan(cli)
    blueprint = json.loads((SAMPLES / "loan_approval.json").read_text())
    blueprint["version"] = blueprint.get("version", 1) + 1
    for node in blueprint["nodes"]:
        if node["id"] == "credit_check":
            node["id"] = "bureau_check"
    for edge in blueprint["edges"]:
        for end in ("source_id", "target_id"):
            if edge[end] == "credit_check":
                edge[end] = "bureau_check"
    newer = tmp_path / "loan_v2.json"
    newer.write_text(json.dumps(blueprint))
    cli.ok("load", str(newer))
    version = blueprint["version"]
    assert_one_line_error(cli("migrate", loan["short_id"], "--to-version", str(version)), 1,
                          "the token at 'credit_check' has no node in version", "'bureau_check'")
    migrated = cli.json("migrate", loan["short_id"], "--to-version", str(version), "--map",
                        "credit_check=bureau_check")
    assert migrated["instance"]["version"] == version and migrated["instance"]["token_nodes"] == ["bureau_check"]


def test_batch_cancels_what_a_filter_matches_and_a_resumed_batch_does_nothing_twice(cli: Cli) -> None:
    ids = [_loan(cli)["instance_id"] for _ in range(3)]
    planned = cli.json("batch", "cancel", "--workflow", "loan_approval", "--status", "ACTIVE", "--dry-run")
    assert planned["matched"] == 3 and sorted(planned["instance_ids"]) == sorted(ids)
    done = cli.json("batch", "cancel", "--workflow", "loan_approval", "--reason", "bad rates", "--yes")
    assert sorted(done["done"]) == sorted(ids) and done["refused"] == []
    again = cli.json("batch", "cancel", "--ids", "-", "--reason", "again", "--yes", "--resume", done["batch_id"],
                     input="\n".join(ids))
    assert sorted(again["skipped"]) == sorted(ids) and again["done"] == []
    history = cli.json("show", ids[0])["history"]
    assert any(h["kind"] == "BATCH_ITEM" and h["details"]["batch_id"] == done["batch_id"] for h in history)


def test_a_batch_without_what_its_action_needs_is_bad_input(cli: Cli) -> None:
    assert_one_line_error(cli("batch", "cancel", "--yes"), 2, "needs --reason")
    assert_one_line_error(cli("batch", "cancle", "--reason", "x", "--yes"), 2, "unknown batch action 'cancle'",
                          "did you mean 'cancel'")


def test_show_variable_tells_each_change_and_incidents_name_what_a_split_tests(cli: Cli) -> None:
    loan = _loan(cli)
    cli.ok("set", loan["short_id"], "amount=30000", "--actor", "ops")
    cli.ok("unset", loan["short_id"], "amount", "--actor", "ops")
    changes = cli.json("show", loan["short_id"], "--variable", "amount")["changes"]
    assert [(c["how"], c["value"], c["actor"]) for c in changes][1:] == [("set", 30000, "ops"), ("unset", None, "ops")]
    assert changes[0]["how"] == "started" and changes[0]["value"] == 25000
    assert_one_line_error(cli("show", loan["short_id"], "--variable", "amont"), 2, "never had a variable 'amont'")
