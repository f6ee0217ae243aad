"""``wfconsole graph``: workflows, instances and files, in text, Mermaid and DOT, and its errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_support import SAMPLES, Cli, assert_one_line_error, write_json
from rich.cells import cell_len
from typer.testing import CliRunner


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    made = Cli(str(tmp_path / "wf.db"), CliRunner())
    made.load_samples()
    return made


def test_graph_of_a_workflow_as_text_draws_every_node(cli: Cli) -> None:
    out = cli.ok("graph", "order_fulfilment").stdout
    for label in ("Order placed", "Validate the order", "Charge the payment", "Reserve the stock",
                  "Ship the order", "Order shipped"):
        assert label in out, label
    assert "▶" in out or "▼" in out
    assert "not reached" not in out  # no instance, no state legend


def test_graph_of_an_instance_marks_its_state(cli: Cli) -> None:
    instance = cli.start("verification", {"customer_id": "C-1"})
    cli("done", f"{instance['short_id']}:init", "-o", "{}")  # FAILED at the split
    out = cli.ok("graph", instance["short_id"], "--width", "240").stdout  # wide enough for full labels
    assert "✖ X Records complete?" in out and "✓ Fetch the customer's" in out
    assert "✖ failed" in out  # the legend


def drawing_lines(out: str) -> list[str]:
    """The drawing's lines: everything before the first blank line (notes and the legend follow it)."""
    return out.split("\n\n")[0].splitlines()


@pytest.mark.parametrize("width", [240, 160, 100, 80, 60, 40])
def test_graph_text_fits_the_width_it_is_given(cli: Cli, width: int) -> None:
    out = cli.ok("graph", "loan_approval", "--width", str(width)).stdout
    assert max(cell_len(line) for line in out.splitlines()) <= width  # drawing, notes and legend
    doc = cli.json("graph", "loan_approval", "--width", str(width))
    assert doc["width"] <= width and doc["rendered"].split("\n\n")[0] == "\n".join(drawing_lines(out))
    assert doc["width"] == max(cell_len(line) for line in drawing_lines(out))
    assert len(drawing_lines(out)) == doc["height"]


def test_graph_width_chooses_zoom_and_orientation(cli: Cli) -> None:
    chosen = {width: cli.json("graph", "loan_approval", "--width", str(width)) for width in (400, 160, 80, 30)}
    assert (chosen[400]["zoom"], chosen[400]["orientation"]) == ("full", "LR")  # everything in full
    assert (chosen[160]["zoom"], chosen[160]["orientation"]) == ("short", "LR")  # fits 160 x 50 rows
    assert chosen[80]["orientation"] == "TB" and chosen[80]["zoom"] == "full"  # narrow: labels, top to bottom
    assert chosen[30]["zoom"] in ("short", "compact") and chosen[30]["width"] <= 30
    assert "Check the credit score" in chosen[400]["rendered"] and "Check the credit score" not in \
        chosen[160]["rendered"]  # wrapped in short labels


def test_graph_width_defaults_to_100_columns_when_piped(cli: Cli) -> None:
    piped = cli.json("graph", "verification")
    assert piped["width"] <= 100
    assert piped == cli.json("graph", "verification", "--width", "100")
    assert "zoom" not in cli.json("graph", "verification", "-f", "mermaid")  # exports are not fitted


def test_graph_narrower_than_its_symbols_is_drawn_anyway_with_a_note(cli: Cli, tmp_path: Path) -> None:
    from test_graph_layout import wide_blueprint  # ten branches side by side: no drawing is 20 columns wide

    wide = write_json(tmp_path / "wide.json", wide_blueprint())
    result = cli("graph", wide, "--width", "20")
    assert result.exit_code == 0
    assert result.stderr.startswith("note: the graph needs ") and "wider than 20" in result.stderr
    assert "[ ]" in result.stdout  # drawn as symbols, the most compact there is
    assert_one_line_error(cli("graph", "loan_approval", "--width", "5"), 2, "--width")


@pytest.mark.parametrize(("fmt", "fragments"), [
    ("mermaid", ("flowchart LR", 'n_charge_payment["Charge the payment"]', "n_fork --> n_charge_payment")),
    ("dot", ('digraph "order_fulfilment"', '"fork" -> "charge_payment"', "rankdir=LR")),
])
def test_graph_exports(cli: Cli, fmt: str, fragments: tuple[str, ...]) -> None:
    out = cli.ok("graph", "order_fulfilment", "--format", fmt).stdout
    for fragment in fragments:
        assert fragment in out, fragment


def test_graph_json_gives_nodes_edges_and_the_rendering(cli: Cli) -> None:
    instance = cli.start("order_fulfilment", {"order_id": "SO-1"})
    doc = cli.json("graph", instance["instance_id"], "-f", "mermaid")
    assert doc["workflow_id"] == "order_fulfilment" and doc["instance_id"] == instance["instance_id"]
    assert doc["format"] == "mermaid" and doc["rendered"].startswith("%%")
    states = {n["id"]: n["state"] for n in doc["nodes"]}
    assert states["validate_order"] == "ACTIVE" and states["start"] == "VISITED" and states["end"] == "NOT_REACHED"
    assert {"id": "e1", "source": "start", "target": "validate_order", "condition": None, "is_default": False,
            "taken": True} in doc["edges"]


def test_graph_of_a_blueprint_file_needs_no_database(tmp_path: Path) -> None:
    cli = Cli(str(tmp_path / "none.db"), CliRunner())
    out = cli.ok("graph", str(SAMPLES / "loan_approval.json"), "-f", "dot").stdout
    assert 'digraph "loan_approval"' in out
    assert not (tmp_path / "none.db").exists()


def test_graph_of_a_specific_version(cli: Cli, tmp_path: Path) -> None:
    assert cli.json("graph", "loan_approval", "--version", "1")["version"] == 1
    assert_one_line_error(cli("graph", "loan_approval", "--version", "7"), 1, "no version 7 of workflow")


def test_graph_unknown_targets_and_bad_format(cli: Cli, tmp_path: Path) -> None:
    assert_one_line_error(cli("graph", "payroll"), 1, "no workflow 'payroll'")
    assert_one_line_error(cli("graph", "abc123"), 1, "no workflow or instance 'abc123'")
    assert_one_line_error(cli("graph", "loan_approval", "--format", "png"), 2, "--format", "png")
    assert_one_line_error(cli("graph", str(tmp_path / "missing.json")), 2, "missing.json", "no such")
    broken = tmp_path / "broken.json"
    broken.write_text('{"workflow_id": "b", "nodes": []}')
    assert_one_line_error(cli("graph", str(broken)), 1, "broken.json", "invalid blueprint")
