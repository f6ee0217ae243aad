"""BPMN 2.0 files in: what real modelers write imports as a blueprint that runs; everything that cannot be mapped,
and every hostile file, is refused with the file, the element's id and its line, all in one report."""

from __future__ import annotations

import dataclasses
import socket
from pathlib import Path
from typing import Any

import pytest
from conftest import TaskRecorder

from engine import InstanceStatus, WorkflowManager
from engine.blueprint import NodeKind
from engine.bpmn import reader
from engine.bpmn.forms import GatewayRole
from engine.bpmn.reader import bpmn_index, read_bpmn
from engine.errors import BlueprintError
from engine.kinds import KINDS
from engine.sources import compile_text, validate_text

DATA = Path(__file__).resolve().parents[1] / "data" / "bpmn"
HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n'
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
        'xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" '
        'xmlns:wf="urn:wfconsole:bpmn:1" id="d" targetNamespace="http://example.com/t">\n')


def bpmn(body: str, process: str = '<bpmn:process id="p">') -> str:
    """A file with ``body`` in its one process; the process starts on line 3."""
    return f"{HEAD}{process}\n{body}\n</bpmn:process>\n</bpmn:definitions>\n"


def imported(name: str) -> dict[str, Any]:
    return read_bpmn((DATA / name).read_text(), name).blueprint


def kinds(blueprint: dict[str, Any]) -> dict[str, str]:
    """Each node's kind, as the Go engine's type fields spell it."""
    return {node["id"]: node.get("event_type") or node.get("gateway_type") or node["type"]
            for node in blueprint["nodes"]}


def refusal(text: str, origin: str = "x.bpmn") -> list[str]:
    with pytest.raises(BlueprintError) as caught:
        compile_text(text, origin)
    assert str(caught.value).startswith(f"{origin}: invalid blueprint")
    return [str(problem) for problem in caught.value.problems]


# -- files real modelers wrote ------------------------------------------------------------------------------


def test_a_camunda_8_exclusive_gateway_with_feel_conditions_and_a_default_flow() -> None:
    blueprint = imported("zeebe_exclusive_gateway.bpmn")
    assert blueprint["workflow_id"] == "exclusive-gateway-multiple-tasks" and "version" not in blueprint
    assert kinds(blueprint) == {"StartEvent_1": "START", "task-a": "TASK", "task-b": "TASK", "Event_196zxhe": "END",
                                "Event_1g3ipua": "END", "task-default": "TASK", "Event_1cibpyu": "END",
                                "Gateway_01wr5g0": "EXCLUSIVE_SPLIT"}
    out_of_split = [(e["id"], e["target_id"], e.get("condition")) for e in blueprint["edges"]
                    if e["source_id"] == "Gateway_01wr5g0"]
    assert out_of_split == [("price-gt-zero", "task-a", "price >= 0"), ("price-eq-zero", "task-b", "price == 0"),
                            ("Flow_0hei4kw", "task-default", None)]  # the gateway's default: no condition
    assert {n["id"]: n.get("task_id") for n in blueprint["nodes"] if n["type"] == "TASK"} == {
        "task-a": "task-a", "task-b": "task-b", "task-default": "task-default"}  # zeebe:taskDefinition type
    assert compile_text((DATA / "zeebe_exclusive_gateway.bpmn").read_text()).warnings == []


def test_a_camunda_8_loop_runs_until_its_condition_holds(manager: WorkflowManager, recorder: TaskRecorder) -> None:
    blueprint = imported("zeebe_count_loop.bpmn")
    task = next(n for n in blueprint["nodes"] if n["id"] == "id-increaseCounter")
    assert (task["task_id"], task["input_mapping"], task["output_mapping"]) == (
        "increaseCounter", {}, {"counter": "counter"})  # zeebe:output source="=counter" target="counter"
    manager.add_workflow(blueprint)
    instance_id = manager.start_workflow("simple-count-loop", {})
    for counter in (1, 2, 3, 4):
        assert manager.get_status(instance_id).status == InstanceStatus.ACTIVE
        manager.task_done(recorder.execution_id("id-increaseCounter"), {"counter": counter, "dropped": True})
    done = manager.get_status(instance_id)
    assert done.status == InstanceStatus.COMPLETED and done.context == {"counter": 4}
    assert len(recorder.for_node("id-increaseCounter")) == 4  # the default flow looped back three times


