"""Blueprint validation (SPEC §1): every check, each problem naming its node or edge, all reported at once."""

from __future__ import annotations

import json
from pathlib import Path

import blueprints as bps
import pytest
from blueprints import blueprint, chain, edge, end, gateway, pjoin, psplit, start, task, xjoin, xsplit

from engine import Blueprint, BlueprintError, WorkflowError, compile_blueprint, validate


def refused(source) -> BlueprintError:
    """Compile ``source``, expecting a refusal; return the error."""
    with pytest.raises(BlueprintError) as caught:
        compile_blueprint(source)
    return caught.value


def errors_at(source, where: str) -> list[str]:
    """The messages of the errors of ``source`` located at ``where``."""
    return [p.message for p in refused(source).problems if p.where == where]


def warnings_of(source) -> list[tuple[str, str]]:
    return [(p.where, p.message) for p in validate(source) if p.severity == "warning"]


# -- well-formed blueprints -----------------------------------------------------------------------


@pytest.mark.parametrize("builder", [bps.linear, bps.exclusive, bps.parallel, bps.loop, bps.default_edge,
                                     bps.no_match, bps.verification_flow, bps.user_onboarding,
                                     bps.parallel_then_task, bps.first_true])
def test_the_test_blueprints_are_valid_without_warnings(builder):
    assert validate(builder()) == []
    assert compile_blueprint(builder()).warnings == []


def test_blueprint_is_accepted_as_dict_json_text_and_model_alike():
    source = bps.exclusive()
    from_dict = compile_blueprint(source)
    from_text = compile_blueprint(json.dumps(source))
    from_bytes = compile_blueprint(json.dumps(source).encode())
    from_model = compile_blueprint(Blueprint.model_validate(source))
    for compiled in (from_text, from_bytes, from_model):
        assert compiled.blueprint == from_dict.blueprint
        assert compiled.kinds == from_dict.kinds
        assert set(compiled.conditions) == {"e3", "e4"}


def test_go_field_names_load_unchanged_and_version_defaults_to_1():
    source = bps.user_onboarding()
    del source["version"]
    compiled = compile_blueprint(source)
    node = compiled.node("welcome_email")
    assert compiled.version == 1
    assert (node.task_id, node.input_mapping, node.output_mapping) == (
        "send_email", {"email_address": "user_email"}, {"status": "email_status"})
    assert (node.x, node.y, node.label) == (150, 100, "Send welcome e-mail")
    assert compiled.node("route").label == "route"  # no name: the id is shown


def test_blueprint_error_is_a_workflow_error_listing_the_problem_in_its_message():
    bp = bps.linear()
    bp["nodes"][1]["type"] = "JOB"
    error = refused(bp)
    assert isinstance(error, WorkflowError)
    assert "task_a" in str(error) and "JOB" in str(error)


# -- node types -----------------------------------------------------------------------------------


def test_unknown_node_type_names_the_node():
    bp = bps.linear()
    bp["nodes"][1]["type"] = "JOB"
    assert any("unknown node type 'JOB'" in m for m in errors_at(bp, "node 'task_a'"))


def test_unknown_internal_type_names_the_node():
    bp = bps.linear()
    bp["nodes"].append({"id": "odd", "type": "INTERNAL", "internal_type": "TIMER"})
    bp["edges"] += [edge("x1", "task_a", "odd"), edge("x2", "odd", "end")]
    assert any("unknown internal_type 'TIMER'" in m for m in errors_at(bp, "node 'odd'"))


def test_unknown_event_type_names_the_node():
    bp = bps.linear()
    bp["nodes"].append({"id": "mid", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "MIDDLE"})
    bp["edges"] += [edge("x1", "task_a", "mid"), edge("x2", "mid", "end")]
    assert any("unknown event_type 'MIDDLE'" in m for m in errors_at(bp, "node 'mid'"))


def test_unknown_gateway_type_names_the_node():
    bp = bps.linear()
    bp["nodes"].append(gateway("incl", "INCLUSIVE_SPLIT"))
    bp["edges"] += [edge("x1", "task_a", "incl"), edge("x2", "incl", "end")]
    assert any("unknown gateway_type 'INCLUSIVE_SPLIT'" in m for m in errors_at(bp, "node 'incl'"))


def test_task_without_task_id_names_the_node():
    bp = bps.linear()
    del bp["nodes"][1]["task_id"]
    assert any("task_id" in m for m in errors_at(bp, "node 'task_a'"))


