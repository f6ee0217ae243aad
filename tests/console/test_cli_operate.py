"""Operator commands: done, fail, retry, retry-instance, cancel and set, with their refusals and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_support import Cli, assert_one_line_error
from typer.testing import CliRunner

from engine.manager import default_actor


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    made = Cli(str(tmp_path / "wf.db"), CliRunner())
    made.load_samples()
    return made


@pytest.fixture
def loan(cli: Cli) -> dict:
    """A large loan application waiting at credit_check."""
    return cli.start("loan_approval", {"applicant_id": "A-1", "applicant_name": "Ada", "amount": 25000,
                                       "applicant_email": "ada@example.com"})


def _history(cli: Cli, instance_id: str) -> list[dict]:
    return cli.json("show", instance_id)["history"]


# -- done -----------------------------------------------------------------------------------------


def test_done_with_the_full_id_maps_outputs_and_moves_on(cli: Cli, loan: dict) -> None:
    execution = loan["open_executions"][0]["id"]
    assert_one_line_error(cli("done", execution, "--outputs", '{"scor": 710}'), 2,
                          "scor: not an output of credit_check; did you mean score?", "--allow-unmapped")
    out = cli.ok("done", execution, "--outputs", '{"score": 710, "unmapped": 1}', "--allow-unmapped").stdout
    assert f"credit_check of instance {loan['short_id']} marked done by" in out
    assert "open: manual_review (ACTIVE)" in out
    shown = cli.json("show", loan["instance_id"])
    assert shown["context"]["credit_score"] == 710 and "unmapped" not in shown["context"]


def test_done_with_the_short_form_and_json(cli: Cli, loan: dict) -> None:
    doc = cli.json("done", f"{loan['short_id']}:credit_check", "-o", '{"score": 500}')
    assert doc["action"] == "done" and doc["applied"] is True and doc["note"] is None
    assert doc["execution_id"] == loan["open_executions"][0]["id"]
    assert [e["node_id"] for e in doc["instance"]["open_executions"]] == ["manual_review"]


def test_done_accepts_a_full_execution_id_written_with_a_short_instance_id(cli: Cli, loan: dict) -> None:
    execution = loan["open_executions"][0]["id"]
    shortened = loan["short_id"] + execution[len(loan["instance_id"]):]
    assert cli.json("done", shortened)["execution_id"] == execution


def test_done_twice_is_a_harmless_no_op_that_says_so(cli: Cli, loan: dict) -> None:
    execution = loan["open_executions"][0]["id"]
    cli.ok("done", execution, "-o", '{"score": 710}')
    again = cli("done", execution, "-o", '{"score": 1}')
    assert again.exit_code == 0
    assert again.stderr.strip() == f"wfconsole: execution {execution} is already COMPLETED: nothing changed"
    assert cli.json("done", execution)["applied"] is False
    short = cli("done", f"{loan['short_id']}:credit_check")  # the short form too: nothing open there now
    assert short.exit_code == 0 and "is already COMPLETED: nothing changed" in short.stderr
    assert cli.json("show", loan["instance_id"])["context"]["credit_score"] == 710


def test_done_on_a_cancelled_instance_is_ignored(cli: Cli, loan: dict) -> None:
    execution = loan["open_executions"][0]["id"]
    cli.ok("cancel", loan["short_id"], "--reason", "withdrawn")
    doc = cli.json("done", execution)
    assert doc["applied"] is False and "is already CANCELLED: nothing changed" in doc["note"]


def test_done_that_leaves_a_split_without_a_match_explains_the_way_out(cli: Cli) -> None:
    instance = cli.start("verification", {"customer_id": "C-1"})
    done = cli("done", f"{instance['short_id']}:init", "-o", '{"records_found": 0}', "--json")
    assert done.exit_code == 3  # the completion is recorded; the instance needs a person
    [line] = done.stderr.splitlines()
    assert "the completion was recorded" in line and "records_ok" in line and "retry-instance" in line
    assert instance["short_id"] in line
    doc = json.loads(done.stdout)  # a script still learns what happened
    assert doc["applied"] is True and doc["instance"]["status"] == "FAILED"
    assert cli.json("show", instance["short_id"])["status"] == "FAILED"


@pytest.mark.parametrize(("args", "code", "fragments"), [
    (["done", "nonsense"], 2, ("malformed execution id 'nonsense'", "<instance-prefix>:<node_id>")),
    (["done", "x:y:z"], 2, ("malformed execution id 'x:y:z'", "'z' is not a UUID")),
    (["done", "zz:credit_check"], 2, ("malformed execution id 'zz:credit_check'", "<instance-prefix>:<node_id>")),
    (["done", "SHORT:credit_check", "--outputs", "{oops}"], 2, ("--outputs", "invalid JSON", "column 2")),
    (["done", "SHORT:credit_check", "--outputs", "[1]"], 2, ("--outputs", "expected a JSON object")),
    (["done", "SHORT:manual_review"], 1, ("no open execution at node 'manual_review'", "credit_check")),
    (["done", "SHORT:credit_check:00000000-0000-4000-8000-000000000000"], 1, ("unknown execution",)),
])
def test_done_bad_input_and_unknown_executions(cli: Cli, loan: dict, args: list[str], code: int,
                                               fragments: tuple[str, ...]) -> None:
    argv = [a.replace("SHORT", loan["short_id"]) for a in args]
    assert_one_line_error(cli(*argv), code, *fragments)
    assert cli.json("show", loan["instance_id"])["executions"][0]["status"] == "ACTIVE"


# -- fail and retry -------------------------------------------------------------------------------


def test_fail_records_an_incident_and_retry_starts_a_new_attempt(cli: Cli, loan: dict) -> None:
    execution = loan["open_executions"][0]["id"]
    failed = cli.json("fail", f"{loan['short_id']}:credit_check", "--reason", "bureau timeout", "--actor", "ops-bob")
    assert failed["instance"]["status"] == "ACTIVE"
    assert failed["instance"]["open_executions"][0]["status"] == "FAILED"
    shown = cli.json("show", loan["instance_id"])
    assert shown["incidents"] == [execution]
    assert shown["executions"][0]["error"] == "bureau timeout"
    entry = next(h for h in shown["history"] if h["kind"] == "EXECUTION_FAILED")
    assert entry["actor"] == "ops-bob"

    out = cli.ok("retry", execution).stdout
    assert f"credit_check retried on instance {loan['short_id']} as execution" in out and "new execution" in out
    retried = cli.json("show", loan["instance_id"])
    assert [(e["status"], e["attempt"]) for e in retried["executions"]] == [("RETRIED", 1), ("ACTIVE", 2)]
    assert retried["incidents"] == []


def test_retry_json_gives_the_new_execution(cli: Cli, loan: dict) -> None:
    short = f"{loan['short_id']}:credit_check"
    cli.ok("fail", short, "-r", "boom")
    doc = cli.json("retry", short)
    assert doc["new_execution_id"] != doc["execution_id"]
    assert doc["instance"]["open_executions"] == [
        {"id": doc["new_execution_id"], "node_id": "credit_check", "task_id": "credit_check", "status": "ACTIVE"}]


def test_fail_and_retry_in_the_wrong_state_are_refused_naming_the_state(cli: Cli, loan: dict) -> None:
    short = f"{loan['short_id']}:credit_check"
    assert_one_line_error(cli("retry", short), 1, "is ACTIVE", "only a FAILED or STUCK execution can be retried")
    cli.ok("fail", short, "--reason", "boom")
    assert_one_line_error(cli("fail", short, "--reason", "again"), 1, "is FAILED", "can be failed")


def test_fail_needs_a_reason(cli: Cli, loan: dict) -> None:
    short = f"{loan['short_id']}:credit_check"
    assert_one_line_error(cli("fail", short), 2, "--reason")
    assert_one_line_error(cli("fail", short, "--reason", "  "), 2, "--reason must not be empty")


# -- retry-instance -------------------------------------------------------------------------------


def test_set_then_retry_instance_resumes_a_failed_split(cli: Cli) -> None:
    instance = cli.start("verification", {"customer_id": "C-1"})
    cli("done", f"{instance['short_id']}:init", "-o", "{}")
    assert_one_line_error(cli("retry-instance", instance["short_id"]), 1, "still: ", "no condition matched",
                          f"wfconsole set {instance['short_id']}")
    cli.ok("set", instance["short_id"], "ok=true")
    doc = cli.json("retry-instance", instance["short_id"])
    assert doc["action"] == "retry_instance" and doc["instance"]["status"] == "ACTIVE"
    assert sorted(e["node_id"] for e in doc["instance"]["open_executions"]) == ["t1", "t2"]


def test_retry_instance_on_an_active_instance_is_refused(cli: Cli, loan: dict) -> None:
    assert_one_line_error(cli("retry-instance", loan["short_id"]), 1,
                          "is ACTIVE: only an instance that stopped FAILED at an exclusive split can be resumed")


# -- cancel ---------------------------------------------------------------------------------------


def test_cancel_records_reason_and_actor(cli: Cli, loan: dict) -> None:
    out = cli.ok("cancel", loan["short_id"], "--reason", "customer withdrew").stdout
    assert f"instance {loan['short_id']} cancelled: customer withdrew" in out and "is CANCELLED" in out
    shown = cli.json("show", loan["instance_id"])
    assert shown["status"] == "CANCELLED" and shown["tokens"] == []
    assert shown["executions"][0]["status"] == "CANCELLED"
    entry = next(h for h in shown["history"] if h["kind"] == "INSTANCE_CANCELLED")
    assert entry["actor"] == default_actor() and entry["details"]["reason"] == "customer withdrew"


def test_cancel_twice_is_refused(cli: Cli, loan: dict) -> None:
    cli.ok("cancel", loan["short_id"], "--reason", "first")
    assert_one_line_error(cli("cancel", loan["short_id"], "--reason", "second"), 1, "is CANCELLED")


# -- set ------------------------------------------------------------------------------------------


def test_set_parses_json_values_and_bare_words(cli: Cli, loan: dict) -> None:
    assert_one_line_error(cli("set", loan["short_id"], "note="), 2, "'note': an empty value")
    doc = cli.json("set", loan["short_id"], "amount=2500", "approved=true", "reviewer=alice",
                   'zip="01234"', 'tags=["vip", 1]', "limits={\"max\": 1.5}", "nothing=null", "version=1.2.3")
    expected = {"amount": 2500, "approved": True, "reviewer": "alice", "zip": "01234",
                "tags": ["vip", 1], "limits": {"max": 1.5}, "nothing": None, "version": "1.2.3"}
    assert doc["values"] == expected
    context = cli.json("show", loan["instance_id"])["context"]
    assert {key: context[key] for key in expected} == expected


def test_set_prints_what_it_wrote(cli: Cli, loan: dict) -> None:
    out = cli.ok("set", loan["short_id"], "b=1", "a=2", "--actor", "carol").stdout
    assert f"a, b set on instance {loan['short_id']}" in out
    entry = [h for h in _history(cli, loan["instance_id"]) if h["kind"] == "CONTEXT_SET"][-1]
    assert entry["actor"] == "carol"


@pytest.mark.parametrize(("pairs", "fragments"), [
    (["amount"], ("'amount'", "expected KEY=VALUE")),
    (["=5"], ("expected KEY=VALUE",)),
    (["tags=[1,"], ("value of 'tags'", "invalid JSON")),
    (["a=1", "a=2"], ("'a' is given twice",)),
])
def test_set_bad_pairs_are_bad_input(cli: Cli, loan: dict, pairs: list[str], fragments: tuple[str, ...]) -> None:
    before = cli.json("show", loan["instance_id"])["context"]
    assert_one_line_error(cli("set", loan["short_id"], *pairs), 2, *fragments)
    assert cli.json("show", loan["instance_id"])["context"] == before


def test_set_on_a_finished_instance_is_refused(cli: Cli, loan: dict) -> None:
    cli.ok("cancel", loan["short_id"], "--reason", "gone")
    assert_one_line_error(cli("set", loan["short_id"], "x=1"), 1, "is CANCELLED", "variables can be set only")


def test_set_needs_at_least_one_pair(cli: Cli, loan: dict) -> None:
    assert_one_line_error(cli("set", loan["short_id"]), 2, "Missing argument")


def test_operator_actions_default_to_the_os_user(cli: Cli, loan: dict) -> None:
    cli.ok("done", f"{loan['short_id']}:credit_check", "-o", json.dumps({"score": 1}))
    entry = next(h for h in _history(cli, loan["instance_id"]) if h["kind"] == "EXECUTION_COMPLETED")
    assert entry["actor"] == default_actor()


# -- retry-failed ---------------------------------------------------------------------------------


def _failed_orders(cli: Cli, count: int) -> list[str]:
    """``count`` orders, each with validate_order FAILED (oldest first): their instance ids."""
    ids = []
    for n in range(count):
        instance_id = cli.start("order_fulfilment", {"order_id": f"SO-{n}"})["instance_id"]
        cli.ok("fail", f"{instance_id[:8]}:validate_order", "--reason", f"boom {n}")
        ids.append(instance_id)
    return ids


def test_retry_failed_dry_run_lists_the_matching_incidents_and_changes_nothing(cli: Cli, loan: dict) -> None:
    orders = _failed_orders(cli, 2)
    cli.ok("fail", f"{loan['short_id']}:credit_check", "--reason", "bureau down")
    planned = cli.json("retry-failed", "--task", "validate_order", "--dry-run")
    assert [m.split(":")[0] for m in planned["matched"]] == orders and planned["retried"] == []
    out = cli.ok("retry-failed", "--dry-run").stdout
    assert f"would retry {orders[0][:8]}:validate_order  (FAILED, attempt 1)" in out
    assert f"would retry {loan['short_id']}:credit_check" in out and "3 execution(s) would be retried" in out
    assert len(cli.json("incidents")["incidents"]) == 3  # nothing changed


def test_retry_failed_retries_each_match_in_order_with_the_actor(cli: Cli, loan: dict) -> None:
    orders = _failed_orders(cli, 2)
    cli.ok("fail", f"{loan['short_id']}:credit_check", "--reason", "bureau down")
    done = cli.json("retry-failed", "-w", "order_fulfilment", "--actor", "ops-eve")
    assert [r["execution_id"].split(":")[0] for r in done["retried"]] == orders and done["refused"] == []
    for instance_id, item in zip(orders, done["retried"], strict=True):
        shown = cli.json("show", instance_id)
        new = next(e for e in shown["executions"] if e["id"] == item["new_execution_id"])
        assert new["status"] == "ACTIVE" and new["attempt"] == 2
        retried = [h for h in shown["history"] if h["kind"] == "EXECUTION_RETRIED"]
        assert [h["actor"] for h in retried] == ["ops-eve"]
    assert [i["task_id"] for i in cli.json("incidents")["incidents"]] == ["credit_check"]  # other workflow
    assert cli.ok("retry-failed", "-w", "order_fulfilment").stdout.strip() == "no FAILED executions match"


def test_retry_failed_keeps_going_past_a_refusal_then_exits_1_naming_it(cli: Cli, monkeypatch) -> None:
    from engine import WorkflowManager
    from engine.errors import InvalidStateError

    orders = _failed_orders(cli, 3)
    real_retry = WorkflowManager.retry

    def retry(self, execution_id, **kwargs):
        if execution_id.startswith(orders[1]):
            raise InvalidStateError("taken over by another operator meanwhile")
        return real_retry(self, execution_id, **kwargs)

    monkeypatch.setattr(WorkflowManager, "retry", retry)
    result = cli("retry-failed", "--json")
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert [r["execution_id"].split(":")[0] for r in document["retried"]] == [orders[0], orders[2]]
    assert [r["execution_id"].split(":")[0] for r in document["refused"]] == [orders[1]]
    # One line on stderr says what was refused and why; stdout still reports what was done.
    [line] = result.stderr.splitlines()
    assert line.startswith("wfconsole: error: 1 of 3 refused: ") and orders[1] in line
    assert "taken over by another operator" in line and "Traceback" not in result.output


def test_retry_failed_bad_filters(cli: Cli) -> None:
    assert_one_line_error(cli("retry-failed", "--workflow", "payroll"), 1, "unknown workflow 'payroll'")
    assert_one_line_error(cli("retry-failed", "--limit", "0"), 2, "--limit")
    cli.load_samples()
    assert_one_line_error(cli("retry-failed", "--task", "charge_paymnet"), 1, "unknown task 'charge_paymnet'")
    assert cli.ok("retry-failed", "--task", "charge_payment").stdout  # known, nothing failed: a report, exit 0


def test_unset_deletes_a_variable_and_refuses_one_the_instance_lacks(cli: Cli, loan: dict) -> None:
    doc = cli.json("unset", loan["short_id"], "applicant_email")
    assert doc["applied"] is True and doc["keys"] == ["applicant_email"]
    assert "applicant_email" not in cli.json("show", loan["instance_id"])["context"]
    assert_one_line_error(cli("unset", loan["short_id"], "amonut"), 1, "has no variable 'amonut'",
                          "did you mean 'amount'")
