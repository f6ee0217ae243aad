"""How a node kind is written in BPMN 2.0: the ``bpmn`` field of its entry in :data:`engine.kinds.KINDS`.

The reader looks a BPMN element up by (element name, event definition) in an index built from these forms,
and the writer writes each node as its kind's form says: neither has a branch per kind. A kind whose form
needs more than an element (a task's type and mappings, a timer's duration) says so with ``read`` and
``write``, which this module holds for the kinds that exist.

Tasks are read from and written as Camunda 8 (Zeebe) extensions, which Camunda Modeler shows and edits:
``zeebe:taskDefinition type`` is the ``task_id``, ``zeebe:ioMapping`` the mappings. Camunda 7's
``camunda:topic`` / ``camunda:type`` and simple ``camunda:inputOutput`` parameters are read too.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from engine.bpmn.xml import BPMN, CAMUNDA, WF, XSI, ZEEBE, Element
from engine.timing import weekday_field

if TYPE_CHECKING:
    from engine.blueprint import Node

FEEL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # a variable Zeebe reads as itself in "=name"
_JUEL_NAME = re.compile(r"\$\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}")


class GatewayRole(StrEnum):
    """Which side of a gateway element a kind is: it splits (several outgoing flows; BPMN's gatewayDirection
    ``Diverging``) or joins (several incoming; ``Converging``). An element that does both becomes two nodes."""

    SPLIT = "split"
    JOIN = "join"

    @property
    def direction(self) -> str:
        """The ``gatewayDirection`` the writer gives it."""
        return "Diverging" if self is GatewayRole.SPLIT else "Converging"


class Report(Protocol):
    """How what cannot be mapped is reported: the element (``inside`` the node's element, for a child or an
    extension of it) and what is wrong; the reader adds the element's id and line."""

    def __call__(self, element: Element, message: str, inside: Element | None = None) -> None: ...


class ReadContext(Protocol):
    """What a form's reader has besides its element: :meth:`report`, and the file's elements by id (what a
    message event's ``messageRef`` or a boundary event's ``attachedToRef`` names)."""

    def report(self, element: Element, message: str, inside: Element | None = None) -> None: ...

    def element(self, ident: str) -> Element | None: ...


@dataclass(frozen=True)
class Written:
    """What a form's writer adds to its element: ``extensions`` (in ``extensionElements``) and ``body``
    (children after ``incoming`` and ``outgoing``, such as an event definition with its content)."""

    extensions: list[Element] = field(default_factory=list)
    body: list[Element] = field(default_factory=list)


@dataclass(frozen=True)
class BpmnForm:
    """A node kind in BPMN.

    ``element``: the element the writer writes (in BPMN's namespace); ``accepts``: further elements the reader
    reads as this kind. ``definitions``: the event definitions (``timerEventDefinition``) an element of the
    kind carries, ``None`` for none; the first is written. ``role``: for a gateway, which side of its element
    the kind is. ``read(element, context)``: the node fields the element holds beyond its id, name and kind
    (``task_id``, mappings; a timer's duration), problems reported to the :class:`ReadContext`;
    ``write(node)``: what the writer adds.
    ``shape``: attributes of its diagram shape (an exclusive gateway's ``isMarkerVisible``, without which
    modelers leave out its X).
    """

    element: str
    accepts: tuple[str, ...] = ()
    definitions: tuple[str | None, ...] = (None,)
    role: GatewayRole | None = None
    read: Callable[[Element, ReadContext], dict[str, Any]] | None = None
    write: Callable[[Node], Written] | None = None
    shape: dict[str, str] = field(default_factory=dict)

    @property
    def elements(self) -> tuple[str, ...]:
        """Every element read as this kind, the written one first."""
        return (self.element, *(name for name in self.accepts if name != self.element))


# -- tasks -------------------------------------------------------------------------------------------------