def test_a_camunda_8_parallel_split_and_join(manager: WorkflowManager, recorder: TaskRecorder) -> None:
    blueprint = imported("zeebe_parallel_join.bpmn")
    assert kinds(blueprint)["id-parallel-gateway-1"] == "PARALLEL_SPLIT"  # one flow in, two out
    assert kinds(blueprint)["parallel-join-gateway"] == "PARALLEL_JOIN"  # two in, one out
    manager.add_workflow(blueprint)
    instance_id = manager.start_workflow("fork-controlled-parallel-join", {})
    assert sorted(recorder.nodes()) == ["id-a-1", "id-a-2"]
    manager.task_done(recorder.execution_id("id-a-1"), {})
    assert "id-b-1" not in recorder.nodes()  # the join waits for the other branch
    manager.task_done(recorder.execution_id("id-a-2"), {})
    manager.task_done(recorder.execution_id("id-b-1"), {})
    assert manager.get_status(instance_id).status == InstanceStatus.COMPLETED


def test_a_camunda_7_user_task_and_a_name_written_on_two_lines() -> None:
    blueprint = imported("camunda7_user_task.bpmn")  # bpmn2: prefix, camunda:formKey and assignee (ignored)
    assert kinds(blueprint) == {"StartEvent_1": "START", "EndEvent_1": "END", "UserTask_1": "TASK"}
    names = {n["id"]: n.get("name") for n in blueprint["nodes"]}
    assert names["StartEvent_1"] == "Loan Request Received"  # name="Loan Request&#10;Received"
    assert next(n for n in blueprint["nodes"] if n["id"] == "UserTask_1")["task_id"] == "UserTask_1"  # its id


def test_camunda_7_conditions_in_juel_are_read_as_cel_where_they_are_cel() -> None:
    blueprint = imported("camunda7_holiday.bpmn")
    assert {e["id"]: e.get("condition") for e in blueprint["edges"] if e["source_id"] == "ExclusiveGateway_1"} == {
        "SequenceFlow_3": "isHoliday", "SequenceFlow_4": "!isHoliday"}  # ${isHoliday}, ${!isHoliday}
    compile_text((DATA / "camunda7_holiday.bpmn").read_text())


def test_a_camunda_7_file_with_a_sub_process_and_a_timer_start_every_five_seconds_is_refused_naming_each() -> None:
    problems = refusal((DATA / "camunda7_loan_granting.bpmn").read_text(), "loan-granting.bpmn")
    assert problems == [
        "camunda:inputParameter in serviceTask 'Task_1lvjtd4', line 8: is not a parameter of the form ${variable}, "
        "which is all wfconsole maps (not a script, list, map or expression)",
        "subProcess 'SubProcess_16kr5xn', line 16: is not mapped; wfconsole maps startEvent, endEvent, serviceTask, "
        "task, userTask, manualTask, intermediateCatchEvent, exclusiveGateway, parallelGateway and sequenceFlow",
        "timeCycle in startEvent 'StartEvent_1', line 68: timeCycle '0/5 0/1 * 1/1 * ?' fires at seconds '0/5'; "
        "wfconsole's cron starts run at most once a minute (seconds must be 0)",
    ]


def test_camunda_8_mappings_that_compute_values_are_refused_each_with_its_line() -> None:
    problems = refusal((DATA / "zeebe_expression_mappings.bpmn").read_text())
    assert [p.split(": ")[0] for p in problems] == [
        "zeebe:input in serviceTask 'service-task-1', line 10", "zeebe:input in serviceTask 'service-task-1', line 11",
        "zeebe:input in serviceTask 'service-task-1', line 12", "zeebe:output in serviceTask 'service-task-1', line 13",
        "zeebe:output in serviceTask 'service-task-1', line 14", "zeebe:input in userTask 'user-task-2', line 31"]
    assert "source '=order.name' is an expression, not one variable" in problems[-1]