def test_task_with_blank_task_id_names_the_node():
    bp = bps.linear()
    bp["nodes"][1]["task_id"] = "  "
    assert any("task_id" in m for m in errors_at(bp, "node 'task_a'"))


# -- ids and references ---------------------------------------------------------------------------


def test_duplicate_node_id_names_the_node():
    bp = bps.linear()
    bp["nodes"].append(task("task_a", "again"))
    assert any("duplicate node id" in m for m in errors_at(bp, "node 'task_a'"))


def test_duplicate_edge_id_names_the_edge():
    bp = bps.two_tasks()
    bp["edges"][1]["id"] = "e1"  # e1 is start -> first; this one is first -> second
    assert any("duplicate edge id" in m for m in errors_at(bp, "edge 'e1'"))


def test_edge_from_a_missing_node_names_the_edge_and_the_node():
    bp = bps.linear()
    bp["edges"].append(edge("e9", "ghost", "end"))
    assert any("source_id 'ghost'" in m for m in errors_at(bp, "edge 'e9'"))


def test_edge_to_a_missing_node_names_the_edge_and_the_node():
    bp = bps.linear()
    bp["edges"].append(edge("e9", "task_a", "nowhere"))
    assert any("target_id 'nowhere'" in m for m in errors_at(bp, "edge 'e9'"))


# -- START and END --------------------------------------------------------------------------------


def test_no_start_event_is_refused():
    bp = blueprint("no_start", [task("task_a", "a"), end()], [edge("e1", "task_a", "end")])
    assert any("exactly one START" in m and "found 0" in m for m in errors_at(bp, "blueprint"))


def test_two_start_events_are_refused_naming_both():
    bp = bps.linear()
    bp["nodes"].append(start("start2"))
    bp["edges"].append(edge("e9", "start2", "task_a"))
    messages = errors_at(bp, "blueprint")
    assert any("exactly one START" in m and "'start'" in m and "'start2'" in m for m in messages)


def test_no_end_event_is_refused():
    bp = blueprint("no_end", [start(), task("task_a", "a")], [edge("e1", "start", "task_a")])
    assert any("END" in m for m in errors_at(bp, "blueprint"))


# -- reachability ---------------------------------------------------------------------------------


def test_node_not_reachable_from_start_names_the_node():
    bp = bps.linear()
    bp["nodes"].append(task("orphan"))
    bp["edges"].append(edge("e9", "orphan", "end"))
    assert any("not reachable from START" in m for m in errors_at(bp, "node 'orphan'"))


def test_node_that_cannot_reach_an_end_names_the_node():
    bp = bps.default_edge()
    bp["nodes"].append(task("dead_end"))
    bp["edges"].append(edge("e9", "split", "dead_end", "status == 'lost'"))
    assert any("cannot reach an END" in m for m in errors_at(bp, "node 'dead_end'"))


def test_only_the_unreachable_node_is_named():
    bp = bps.linear()
    bp["nodes"].append(task("orphan"))
    bp["edges"].append(edge("e9", "orphan", "end"))
    assert [p.where for p in refused(bp).problems] == ["node 'orphan'"]


# -- conditions -----------------------------------------------------------------------------------


def test_condition_syntax_error_names_the_edge_and_the_position():
    bp = bps.exclusive()
    bp["edges"][2]["condition"] = "ok =="
    messages = errors_at(bp, "edge 'e3'")
    assert len(messages) == 1
    assert "line 1, column 6" in messages[0]


def test_condition_syntax_error_on_a_later_line_gives_that_line():
    bp = bps.exclusive()
    bp["edges"][3]["condition"] = "ok == false &&\n  (ok =="
    messages = errors_at(bp, "edge 'e4'")
    assert len(messages) == 1 and "line 2, column" in messages[0]


def test_unknown_cel_function_names_the_edge_and_the_function():
    bp = bps.exclusive()
    bp["edges"][2]["condition"] = "launch_missiles(ok)"
    assert any("unknown function 'launch_missiles'" in m for m in errors_at(bp, "edge 'e3'"))


def test_unknown_cel_method_names_the_edge_and_the_method():
    bp = bps.exclusive()
    bp["edges"][2]["condition"] = "ok.frobnicate()"
    assert any("'frobnicate'" in m for m in errors_at(bp, "edge 'e3'"))