def read_task(element: Element, context: ReadContext) -> dict[str, Any]:
    """A task's ``task_id`` (its Zeebe task type or Camunda 7 topic, else its id) and its input and output
    mappings (Zeebe io mappings, or Camunda 7 parameters of the form ``${name}``)."""
    report = context.report
    extensions = _extensions(element)
    inputs: dict[str, str] = {}
    outputs: dict[str, str] = {}
    for extension in extensions:
        if extension.tag == f"{{{ZEEBE}}}ioMapping":
            _zeebe_mappings(element, extension, inputs, outputs, report)
        elif extension.tag == f"{{{CAMUNDA}}}inputOutput":
            _camunda_mappings(element, extension, inputs, outputs, report)
    return {"task_id": _task_type(element, extensions, report), "input_mapping": inputs, "output_mapping": outputs}


def write_task(node: Node) -> Written:
    """``zeebe:taskDefinition`` with the ``task_id`` and, when the task maps anything, ``zeebe:ioMapping``
    (``source="=key"``; a key Zeebe would not read as one name also goes in ``wf:source`` / ``wf:target``)."""
    definition = Element(f"{{{ZEEBE}}}taskDefinition", {"type": node.task_id or ""})
    if not (node.input_mapping or node.output_mapping):
        return Written([definition])
    mapping = Element(f"{{{ZEEBE}}}ioMapping")
    for local, key in node.input_mapping.items():
        mapping.append(_zeebe_item("input", key, local))
    for local, key in node.output_mapping.items():
        mapping.append(_zeebe_item("output", local, key))
    return Written([definition, mapping])


def _zeebe_item(direction: str, source: str, target: str) -> Element:
    item = Element(f"{{{ZEEBE}}}{direction}", {"source": f"={source}", "target": target})
    if not FEEL_NAME.fullmatch(source):
        item.set(f"{{{WF}}}source", source)
    if not FEEL_NAME.fullmatch(target):
        item.set(f"{{{WF}}}target", target)
    return item


def _extensions(element: Element) -> list[Element]:
    found: list[Element] = []
    for holder in element.findall(f"{{{BPMN}}}extensionElements"):
        found.extend(holder)
    return found


def _task_type(element: Element, extensions: list[Element], report: Report) -> str:
    for extension in extensions:
        if extension.tag == f"{{{ZEEBE}}}taskDefinition":
            task_type = (extension.get("type") or "").strip()
            if task_type.startswith("="):
                report(extension, f"the task type {task_type!r} is an expression; wfconsole needs the name of the "
                                  "task itself (type=\"send_email\")", inside=element)
            if task_type:
                return task_type
    for attribute in ("topic", "type"):
        value = (element.get(f"{{{CAMUNDA}}}{attribute}") or "").strip()
        if value and value != "external":
            return value
    return element.get(f"{{{WF}}}id") or element.get("id") or ""


def _zeebe_mappings(task: Element, mapping: Element, inputs: dict[str, str], outputs: dict[str, str],
                    report: Report) -> None:
    """``zeebe:input source="=key" target="local"`` is ``input_mapping[local] = key``; ``zeebe:output
    source="=local" target="key"`` is ``output_mapping[local] = key``."""
    for item in mapping:
        if item.tag not in (f"{{{ZEEBE}}}input", f"{{{ZEEBE}}}output"):
            report(item, "is not a zeebe:input or zeebe:output", inside=task)
            continue
        direction = item.tag.rpartition("}")[2]
        source = item.get(f"{{{WF}}}source") or _zeebe_source(item, report, task)
        target = item.get(f"{{{WF}}}target") or _zeebe_target(item, report, task)
        if source is None or target is None:
            continue
        local, key = (target, source) if direction == "input" else (source, target)
        _put(inputs if direction == "input" else outputs, local, key, item, report, task, direction)


def _zeebe_target(item: Element, report: Report, task: Element) -> str | None:
    target = (item.get("target") or "").strip()
    if FEEL_NAME.fullmatch(target):
        return target
    report(item, f"target {target!r} is not one variable name; wfconsole maps whole variables" if target
           else "has no target", inside=task)
    return None


