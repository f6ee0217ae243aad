"""The command line on timers, deadlines, messages and people: list --overdue, show's timers and due times."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.console.cli_support import Cli

START = {"id": "start", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "START"}
END = {"id": "end", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "END"}


def flow(workflow_id: str, **review: object) -> dict:
    review_node = {"id": "review", "type": "TASK", "task_id": "review", **review}
    return {"workflow_id": workflow_id, "nodes": [START, review_node, END],
            "edges": [{"id": "e1", "source_id": "start", "target_id": "review"},
                      {"id": "e2", "source_id": "review", "target_id": "end"}]}


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(str(tmp_path / "wf.db"), CliRunner())


def load(cli: Cli, tmp_path: Path, blueprint: dict) -> None:
    path = tmp_path / f"{blueprint['workflow_id']}.json"
    path.write_text(json.dumps(blueprint))
    cli.ok("load", str(path))


def test_list_overdue_keeps_the_instances_with_a_task_past_its_deadline(cli: Cli, tmp_path: Path) -> None:
    load(cli, tmp_path, flow("late", deadline={"key": "due"}))
    late = cli.start("late", {"due": "2020-01-01T00:00:00Z"})["instance_id"]
    cli.start("late", {"due": "2999-01-01T00:00:00Z"})
    listed = cli.json("list", "--overdue")
    assert [i["id"] for i in listed["instances"]] == [late] and listed["total"] == 1
    shown = cli.ok("show", late).stdout
    assert "DUE" in shown and "late " in shown


def test_show_lists_an_instances_timers(cli: Cli, tmp_path: Path) -> None:
    blueprint = flow("timed")
    blueprint["nodes"].insert(1, {"id": "wait", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "TIMER",
                                  "timer": "PT1H"})
    blueprint["edges"] = [{"id": "e0", "source_id": "start", "target_id": "wait"},
                          {"id": "e1", "source_id": "wait", "target_id": "review"}, blueprint["edges"][1]]
    load(cli, tmp_path, blueprint)
    instance_id = cli.start("timed")["instance_id"]
    shown = cli.ok("show", instance_id).stdout
    assert "Waits (timers and messages)" in shown and re.search(r"wait +timer PT1H", shown)
    assert cli.json("show", instance_id)["waits"][0]["kind"] == "TIMER"


def test_a_bad_timer_is_one_line_naming_the_node_and_field(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(flow("bad", deadline="soon")))
    result = cli("load", str(path))
    assert result.exit_code != 0 and "node 'review': field 'deadline': 'soon' is not an ISO 8601 duration" in (
        result.stderr)
    assert "Traceback" not in result.stderr


ORDER = {"workflow_id": "order", "nodes": [
    START,
    {"id": "paid", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "MESSAGE", "message": "payment_received",
     "output_mapping": {"amount": "paid_amount"}},
    {"id": "close", "type": "TASK", "task_id": "close"}, END,
], "edges": [{"id": "e1", "source_id": "start", "target_id": "paid"},
             {"id": "e2", "source_id": "paid", "target_id": "close"},
             {"id": "e3", "source_id": "close", "target_id": "end"}]}


def test_send_delivers_a_message_by_key_or_by_id_and_refuses_one_for_nobody(cli: Cli, tmp_path: Path) -> None:
    load(cli, tmp_path, ORDER)
    first = cli.start("order", {"order_id": "SO-1"})["instance_id"]
    second = cli.start("order", {"order_id": "SO-2"})["instance_id"]
    sent = cli.json("send", "payment_received", "--key", "order_id=SO-1", "--payload", '{"amount": 120}')
    assert sent["action"] == "send" and sent["applied"] and sent["instance"]["instance_id"] == first
    assert cli.json("show", first)["context"]["paid_amount"] == 120
    cli.ok("send", "payment_received", "--to", second[:8])
    refused = cli("send", "payment_received", "--key", "order_id=SO-9")
    assert refused.exit_code == 1 and "no instance whose order_id is 'SO-9' waits for it" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    both = cli("send", "payment_received", "--to", first, "--key", "order_id=SO-1")
    assert both.exit_code == 2 and "one of them" in both.stderr


def test_claim_release_list_mine_and_done_on_someone_elses_task(cli: Cli, tmp_path: Path) -> None:
    load(cli, tmp_path, flow("people", candidate_group="claims"))
    instance_id = cli.start("people")["instance_id"]
    execution = f"{instance_id[:8]}:review"
    alice, bob = {"WFCONSOLE_USER": "alice"}, {"WFCONSOLE_USER": "bob"}
    assert cli.json("claim", execution, env=alice)["action"] == "claim"
    assert [i["instance_id"] if "instance_id" in i else i["id"] for i in
            cli.json("list", "--mine", env=alice)["instances"]] == [instance_id]
    assert cli.json("list", "--mine", env=bob)["instances"] == []
    shown = cli.ok("show", instance_id).stdout
    assert "alice" in shown and "group claims" in shown
    refused = cli("done", execution, env=bob)
    assert refused.exit_code == 1 and "claimed by alice: completing it as bob needs force" in refused.stderr
    taken = cli("claim", execution, env=bob)
    assert taken.exit_code == 1 and "claimed by alice" in taken.stderr
    cli.ok("release", execution, env=alice)
    cli.ok("claim", execution, env=bob)
    cli.ok("done", execution, "--force", env=alice)
    history = cli.json("show", instance_id)["history"]
    done = next(h for h in history if h["kind"] == "EXECUTION_COMPLETED")
    assert done["actor"] == "alice" and done["details"]["forced_over"] == "bob"


def test_blueprints_show_a_timer_start_and_when_it_is_next_due(cli: Cli, tmp_path: Path) -> None:
    from engine import WorkflowManager
    from engine.runtime import WorkerRuntime
    from engine.workers import WorkerRegistry
    from store import open_store

    scheduled = flow("report")
    scheduled["nodes"] = [{**START, "timer": {"cron": "0 9 * * 1-5"}}, *scheduled["nodes"][1:]]
    load(cli, tmp_path, scheduled)
    load(cli, tmp_path, flow("plain"))
    (doc,) = [b for b in cli.json("blueprints")["blueprints"] if b["workflow_id"] == "report"]
    assert doc["timer_start"] == {"schedule": "cron 0 9 * * 1-5", "next_due": None}
    assert "cron 0 9 * * 1-5 · next when a runtime first looks" in cli.ok("blueprints", env={"COLUMNS": "200"}).stdout
    store = open_store(cli.db)
    WorkerRuntime(WorkflowManager(store), WorkerRegistry()).start_scheduled()  # the first look schedules it
    store.close()
    (doc,) = [b for b in cli.json("blueprints")["blueprints"] if b["workflow_id"] == "report"]
    assert doc["timer_start"]["next_due"] is not None
    assert "timer_start" not in next(b for b in cli.json("blueprints")["blueprints"] if b["workflow_id"] == "plain")
