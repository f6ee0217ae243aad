"""A graph that fits: the zoom levels' sizes against the targets, the choice of zoom and orientation, the
wrapping of labels, moving from node to node, and the line about the selected node."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import blueprints as bps
import pytest
from rich.cells import cell_len

from console.graph import build_graph
from console.graph.canvas import wrap
from console.graph.describe import describe_node
from console.graph.fit import draw_for_terminal, draw_to_fit, pick
from console.graph.layout import NodeBox, Orientation
from console.graph.model import GraphModel, NodeState
from console.graph.navigate import neighbour
from console.graph.style import UnknownNodeKind, kind_style
from console.graph.text import draw, drawing_text
from console.graph.zoom import Zoom
from engine import WorkflowManager, compile_blueprint

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = sorted((ROOT / "sample_data").glob("*.json"))


def sample(name: str) -> GraphModel:
    return build_graph(compile_blueprint(json.loads((ROOT / "sample_data" / f"{name}.json").read_text())))


def with_states(model: GraphModel) -> GraphModel:
    """Every node with a state marker, as on an instance (markers make labels wider)."""
    states = [NodeState.VISITED, NodeState.ACTIVE, NodeState.NOT_REACHED]
    return replace(model, instance_id="i", nodes=tuple(replace(node, state=states[number % 3])
                                                       for number, node in enumerate(model.nodes)))


# -- the targets ------------------------------------------------------------------------------------


@pytest.mark.parametrize("instance", [False, True])
def test_loan_approval_fits_160_by_30_with_short_labels(instance: bool) -> None:
    model = sample("loan_approval")
    model = with_states(model) if instance else model
    assert len(model.nodes) == 13
    width, height = draw(model, Zoom.SHORT, Orientation.LEFT_RIGHT).size
    assert width <= 160 and height <= 30
    assert width <= 157  # and so the console's pane at 160 columns shows it whole (border and margin: 3)


@pytest.mark.parametrize("path", SAMPLES, ids=[path.stem for path in SAMPLES])
@pytest.mark.parametrize("instance", [False, True])
def test_every_sample_fits_80_by_20_as_symbols(path: Path, instance: bool) -> None:
    model = build_graph(compile_blueprint(json.loads(path.read_text())))
    model = with_states(model) if instance else model
    drawing = draw_to_fit(model, 80, 20, Zoom.COMPACT)
    assert drawing.size[0] <= 80 and drawing.size[1] <= 20, drawing.size


def test_the_old_layout_did_not_fit() -> None:
    # The starting point: 371 columns for loan_approval; full labels left to right are still that
    # wide, which is why the other zoom levels and top to bottom exist.
    assert draw(sample("loan_approval"), Zoom.FULL, Orientation.LEFT_RIGHT).size[0] > 300


# -- choosing a zoom and an orientation -------------------------------------------------------------


def test_the_most_detailed_zoom_that_fits_wins_and_left_to_right_before_top_to_bottom() -> None:
    model = sample("loan_approval")
    assert (draw_to_fit(model, 400, 30).zoom, draw_to_fit(model, 400, 30).orientation) == (
        Zoom.FULL, Orientation.LEFT_RIGHT)
    short = draw_to_fit(model, 160, 30)
    assert (short.zoom, short.orientation) == (Zoom.SHORT, Orientation.LEFT_RIGHT)
    tall = draw_to_fit(model, 70, 80)  # narrow and tall: full labels, top to bottom
    assert (tall.zoom, tall.orientation) == (Zoom.FULL, Orientation.TOP_BOTTOM)
    small = draw_to_fit(model, 80, 20)
    assert small.zoom is Zoom.COMPACT and small.size[0] <= 80 and small.size[1] <= 20


def test_a_chosen_zoom_is_kept_and_only_the_orientation_chosen() -> None:
    model = sample("loan_approval")
    drawing = draw_to_fit(model, 80, 20, Zoom.FULL)  # nothing at full labels fits 80 x 20
    assert drawing.zoom is Zoom.FULL
    both = {orientation: draw(model, Zoom.FULL, orientation).size for orientation in Orientation}
    share = {orientation: min(1, 80 / w) * min(1, 20 / h) for orientation, (w, h) in both.items()}
    assert drawing.orientation is max(share, key=share.__getitem__)  # the larger share in view


def test_pick_stops_drawing_at_the_first_that_fits() -> None:
    model = sample("user_onboarding")
    asked = []

    def candidate(zoom: Zoom, orientation: Orientation):
        asked.append((zoom, orientation))
        return draw(model, zoom, orientation)

    drawing = pick(candidate, 120, 40)
    assert asked[-1] == (drawing.zoom, drawing.orientation) and len(asked) < 6


def test_the_command_line_prefers_labels_over_symbols_and_may_scroll() -> None:
    model = sample("loan_approval")
    terminal = draw_for_terminal(model, 160, 48)
    assert (terminal.zoom, terminal.orientation) == (Zoom.SHORT, Orientation.LEFT_RIGHT)
    narrow = draw_for_terminal(model, 80, 24)  # symbols would fit 80 x 24, labels only scrolling down
    assert narrow.zoom is Zoom.FULL and narrow.orientation is Orientation.TOP_BOTTOM and narrow.size[0] <= 80
    assert draw_for_terminal(model, 12, None).zoom is Zoom.COMPACT  # no labelled drawing is 12 wide


# -- labels ---------------------------------------------------------------------------------------------


def test_wrap_breaks_at_spaces_and_shortens_what_does_not_fit() -> None:
    assert wrap("Collect missing documents from the applicant", 24, 3) == [
        "Collect missing", "documents from the", "applicant"]
    assert wrap("Collect missing documents from the applicant", 10, 3) == ["Collect", "missing", "documents…"]
    assert wrap("Review the application", 10, 3) == ["Review the", "application"]  # a word may stick out a little
    assert wrap("x" * 30, 10, 3) == ["x" * 10, "x" * 10, "x" * 10]  # a long word is cut
    cjk = wrap("審査する審査する", 4, 3)  # two cells a character
    assert "".join(cjk) == "審査する審査する" and len(cjk) == 3 and all(cell_len(line) <= 7 for line in cjk)
    assert wrap("a\x1b[31mred", 20, 1) == ["a [31mred"]  # no escape sequence reaches the terminal
    assert wrap("", 5, 2) == [""]


def test_short_labels_wrap_and_put_the_state_on_the_border() -> None:
    model = with_states(sample("loan_approval"))
    text = drawing_text(draw(model, Zoom.SHORT, Orientation.LEFT_RIGHT), notes=False)
    assert "┌─ ✓ " in text or "┌─ ● " in text  # the marker on the top border
    assert "│ Check the │" in text  # "Check the credit score", wrapped
    assert "<✓X>" in text or "<●X>" in text or "<○X>" in text  # gateways as symbols


def test_symbols_show_kind_and_state_and_a_join_its_arrivals(manager: WorkflowManager) -> None:
    manager.add_workflow(bps.parallel())
    instance_id = manager.start_workflow("parallel", {})
    first = next(e for e in manager.get_status(instance_id).executions if e.node_id == "task_a")
    manager.task_done(first.id, {"v": 1})
    view = manager.get_status(instance_id)
    text = drawing_text(draw(build_graph(manager.get_workflow("parallel", 1), view), Zoom.COMPACT), notes=False)
    assert "(✓)" in text and "<✓+>" in text and "[✓]" in text and "[●]" in text and "<◐+1/2>" in text


def test_a_kind_without_a_drawing_is_an_error_not_a_default_shape() -> None:
    assert kind_style("TASK").symbol == ("[", "]")
    with pytest.raises(UnknownNodeKind, match="SIGNAL.*known kinds are START, END, TASK"):
        kind_style("SIGNAL")
    model = sample("user_onboarding")
    broken = replace(model, nodes=(replace(model.nodes[0], kind="SIGNAL"), *model.nodes[1:]))
    with pytest.raises(UnknownNodeKind):
        draw(broken)


# -- moving and describing --------------------------------------------------------------------------


def grid() -> dict[str, NodeBox]:
    """a b c on a row, d under b, e far right and a little lower."""
    return {"a": NodeBox("a", 0, 0, 5), "b": NodeBox("b", 10, 0, 5), "c": NodeBox("c", 20, 0, 5),
            "d": NodeBox("d", 10, 6, 5), "e": NodeBox("e", 40, 2, 5)}


def test_arrows_go_to_the_nearest_node_that_way() -> None:
    boxes = grid()
    assert neighbour(boxes, "a", "right") == "b"
    assert neighbour(boxes, "b", "down") == "d"
    assert neighbour(boxes, "d", "up") == "b"
    assert neighbour(boxes, "c", "right") == "e"
    assert neighbour(boxes, "a", "left") is None and neighbour(boxes, "a", "up") is None
    assert neighbour(boxes, "d", "right") in ("c", "e")  # nothing straight ahead: the nearest off to the side


def test_urgent_nodes_are_incidents_first_then_tokens() -> None:
    model = sample("order_fulfilment")
    states = {"charge_payment": NodeState.ACTIVE, "reserve_stock": NodeState.FAILED, "join": NodeState.WAITING}
    nodes = tuple(replace(node, state=states.get(node.id, NodeState.VISITED)) for node in model.nodes)
    assert replace(model, nodes=nodes, instance_id="i").urgent_nodes() == ("reserve_stock",)
    states["reserve_stock"] = NodeState.ACTIVE  # no incident: the tokens, active before waiting
    calm = tuple(replace(node, state=states.get(node.id, NodeState.VISITED)) for node in model.nodes)
    assert replace(model, nodes=calm, instance_id="i").urgent_nodes() == ("charge_payment", "reserve_stock", "join")
    assert model.urgent_nodes() == ()  # a blueprint alone


def test_the_selection_line_names_the_node_its_state_and_where_its_edges_go() -> None:
    model = with_states(sample("loan_approval"))
    line = describe_node(model, "by_amount", " · Enter: its executions").plain
    assert line.startswith("▸ Small loan?  exclusive split by_amount")
    assert "→ Decide from the score if amount < 10000; → Review the application otherwise" in line
    assert line.endswith(" · Enter: its executions")
    odd = replace(model, nodes=tuple(replace(node, label="[bold]x[/]\x1b[2J") if node.id == "start" else node
                                     for node in model.nodes))
    assert describe_node(odd, "start").plain.startswith("▸ [bold]x[/] [2J")  # shown as it is, no markup, no escape