def _zeebe_source(item: Element, report: Report, task: Element) -> str | None:
    source = (item.get("source") or "").strip()
    name = source[1:].strip() if source.startswith("=") else None
    if name is not None and FEEL_NAME.fullmatch(name):
        return name
    if name is None:
        why = "is a constant, not a variable (a source names a variable as \"=name\")"
    else:
        why = "is an expression, not one variable (wfconsole maps a variable as it is: \"=name\")"
    report(item, f"source {source!r} {why}", inside=task)
    return None


def _camunda_mappings(task: Element, holder: Element, inputs: dict[str, str], outputs: dict[str, str],
                      report: Report) -> None:
    """``camunda:inputParameter name="local">${key}`` and ``camunda:outputParameter name="key">${local}``."""
    for parameter in holder:
        direction = {f"{{{CAMUNDA}}}inputParameter": "input", f"{{{CAMUNDA}}}outputParameter": "output"}.get(
            parameter.tag)
        name = (parameter.get("name") or "").strip()
        match = _JUEL_NAME.fullmatch((parameter.text or "").strip())
        if direction is None or not name or len(parameter) or match is None:
            report(parameter, "is not a parameter of the form ${variable}, which is all wfconsole maps (not a "
                              "script, list, map or expression)", inside=task)
            continue
        local, key = (name, match.group(1)) if direction == "input" else (match.group(1), name)
        _put(inputs if direction == "input" else outputs, local, key, parameter, report, task, direction)


def _put(mapping: dict[str, str], local: str, key: str, item: Element, report: Report, task: Element,
         direction: str) -> None:
    if local in mapping and mapping[local] != key:
        what = "input variable" if direction == "input" else "output variable"
        report(item, f"the {what} {local!r} is mapped twice ({mapping[local]!r} and {key!r}); wfconsole maps each "
                     "task variable once", inside=task)
        return
    mapping[local] = key


# -- timer events ------------------------------------------------------------------------------------------


def read_timer_event(element: Element, context: ReadContext) -> dict[str, Any]:
    """A timer catch event's ``timer``: its ``timeDuration`` (``PT15M``) or ``timeDate``; an expression ``=name``
    (Camunda 8) or ``${name}`` (Camunda 7) reads the context key ``name``. A cycle is refused (it repeats)."""
    _refuse_mappings(element, context, "a timer event")
    definition = element.find(f"{{{BPMN}}}timerEventDefinition")
    if definition is None:
        return {}
    found = [(name, child) for name in ("timeDuration", "timeDate", "timeCycle")
             if (child := definition.find(f"{{{BPMN}}}{name}")) is not None]
    if len(found) != 1:
        context.report(definition, "needs one timeDuration or timeDate", inside=element)
        return {}
    name, child = found[0]
    text = (child.text or "").strip()
    if name == "timeCycle":
        context.report(child, "a timeCycle repeats; wfconsole's timer events wait once (timeDuration or timeDate)",
                       inside=element)
        return {}
    key = text[1:].strip() if text.startswith("=") else (_JUEL_NAME.fullmatch(text) or [None, None])[1]
    if key is not None and FEEL_NAME.fullmatch(key):
        return {"timer": {"key": key}}
    return {"timer": {"duration": text} if name == "timeDuration" else {"date": text}}


def write_timer_event(node: Node) -> Written:
    """``timerEventDefinition`` with a ``timeDuration`` or ``timeDate`` (``=key`` for a context key)."""
    raw = node.extra("timer")
    definition = Element(f"{{{BPMN}}}timerEventDefinition")
    spec = {"duration": raw} if isinstance(raw, str) else dict(raw or {})
    if spec.get("key"):
        name, text = "timeDuration", f"={spec['key']}"
    elif spec.get("date"):
        name, text = "timeDate", str(spec["date"])
    else:
        name, text = "timeDuration", str(spec.get("duration", ""))
    child = Element(f"{{{BPMN}}}{name}", {f"{{{XSI}}}type": "bpmn:tFormalExpression"})
    child.text = text
    definition.append(child)
    return Written(body=[definition])