def test_more_than_one_default_edge_on_an_exclusive_split_names_the_split_and_edges():
    bp = bps.exclusive()
    del bp["edges"][2]["condition"]
    del bp["edges"][3]["condition"]
    messages = errors_at(bp, "node 'split'")
    assert any("default edge" in m and "'e3'" in m and "'e4'" in m for m in messages)


def test_condition_on_an_edge_not_leaving_an_exclusive_split_names_the_edge():
    bp = bps.exclusive()
    bp["edges"][0]["condition"] = "ok == true"  # start -> task_init
    assert any("only edges leaving an EXCLUSIVE_SPLIT" in m for m in errors_at(bp, "edge 'e1'"))


def test_condition_on_an_edge_leaving_a_parallel_split_names_the_edge():
    bp = bps.parallel()
    bp["edges"][1]["condition"] = "true"
    assert any("PARALLEL_SPLIT" in m for m in errors_at(bp, "edge 'e2'"))


def test_nested_comprehensions_hidden_by_a_comment_are_refused_naming_the_edge_line_and_column():
    bp = bps.exclusive()
    bp["edges"][2]["condition"] = "items.exists(i, // any item\n  items.exists // with a twin\n(j, j == i))"
    messages = errors_at(bp, "edge 'e3'")
    assert len(messages) == 1
    assert "at line 2, column 9" in messages[0] and "comprehensions nested 2 deep; the limit is 1" in messages[0]


def test_condition_costlier_than_the_limit_whatever_the_context_names_the_edge_line_and_column():
    bp = bps.exclusive()
    bp["edges"][3]["condition"] = "ok == false &&\n  name.matches('\\\\w{100}')"  # 40 ms to compile the pattern
    messages = errors_at(bp, "edge 'e4'")
    assert len(messages) == 1
    assert "at line 2, column 8" in messages[0]
    assert "is over the limit of" in messages[0] and "whatever the context holds" in messages[0]


def test_a_condition_within_the_limit_for_small_values_loads():
    bp = bps.exclusive()
    bp["edges"][2]["condition"] = "ok == true && items.exists(i, i.sku in ['a', 'b']) && name.matches('^[a-z]+$')"
    assert compile_blueprint(bp).conditions.keys() == {"e3", "e4"}


def test_blank_condition_counts_as_no_condition():
    bp = bps.default_edge()
    bp["edges"][1]["condition"] = "   "  # the default edge
    assert compile_blueprint(bp).conditions.keys() == {"e2"}


# -- parallel blocks (warnings) -------------------------------------------------------------------


def test_parallel_join_fed_by_an_exclusive_split_is_a_warning_naming_the_join():
    bp = blueprint(
        "bad_join",
        [start(), xsplit("split"), task("a"), task("b"), pjoin("p_join"), end()],
        [edge("e1", "start", "split"), edge("e2", "split", "a", "x == 1"), edge("e3", "split", "b"),
         edge("e4", "a", "p_join"), edge("e5", "b", "p_join"), edge("e6", "p_join", "end")],
    )
    compiled = compile_blueprint(bp)  # accepted
    assert [(w.where, w.severity) for w in compiled.warnings] == [("node 'p_join'", "warning")]
    assert "one parallel split" in compiled.warnings[0].message


def test_parallel_join_fed_by_two_different_parallel_splits_is_a_warning_naming_both():
    bp = blueprint(
        "two_splits",
        [start(), psplit("ps1"), psplit("ps2"), task("a"), task("b"), task("c"), task("d"), pjoin("p_join"),
         pjoin("other_join"), end()],
        [edge("e1", "start", "ps1"), edge("e2", "ps1", "a"), edge("e3", "ps1", "ps2"),
         edge("e4", "ps2", "b"), edge("e5", "ps2", "c"),
         edge("e6", "a", "p_join"), edge("e7", "b", "p_join"),  # mixes ps1's and ps2's branches
         edge("e8", "c", "other_join"), edge("e9", "p_join", "other_join"), edge("e10", "other_join", "d"),
         edge("e11", "d", "end")],
    )
    warnings = [w for w in compile_blueprint(bp).warnings if w.where == "node 'p_join'"]
    assert len(warnings) == 1
    assert "'ps1'" in warnings[0].message and "'ps2'" in warnings[0].message


