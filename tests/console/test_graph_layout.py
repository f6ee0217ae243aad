"""The token graph's layout: boxes apart, edges from box to arrow, loops as lanes, lines that never merge.

Checked on hand-made blueprints, the sample blueprints and random graphs.
"""

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

if str(Path(__file__).parent) not in sys.path:
    sys.path.append(str(Path(__file__).parent))  # the blueprints of test_graph, whatever pytest's import mode

from test_graph import half_done_parallel, rework_loop

from console.graph import build_graph, render_text
from console.graph.layout import Layout, NodeBox, Orientation
from console.graph.model import GraphEdge, GraphModel, GraphNode
from console.graph.routing import Piece, assign_tracks
from console.graph.text import layout_for_text
from console.graph.zoom import Zoom
from engine import NodeKind, compile_blueprint

ROOT = Path(__file__).resolve().parents[2]


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


def route_cells(points) -> list[tuple[int, int]]:
    cells = [points[0]]
    for (x0, y0), (x1, y1) in zip(points, points[1:], strict=False):
        assert x0 == x1 or y0 == y1, f"diagonal segment {(x0, y0)} -> {(x1, y1)}"
        steps = max(abs(x1 - x0), abs(y1 - y0))
        for step in range(1, steps + 1):
            cells.append((x0 + (x1 - x0) * step // steps, y0 + (y1 - y0) * step // steps))
    return cells


def ports(layout: Layout, source: NodeBox, target: NodeBox) -> tuple[tuple[int, int], tuple[int, int]]:
    """Where an edge from ``source`` to ``target`` must start and where its arrow must be."""
    if layout.orientation is Orientation.LEFT_RIGHT:
        return (source.x + source.width, source.port_row), (target.x - 1, target.port_row)
    return (source.port_column, source.y + source.height), (target.port_column, target.y - 1)


def assert_sane_layout(model, layout: Layout) -> None:
    """Boxes do not overlap, every edge runs from its source's exit side (right, or bottom) to an arrow
    before its target (left, or above), stays on the grid and never passes through a box; a label is
    written where no box and no other edge's line is."""
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
    drawn: dict[tuple[int, int], set[str]] = {}
    for route in layout.routes:
        source, target = boxes[edges[route.edge_id].source], boxes[edges[route.edge_id].target]
        start, arrow = ports(layout, source, target)
        assert route.points[0] == start, route
        assert route.points[-1] == arrow, route
        for x, y in route_cells(route.points):
            assert 0 <= x < layout.width and 0 <= y < layout.height, (route.edge_id, x, y)
            assert (x, y) not in inside, f"edge {route.edge_id} runs through {inside[(x, y)]} at {(x, y)}"
            drawn.setdefault((x, y), set()).add(route.edge_id)
    for label in layout.labels:
        for x in range(label.x, label.x + cell_len(label.written)):
            assert 0 <= x < layout.width and 0 <= label.y < layout.height, label
            assert (x, label.y) not in inside, f"label {label} over {inside[(x, label.y)]}"
            assert drawn.get((x, label.y), {label.edge_id}) == {label.edge_id}, (label, drawn[(x, label.y)])


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
    assert re.search(r"[┬┤┼]─+▶│ review │", review_row), review_row  # the loop joins the line into review


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


VIEWS = [(zoom, orientation) for zoom in Zoom for orientation in Orientation]


@pytest.mark.parametrize(("zoom", "orientation"), VIEWS)
def test_sample_blueprints_lay_out_cleanly(zoom: Zoom, orientation: Orientation) -> None:
    samples = sorted((ROOT / "sample_data").glob("*.json"))
    for sample in samples:
        model = build_graph(compile_blueprint(json.loads(sample.read_text())))
        layout = layout_for_text(model, zoom, orientation)
        assert layout.orientation is orientation
        assert_sane_layout(model, layout)


def test_rendering_is_deterministic_across_hash_seeds() -> None:
    script = ("import sys; sys.path[:0] = ['tests', 'tests/console']; "
              "from test_graph_layout import wide_blueprint; "
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
    for zoom, orientation in VIEWS:
        assert_sane_layout(model, layout_for_text(model, zoom, orientation))


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


@pytest.mark.parametrize(("zoom", "orientation"), VIEWS)
def test_parallel_flow_and_verification_flow_lay_out_cleanly(zoom: Zoom, orientation: Orientation) -> None:
    for blueprint in (half_done_parallel(), bps.verification_flow(), bps.parallel_with_split(), rework_loop(),
                      wide_blueprint(4, 2)):
        model = build_graph(compile_blueprint(blueprint))
        assert_sane_layout(model, layout_for_text(model, zoom, orientation))
