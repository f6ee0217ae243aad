"""The BPMN writer on its own: it writes what each kind's form in the node-kind table says, with the diagram it is
given, and refuses what it cannot write, naming it."""

from __future__ import annotations

import dataclasses

import blueprints as bps
import pytest

from engine.blueprint import NodeKind
from engine.bpmn.diagram import Bounds, Diagram
from engine.bpmn.reader import read_bpmn
from engine.bpmn.writer import BpmnExportError, write_bpmn
from engine.graph import CompiledBlueprint
from engine.kinds import KINDS
from engine.validate import compile_blueprint


def in_a_row(compiled: CompiledBlueprint) -> Diagram:
    """Every node a 40 x 40 shape in one row, every edge straight from one to the next."""
    shapes = {node.id: Bounds(100 * number, 0, 40, 40) for number, node in enumerate(compiled.blueprint.nodes)}
    edges = {edge.id: ((shapes[edge.source_id].x + 40, 20), (shapes[edge.target_id].x, 20))
             for edge in compiled.blueprint.edges}
    return Diagram(shapes, edges)


def test_the_writer_writes_what_the_table_says(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tasks are serviceTasks because TASK's form says so; given another element, they are written as that, and
    read back as tasks (the reader accepts it)."""
    compiled = compile_blueprint(bps.linear())
    assert "<bpmn:serviceTask " in write_bpmn(compiled, in_a_row(compiled))
    task = KINDS[NodeKind.TASK]
    monkeypatch.setitem(KINDS, NodeKind.TASK, dataclasses.replace(task, bpmn=dataclasses.replace(task.bpmn,
                                                                                                 element="userTask")))
    xml = write_bpmn(compiled, in_a_row(compiled))
    assert "<bpmn:userTask " in xml and "<bpmn:serviceTask " not in xml
    assert read_bpmn(xml).blueprint["nodes"][1]["type"] == "TASK"


def test_a_kind_without_a_bpmn_form_is_refused_naming_the_node(monkeypatch: pytest.MonkeyPatch) -> None:
    compiled = compile_blueprint(bps.linear())
    monkeypatch.setitem(KINDS, NodeKind.TASK, dataclasses.replace(KINDS[NodeKind.TASK], bpmn=None))
    with pytest.raises(BpmnExportError, match="^node 'task_a': a task has no BPMN form$"):
        write_bpmn(compiled, in_a_row(compiled))


def test_a_diagram_that_leaves_out_a_node_or_an_edge_is_refused() -> None:
    compiled = compile_blueprint(bps.linear())
    diagram = in_a_row(compiled)
    with pytest.raises(BpmnExportError, match="node 'end' has no place in the diagram"):
        write_bpmn(compiled, Diagram({k: v for k, v in diagram.shapes.items() if k != "end"}, diagram.edges))
    with pytest.raises(BpmnExportError, match="edge 'e1' has no route in the diagram"):
        write_bpmn(compiled, Diagram(diagram.shapes, {k: v for k, v in diagram.edges.items() if k != "e1"}))


def test_the_diagram_is_written_as_given() -> None:
    compiled = compile_blueprint(bps.linear())
    diagram = in_a_row(compiled)
    diagram = Diagram(diagram.shapes, {**diagram.edges, "e1": ((40, 20), (70, 20), (70, 25.5), (100, 25.5))},
                      {"e1": Bounds(50, 2, 30, 14)})
    xml = write_bpmn(compiled, diagram)
    assert '<dc:Bounds x="100" y="0" width="40" height="40" />' in xml
    assert '<di:waypoint x="70" y="25.5" />' in xml
    assert '<bpmndi:BPMNLabel>\n          <dc:Bounds x="50" y="2" width="30" height="14" />' in xml


def test_an_end_event_that_terminates_reads_as_an_end() -> None:
    """END ends the whole instance, as BPMN's terminate end event does: both read as END; plain is written."""
    compiled = compile_blueprint(bps.linear())
    xml = write_bpmn(compiled, in_a_row(compiled))
    terminating = xml.replace('<bpmn:endEvent id="end">',
                              '<bpmn:endEvent id="end"><bpmn:terminateEventDefinition id="t" />')
    assert terminating != xml
    assert read_bpmn(terminating).blueprint == read_bpmn(xml).blueprint
