"""BPMN 2.0 XML in, a blueprint dict out: every element mapped by its kind's form (:mod:`engine.bpmn.forms`), or
named with its id and line as one that cannot be.

What maps: the flow nodes whose (element, event definition) some kind's form accepts (startEvent, endEvent,
task / serviceTask / userTask / manualTask, exclusiveGateway, parallelGateway today); a gateway splits or joins
by its flows (``gatewayDirection`` decides one with a single flow in and out; one with several of both becomes
a join and a split); sequenceFlows with their conditions (CEL as written, Camunda 7's ``${...}`` read as CEL, or
simple FEEL translated to CEL); a gateway's ``default`` flow (the flow without a condition, as in a blueprint).
Documentation, lanes, text annotations, associations and groups are left out: they change nothing. Anything
else, a sub-process, a boundary event, a loop marker, a message flow between pools, is an error that names it;
nothing of such a file is kept.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from engine.bpmn.expressions import read_condition
from engine.bpmn.forms import GatewayRole
from engine.bpmn.xml import BPMN, CAMUNDA, WF, ZEEBE, Element, XmlError, parse_xml, qualified, split
from engine.errors import BlueprintError, Problem
from engine.kinds import KINDS, KindSpec

_BREAKS = re.compile(r"\s*[\r\n\t]\s*")
# Children of a process or a flow node that change nothing about how it runs.
_INERT = {"documentation", "extensionElements", "laneSet", "textAnnotation", "association", "group",
          "dataObject", "dataObjectReference", "dataStoreReference", "property", "ioSpecification", "auditing",
          "monitoring", "category", "categoryValueRef"}
_FLOW_NODE_PARTS = {"documentation", "extensionElements", "incoming", "outgoing", "auditing", "monitoring"}
_FLOW_PARTS = {"documentation", "extensionElements", "conditionExpression", "auditing", "monitoring"}


@dataclass(frozen=True)
class Place:
    """Where a node or edge comes from in the file: its element's name, id and line."""

    element: str
    element_id: str
    line: int

    def __str__(self) -> str:
        return f"{self.element} {self.element_id!r}, line {self.line}"


@dataclass(frozen=True)
class ImportedBlueprint:
    """A BPMN file read: the ``blueprint`` (a dict in the Go engine's JSON shape, to validate as any other) and
    where the process, each node and each edge came from, for messages."""

    blueprint: dict[str, Any]
    process: Place
    nodes: dict[str, Place]
    edges: dict[str, Place]


def read_bpmn(text: str, origin: str | None = None) -> ImportedBlueprint:
    """Read BPMN 2.0 XML ``text`` into a blueprint.

    Raises :class:`~engine.errors.BlueprintError` listing every problem (XML that is not well-formed, a DTD,
    each element that cannot be mapped, each flow to nowhere, each condition that is neither CEL nor simple
    FEEL), each with its element's id and line. The blueprint itself is not validated here.
    """
    try:
        root = parse_xml(text)
    except XmlError as error:
        where = f"XML at line {error.line}, column {error.column}" if error.line else "XML"
        raise BlueprintError([Problem(where, error.message)], origin) from None
    reader = _Reader(root)
    imported = reader.read()
    if reader.problems or imported is None:
        raise BlueprintError(reader.in_file_order(), origin)
    return imported


def bpmn_index() -> dict[tuple[str, str | None], list[KindSpec]]:
    """The kinds each (element name, event definition or ``None``) maps to, from the node-kind table."""
    index: dict[tuple[str, str | None], list[KindSpec]] = defaultdict(list)
    for entry in KINDS.values():
        form = entry.bpmn
        if form is None:
            continue
        for element in form.elements:
            for definition in form.definitions:
                index[(element, definition)].append(entry)
    return dict(index)


def where(element: Element, inside: Element | None = None) -> str:
    """How a message names an element: ``serviceTask 'charge', line 12``; a child or extension of another
    element, ``zeebe:input in serviceTask 'charge', line 14``."""
    name = qualified(element.tag)
    if inside is not None:
        return f"{name} in {qualified(inside.tag)} {inside.get('id', '?')!r}, line {element.line}"
    ident = element.get("id")
    return f"{name} {ident!r}, line {element.line}" if ident else f"{name}, line {element.line}"


@dataclass
class _FlowNode:
    element: Element
    ident: str  # the node id in the blueprint
    entries: list[KindSpec]
    fields: dict[str, Any]
    nodes: list[tuple[str, KindSpec]] = field(default_factory=list)  # (node id, kind), a mixed gateway's two

    @property
    def entry_id(self) -> str:
        """The node a flow into this element goes to (a mixed gateway's join)."""
        return self.nodes[0][0]

    @property
    def exit_id(self) -> str:
        """The node a flow out of this element leaves (a mixed gateway's split)."""
        return self.nodes[-1][0]


