"""BPMN out: exported files validate against the OMG's BPMN 2.0 schemas, parse in SpiffWorkflow, draw the shapes
and edges where our layout puts them, and import back as the same blueprint (the samples, odd ids and text, and
random blueprints)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from lxml import etree
from SpiffWorkflow.bpmn.parser import BpmnParser

from console.graph import build_graph
from console.graph.bpmn import SHAPE_PIXELS, bpmn_diagram, render_bpmn
from engine.blueprint import NodeKind
from engine.bpmn.expressions import CEL_LANGUAGE
from engine.graph import CompiledBlueprint
from engine.kinds import spec
from engine.sources import compile_text
from engine.validate import compile_blueprint

ROOT = Path(__file__).resolve().parents[2]
_STRATEGIES = importlib.util.spec_from_file_location("blueprint_strategies",
                                                    ROOT / "tests" / "engine" / "strategies.py")
strategies = importlib.util.module_from_spec(_STRATEGIES)
_STRATEGIES.loader.exec_module(strategies)  # tests/engine is not a package, and not on the path from here
SAMPLES = sorted((ROOT / "sample_data").glob("*.json"))
SCHEMA = etree.XMLSchema(etree.parse(str(ROOT / "tests" / "data" / "bpmn" / "xsd" / "BPMN20.xsd")))
NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL", "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
      "dc": "http://www.omg.org/spec/DD/20100524/DC", "di": "http://www.omg.org/spec/DD/20100524/DI",
      "zeebe": "http://camunda.org/schema/zeebe/1.0"}


SPIFF_TYPES = {NodeKind.START: "StartEvent", NodeKind.END: "EndEvent", NodeKind.TASK: "ServiceTask",
               NodeKind.EXCLUSIVE_SPLIT: "ExclusiveGateway", NodeKind.EXCLUSIVE_JOIN: "ExclusiveGateway",
               NodeKind.PARALLEL_SPLIT: "ParallelGateway", NodeKind.PARALLEL_JOIN: "ParallelGateway"}


def export(compiled: CompiledBlueprint) -> str:
    return render_bpmn(build_graph(compiled), compiled)


def schema_errors(xml: str) -> list[str]:
    """What the BPMN 2.0 XSD finds wrong with ``xml`` (an empty list when it is valid)."""
    document = etree.fromstring(xml.encode(), etree.XMLParser(resolve_entities=False, no_network=True))
    SCHEMA.validate(document)
    return [f"line {error.line}: {error.message}" for error in SCHEMA.error_log]


def same_blueprint(compiled: CompiledBlueprint) -> tuple[dict[str, Any], dict[str, Any]]:
    """The blueprint, and the one its export imports as, each without the layout hints x and y (the diagram
    carries the layout)."""
    back = compile_text(export(compiled), "exported.bpmn")

    def comparable(compiled: CompiledBlueprint) -> dict[str, Any]:
        dumped = compiled.blueprint.model_dump(exclude_none=True)
        for node in dumped["nodes"]:
            node.pop("x", None)
            node.pop("y", None)
        return dumped

    return comparable(compiled), comparable(back)


@pytest.mark.parametrize("path", SAMPLES, ids=lambda path: path.stem)
def test_a_sample_exports_as_schema_valid_bpmn_that_imports_as_the_same_blueprint(path: Path) -> None:
    compiled = compile_blueprint(path.read_text())
    xml = export(compiled)
    assert schema_errors(xml) == []
    original, back = same_blueprint(compiled)
    assert back == original  # ids, kinds, names, task ids, mappings, conditions, defaults, edge order, version


@pytest.mark.parametrize("path", SAMPLES, ids=lambda path: path.stem)
def test_spiffworkflow_parses_an_export_into_the_same_graph(path: Path) -> None:
    compiled = compile_blueprint(path.read_text())
    parser = BpmnParser()
    parser.add_bpmn_str(export(compiled).encode(), filename=f"{path.stem}.bpmn")
    assert parser.get_process_ids() == [compiled.workflow_id]
    specs = parser.get_spec(compiled.workflow_id).task_specs
    for node in compiled.blueprint.nodes:
        task = specs[node.id]
        assert type(task).__name__ == SPIFF_TYPES[compiled.kinds[node.id]], node.id
        assert task.bpmn_name == node.name, node.id
        outputs = sorted(out.name for out in task.outputs if not out.name.endswith(".EndJoin"))  # Spiff's own
        assert outputs == sorted(edge.target_id for edge in compiled.outgoing[node.id]), node.id
        if compiled.kinds[node.id] is NodeKind.EXCLUSIVE_SPLIT:
            defaults = [edge.target_id for edge in compiled.outgoing[node.id] if not edge.has_condition]
            assert task.default_task_spec == (defaults[0] if defaults else None), node.id


def test_tasks_carry_their_type_and_mappings_as_camunda_8_extensions() -> None:
    compiled = compile_blueprint((ROOT / "sample_data" / "loan_approval.json").read_text())
    document = etree.fromstring(export(compiled).encode())
    review = document.find(".//bpmn:serviceTask[@id='manual_review']", NS)
    assert review.find("bpmn:extensionElements/zeebe:taskDefinition", NS).get("type") == "manual_review"
    mapping = review.find("bpmn:extensionElements/zeebe:ioMapping", NS)
    inputs = [(item.get("source"), item.get("target")) for item in mapping.findall("zeebe:input", NS)]
    outputs = [(item.get("source"), item.get("target")) for item in mapping.findall("zeebe:output", NS)]
    assert ("=review_notes", "previous_notes") in inputs  # input_mapping {"previous_notes": "review_notes"}
    assert ("=notes", "review_notes") in outputs  # output_mapping {"notes": "review_notes"}
    split = document.find(".//bpmn:exclusiveGateway[@id='by_amount']", NS)
    assert (split.get("default"), split.get("gatewayDirection")) == ("e4", "Diverging")
    condition = document.find(".//bpmn:sequenceFlow[@id='e3']/bpmn:conditionExpression", NS)
    assert (condition.text, condition.get("language")) == ("amount < 10000", CEL_LANGUAGE)
    assert document.find(".//bpmn:sequenceFlow[@id='e3']", NS).get("name") == "amount < 10000"  # shown on the line
    assert document.get("{http://camunda.org/schema/modeler/1.0}executionPlatform") == "Camunda Cloud"


# -- the diagram -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", SAMPLES, ids=lambda path: path.stem)
def test_the_diagram_draws_each_shape_in_its_place_and_each_edge_between_their_borders(path: Path) -> None:
    compiled = compile_blueprint(path.read_text())
    model = build_graph(compiled)
    diagram = bpmn_diagram(model)
    for node in model.nodes:
        bounds = diagram.shapes[node.id]
        assert (bounds.width, bounds.height) == SHAPE_PIXELS[spec(node.kind).family], node.id
    shapes = list(diagram.shapes.items())
    for number, (first, a) in enumerate(shapes):  # no two shapes overlap
        for second, b in shapes[number + 1:]:
            apart = a.x + a.width <= b.x or b.x + b.width <= a.x or a.y + a.height <= b.y or b.y + b.height <= a.y
            assert apart, (first, second)
    for edge in model.edges:
        points = diagram.edges[edge.id]
        source, target = diagram.shapes[edge.source], diagram.shapes[edge.target]
        assert points[0] == (source.x + source.width, source.y + source.height / 2), edge.id  # out on the right
        assert points[-1] == (target.x, target.y + target.height / 2), edge.id  # in on the left
        assert all(p[0] == q[0] or p[1] == q[1] for p, q in zip(points, points[1:], strict=False)), edge.id
    for edge in model.edges:
        if edge.condition:
            label = diagram.labels[edge.id]
            assert label.width > 0 and label.height > 0
        else:
            assert edge.id not in diagram.labels


def test_the_exported_diagram_is_the_one_laid_out() -> None:
    """BPMNShape bounds and BPMNEdge waypoints in the file are the diagram's, in pixels."""
    compiled = compile_blueprint((ROOT / "sample_data" / "order_fulfilment.json").read_text())
    diagram = bpmn_diagram(build_graph(compiled))
    document = etree.fromstring(export(compiled).encode())
    for node_id, bounds in diagram.shapes.items():
        shape = document.find(f".//bpmndi:BPMNShape[@bpmnElement='{node_id}']/dc:Bounds", NS)
        assert [float(shape.get(a)) for a in ("x", "y", "width", "height")] == [
            bounds.x, bounds.y, bounds.width, bounds.height]
    for edge_id, points in diagram.edges.items():
        drawn = document.findall(f".//bpmndi:BPMNEdge[@bpmnElement='{edge_id}']/di:waypoint", NS)
        assert [(float(p.get("x")), float(p.get("y"))) for p in drawn] == list(points)