def test_nested_parallel_blocks_give_no_warning():
    bp = blueprint(
        "nested",
        [start(), psplit("outer"), psplit("inner"), task("a"), task("b"), task("c"), pjoin("inner_join"),
         pjoin("outer_join"), end()],
        [edge("e1", "start", "outer"), edge("e2", "outer", "inner"), edge("e3", "outer", "c"),
         edge("e4", "inner", "a"), edge("e5", "inner", "b"), edge("e6", "a", "inner_join"),
         edge("e7", "b", "inner_join"), edge("e8", "inner_join", "outer_join"), edge("e9", "c", "outer_join"),
         edge("e10", "outer_join", "end")],
    )
    assert validate(bp) == []


def test_end_reachable_inside_a_parallel_branch_is_a_warning_naming_the_end():
    compiled = compile_blueprint(bps.end_in_branch())  # accepted
    assert compiled.warnings
    assert {w.where for w in compiled.warnings} == {"node 'end'"}
    assert all(w.severity == "warning" and "p_split" in w.message for w in compiled.warnings)


def test_warnings_are_not_errors_of_the_blueprint_error():
    bp = bps.end_in_branch()
    bp["nodes"].append(task("orphan"))
    bp["edges"].append(edge("e9", "orphan", "end"))
    assert all(p.severity == "error" for p in refused(bp).problems)
    assert any(p.severity == "warning" for p in validate(bp))


# -- cycles ---------------------------------------------------------------------------------------


def test_cycle_of_gateways_only_is_refused_naming_a_node_on_it():
    bp = blueprint(
        "spin",
        [start(), xjoin("join"), xsplit("split"), task("work"), end()],
        [edge("e1", "start", "join"), edge("e2", "join", "split"),
         edge("back", "split", "join", "spin == true"), edge("out", "split", "work"), edge("e3", "work", "end")],
    )
    problems = refused(bp).problems
    cycle = [p for p in problems if "cycle" in p.message]
    assert len(cycle) == 1
    assert cycle[0].where in ("node 'join'", "node 'split'")


def test_every_cycle_of_gateways_is_named():
    bp = blueprint(
        "spin2",
        [start(), xjoin("j1"), xsplit("s1"), xjoin("j2"), xsplit("s2"), task("work"), end()],
        [edge("e1", "start", "j1"), edge("e2", "j1", "s1"), edge("back1", "s1", "j1", "a == true"),
         edge("e3", "s1", "j2"), edge("e4", "j2", "s2"), edge("back2", "s2", "j2", "b == true"),
         edge("out", "s2", "work"), edge("e5", "work", "end")],
    )
    cycles = sorted(p.where for p in refused(bp).problems if "cycle" in p.message)
    assert cycles == ["node 'j1'", "node 'j2'"]


def test_cycle_through_a_task_is_a_valid_loop():
    assert validate(bps.loop()) == []


# -- all at once ----------------------------------------------------------------------------------


def test_every_problem_is_reported_at_once_in_one_error():
    bp = bps.exclusive()
    bp["nodes"].append(task("task_init", "again"))  # duplicate node id
    bp["nodes"].append({"id": "weird", "type": "JOB"})  # unknown type
    bp["nodes"].append(task("no_work", task_id=None) | {"task_id": None})  # no task_id
    bp["edges"].append(edge("e9", "task_yes", "ghost"))  # missing target
    bp["edges"][2]["condition"] = "ok =="  # syntax error
    bp["edges"][0]["condition"] = "ok == true"  # condition off an exclusive split
    error = refused(bp)
    wheres = {p.where for p in error.problems}
    assert {"node 'task_init'", "node 'weird'", "node 'no_work'", "edge 'e9'", "edge 'e3'",
            "edge 'e1'"} <= wheres
    assert f"({len(error.problems)} errors)" in str(error)
    for where in ("task_init", "weird", "no_work", "e9", "e3", "e1"):
        assert where in str(error)


# -- parsing --------------------------------------------------------------------------------------


def test_malformed_json_gives_line_and_column():
    text = '{\n  "workflow_id": "x",\n  "nodes": [}\n'
    error = refused(text)
    assert len(error.problems) == 1
    assert error.problems[0].where == "JSON at line 3, column 13"


def test_json_text_that_is_not_an_object_is_refused():
    error = refused("[1, 2]")
    assert "expected a JSON object, found an array" in str(error)