@dataclass
class _Flow:
    element: Element
    ident: str
    source: str  # XML ids
    target: str
    condition: str | None


class _Reader:
    """One file's reading; ``problems`` collects every error."""

    def __init__(self, root: Element) -> None:
        self.root = root
        self.problems: list[Problem] = []
        self.lines: list[int] = []  # the line of each problem, to list them in the file's order
        self.index = bpmn_index()
        self.used_ids = {ident for element in root.iter() for ident in (element.get("id"), element.get(f"{{{WF}}}id"))
                         if ident}
        self.unmapped: set[str] = set()  # ids of elements already reported as not mapped
        self.by_id = {element.get("id", ""): element for element in root.iter() if element.get("id")}

    def report(self, element: Element, message: str, inside: Element | None = None) -> None:
        self.add(Problem(where(element, inside), message), element.line)

    def element(self, ident: str) -> Element | None:
        """The file's element with this id (a form's reader may follow a reference)."""
        return self.by_id.get(ident)

    def add(self, problem: Problem, line: int) -> None:
        self.problems.append(problem)
        self.lines.append(line)

    def in_file_order(self) -> list[Problem]:
        """The problems by line (the order found within one)."""
        order = sorted(range(len(self.problems)), key=lambda number: self.lines[number])
        return [self.problems[number] for number in order]

    def read(self) -> ImportedBlueprint | None:
        if self.root.tag != f"{{{BPMN}}}definitions":
            namespace, local = split(self.root.tag)
            self.add(Problem(f"{local}, line {self.root.line}", (
                f"the document is a <{local}>{f' of {namespace}' if namespace else ''}, not BPMN 2.0's <definitions> "
                f"(namespace {BPMN})")), self.root.line)
            return None
        self._check_collaborations()
        process = self._process()
        if process is None:
            return None
        fields = self._workflow_fields(process)
        nodes, flows = self._children(process)
        self._resolve(nodes, flows)
        if self.problems:
            return None
        return self._assemble(process, fields, nodes, flows)

    # -- the process ------------------------------------------------------------------------------------

    def _check_collaborations(self) -> None:
        for collaboration in self.root.findall(f"{{{BPMN}}}collaboration"):
            for child in collaboration:
                if child.tag == f"{{{BPMN}}}messageFlow":
                    self.report(child, "message flows between pools are not mapped: a blueprint is one process")

    def _process(self) -> Element | None:
        processes = self.root.findall(f"{{{BPMN}}}process")
        running = [p for p in processes if any(split(c.tag)[1] not in _INERT for c in p)]
        if len(running) == 1:
            return running[0]
        if not running:
            self.add(Problem(f"definitions, line {self.root.line}",
                             "no process with flow elements (start events, tasks, flows) in the file"), self.root.line)
        else:
            listed = ", ".join(f"{p.get('id', '?')!r} (line {p.line})" for p in running)
            self.add(Problem(f"definitions, line {self.root.line}", f"{len(running)} processes ({listed}); a blueprint "
                             "is one process: keep one pool per file"), self.root.line)
        return None

    def _workflow_fields(self, process: Element) -> dict[str, Any]:
        fields: dict[str, Any] = {"workflow_id": process.get(f"{{{WF}}}id") or process.get("id") or ""}
        if not fields["workflow_id"]:
            self.report(process, "has no id, which a blueprint's workflow_id comes from")
        name = _name(process)
        if name:
            fields["name"] = name
        tag = _version_tag(process)
        if tag is not None:
            element, text = tag
            if text.isdigit() and int(text) > 0:
                fields["version"] = int(text)
            else:
                self.report(element, f"the version tag {text!r} is not a whole number: a wfconsole blueprint is "
                                     "identified by its workflow id and version 1, 2, 3, ...; write one or remove "
                                     "the tag (version 1)", inside=process if element is not process else None)
        return fields

    def _children(self, process: Element) -> tuple[list[_FlowNode], list[_Flow]]:
        nodes: list[_FlowNode] = []
        flows: list[_Flow] = []
        seen: dict[str, Element] = {}
        for child in process:
            namespace, local = split(child.tag)
            ident = child.get("id")
            if ident and ident in seen:
                self.report(child, f"has the id of the {qualified(seen[ident].tag)} on line {seen[ident].line}; "
                                   "ids are unique in a file")
                self.unmapped.add(ident)
                continue
            if ident:
                seen[ident] = child
            if namespace != BPMN:
                self.report(child, "is not a BPMN element; inside a process only BPMN's elements are read "
                                   "(extensions go in extensionElements)")
            elif local in _INERT:
                continue
            elif local == "sequenceFlow":
                flow = self._flow(child)
                if flow is not None:
                    flows.append(flow)
            else:
                node = self._flow_node(child)
                if node is not None:
                    nodes.append(node)
        return nodes, flows

    # -- flow nodes -------------------------------------------------------------------------------------

    def _flow_node(self, element: Element) -> _FlowNode | None:
        local = split(element.tag)[1]
        ident = self._ident(element)
        definitions = [c for c in element if c.tag.startswith(f"{{{BPMN}}}") and
                       (c.tag.endswith("EventDefinition") or c.tag.endswith("eventDefinitionRef"))]
        if len(definitions) > 1:
            self.report(element, f"has {len(definitions)} event definitions (a multiple event), which is not "
                                 "mapped")
            self.unmapped.add(element.get("id", ""))
            return None
        definition = split(definitions[0].tag)[1] if definitions else None
        entries = self.index.get((local, definition))
        if not entries:
            self.report(element, self._unmapped(local, definition))
            self.unmapped.add(element.get("id", ""))
            return None
        for child in element:
            if child not in definitions and split(child.tag)[1] not in _FLOW_NODE_PARTS:
                self.report(element, f"has a {qualified(child.tag)} (line {child.line}), which wfconsole does not "
                                     f"map: the {local} would not run as drawn")
        form = entries[0].bpmn
        assert form is not None  # indexed from the entries that have one
        fields = dict(form.read(element, self)) if form.read is not None else {}
        if form.read is None:
            self._refuse_mappings(element)
        if ident is None:
            return None
        name = _name(element)
        if name:
            fields["name"] = name
        return _FlowNode(element, ident, entries, fields)

    def _unmapped(self, local: str, definition: str | None) -> str:
        elements = list(dict.fromkeys(element for element, _ in self.index))
        if definition is not None and any(element == local for element, _ in self.index):
            return (f"a {local} with a {definition} is not mapped (the {local}s wfconsole maps have "
                    f"{_either([d or 'no event definition' for e, d in self.index if e == local])})")
        return f"is not mapped; wfconsole maps {', '.join(elements)} and sequenceFlow"

    def _refuse_mappings(self, element: Element) -> None:
        """Input/output mappings on an element whose kind maps no data would be dropped without a word."""
        for holder in element.findall(f"{{{BPMN}}}extensionElements"):
            for extension in holder:
                if extension.tag in (f"{{{ZEEBE}}}ioMapping", f"{{{CAMUNDA}}}inputOutput"):
                    self.report(extension, f"a {split(element.tag)[1]} has no mappings in wfconsole: only tasks "
                                           "map variables", inside=element)

    def _ident(self, element: Element) -> str | None:
        ident = element.get(f"{{{WF}}}id") or element.get("id")
        if not ident:
            self.report(element, "has no id")
        return ident or None

    # -- flows ------------------------------------------------------------------------------------------

    def _flow(self, element: Element) -> _Flow | None:
        ident = self._ident(element)
        for child in element:
            if split(child.tag)[1] not in _FLOW_PARTS:
                self.report(element, f"has a {qualified(child.tag)} (line {child.line}), which wfconsole does not "
                                     "map")
        missing = [ref for ref in ("sourceRef", "targetRef") if not element.get(ref)]
        if missing:
            self.report(element, f"has no {' and no '.join(missing)}: a flow goes from one element to another")
        expression = element.find(f"{{{BPMN}}}conditionExpression")
        condition = None if expression is None else read_condition(element, expression,
                                                                   self.root.get("expressionLanguage"), self.report)
        if ident is None or missing:
            return None
        return _Flow(element, ident, element.get("sourceRef", ""), element.get("targetRef", ""), condition)

    # -- gateways, references, defaults ---------------------------------------------------------------

    def _resolve(self, nodes: list[_FlowNode], flows: list[_Flow]) -> None:
        """Check each flow's ends and each default; decide each element's node(s): a gateway's role(s) by
        its flows."""
        by_xml_id = {node.element.get("id", ""): node for node in nodes}
        incoming: dict[str, int] = defaultdict(int)
        outgoing: dict[str, list[_Flow]] = defaultdict(list)
        for flow in flows:
            ends_found = True
            for end, ref in (("sourceRef", flow.source), ("targetRef", flow.target)):
                if ref in by_xml_id:
                    continue
                ends_found = False
                if ref in self.unmapped:
                    continue  # that element is reported already
                if ref in self.by_id:
                    self.report(flow.element, f"{end} {ref!r} is not a flow node of this process")
                else:
                    self.report(flow.element, f"{end} {ref!r} names no element of the file")
            if ends_found:
                incoming[flow.target] += 1
                outgoing[flow.source].append(flow)
        for node in nodes:
            xml_id = node.element.get("id", "")
            node.nodes = self._node_ids(node, incoming[xml_id], len(outgoing[xml_id]))
            self._check_default(node, outgoing[xml_id])

    def _node_ids(self, node: _FlowNode, incoming: int, outgoing: int) -> list[tuple[str, KindSpec]]:
        roles = {entry.bpmn.role: entry for entry in node.entries if entry.bpmn is not None}
        if None in roles:
            return [(node.ident, roles[None])]
        if incoming > 1 and outgoing > 1:
            wanted = [GatewayRole.JOIN, GatewayRole.SPLIT]
        elif incoming > 1 or (outgoing <= 1 and node.element.get("gatewayDirection") == "Converging"):
            wanted = [GatewayRole.JOIN]
        else:
            wanted = [GatewayRole.SPLIT]
        missing = [role for role in wanted if role not in roles]
        if missing:
            self.report(node.element, f"would be a {' and a '.join(missing)}, which no kind maps")
            return [(node.ident, next(iter(roles.values())))]
        if len(wanted) == 1:
            return [(node.ident, roles[wanted[0]])]
        return [(self._fresh(f"{node.ident}_join"), roles[GatewayRole.JOIN]), (node.ident, roles[GatewayRole.SPLIT])]

    def _check_default(self, node: _FlowNode, outgoing: list[_Flow]) -> None:
        default = node.element.get("default")
        if not default:
            return
        flow = next((flow for flow in outgoing if flow.element.get("id") == default), None)
        if flow is None:
            self.report(node.element, f"its default flow {default!r} is not one of its outgoing sequenceFlows")
        elif flow.condition is not None:
            self.report(flow.element, f"is the default flow of {split(node.element.tag)[1]} {node.ident!r} and has "
                                      "a condition: a default flow is taken when no condition holds, so it has none")

    def _fresh(self, base: str) -> str:
        candidate, number = base, 2
        while candidate in self.used_ids:
            candidate, number = f"{base}_{number}", number + 1
        self.used_ids.add(candidate)
        return candidate

    # -- the blueprint ----------------------------------------------------------------------------------

    def _assemble(self, process: Element, fields: dict[str, Any], nodes: list[_FlowNode], flows: list[_Flow],
                  ) -> ImportedBlueprint:
        by_xml_id = {node.element.get("id", ""): node for node in nodes}
        node_docs: list[dict[str, Any]] = []
        node_places: dict[str, Place] = {}
        edge_docs: list[dict[str, Any]] = []
        edge_places: dict[str, Place] = {}
        for node in nodes:
            place = Place(split(node.element.tag)[1], node.element.get("id", ""), node.element.line)
            for node_id, entry in node.nodes:
                node_docs.append({"id": node_id, **entry.written, **node.fields})
                node_places[node_id] = place
            if len(node.nodes) == 2:  # a gateway that joins and splits: the join leads to the split
                edge_id = self._fresh(f"{node.nodes[0][0]}_out")
                edge_docs.append({"id": edge_id, "source_id": node.entry_id, "target_id": node.exit_id})
                edge_places[edge_id] = place
        for flow in flows:
            edge: dict[str, Any] = {"id": flow.ident, "source_id": by_xml_id[flow.source].exit_id,
                                    "target_id": by_xml_id[flow.target].entry_id}
            if flow.condition is not None:
                edge["condition"] = flow.condition
            edge_docs.append(edge)
            edge_places[flow.ident] = Place("sequenceFlow", flow.element.get("id", ""), flow.element.line)
        blueprint = {**fields, "nodes": node_docs, "edges": edge_docs}
        return ImportedBlueprint(blueprint, Place("process", process.get("id", ""), process.line), node_places,
                                 edge_places)


def _name(element: Element) -> str | None:
    """An element's name; one written on several lines (as modelers let one) with each line break and the
    spaces around it as one space: a blueprint's names are one line."""
    name = element.get("name") or ""
    if any(char in name for char in "\r\n\t"):
        name = _BREAKS.sub(" ", name).strip()
    return name or None


def _version_tag(process: Element) -> tuple[Element, str] | None:
    for holder in process.findall(f"{{{BPMN}}}extensionElements"):
        for extension in holder.findall(f"{{{ZEEBE}}}versionTag"):
            return extension, (extension.get("value") or "").strip()
    tag = process.get(f"{{{CAMUNDA}}}versionTag")
    return (process, tag.strip()) if tag is not None else None


def _either(choices: list[str]) -> str:
    return choices[0] if len(choices) == 1 else ", ".join(choices[:-1]) + " or " + choices[-1]
