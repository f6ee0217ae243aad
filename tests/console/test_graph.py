"""The token graph: node states extracted from real instances, the text/Rich drawing, Mermaid and DOT."""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
from pathlib import Path

import blueprints as bps
import pytest
from rich.cells import cell_len

from console.graph import (
    NodeState,
    build_graph,
    legend_rich,
    render_rich,
    render_text,
)
from console.graph.layout import Layout
from console.graph.model import GraphEdge, GraphModel, GraphNode
from console.graph.routing import Piece, assign_tracks
from console.graph.text import layout_for_text
from engine import NodeKind, NoMatchingConditionError, WorkflowManager, compile_blueprint

ROOT = Path(__file__).resolve().parents[2]


def half_done_parallel() -> dict:
    """START -> prepare -> fork -> (left, right) -> join -> finish -> END, with readable names."""
    return bps.blueprint(
        "half_done",
        [{**bps.start(), "name": "Begin"}, {**bps.task("prepare"), "name": "Prepare the order"},
         {**bps.psplit("fork"), "name": "Fork"}, {**bps.task("left"), "name": "Charge payment"},
         {**bps.task("right"), "name": "Reserve stock"}, {**bps.pjoin("join"), "name": "Both done"},
         {**bps.task("finish"), "name": "Ship it"}, {**bps.end(), "name": "Shipped"}],
        [bps.edge("e1", "start", "prepare"), bps.edge("e2", "prepare", "fork"), bps.edge("e3", "fork", "left"),
         bps.edge("e4", "fork", "right"), bps.edge("e5", "left", "join"), bps.edge("e6", "right", "join"),
         bps.edge("e7", "join", "finish"), bps.edge("e8", "finish", "end")],
    )


def rework_loop() -> dict:
    """START -> review -> decide -[decision == 'rework']-> rework -> review (a loop); else -> END."""
    return bps.blueprint(
        "rework",
        [bps.start(), bps.task("review", outputs={"decision": "decision"}), bps.xsplit("decide"),
         bps.task("rework"), bps.end()],
        [bps.edge("e1", "start", "review"), bps.edge("e2", "review", "decide"),
         bps.edge("e3", "decide", "rework", "decision == 'rework'"), bps.edge("e4", "decide", "end"),
         bps.edge("e5", "rework", "review")],
    )


def wide_blueprint(branches: int = 10, depth: int = 5) -> dict:
    """A parallel split into ``branches`` chains of ``depth`` tasks, joined, then an exclusive choice."""
    nodes = [bps.start(), bps.psplit("fork"), bps.pjoin("join"), bps.xsplit("choose"), bps.task("fast"),
             bps.task("slow"), bps.xjoin("merge"), bps.end()]
    edges = [bps.edge("s", "start", "fork"), bps.edge("j", "join", "choose"),
             bps.edge("c1", "choose", "fast", "speed == 'fast'"), bps.edge("c2", "choose", "slow"),
             bps.edge("f", "fast", "merge"), bps.edge("w", "slow", "merge"), bps.edge("m", "merge", "end")]
    for branch in range(branches):
        names = [f"b{branch}_step{step}" for step in range(depth)]
        nodes += [{**bps.task(name), "name": f"Branch {branch} step {step}"} for step, name in enumerate(names)]
        edges += [bps.edge(f"in{branch}", "fork", names[0]), bps.edge(f"out{branch}", names[-1], "join")]
        edges += [bps.edge(f"{a}>{b}", a, b) for a, b in zip(names, names[1:], strict=False)]
    return bps.blueprint("wide", nodes, edges)


def active_execution(manager: WorkflowManager, instance_id: str, node_id: str) -> str:
    found = [e.id for e in manager.get_status(instance_id).executions if e.node_id == node_id and e.status == "ACTIVE"]
    assert len(found) == 1, f"expected one ACTIVE execution at {node_id}, found {found}"
    return found[0]


def graph_of(manager: WorkflowManager, instance_id: str):
    instance = manager.get_status(instance_id)
    return build_graph(manager.get_workflow(instance.workflow_id, instance.version), instance)


def states(model) -> dict[str, NodeState | None]:
    return {node.id: node.state for node in model.nodes}


@pytest.fixture
def half_done(manager: WorkflowManager):
    """An instance of :func:`half_done_parallel` with ``prepare`` and ``left`` done, ``right`` running."""
    manager.add_workflow(half_done_parallel())
    instance_id = manager.start_workflow("half_done", {})
    manager.task_done(active_execution(manager, instance_id, "prepare"), {})
    manager.task_done(active_execution(manager, instance_id, "left"), {})
    return graph_of(manager, instance_id)