def test_conditions_that_call_java_methods_are_refused_naming_the_flows() -> None:
    problems = refusal((DATA / "camunda7_json_conditions.bpmn").read_text())
    assert len(problems) == 2
    assert problems[0].startswith("conditionExpression in sequenceFlow 'SequenceFlow_4', line 19: the condition "
                                  "'customer.prop(\"age\").numberValue() >= 21' (as CEL): condition does not compile: "
                                  "unknown function")


# -- bad and hostile files ----------------------------------------------------------------------------------

BAD = {
    "billion_laughs.bpmn": ["XML at line 2, column 28: a DTD (<!DOCTYPE ...>) is not allowed"],
    "external_entity.bpmn": ["XML at line 2, column 28: a DTD (<!DOCTYPE ...>) is not allowed"],
    "external_dtd.bpmn": ["XML at line 2, column 64: a DTD (<!DOCTYPE ...>) is not allowed"],
    "parameter_entity.bpmn": ["XML at line 2, column 28: a DTD (<!DOCTYPE ...>) is not allowed"],
    "undefined_entity.bpmn": ["XML at line 3, column 3: undefined entity"],
    "malformed.bpmn": ["XML at line 5, column 5: mismatched tag"],
    "not_bpmn.xml": ["svg, line 2: the document is a <svg> of http://www.w3.org/2000/svg, not BPMN 2.0's "
                     "<definitions>"],
    "xinclude.bpmn": ["include (http://www.w3.org/2001/XInclude), line 5: is not a BPMN element"],
    "unknown_elements.bpmn": ["inclusiveGateway 'pick', line 6: is not mapped; wfconsole maps startEvent",
                              "scriptTask 'work', line 8: is not mapped",
                              "boundaryEvent 'late', line 11: is not mapped",
                              "serviceTask 'each', line 14: has a multiInstanceLoopCharacteristics (line 15), which "
                              "wfconsole does not map"],
    "flow_to_nowhere.bpmn": ["sequenceFlow 'f2', line 7: targetRef 'nowhere' names no element of the file",
                             "sequenceFlow 'f3', line 8: has no targetRef"],
    "unreachable_end.bpmn": ["node 'start' (startEvent, line 4): cannot reach an END event",
                             "node 'work' (userTask, line 6): cannot reach an END event",
                             "node 'end' (endEvent, line 7): is not reachable from START"],
    "bad_conditions.bpmn": ["conditionExpression in sequenceFlow 'f2', line 8: the condition '=count(items) > 1' is "
                            "not simple FEEL that wfconsole translates to CEL: a function call (count(...)) is not "
                            "translated (column 7)",
                            "conditionExpression in sequenceFlow 'f3', line 11: the condition is in 'javascript'",
                            "conditionExpression in sequenceFlow 'f4', line 14: the condition 'amount >' (as CEL): "
                            "condition does not compile at line 1, column 9",
                            "sequenceFlow 'f5', line 16: is the default flow of exclusiveGateway 'route' and has a "
                            "condition"],
    "two_pools.bpmn": ["definitions, line 2: 2 processes ('order' (line 8), 'payment' (line 13)); a blueprint is one",
                       "messageFlow 'm1', line 6: message flows between pools are not mapped"],
    "duplicate_ids.bpmn": ["task 'start', line 6: has the id of the startEvent on line 4"],
    "bad_mappings.bpmn": ["zeebe:versionTag in process 'p', line 5: the version tag 'v1.2' is not a whole number",
                          "zeebe:ioMapping in startEvent 'start', line 9: a startEvent has no mappings in wfconsole",
                          "zeebe:taskDefinition in serviceTask 'work', line 17: the task type '=kind' is an expression",
                          "zeebe:input in serviceTask 'work', line 20: the input variable 'x' is mapped twice ('a' "
                          "and 'b')",
                          "zeebe:output in serviceTask 'work', line 21: target 'order.total' is not one variable name"],
}


