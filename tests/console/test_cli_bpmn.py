"""BPMN on the command line: ``validate`` and ``load`` read .bpmn files (all or nothing, every problem with its
element and line), ``graph --format bpmn`` writes one that loads back as the same blueprint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_support import SAMPLE_FILES, Cli, assert_one_line_error
from typer.testing import CliRunner

from engine.sources import compile_text

DATA = Path(__file__).resolve().parents[1] / "data" / "bpmn"


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(str(tmp_path / "wf.db"), CliRunner())


def stored(cli: Cli) -> set[tuple[str, int]]:
    return {(row["workflow_id"], row["version"]) for row in cli.json("blueprints")["blueprints"]}


def test_load_stores_a_modelers_bpmn_file_and_an_instance_runs_on_it(cli: Cli) -> None:
    out = cli.ok("load", str(DATA / "zeebe_count_loop.bpmn")).stdout
    assert "simple-count-loop v1 stored" in out
    instance = cli.start("simple-count-loop")
    cli.ok("done", f"{instance['short_id']}:id-increaseCounter", "--outputs", '{"counter": 4}')
    assert cli.json("show", instance["short_id"])["status"] == "COMPLETED"  # = counter > 3, translated to CEL


def test_validate_lists_every_problem_of_a_bpmn_file_with_its_element_and_line(cli: Cli) -> None:
    path = str(DATA / "bad" / "unknown_elements.bpmn")
    result = cli("validate", path, db=False)
    assert result.exit_code == 1
    for where in ("inclusiveGateway 'pick', line 6", "scriptTask 'work', line 8", "boundaryEvent 'late', line 11",
                  "serviceTask 'each', line 14"):
        assert where in result.stdout, where
    result = cli("validate", "--json", str(DATA / "bad" / "unreachable_end.bpmn"), db=False)
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert [p["where"] for p in doc["files"][0]["problems"]] == [
        "node 'start' (startEvent, line 4)", "node 'work' (userTask, line 6)", "node 'end' (endEvent, line 7)"]
    assert doc["files"][0]["workflow_id"] == "p"


def test_load_of_a_refused_bpmn_file_stores_nothing_of_any_file(cli: Cli) -> None:
    result = cli("load", SAMPLE_FILES[0], str(DATA / "zeebe_parallel_join.bpmn"), str(DATA / "bad" / "two_pools.bpmn"))
    assert_one_line_error(result, 1, "two_pools.bpmn: invalid blueprint (2 errors): definitions, line 2: 2 processes",
                          "; messageFlow 'm1', line 6: message flows", "nothing was loaded (1 of 3 file(s) refused")
    assert not Path(cli.db).exists()  # validated before the database is even opened


def test_a_hostile_file_is_one_line_naming_the_file_and_line(cli: Cli) -> None:
    result = cli("load", str(DATA / "bad" / "billion_laughs.bpmn"))
    assert_one_line_error(result, 1, "billion_laughs.bpmn: invalid blueprint: XML at line 2, column 28: a DTD")


def test_json_blueprints_still_load_unchanged_beside_bpmn_ones(cli: Cli) -> None:
    cli.ok("load", *SAMPLE_FILES, str(DATA / "camunda7_user_task.bpmn"))
    assert stored(cli) == {("loan_approval", 1), ("order_fulfilment", 1), ("user_onboarding", 1),
                           ("verification", 1), ("embeddedFormsQuickstart", 1)}


def test_graph_format_bpmn_writes_a_file_that_loads_back_as_the_same_blueprint(cli: Cli, tmp_path: Path) -> None:
    cli.ok("load", *SAMPLE_FILES)
    xml = cli.ok("graph", "loan_approval", "--format", "bpmn").stdout
    assert xml.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions ')
    exported = tmp_path / "loan_approval.bpmn"
    exported.write_text(xml)
    original = compile_text(Path(SAMPLE_FILES[0]).read_text())
    assert original.workflow_id == "loan_approval"
    without_hints = {"nodes": {"__all__": {"x", "y"}}}  # the sample's layout hints; the diagram replaces them
    assert compile_text(xml).blueprint.model_dump(exclude=without_hints) == \
        original.blueprint.model_dump(exclude=without_hints)
    other = Cli(str(tmp_path / "other.db"), cli.runner)
    assert "loan_approval v1 stored" in other.ok("load", str(exported)).stdout
    assert "Check the credit score" in cli.ok("graph", str(exported), "--width", "400", db=False).stdout
    doc = cli.json("graph", str(exported), "--format", "bpmn", db=False)
    assert doc["format"] == "bpmn" and doc["rendered"].startswith("<?xml")


def test_graph_of_an_instance_as_bpmn_is_its_blueprint(cli: Cli) -> None:
    cli.ok("load", *SAMPLE_FILES)
    instance = cli.start("verification", {"customer_id": "C-1"})
    assert cli.ok("graph", instance["short_id"], "--format", "bpmn").stdout == \
        cli.ok("graph", "verification", "--format", "bpmn").stdout
