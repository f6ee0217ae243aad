"""A compiled blueprint and its :class:`~engine.bpmn.diagram.Diagram` in, BPMN 2.0 XML out.

Each node is written as its kind's form says (:attr:`engine.kinds.KindSpec.bpmn`), each edge as a
sequenceFlow whose condition is CEL, as written, in a ``conditionExpression`` with ``language`` CEL (and as
the flow's name, so that modelers show it on the diagram). A split's default edge is the gateway's
``default``. Tasks carry Camunda 8 (Zeebe) extensions, and the file says it is for Camunda 8, so that Camunda
Modeler shows their type and mappings. Ids that cannot be XML ids as they are (``1st step``), or that a node
and an edge share, are written as XML ids of their own with the exact id in ``wf:id``, which the reader
prefers: exporting and importing gives the same blueprint.
"""

from __future__ import annotations

import re
from xml.sax.saxutils import escape

from engine.blueprint import Blueprint
from engine.bpmn.diagram import Bounds, Diagram
from engine.bpmn.expressions import CEL_LANGUAGE
from engine.bpmn.forms import Written
from engine.bpmn.xml import BPMN, BPMNDI, DC, DI, PREFIXES, WF, XSI, ZEEBE, Element, is_xml_id, split
from engine.errors import WorkflowError
from engine.graph import CompiledBlueprint
from engine.kinds import spec

MODELER = "http://camunda.org/schema/modeler/1.0"
TARGET_NAMESPACE = "http://bpmn.io/schema/bpmn"
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_ATTRIBUTE_ESCAPES = {'"': "&quot;", "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"}


class BpmnExportError(WorkflowError):
    """A blueprint that cannot be written as BPMN (a kind without a BPMN form, text XML cannot hold)."""


def write_bpmn(compiled: CompiledBlueprint, diagram: Diagram) -> str:
    """The BPMN 2.0 XML of ``compiled``, with its shapes and edges where ``diagram`` puts them.

    Raises :class:`BpmnExportError` for a node whose kind has no BPMN form, a node or edge the diagram does
    not place, or text that XML 1.0 cannot hold (a NUL in a condition).
    """
    blueprint = compiled.blueprint
    ids = _xml_ids(blueprint)
    process = _element("process", {"id": ids[("process", blueprint.workflow_id)], "name": blueprint.name,
                                   "isExecutable": "true"})
    _keep_id(process, blueprint.workflow_id)
    extensions = _child(process, "extensionElements")
    extensions.append(Element(f"{{{ZEEBE}}}versionTag", {"value": str(blueprint.version)}))
    for node in blueprint.nodes:
        process.append(_flow_node(compiled, node.id, ids))
    for edge in blueprint.edges:
        process.append(_sequence_flow(edge, ids))
    definitions = Element(f"{{{BPMN}}}definitions", {
        "id": _fresh_id("Definitions", ids), "targetNamespace": TARGET_NAMESPACE, "exporter": "wfconsole",
        f"{{{MODELER}}}executionPlatform": "Camunda Cloud", f"{{{MODELER}}}executionPlatformVersion": "8.5.0"})
    definitions.append(process)
    definitions.append(_diagram(compiled, diagram, ids))
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + _serialize(definitions) + "\n"


# -- ids --------------------------------------------------------------------------------------------------


def _xml_ids(blueprint: Blueprint) -> dict[tuple[str, str], str]:
    """An XML id for the process, each node and each edge: its own id where that is a valid and unused one."""
    # Nodes first: operators know them by id; the process and edges give way when one shares a node's id.
    wanted = [("node", n.id) for n in blueprint.nodes] + [("edge", e.id) for e in blueprint.edges] + \
        [("process", blueprint.workflow_id)]
    ids: dict[tuple[str, str], str] = {}
    taken: set[str] = set()
    for key in wanted:  # valid ids first, in order, so that they keep their own
        if is_xml_id(key[1]) and key[1] not in taken:
            ids[key] = key[1]
            taken.add(key[1])
    for key in wanted:
        if key not in ids:
            base = "_" + re.sub(r"[^A-Za-z0-9_.\-]", "_", key[1])
            candidate, number = base, 2
            while candidate in taken:
                candidate, number = f"{base}_{number}", number + 1
            ids[key] = candidate
            taken.add(candidate)
    return ids


def _fresh_id(base: str, ids: dict[tuple[str, str], str]) -> str:
    taken = set(ids.values())
    candidate, number = base, 2
    while candidate in taken:
        candidate, number = f"{base}_{number}", number + 1
    ids[("extra", candidate)] = candidate
    return candidate


def _keep_id(element: Element, ident: str) -> None:
    if element.get("id") != ident:
        element.set(f"{{{WF}}}id", ident)


# -- the process ------------------------------------------------------------------------------------------


def _flow_node(compiled: CompiledBlueprint, node_id: str, ids: dict[tuple[str, str], str]) -> Element:
    node = compiled.nodes[node_id]
    entry = spec(compiled.kinds[node_id])
    form = entry.bpmn
    if form is None:
        raise BpmnExportError(f"node {node_id!r}: a {entry.description} has no BPMN form")
    element = _element(form.element, {"id": ids[("node", node_id)], "name": node.name})
    _keep_id(element, node_id)
    if form.role is not None:
        element.set("gatewayDirection", form.role.direction)
    defaults = [e for e in compiled.outgoing[node_id] if entry.chooses and not e.has_condition]
    if defaults:
        element.set("default", ids[("edge", defaults[0].id)])
    written = form.write(node) if form.write is not None else Written()
    if written.extensions:
        _child(element, "extensionElements").extend(written.extensions)
    for edge in compiled.incoming[node_id]:
        _child(element, "incoming").text = ids[("edge", edge.id)]
    for edge in compiled.outgoing[node_id]:
        _child(element, "outgoing").text = ids[("edge", edge.id)]
    element.extend(written.body)
    if not written.body and form.definitions[0] is not None:
        _child(element, form.definitions[0])
    return element