# -- ids and text BPMN cannot hold as they are -----------------------------------------------------------------

ODD = {
    "workflow_id": "step", "name": 'Quotes " and <tags> & ampersands', "version": 7,
    "nodes": [
        {"id": "step", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "START"},  # = the workflow id
        {"id": "1st step", "type": "TASK", "task_id": "send <mail>", "name": "Send & \"check\"",
         "input_mapping": {"to address": "user email", "x": "y"}, "output_mapping": {"status-code": "e1"}},
        {"id": "e1", "type": "INTERNAL", "internal_type": "GATEWAY", "gateway_type": "EXCLUSIVE_SPLIT"},  # an edge's id
        {"id": "done", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "END"},
    ],
    "edges": [
        {"id": "e1", "source_id": "step", "target_id": "1st step"},
        {"id": "e:2", "source_id": "1st step", "target_id": "e1"},
        {"id": "e3", "source_id": "e1", "target_id": "done", "condition": "e1 == 'a<b' &&\n  size(y) > 0"},
        {"id": "e4", "source_id": "e1", "target_id": "1st step"},
    ],
}


def test_ids_names_and_conditions_xml_cannot_hold_as_they_are_still_come_back_the_same() -> None:
    compiled = compile_blueprint(json.dumps(ODD))
    xml = export(compiled)
    assert schema_errors(xml) == []
    original, back = same_blueprint(compiled)
    assert back == original
    document = etree.fromstring(xml.encode())
    task = document.find(".//bpmn:serviceTask[@{urn:wfconsole:bpmn:1}id='1st step']", NS)
    assert task is not None and task.get("id") == "_1st_step"  # an XML id of its own, the exact one in wf:id


def test_a_condition_with_a_character_xml_cannot_hold_is_refused_naming_its_edge() -> None:
    from engine.bpmn.writer import BpmnExportError

    bad = json.loads(json.dumps(ODD))
    bad["edges"][2]["condition"] = "e1 == '\x01'"
    compiled = compile_blueprint(json.dumps(bad))
    with pytest.raises(BpmnExportError, match=r"e3: '\\x01' at position 7 cannot be written in XML"):
        export(compiled)


# -- random blueprints -------------------------------------------------------------------------------------------


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(strategies.blueprints_with_ends)
def test_random_blueprints_export_as_valid_bpmn_and_import_as_themselves(blueprint: dict[str, Any]) -> None:
    compiled = compile_blueprint(blueprint)
    xml = export(compiled)
    assert schema_errors(xml) == []
    original, back = same_blueprint(compiled)
    assert back == original