def test_the_bad_corpus_is_what_the_test_lists() -> None:
    assert sorted(p.name for p in (DATA / "bad").iterdir()) == sorted(BAD)


@pytest.mark.parametrize("name", sorted(BAD))
def test_each_bad_file_is_refused_with_its_clear_errors(name: str) -> None:
    text = (DATA / "bad" / name).read_text()
    problems = refusal(text, f"flows/{name}")
    assert len(problems) == len(BAD[name]), problems
    for expected in BAD[name]:
        assert any(problem.startswith(expected) for problem in problems), (expected, problems)
    assert [str(p) for p in validate_text(text, name) if p.severity == "error"] == problems  # validate lists them


def test_hostile_files_fetch_nothing_and_expand_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """No socket is opened and no file read: the DTD is refused where it starts, before any entity is declared."""
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("the parser tried to connect")

    opened: list[str] = []
    real_open = open

    def watched_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        opened.append(str(file))
        return real_open(file, *args, **kwargs)

    texts = {name: (DATA / "bad" / name).read_text() for name in BAD}
    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr("builtins.open", watched_open)
    for name in ("billion_laughs.bpmn", "external_entity.bpmn", "external_dtd.bpmn", "parameter_entity.bpmn",
                 "xinclude.bpmn"):
        with pytest.raises(BlueprintError) as caught:
            read_bpmn(texts[name], name)
        assert "lol" not in str(caught.value) and "root:" not in str(caught.value)
    assert opened == []


# -- gateways, conditions, ids -------------------------------------------------------------------------------


def test_a_gateway_that_joins_and_splits_becomes_a_join_then_a_split() -> None:
    text = bpmn("""
<bpmn:startEvent id="start" />
<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="a" />
<bpmn:task id="a" /><bpmn:task id="b" />
<bpmn:sequenceFlow id="f2" sourceRef="a" targetRef="g" />
<bpmn:sequenceFlow id="f3" sourceRef="b" targetRef="g" />
<bpmn:exclusiveGateway id="g" name="Again?" default="f5" />
<bpmn:sequenceFlow id="f4" sourceRef="g" targetRef="b">
  <bpmn:conditionExpression>=again</bpmn:conditionExpression>
</bpmn:sequenceFlow>
<bpmn:sequenceFlow id="f5" sourceRef="g" targetRef="end" />
<bpmn:endEvent id="end" />""")
    blueprint = read_bpmn(text).blueprint
    assert kinds(blueprint)["g_join"] == "EXCLUSIVE_JOIN" and kinds(blueprint)["g"] == "EXCLUSIVE_SPLIT"
    edges = {e["id"]: (e["source_id"], e["target_id"], e.get("condition")) for e in blueprint["edges"]}
    assert edges["f2"] == ("a", "g_join", None) and edges["f3"] == ("b", "g_join", None)
    assert edges["g_join_out"] == ("g_join", "g", None)
    assert edges["f4"] == ("g", "b", "again") and edges["f5"] == ("g", "end", None)
    assert [n.get("name") for n in blueprint["nodes"] if n["id"].startswith("g")] == ["Again?", "Again?"]
    assert compile_text(text).warnings == []


def test_a_gateway_with_one_flow_in_and_out_is_what_its_direction_says() -> None:
    def kind_of_gateway(direction: str) -> str:
        attribute = f' gatewayDirection="{direction}"' if direction else ""
        blueprint = read_bpmn(bpmn(f"""
<bpmn:startEvent id="s" /><bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="g" />
<bpmn:parallelGateway id="g"{attribute} /><bpmn:sequenceFlow id="f2" sourceRef="g" targetRef="e" />
<bpmn:endEvent id="e" />""")).blueprint
        return kinds(blueprint)["g"]

    assert kind_of_gateway("Converging") == "PARALLEL_JOIN"
    assert kind_of_gateway("Diverging") == kind_of_gateway("") == kind_of_gateway("Mixed") == "PARALLEL_SPLIT"