# -- timer starts ------------------------------------------------------------------------------------------

_CYCLE = re.compile(r"R(?P<count>\d*)/(?:(?P<start>[^/]+)/)?(?P<duration>P[^/]+)")
_CRON_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")


def read_start_event(element: Element, context: ReadContext) -> dict[str, Any]:
    """A start event's schedule, when it has a ``timerEventDefinition`` (a timer start): its ``timeCycle``, an
    endless ISO 8601 repetition (``R/PT1H``: ``{"interval": "PT1H"}``) or a cron expression (five fields, or
    Camunda's six or seven, starting with seconds, which must be 0). A start at one date (``timeDate``), a
    bounded or dated cycle (``R5/PT1H``, ``R/2026-01-01T09:00:00Z/PT1H``) and days of the week given as numbers
    in a six-field cron (Camunda 7 counts from Sunday = 1, Camunda 8 from Sunday = 0) are refused, each saying
    why. A plain start event has no fields beyond its id and name."""
    _refuse_mappings(element, context, "a startEvent")
    definition = element.find(f"{{{BPMN}}}timerEventDefinition")
    if definition is None:
        return {}
    ours = definition.get(f"{{{WF}}}cron") or definition.get(f"{{{WF}}}interval")
    if ours:  # written by wfconsole: the schedule as its blueprint had it
        return {"timer": {"cron" if definition.get(f"{{{WF}}}cron") else "interval": ours.strip()}}
    found = [(name, child) for name in ("timeCycle", "timeDate", "timeDuration")
             if (child := definition.find(f"{{{BPMN}}}{name}")) is not None]
    if len(found) != 1 or found[0][0] != "timeCycle":
        context.report(found[0][1] if len(found) == 1 else definition,
                       "a timer start needs one timeCycle (R/PT1H or a cron expression); wfconsole starts "
                       "instances on a repeating schedule, not once at a date or after a duration", inside=element)
        return {}
    child = found[0][1]
    text = (child.text or "").strip()
    cycle = _CYCLE.fullmatch(text)
    if cycle is not None:
        if cycle["count"] or cycle["start"]:
            context.report(child, f"timeCycle {text!r} repeats {'a number of times' if cycle['count'] else ''}"
                                  f"{' and ' if cycle['count'] and cycle['start'] else ''}"
                                  f"{'from a start date' if cycle['start'] else ''}; wfconsole's interval "
                                  "starts repeat without end from when the workflow is loaded (R/PT1H)",
                           inside=element)
            return {}
        return {"timer": {"interval": cycle["duration"]}}
    if text.startswith("=") or text.startswith("${") or text.startswith("#{"):
        context.report(child, f"timeCycle {text!r} is an expression; a timer start's schedule must be written "
                              "out (R/PT1H or a cron expression)", inside=element)
        return {}
    fields = text.split()
    if len(fields) in (6, 7):  # Camunda's cron: seconds first (and Quartz's optional year last)
        seconds, *fields = fields
        if len(fields) == 6:
            year = fields.pop()
            if year not in ("*", "?"):
                context.report(child, f"timeCycle {text!r} names a year ({year!r}); wfconsole's cron has no year "
                                      "field", inside=element)
                return {}
        if seconds != "0":
            context.report(child, f"timeCycle {text!r} fires at seconds {seconds!r}; wfconsole's cron starts "
                                  "run at most once a minute (seconds must be 0)", inside=element)
            return {}
        if re.search(r"\d", fields[4]):
            context.report(child, f"timeCycle {text!r}: its days of the week {fields[4]!r} are numbers, which "
                                  "Camunda 7 counts from Sunday = 1 and Camunda 8 from Sunday = 0; write them as "
                                  "names (MON-FRI)", inside=element)
            return {}
        fields = ["*" if f == "?" else f for f in fields]
    elif len(fields) != 5:
        context.report(child, f"timeCycle {text!r} is neither R/<duration> nor a cron expression (five fields, "
                              "or six starting with seconds)", inside=element)
        return {}
    return {"timer": {"cron": " ".join(fields)}}


