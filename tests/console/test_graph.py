"""The token graph: node states extracted from real instances, and their text and Rich drawing."""

from __future__ import annotations

import re

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
from console.graph.text import layout_for_text
from engine import NoMatchingConditionError, WorkflowManager, compile_blueprint


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


def test_text_shows_every_label_state_marker_and_arrow(half_done) -> None:
    text = render_text(half_done)
    for node in half_done.nodes:
        assert node.label in text
    lines = text.splitlines()
    assert "● Reserve stock" in text and "✓ Charge payment" in text and "○ Ship it" in text
    assert "◐ + Both done 1/2" in text  # a join shows how many of its branches have arrived
    assert text.count("▶") == len({edge.target for edge in half_done.edges})  # one arrow per entered node
    assert "╭" in text and "┌" in text and "╱" in text  # round start/end, square tasks, gateway diamonds
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
    assert text.count("│ " + "x" * 24 + " │") == 2 and "│ " + "x" * 12 + " " * 13 + "│" in text  # wrapped
    assert "x" * 25 not in text
    assert "e4 (s → t): a_rather_long_variable_name == 'and a long value'" in text  # shortened, so in full


def test_taken_edges_are_heavy_so_plain_text_shows_the_path(half_done) -> None:
    lines = render_text(half_done).splitlines()
    layout = layout_for_text(half_done)
    prepare_row = lines[layout.boxes["prepare"].port_row]
    assert "│━━▶◇" in prepare_row  # prepare -> fork was taken
    finish_row = lines[layout.boxes["finish"].port_row]
    assert "│──▶(" in finish_row  # finish -> end was not
    assert "━" not in render_text(build_graph(compile_blueprint(half_done_parallel())))
