"""``wfconsole tasks``: the person's tasks, every open one, yours or nobody's, oldest first, with ids that
``done``, ``claim`` and ``release`` take; an empty list says what was searched; a mistake is one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from console.formatting import task_references
from tests.console.cli_support import Cli, assert_one_line_error

START = {"id": "start", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "START"}
END = {"id": "end", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "END"}
DESK = {"workflow_id": "desk", "nodes": [
    START, {"id": "review", "type": "TASK", "task_id": "review", "name": "Review the claim",
            "candidate_group": "claims", "deadline": {"key": "due"}}, END,
], "edges": [{"id": "e1", "source_id": "start", "target_id": "review"},
             {"id": "e2", "source_id": "review", "target_id": "end"}]}
PLAIN = {"workflow_id": "plain", "nodes": [START, {"id": "sign", "type": "TASK", "task_id": "sign"}, END],
         "edges": [{"id": "e1", "source_id": "start", "target_id": "sign"},
                   {"id": "e2", "source_id": "sign", "target_id": "end"}]}
ALICE, BOB = {"WFCONSOLE_USER": "alice"}, {"WFCONSOLE_USER": "bob"}


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    made = Cli(str(tmp_path / "wf.db"), CliRunner())
    for blueprint in (DESK, PLAIN):
        path = tmp_path / f"{blueprint['workflow_id']}.json"
        path.write_text(json.dumps(blueprint))
        made.ok("load", str(path))
    return made


def references(cli: Cli, *options: str, env: dict[str, str] | None = None) -> list[str]:
    return [task["reference"] for task in cli.json("tasks", *options, env=env)["tasks"]]


def test_tasks_lists_every_open_task_oldest_first_with_ids_claim_and_done_take(cli: Cli) -> None:
    late = cli.start("desk", {"due": "2020-01-01T00:00:00Z"})["instance_id"]
    later = cli.start("desk", {"due": "2999-01-01T00:00:00Z"})["instance_id"]
    plain = cli.start("plain")["instance_id"]
    listed = cli.json("tasks")
    assert [t["reference"] for t in listed["tasks"]] == [f"{late[:8]}:review", f"{later[:8]}:review",
                                                         f"{plain[:8]}:sign"]
    first = listed["tasks"][0]
    assert (first["name"], first["workflow_id"], first["candidate_group"], first["overdue"]) == (
        "Review the claim", "desk", "claims", True)
    assert listed["total"] == 3 and listed["tasks"][1]["overdue"] is False
    table = cli.ok("tasks").stdout
    assert "TASK ID" in table and f"{late[:8]}:review" in table and "Review the claim" in table
    assert "late " in table and "due in " in table and "claims" in table
    assert "3 of 3 open task(s) shown, oldest first" in table
    # The reference is what claim and done take.
    cli.ok("claim", first["reference"], env=ALICE)
    assert references(cli, "--mine", env=ALICE) == [f"{late[:8]}:review"]
    cli.ok("done", first["reference"], env=ALICE)
    assert references(cli) == [f"{later[:8]}:review", f"{plain[:8]}:sign"]


def test_tasks_filters_mine_unassigned_group_overdue_workflow_task_and_limit(cli: Cli) -> None:
    late = cli.start("desk", {"due": "2020-01-01T00:00:00Z"})["instance_id"]
    later = cli.start("desk", {"due": "2999-01-01T00:00:00Z"})["instance_id"]
    plain = cli.start("plain")["instance_id"]
    cli.ok("claim", f"{later[:8]}:review", env=BOB)
    assert references(cli, "--mine", env=BOB) == [f"{later[:8]}:review"]
    assert references(cli, "--mine", "--actor", "bob") == [f"{later[:8]}:review"]
    assert references(cli, "--unassigned") == [f"{late[:8]}:review", f"{plain[:8]}:sign"]
    assert references(cli, "--group", "claims") == [f"{late[:8]}:review", f"{later[:8]}:review"]
    assert references(cli, "--overdue") == [f"{late[:8]}:review"]
    assert references(cli, "--workflow", "plain") == [f"{plain[:8]}:sign"]
    assert references(cli, "--task", "review", "--unassigned") == [f"{late[:8]}:review"]
    limited = cli.json("tasks", "--limit", "1")
    assert len(limited["tasks"]) == 1 and limited["total"] == 3
    assert "1 of 3 open task(s) shown" in cli.ok("tasks", "--limit", "1").stdout


def test_an_empty_task_list_is_one_dim_line_saying_what_was_searched(cli: Cli) -> None:
    cli.start("plain")
    result = cli.ok("tasks", "--mine", "--group", "claims", "--overdue", env=ALICE)
    assert result.stdout.strip() == "no open tasks assigned to alice in group claims past their deadline"
    assert cli.json("tasks", "--mine", env=ALICE) == {"tasks": [], "total": 0}


@pytest.mark.parametrize(("options", "code", "fragment"), [
    (("--mine", "--unassigned"), 2, "give --mine or --unassigned, not both"),
    (("--workflow", "nope"), 1, "unknown workflow 'nope'"),
    (("--task", "nope"), 1, "unknown task 'nope'"),
    (("--limit", "0"), 2, "--limit"),
])
def test_bad_task_filters_are_one_line_on_stderr(cli: Cli, options: tuple[str, ...], code: int,
                                                 fragment: str) -> None:
    assert_one_line_error(cli("tasks", *options), code, fragment)


def test_a_task_is_named_by_its_full_id_where_the_short_form_would_be_ambiguous() -> None:
    one, two = "3fa85f64-0000-4000-8000-000000000001:review:aaaa", "3fa85f64-0000-4000-8000-000000000001:review:bbbb"
    other = "9c1e0b2a-0000-4000-8000-000000000002:a:b:cccc"  # a node id may hold a ':'
    assert task_references([one, two, other]) == {one: one, two: two, other: "9c1e0b2a:a:b"}


def test_tasks_reads_under_readonly(cli: Cli) -> None:
    cli.start("plain")
    assert cli.json("--readonly", "tasks")["total"] == 1