def test_condition_languages() -> None:
    def condition(expression: str, definitions_language: str = "") -> str | None:
        text = bpmn(f"""
<bpmn:startEvent id="s" /><bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="g" />
<bpmn:exclusiveGateway id="g" /><bpmn:sequenceFlow id="f2" sourceRef="g" targetRef="e">{expression}</bpmn:sequenceFlow>
<bpmn:endEvent id="e" />""")
        if definitions_language:
            text = text.replace('id="d"', f'id="d" expressionLanguage="{definitions_language}"')
        return read_bpmn(text).blueprint["edges"][1].get("condition")

    cel = '<bpmn:conditionExpression language="https://cel.dev"> a &gt; 1 &amp;&amp; b </bpmn:conditionExpression>'
    assert condition(cel) == " a > 1 && b "  # CEL as written, to the space
    assert condition("<bpmn:conditionExpression>\n  a &gt; 1\n</bpmn:conditionExpression>") == "a > 1"
    assert condition('<bpmn:conditionExpression language="feel">a = 1</bpmn:conditionExpression>') == "a == 1"
    assert condition("<bpmn:conditionExpression>a = 1</bpmn:conditionExpression>",
                     "https://www.omg.org/spec/DMN/20191111/FEEL/") == "a == 1"
    assert condition("<bpmn:conditionExpression>a == 1</bpmn:conditionExpression>",
                     "http://www.w3.org/1999/XPath") == "a == 1"  # BPMN's default language: left alone
    assert condition("<bpmn:conditionExpression>${a == 'x'}</bpmn:conditionExpression>") == "a == 'x'"
    assert condition("<bpmn:conditionExpression>  </bpmn:conditionExpression>") is None


def test_wfconsole_ids_and_mapping_names_are_preferred_to_xml_ones() -> None:
    blueprint = read_bpmn(bpmn("""
<bpmn:startEvent id="_1st" wf:id="1st" /><bpmn:sequenceFlow id="_e" wf:id="e 1" sourceRef="_1st" targetRef="t" />
<bpmn:serviceTask id="t"><bpmn:extensionElements><zeebe:ioMapping>
  <zeebe:input source="=a_b" target="x" wf:source="a-b" />
  <zeebe:output source="=r" target="out_key" wf:target="out key" />
</zeebe:ioMapping></bpmn:extensionElements></bpmn:serviceTask>
<bpmn:sequenceFlow id="f" sourceRef="t" targetRef="end" /><bpmn:endEvent id="end" />""",
                               '<bpmn:process id="_p" wf:id="my flow">')).blueprint
    assert blueprint["workflow_id"] == "my flow"
    assert blueprint["nodes"][0]["id"] == "1st" and blueprint["edges"][0] == {
        "id": "e 1", "source_id": "1st", "target_id": "t"}
    task = blueprint["nodes"][1]
    assert (task["task_id"], task["input_mapping"], task["output_mapping"]) == ("t", {"x": "a-b"}, {"r": "out key"})


def test_camunda_7_topics_parameters_and_version_tags() -> None:
    blueprint = read_bpmn(bpmn("""
<bpmn:startEvent id="s" /><bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="t" />
<bpmn:serviceTask id="t" camunda:type="external" camunda:topic="charge"><bpmn:extensionElements>
  <camunda:inputOutput>
    <camunda:inputParameter name="amount">${order_total}</camunda:inputParameter>
    <camunda:outputParameter name="receipt_id">${receipt}</camunda:outputParameter>
  </camunda:inputOutput>
</bpmn:extensionElements></bpmn:serviceTask>
<bpmn:sequenceFlow id="f2" sourceRef="t" targetRef="e" /><bpmn:endEvent id="e" />""",
                               '<bpmn:process id="p" camunda:versionTag="3">')).blueprint
    assert blueprint["version"] == 3
    task = blueprint["nodes"][1]
    assert (task["task_id"], task["input_mapping"], task["output_mapping"]) == (
        "charge", {"amount": "order_total"}, {"receipt": "receipt_id"})