def test_wrong_json_types_name_the_index_and_the_id_of_the_node():
    bp = bps.linear()
    bp["nodes"][1]["x"] = "left"
    bp["nodes"][2]["input_mapping"] = ["not", "a", "dict"]
    wheres = [p.where for p in refused(bp).problems]
    assert "nodes[1].x (node 'task_a')" in wheres
    assert "nodes[2].input_mapping (node 'end')" in wheres


def test_wrong_json_types_name_the_index_and_the_id_of_the_edge():
    bp = bps.linear()
    bp["edges"][1]["target_id"] = 42
    assert [p.where for p in refused(bp).problems] == ["edges[1].target_id (edge 'e2')"]


def test_missing_required_fields_are_named():
    error = refused({"nodes": [{"id": "start"}]})
    wheres = {p.where for p in error.problems}
    assert {"workflow_id", "nodes[0].type (node 'start')"} <= wheres


def test_origin_prefixes_the_message():
    with pytest.raises(BlueprintError, match=r"^flows/bad\.json: "):
        compile_blueprint("{", origin="flows/bad.json")


def test_version_below_1_is_refused():
    bp = bps.linear(version=-1)
    assert errors_at(bp, "version")
    bp["version"] = True
    assert any("not true or false" in m for m in errors_at(bp, "version"))


def test_a_blueprint_as_the_go_engine_writes_it_loads():
    """Go writes every field: version 0 when none was set, "" for unset strings, null for nil maps and slices."""
    source = bps.user_onboarding()
    source["version"] = 0
    for node in source["nodes"]:
        for field in ("name", "internal_type", "event_type", "gateway_type", "task_id"):
            node.setdefault(field, "")
        node.setdefault("x", 0)
        node.setdefault("y", 0)
        node.setdefault("input_mapping", None)
        node.setdefault("output_mapping", None)
    for e in source["edges"]:
        e.setdefault("condition", "")
    compiled = compile_blueprint(source)
    assert compiled.version == 1
    assert compiled.node("route").input_mapping == {} and compiled.node("route").label == "route"
    assert compile_blueprint(bps.user_onboarding()).conditions.keys() == compiled.conditions.keys()


def test_null_nodes_and_edges_are_empty_lists_and_the_graph_problems_are_named():
    bp = bps.linear()
    bp["edges"] = None
    problems = [p.message for p in refused(bp).problems]
    assert any("not reachable from START" in m for m in problems)
    bp["nodes"] = None
    assert any("START" in m for m in (p.message for p in refused(bp).problems))


def test_unknown_extra_fields_are_kept_as_the_go_engine_ignored_them_and_warned_about():
    bp = bps.linear()
    bp["nodes"][1]["colour"] = "blue"
    compiled = compile_blueprint(bp)
    assert compiled.node("task_a").model_extra == {"colour": "blue"}
    assert [str(w) for w in compiled.warnings] == [
        "node 'task_a': field 'colour' is not one wfconsole reads (a task reads deadline, boundary_timers, assignee, "
        "assignee_key, candidate_group, candidate_group_key); it is kept as it is and does nothing"]


@pytest.mark.parametrize(("node", "field", "said"), [
    (1, "due", "field 'due' is not one wfconsole reads (did you mean 'deadline'? a task reads deadline,"),
    (1, "deadlin", "(did you mean 'deadline'?"),
    (1, "candidateGroups", "(did you mean 'candidate_group'?"),
    (1, "input_maping", "(did you mean 'input_mapping'?"),
    (1, "timer", "field 'timer' is read on a start event or a timer event, not on a task; it does nothing here"),
    (0, "deadline", "field 'deadline' is read on a task, not on a start event; it does nothing here"),
])
def test_a_field_the_node_does_not_read_is_a_warning_naming_the_nearest(node: int, field: str, said: str) -> None:
    bp = bps.linear()
    bp["nodes"][node][field] = "PT1H"
    warnings = [str(w) for w in validate(bp)]
    assert len(warnings) == 1 and said in warnings[0], warnings
    assert warnings[0].startswith(f"node {bp['nodes'][node]['id']!r}: ")


def test_every_field_a_kind_reads_is_in_its_entry() -> None:
    """The warning above relies on each kind's ``fields``: a field the engine reads with ``extra`` must be listed."""
    import re

    from engine.kinds import KINDS

    listed = {name for entry in KINDS.values() for name in entry.fields}
    read = set()
    for path in (Path(__file__).parents[2] / "engine").rglob("*.py"):
        read |= set(re.findall(r'extra\("([a-z_]+)"\)', path.read_text()))
    from engine.people import _FIELDS

    assert read | set(_FIELDS) <= listed, (read | set(_FIELDS)) - listed