def write_start_event(node: Node) -> Written:
    """A timer start as a ``timerEventDefinition`` with a ``timeCycle`` that Camunda reads (``R/PT1H``; a cron
    expression with seconds, the days of the week as names, ``?`` for the day not given), and the schedule as
    written in ``wf:cron`` / ``wf:interval``; a plain start, nothing."""
    raw = node.extra("timer")
    if not isinstance(raw, dict):
        return Written()
    if raw.get("interval"):
        attribute, text = "interval", f"R/{raw['interval']}"
    else:
        attribute, text = "cron", _camunda_cron(str(raw.get("cron", "")))
    definition = Element(f"{{{BPMN}}}timerEventDefinition",
                         {f"{{{WF}}}{attribute}": str(raw.get(attribute, ""))})
    child = Element(f"{{{BPMN}}}timeCycle", {f"{{{XSI}}}type": "bpmn:tFormalExpression"})
    child.text = text
    definition.append(child)
    return Written(body=[definition])


def _camunda_cron(cron: str) -> str:
    """``0 9 * * 1-5`` as Camunda writes it: ``0 0 9 ? * MON,TUE,WED,THU,FRI``."""
    fields = cron.split()
    if len(fields) != 5:
        return cron
    minute, hour, day, month, weekday = fields
    days = weekday_field(weekday).upper()
    if days == "*":
        days = "?"
    elif day == "*":
        day = "?"
    return " ".join(("0", minute, hour, day, month, days))


def _refuse_mappings(element: Element, context: ReadContext, what: str) -> None:
    """Input/output mappings on an element whose kind maps no data would be dropped without a word."""
    for extension in _extensions(element):
        if extension.tag in (f"{{{ZEEBE}}}ioMapping", f"{{{CAMUNDA}}}inputOutput"):
            context.report(extension, f"{what} has no mappings in wfconsole: only tasks map variables",
                           inside=element)


# -- message events ----------------------------------------------------------------------------------------


def read_message_event(element: Element, context: ReadContext) -> dict[str, Any]:
    """A message catch event's ``message``: the name of the ``message`` element its ``messageRef`` names (or
    wfconsole's own ``wf:message``); its ``output_mapping`` from Zeebe output mappings, as a task's."""
    definition = element.find(f"{{{BPMN}}}messageEventDefinition")
    name = definition.get(f"{{{WF}}}message") if definition is not None else None
    if not name and definition is not None and definition.get("messageRef"):
        message = context.element(definition.get("messageRef") or "")
        name = (message.get("name") if message is not None else None) or definition.get("messageRef")
    if not name:
        context.report(definition if definition is not None else element,
                       "names no message (a messageRef to a message with a name)", inside=element)
        return {}
    fields: dict[str, Any] = {"message": name.strip()}
    outputs: dict[str, str] = {}
    for extension in _extensions(element):
        if extension.tag == f"{{{ZEEBE}}}ioMapping":
            _zeebe_mappings(element, extension, {}, outputs, context.report)
    if outputs:
        fields["output_mapping"] = outputs
    return fields


def write_message_event(node: Node) -> Written:
    """``messageEventDefinition`` with the message's name in ``wf:message``; the payload's mapping as Zeebe
    output mappings."""
    definition = Element(f"{{{BPMN}}}messageEventDefinition", {f"{{{WF}}}message": str(node.extra("message") or "")})
    extensions = []
    if node.output_mapping:
        mapping = Element(f"{{{ZEEBE}}}ioMapping")
        for local, key in node.output_mapping.items():
            mapping.append(_zeebe_item("output", local, key))
        extensions.append(mapping)
    return Written(extensions=extensions, body=[definition])