def test_artifacts_and_lanes_change_nothing() -> None:
    with_artifacts = bpmn("""
<bpmn:documentation>what it is for</bpmn:documentation>
<bpmn:laneSet id="ls"><bpmn:lane id="l"><bpmn:flowNodeRef>s</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>
<bpmn:startEvent id="s"><bpmn:documentation>go</bpmn:documentation></bpmn:startEvent>
<bpmn:textAnnotation id="note"><bpmn:text>hi</bpmn:text></bpmn:textAnnotation>
<bpmn:association id="a" sourceRef="s" targetRef="note" />
<bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="e" /><bpmn:endEvent id="e" />""")
    assert kinds(read_bpmn(with_artifacts).blueprint) == {"s": "START", "e": "END"}


def test_a_flow_to_an_annotation_is_not_a_flow_to_a_node() -> None:
    problems = refusal(bpmn("""
<bpmn:startEvent id="s" /><bpmn:textAnnotation id="note" />
<bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="note" /><bpmn:endEvent id="e" />"""))
    assert problems == ["sequenceFlow 'f1', line 6: targetRef 'note' is not a flow node of this process"]


def test_a_file_without_a_process_or_with_one_of_lanes_only() -> None:
    assert refusal(f"{HEAD}</bpmn:definitions>") == [
        "definitions, line 2: no process with flow elements (start events, tasks, flows) in the file"]
    assert refusal(bpmn('<bpmn:laneSet id="ls" />')) == [
        "definitions, line 2: no process with flow elements (start events, tasks, flows) in the file"]


# -- the table drives the reader ------------------------------------------------------------------------------


def test_every_kind_has_a_bpmn_form_and_no_element_maps_two_ways() -> None:
    assert all(entry.bpmn is not None for entry in KINDS.values())
    for key, entries in bpmn_index().items():
        roles = [entry.bpmn.role for entry in entries]
        assert len(set(roles)) == len(roles), key  # a gateway element: one kind per role
        assert None not in roles or len(roles) == 1, key
    assert {entry.bpmn.role for entry in KINDS.values() if entry.bpmn.element == "exclusiveGateway"} == set(GatewayRole)


def test_a_kind_maps_by_its_entry_in_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    """What a future kind does (a signal:
    ``BpmnForm("intermediateThrowEvent", definitions=("signalEventDefinition",))``): a form added to an entry is
    all the reader needs. Here the END entry is given a second element."""
    text = bpmn("""
<bpmn:startEvent id="s" /><bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="done" />
<bpmn:intermediateThrowEvent id="done"><bpmn:signalEventDefinition /></bpmn:intermediateThrowEvent>""")
    assert refusal(text)[0].startswith("intermediateThrowEvent 'done', line 6: is not mapped; wfconsole maps")
    end = KINDS[NodeKind.END]
    form = dataclasses.replace(end.bpmn, accepts=("intermediateThrowEvent",),
                               definitions=(None, "signalEventDefinition"))
    monkeypatch.setitem(reader.KINDS, NodeKind.END, dataclasses.replace(end, bpmn=form))
    assert kinds(read_bpmn(text).blueprint) == {"s": "START", "done": "END"}


def test_the_validators_findings_name_the_element_a_node_came_from() -> None:
    """The join a gateway that joins and splits becomes is named with the gateway it came from."""
    text = bpmn("""
<bpmn:startEvent id="start" /><bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="a" />
<bpmn:task id="a" /><bpmn:task id="b" />
<bpmn:sequenceFlow id="f2" sourceRef="a" targetRef="g" /><bpmn:sequenceFlow id="f3" sourceRef="b" targetRef="g" />
<bpmn:parallelGateway id="g" />
<bpmn:sequenceFlow id="f4" sourceRef="g" targetRef="b" /><bpmn:sequenceFlow id="f5" sourceRef="g" targetRef="end" />
<bpmn:endEvent id="end" />""")
    wheres = [problem.where for problem in validate_text(text)]
    assert wheres == ["node 'g_join' (parallelGateway 'g', line 8)", "node 'end' (endEvent, line 10)"]