def test_validate_returns_problems_instead_of_raising():
    bp = bps.linear()
    bp["edges"].append(edge("e9", "task_a", "nowhere"))
    problems = validate(bp)
    assert [(p.where, p.severity) for p in problems] == [("edge 'e9'", "error")]


def test_chain_helper_builds_named_edges():
    # A guard on the test helper itself: the builders above rely on it.
    assert chain("a", "b", "c", prefix="e") == [edge("e1", "a", "b"), edge("e2", "b", "c")]
    assert blueprint("w", [start()], [])["version"] == 1


def test_control_characters_in_ids_and_names_are_refused_with_their_position():
    bp = bps.linear("esc\x1b[31m")
    bp["nodes"][1]["name"] = "clear\x1b[2J"
    problems = {p.where: p.message for p in refused(bp).problems}
    assert "'\\x1b' at position 4" in problems["workflow_id"]
    assert "control characters" in problems["nodes[1].name"]


@pytest.mark.parametrize("char", ["\u202e", "\u2066", "\u200f", "\u061c", "\u2028"])
def test_bidi_controls_and_line_separators_in_ids_and_names_are_refused_with_their_position(char):
    bp = bps.linear(f"pay{char}fee")
    bp["name"] = f"x{char}"
    bp["nodes"][1]["task_id"] = f"{char}a"
    bp["edges"][0]["id"] = f"e{char}"
    problems = {p.where: p.message for p in refused(bp).problems}
    assert f"{char!r} at position 4" in problems["workflow_id"]
    assert f"{char!r} at position 2" in problems["name"]
    assert f"{char!r} at position 1" in problems["nodes[1].task_id"]
    assert f"{char!r} at position 2" in problems["edges[0].id"]
    kind = "line separator" if char == "\u2028" else "bidi control character"
    assert all(kind in message for message in problems.values()), problems


def test_a_join_closing_two_splits_at_once_warns_about_the_join_only():
    """ps -> (a -> j), (t -> ps2 -> (b -> j), (c -> j)); j -> end: j is fed by two splits (a warning), but
    END is after j, not inside a branch."""
    bp = blueprint(
        "two_in_one",
        [start(), psplit("ps"), task("a"), task("t"), psplit("ps2"), task("b"), task("c"), pjoin("j"), end()],
        [edge("e1", "start", "ps"), edge("e2", "ps", "a"), edge("e3", "ps", "t"), edge("e4", "t", "ps2"),
         edge("e5", "ps2", "b"), edge("e6", "ps2", "c"), edge("e7", "a", "j"), edge("e8", "b", "j"),
         edge("e9", "c", "j"), edge("e10", "j", "end")],
    )
    warnings = warnings_of(bp)
    assert [where for where, _ in warnings] == ["node 'j'"]


def test_a_non_interrupting_timer_whose_branch_reaches_an_end_is_a_warning() -> None:
    """Its second token reaching END ends the instance (every token removed), cancelling the task still open."""
    def flow(interrupting: bool, via_join: bool = False) -> dict:
        nodes = [start(), task("review"), task("remind"), end("end"), end("reminded")]
        edges = [edge("e1", "start", "review"), edge("e2", "review", "end"), edge("e_remind", "review", "remind"),
                 edge("e3", "remind", "reminded")]
        nodes[1]["boundary_timers"] = [{"duration": "PT4H", "edge": "e_remind", "interrupting": interrupting}]
        if via_join:  # the branch merges with another token first: no warning
            nodes += [pjoin("join")]
            edges[3] = edge("e3", "remind", "join")
            edges.append(edge("e4", "join", "reminded"))
        return blueprint("w", nodes, edges)

    warnings = [str(p) for p in validate(flow(False))]
    assert warnings == ["node 'review': the non-interrupting boundary timer on edge 'e_remind' leads to END "
                        "'reminded': a token that gets there ends the whole instance and cancels this task if it is "
                        "still open (an END removes every token)"]
    assert validate(flow(True)) == []  # interrupting: the task is cancelled anyway, by design
    assert not any("non-interrupting" in str(p) for p in validate(flow(False, via_join=True)))