def _sequence_flow(edge, ids: dict[tuple[str, str], str]) -> Element:
    condition = edge.condition if edge.has_condition else None
    flow = _element("sequenceFlow", {"id": ids[("edge", edge.id)], "name": condition,
                                     "sourceRef": ids[("node", edge.source_id)],
                                     "targetRef": ids[("node", edge.target_id)]})
    _keep_id(flow, edge.id)
    if condition is not None:
        expression = _child(flow, "conditionExpression")
        expression.set(f"{{{XSI}}}type", "bpmn:tFormalExpression")
        expression.set("language", CEL_LANGUAGE)
        expression.text = condition
    return flow


# -- the diagram ------------------------------------------------------------------------------------------


def _diagram(compiled: CompiledBlueprint, diagram: Diagram, ids: dict[tuple[str, str], str]) -> Element:
    blueprint = compiled.blueprint
    root = Element(f"{{{BPMNDI}}}BPMNDiagram", {"id": _fresh_id("BPMNDiagram", ids)})
    plane = Element(f"{{{BPMNDI}}}BPMNPlane", {"id": _fresh_id("BPMNPlane", ids),
                                              "bpmnElement": ids[("process", blueprint.workflow_id)]})
    root.append(plane)
    for node in blueprint.nodes:
        if node.id not in diagram.shapes:
            raise BpmnExportError(f"node {node.id!r} has no place in the diagram")
        xml_id = ids[("node", node.id)]
        form = spec(compiled.kinds[node.id]).bpmn
        shape = Element(f"{{{BPMNDI}}}BPMNShape", {"id": _fresh_id(f"{xml_id}_di", ids), "bpmnElement": xml_id,
                                                  **(form.shape if form is not None else {})})
        shape.append(_bounds(diagram.shapes[node.id]))
        plane.append(shape)
    for edge in blueprint.edges:
        points = diagram.edges.get(edge.id, ())
        if len(points) < 2:
            raise BpmnExportError(f"edge {edge.id!r} has no route in the diagram")
        xml_id = ids[("edge", edge.id)]
        drawn = Element(f"{{{BPMNDI}}}BPMNEdge", {"id": _fresh_id(f"{xml_id}_di", ids), "bpmnElement": xml_id})
        for x, y in points:
            drawn.append(Element(f"{{{DI}}}waypoint", {"x": _number(x), "y": _number(y)}))
        if edge.id in diagram.labels:
            label = Element(f"{{{BPMNDI}}}BPMNLabel")
            label.append(_bounds(diagram.labels[edge.id]))
            drawn.append(label)
        plane.append(drawn)
    return root


def _bounds(bounds: Bounds) -> Element:
    return Element(f"{{{DC}}}Bounds", {"x": _number(bounds.x), "y": _number(bounds.y),
                                       "width": _number(bounds.width), "height": _number(bounds.height)})


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}".rstrip("0")


# -- XML --------------------------------------------------------------------------------------------------


def _element(local: str, attributes: dict[str, str | None]) -> Element:
    """A BPMN element with the attributes that have a value."""
    return Element(f"{{{BPMN}}}{local}", {name: value for name, value in attributes.items() if value is not None})


def _child(parent: Element, local: str) -> Element:
    """A new BPMN child of ``parent``; ``extensionElements`` is made once."""
    if local == "extensionElements":
        found = parent.find(f"{{{BPMN}}}extensionElements")
        if found is not None:
            return found
    child = Element(f"{{{BPMN}}}{local}")
    parent.append(child)
    return child


def _serialize(root: Element) -> str:
    """``root`` as indented XML, every namespace declared on it with its usual prefix."""
    declarations = {"xmlns:" + prefix: namespace for namespace, prefix in PREFIXES.items()}
    declarations["xmlns:modeler"] = MODELER
    lines: list[str] = []
    _write(root, 0, declarations, lines)
    return "\n".join(lines)


def _write(element: Element, depth: int, declarations: dict[str, str], lines: list[str]) -> None:
    attributes = {**declarations, **{_name(key): value for key, value in element.attrib.items()}}
    opening = "<" + _name(element.tag) + "".join(f' {key}="{_attribute(value, element)}"'
                                               for key, value in attributes.items())
    indent = "  " * depth
    if element.text is not None:
        lines.append(f"{indent}{opening}>{_text(element.text, element)}</{_name(element.tag)}>")
    elif len(element) == 0:
        lines.append(f"{indent}{opening} />")
    else:
        lines.append(f"{indent}{opening}>")
        for child in element:
            _write(child, depth + 1, {}, lines)
        lines.append(f"{indent}</{_name(element.tag)}>")


def _name(tag: str) -> str:
    namespace, local = split(tag)
    return f"{PREFIXES[namespace]}:{local}" if namespace in PREFIXES else \
        (f"modeler:{local}" if namespace == MODELER else local)


def _attribute(value: str, element: Element) -> str:
    return escape(_xml_text(value, element), _ATTRIBUTE_ESCAPES)


def _text(value: str, element: Element) -> str:
    return escape(_xml_text(value, element), {"\r": "&#13;"})


def _xml_text(value: str, element: Element) -> str:
    bad = _NOT_XML.search(value)
    if bad:
        owner = element.get("id") or split(element.tag)[1]
        raise BpmnExportError(f"{owner}: {bad.group()!r} at position {bad.start()} cannot be written in XML")
    return value