# -- the model ------------------------------------------------------------------------------------


def test_parallel_flow_half_done_has_active_branch_waiting_join_and_unreached_tail(half_done) -> None:
    assert states(half_done) == {
        "start": NodeState.VISITED, "prepare": NodeState.VISITED, "fork": NodeState.VISITED,
        "left": NodeState.VISITED, "right": NodeState.ACTIVE, "join": NodeState.WAITING,
        "finish": NodeState.NOT_REACHED, "end": NodeState.NOT_REACHED,
    }
    assert half_done.node("join").tokens == 1 and half_done.node("join").incoming == 2
    assert {edge.id for edge in half_done.edges if edge.taken} == {"e1", "e2", "e3", "e4", "e5"}
    assert half_done.node("prepare").label == "Prepare the order"


def test_failed_execution_makes_its_node_failed_and_retry_makes_it_active(manager, recorder) -> None:
    manager.add_workflow(half_done_parallel())
    instance_id = manager.start_workflow("half_done", {})
    manager.task_done(active_execution(manager, instance_id, "prepare"), {})
    manager.fail_task(active_execution(manager, instance_id, "left"), "card declined")
    assert states(graph_of(manager, instance_id))["left"] is NodeState.FAILED
    assert states(graph_of(manager, instance_id))["right"] is NodeState.ACTIVE
    manager.retry(recorder.execution_id("left", 0))
    assert states(graph_of(manager, instance_id))["left"] is NodeState.ACTIVE


def test_loop_taken_once_leaves_the_token_back_at_its_start(manager) -> None:
    manager.add_workflow(rework_loop())
    instance_id = manager.start_workflow("rework", {})
    manager.task_done(active_execution(manager, instance_id, "review"), {"decision": "rework"})
    manager.task_done(active_execution(manager, instance_id, "rework"), {})
    model = graph_of(manager, instance_id)
    assert model.node("review").state is NodeState.ACTIVE  # back at review after the loop
    assert model.node("rework").state is NodeState.VISITED
    assert [edge.id for edge in model.edges if edge.taken] == ["e1", "e2", "e3", "e5"]



def test_stuck_execution_makes_its_node_stuck_and_is_drawn_so(manager) -> None:
    manager.add_workflow(half_done_parallel())
    instance_id = manager.start_workflow("half_done", {})
    manager.task_done(active_execution(manager, instance_id, "prepare"), {})
    manager.mark_stuck(active_execution(manager, instance_id, "right"), "no heartbeat for 10 minutes")
    model = graph_of(manager, instance_id)
    assert model.node("right").state is NodeState.STUCK and model.node("left").state is NodeState.ACTIVE
    assert "⊘ Reserve stock" in render_text(model)

def test_split_without_a_match_is_failed_and_its_branches_not_reached(manager) -> None:
    manager.add_workflow(bps.no_match())
    instance_id = manager.start_workflow("no_match", {})
    with pytest.raises(NoMatchingConditionError):
        manager.task_done(active_execution(manager, instance_id, "task_init"), {"status": "unknown"})
    model = graph_of(manager, instance_id)
    assert model.instance_status == "FAILED"
    assert states(model) == {"start": NodeState.VISITED, "task_init": NodeState.VISITED,
                             "split": NodeState.FAILED, "task_a": NodeState.NOT_REACHED,
                             "task_b": NodeState.NOT_REACHED, "end": NodeState.NOT_REACHED}


def test_completed_instance_visits_its_path_only(manager) -> None:
    manager.add_workflow(rework_loop())
    instance_id = manager.start_workflow("rework", {})
    manager.task_done(active_execution(manager, instance_id, "review"), {"decision": "accept"})
    model = graph_of(manager, instance_id)
    assert states(model) == {"start": NodeState.VISITED, "review": NodeState.VISITED,
                             "decide": NodeState.VISITED, "rework": NodeState.NOT_REACHED,
                             "end": NodeState.VISITED}
    assert model.instance_status == "COMPLETED"


def test_blueprint_alone_has_no_states_and_else_on_the_default_edge() -> None:
    model = build_graph(compile_blueprint(rework_loop()))
    assert not model.has_instance
    assert all(node.state is None for node in model.nodes)
    assert not any(edge.taken for edge in model.edges)
    labels = {edge.id: edge.label for edge in model.edges}
    assert labels == {"e1": None, "e2": None, "e3": "decision == 'rework'", "e4": "else", "e5": None}
    assert model.node("review").label == "review"  # no name: the id


def test_instance_of_another_workflow_is_refused(manager) -> None:
    manager.add_workflow(rework_loop())
    instance_id = manager.start_workflow("rework", {})
    with pytest.raises(ValueError, match="rework"):
        build_graph(compile_blueprint(half_done_parallel()), manager.get_status(instance_id))


# -- the text drawing -----------------------------------------------------------------------------


def route_cells(points) -> list[tuple[int, int]]:
    cells = [points[0]]
    for (x0, y0), (x1, y1) in zip(points, points[1:], strict=False):
        assert x0 == x1 or y0 == y1, f"diagonal segment {(x0, y0)} -> {(x1, y1)}"
        steps = max(abs(x1 - x0), abs(y1 - y0))
        for step in range(1, steps + 1):
            cells.append((x0 + (x1 - x0) * step // steps, y0 + (y1 - y0) * step // steps))
    return cells


def assert_sane_layout(model, layout: Layout) -> None:
    """Boxes do not overlap, every edge runs from its source's right side to an arrow left of its target,
    stays on the grid and never passes through a box."""
    boxes = layout.boxes
    assert set(boxes) == {node.id for node in model.nodes}
    inside = {}
    for box in boxes.values():
        for y in range(box.y, box.y + box.height):
            for x in range(box.x, box.x + box.width):
                assert (x, y) not in inside, f"boxes {inside[(x, y)]} and {box.node_id} overlap at {(x, y)}"
                inside[(x, y)] = box.node_id
    edges = {edge.id: edge for edge in model.edges}
    assert {route.edge_id for route in layout.routes} == set(edges)
    users: dict[tuple, list] = {}  # each unit of line, with the edges drawn along it
    for route in layout.routes:
        cells = route_cells(route.points)
        for step in {tuple(sorted(pair)) for pair in zip(cells, cells[1:], strict=False) if pair[0] != pair[1]}:
            users.setdefault(step, []).append(edges[route.edge_id])
    for step, sharing in users.items():  # lines merge only where edges fan out of or into one node
        for first in sharing:
            for second in sharing:
                assert first.source == second.source or first.target == second.target, (step, first, second)
    for route in layout.routes:
        source, target = boxes[edges[route.edge_id].source], boxes[edges[route.edge_id].target]
        assert route.points[0] == (source.x + source.width, source.port_row), route
        assert route.points[-1] == (target.x - 1, target.port_row), route
        for x, y in route_cells(route.points):
            assert 0 <= x < layout.width and 0 <= y < layout.height, (route.edge_id, x, y)
            assert (x, y) not in inside, f"edge {route.edge_id} runs through {inside[(x, y)]} at {(x, y)}"


def test_text_shows_every_label_state_marker_and_arrow(half_done) -> None:
    text = render_text(half_done)
    for node in half_done.nodes:
        assert node.label in text
    lines = text.splitlines()
    assert "● Reserve stock" in text and "✓ Charge payment" in text and "○ Ship it" in text
    assert "◐ + Both done 1/2" in text  # a join shows how many of its branches have arrived
    assert text.count("▶") == len({edge.target for edge in half_done.edges})  # one arrow per entered node
    assert "╭" in text and "┌" in text and "╱" in text  # round start/end, square tasks, gateway diamonds
    assert_sane_layout(half_done, layout_for_text(half_done))
    assert all(line == line.rstrip() for line in lines)


def test_straight_chain_is_drawn_on_one_row() -> None:
    model = build_graph(compile_blueprint(bps.blueprint(
        "line", [bps.start(), bps.task("a"), bps.task("b"), bps.end()], bps.chain("start", "a", "b", "end"))))
    lines = render_text(model).splitlines()
    assert lines[1] == "( start )──▶│ a │──▶│ b │──▶( end )"
    assert len(lines) == 3


def test_node_kinds_have_distinct_shapes() -> None:
    text = render_text(build_graph(compile_blueprint(bps.verification_flow())))
    assert re.search(r"◇ X \S", text) and re.search(r"◇ \+ \S", text)  # exclusive and parallel gateways
    assert re.search(r"\( \S+ \)", text)  # START and END
    assert re.search(r"│ \S+ │", text)  # tasks


def test_rich_render_matches_text_and_styles_nodes_by_state(half_done) -> None:
    rich_text = render_rich(half_done)
    assert rich_text.plain == render_text(half_done)
    styles_of = {}
    for span in rich_text.spans:
        styles_of.setdefault(str(span.style), []).append(rich_text.plain[span.start:span.end])
    assert any("Reserve stock" in part for part in styles_of["bold green"])  # ACTIVE
    assert any("Both done" in part for part in styles_of["bold yellow"])  # WAITING
    assert any("Ship it" in part for part in styles_of["grey50"])  # NOT_REACHED
    assert any("Prepare the order" in part for part in styles_of["cyan"])  # VISITED


def test_legend_names_every_state_and_shape() -> None:
    legend = legend_rich().plain
    for marker, words in [("●", "active"), ("◐", "waiting"), ("✖", "failed"), ("⊘", "stuck"),
                          ("✓", "visited"), ("○", "not reached")]:
        assert f"{marker} {words}" in legend
    assert "◇X" in legend and "◇+" in legend and "( )" in legend


def test_loop_is_drawn_as_a_lane_under_the_graph_into_its_target() -> None:
    model = build_graph(compile_blueprint(rework_loop()))
    layout = layout_for_text(model)
    assert_sane_layout(model, layout)
    back = [route for route in layout.routes if route.back]
    assert [route.edge_id for route in back] == ["e5"]
    lowest_box_row = max(box.y + box.height - 1 for box in layout.boxes.values())
    assert max(y for _, y in back[0].points) > lowest_box_row
    text = render_text(model)
    assert "decision == 'rework'" in text and " else " in text
    review_row = text.splitlines()[layout.boxes["review"].port_row]
    assert "┬──▶│ review │" in review_row or "┤──▶│ review │" in review_row or "┼──▶│ review │" in review_row


def test_self_loop_and_two_nested_loops_render() -> None:
    blueprint = bps.blueprint(
        "loops", [bps.start(), bps.task("poll", outputs={"ready": "ready"}), bps.xsplit("ready?"),
                  bps.task("fix"), bps.xsplit("again?"), bps.end()],
        [bps.edge("e1", "start", "poll"), bps.edge("e2", "poll", "ready?"),
         bps.edge("e3", "ready?", "poll", "ready == false"), bps.edge("e4", "ready?", "fix"),
         bps.edge("e5", "fix", "again?"), bps.edge("e6", "again?", "fix", "retry == true"),
         bps.edge("e7", "again?", "poll", "restart == true"), bps.edge("e8", "again?", "end")])
    model = build_graph(compile_blueprint(blueprint))
    layout = layout_for_text(model)
    assert_sane_layout(model, layout)
    assert sorted(route.edge_id for route in layout.routes if route.back) == ["e3", "e6", "e7"]
    lanes = [max(y for _, y in route.points) for route in layout.routes if route.back]
    assert len(set(lanes)) == 3  # each loop has a lane of its own


def test_sixty_node_blueprint_fits_a_reasonable_width() -> None:
    model = build_graph(compile_blueprint(wide_blueprint()))
    assert len(model.nodes) == 58
    text = render_text(model)
    lines = text.splitlines()
    assert max(cell_len(line) for line in lines) <= 260
    assert len(lines) <= 80
    for node in model.nodes:
        assert node.label in text
    assert_sane_layout(model, layout_for_text(model))


def test_sample_blueprints_lay_out_cleanly() -> None:
    samples = sorted((ROOT / "sample_data").glob("*.json"))
    for sample in samples:
        model = build_graph(compile_blueprint(json.loads(sample.read_text())))
        assert_sane_layout(model, layout_for_text(model))


def char_at_cell(line: str, cell: int) -> str:
    """The character shown at terminal column ``cell`` of ``line``."""
    used = 0
    for char in line:
        if used == cell:
            return char
        used += cell_len(char)
    raise AssertionError(f"line is only {used} cells wide: {line!r}")


def test_long_and_wide_character_labels_keep_boxes_aligned() -> None:
    blueprint = bps.blueprint(
        "labels", [bps.start(), {**bps.task("jp"), "name": "審査する"}, {**bps.task("long"), "name": "x" * 60},
                   bps.xsplit("s"), bps.task("t"), bps.end()],
        [bps.edge("e1", "start", "jp"), bps.edge("e2", "jp", "long"), bps.edge("e3", "long", "s"),
         bps.edge("e4", "s", "t", "a_rather_long_variable_name == 'and a long value'"), bps.edge("e5", "s", "end"),
         bps.edge("e6", "t", "end")])
    model = build_graph(compile_blueprint(blueprint))
    text = render_text(model)
    layout = layout_for_text(model)
    lines = text.splitlines()
    jp = layout.boxes["jp"]
    assert "│ 審査する │" in lines[jp.port_row]
    right_edge = jp.x + jp.width - 1
    assert [char_at_cell(lines[y], right_edge) for y in range(jp.y, jp.y + 3)] == ["┐", "│", "┘"]
    assert [char_at_cell(lines[y], jp.x) for y in range(jp.y, jp.y + 3)] == ["┌", "│", "└"]
    assert "x" * 27 + "…" in text and "x" * 29 not in text
    assert "e4 (s → t): a_rather_long_variable_name == 'and a long value'" in text  # shortened, so in full


def test_rendering_is_deterministic_across_hash_seeds() -> None:
    script = ("import json, sys; sys.path.insert(0, 'tests'); import blueprints as bps; "
              "from tests.console.test_graph import wide_blueprint; "
              "from engine import compile_blueprint; from console.graph import build_graph, render_text; "
              "print(render_text(build_graph(compile_blueprint(wide_blueprint(6, 3)))))")
    outputs = set()
    for seed in ("1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True,
                                text=True, check=True)
        outputs.add(result.stdout)
    assert len(outputs) == 1
    assert outputs.pop().rstrip("\n") == render_text(build_graph(compile_blueprint(wide_blueprint(6, 3))))


def random_model(seed: int) -> GraphModel:
    """A random connected graph of tasks with forward edges, some loops and a few labelled edges."""
    chooser = random.Random(seed)
    count = chooser.randint(3, 16)
    ids = [f"n{number}" for number in range(count)]
    edges = []
    for number in range(1, count):  # every node reachable from n0
        edges.append((ids[chooser.randrange(number)], ids[number]))
    for _ in range(chooser.randint(0, count)):
        first, second = sorted(chooser.sample(range(count), 2))
        edges.append((ids[first], ids[second]) if chooser.random() < 0.8 else (ids[second], ids[first]))
    nodes = tuple(GraphNode(id=node_id, label=node_id * chooser.randint(1, 3), kind=NodeKind.TASK) for node_id in ids)
    return GraphModel(workflow_id="random", version=1, title="random", nodes=nodes, edges=tuple(
        GraphEdge(id=f"e{number}", source=source, target=target,
                  condition="x > 1" if chooser.random() < 0.2 else None)
        for number, (source, target) in enumerate(edges)))


@pytest.mark.parametrize("seed", range(60))
def test_random_graphs_lay_out_cleanly(seed: int) -> None:
    model = random_model(seed)
    assert_sane_layout(model, layout_for_text(model))


def piece(left: str, right: str, y_left: int, y_right: int) -> Piece:
    return Piece(("node", left), ("node", right), y_left, y_right)


def test_channel_leaving_a_row_is_placed_left_of_one_arriving_there() -> None:
    # s fans out level to a and down to b; p leaves b's row for q: p's channel must come first.
    tracks, count = assign_tracks([piece("s", "a", 0, 0), piece("s", "b", 0, 4), piece("p", "q", 4, 8)])
    s_to_a, s_to_b, p_to_q = tracks
    assert s_to_a == s_to_b  # one channel for the fan-out
    assert p_to_q.track < s_to_b.track and count == 2
    assert all(track.jog_row is None for track in tracks)


def test_edges_crossing_between_level_rows_get_a_dogleg() -> None:
    # c leaves row 4 for row 8 while d leaves row 8 for row 4: no order of the two channels keeps both
    # rows clear, so one arrives by a jog on a free row and a track of its own.
    tracks, count = assign_tracks([piece("c", "f", 4, 8), piece("d", "e", 8, 4)])
    jogged = [track for track in tracks if track.jog_row is not None]
    assert len(jogged) == 1 and count == 3
    assert jogged[0].jog_row not in (4, 8) and jogged[0].jog_track == 2


def test_straight_piece_needs_no_track() -> None:
    assert assign_tracks([piece("a", "b", 3, 3)]) == ([None], 0)


def test_taken_edges_are_heavy_so_plain_text_shows_the_path(half_done) -> None:
    lines = render_text(half_done).splitlines()
    layout = layout_for_text(half_done)
    prepare_row = lines[layout.boxes["prepare"].port_row]
    assert "│━━▶◇" in prepare_row  # prepare -> fork was taken
    finish_row = lines[layout.boxes["finish"].port_row]
    assert "│──▶(" in finish_row  # finish -> end was not
    assert "━" not in render_text(build_graph(compile_blueprint(half_done_parallel())))
