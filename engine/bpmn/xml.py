"""Parsing XML from outside, and the names BPMN files use.

A BPMN file is read with defusedxml's parser with every DTD refused: BPMN needs none, and a DTD is how entity
expansion (the "billion laughs") and external entities (reading local files, fetching URLs) get in. Expat
itself never fetches anything, XInclude is not processed and ``xsi:schemaLocation`` is not followed. Each
element remembers the line its start tag is on, for messages.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI = "http://www.omg.org/spec/BPMN/20100524/DI"
DC = "http://www.omg.org/spec/DD/20100524/DC"
DI = "http://www.omg.org/spec/DD/20100524/DI"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
ZEEBE = "http://camunda.org/schema/zeebe/1.0"
CAMUNDA = "http://camunda.org/schema/1.0/bpmn"
WF = "urn:wfconsole:bpmn:1"  # wfconsole's own attributes: exact ids and names where BPMN cannot hold them
PREFIXES = {BPMN: "bpmn", BPMNDI: "bpmndi", DC: "dc", DI: "di", XSI: "xsi", ZEEBE: "zeebe", CAMUNDA: "camunda",
            WF: "wf"}

_NCNAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")


class Element(ET.Element):
    """An element that knows the line of its start tag (0 when it was made, not parsed)."""

    line = 0


class XmlError(Exception):
    """XML that cannot be read: ``line`` and ``column`` where (0 when unknown) and what is wrong."""

    def __init__(self, message: str, line: int = 0, column: int = 0) -> None:
        super().__init__(message)
        self.message, self.line, self.column = message, line, column


def parse_xml(text: str) -> Element:
    """The root element of ``text``; :class:`XmlError` for text that is not well-formed XML or has a DTD."""
    # Imported here: defusedxml builds its own copy of ElementTree's Python parser when imported, which every
    # command would pay for through engine.kinds.
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import DefusedXMLParser

    parser: DefusedXMLParser | None = None

    def element(tag: str, attributes: dict[str, str]) -> Element:
        made = Element(tag, attributes)
        made.line = parser.parser.CurrentLineNumber if parser is not None else 0
        return made

    parser = DefusedXMLParser(target=ET.TreeBuilder(element_factory=element), forbid_dtd=True,
                              forbid_entities=True, forbid_external=True)
    try:
        parser.feed(text)  # a str: expat reads it as UTF-8, whatever the declaration says
        root = parser.close()
    except DefusedXmlException:
        raise XmlError("a DTD (<!DOCTYPE ...>) is not allowed: BPMN needs none, and its entities could expand "
                       "without bound or read other files", parser.parser.CurrentLineNumber,
                       parser.parser.CurrentColumnNumber + 1) from None
    except ET.ParseError as error:
        line, column = error.position
        message = str(error).split(": line ")[0]
        raise XmlError(message, line, column + 1) from None
    return root


def split(tag: str) -> tuple[str, str]:
    """``{namespace}local`` -> (namespace, local); ("", tag) without a namespace."""
    if tag.startswith("{"):
        namespace, _, local = tag[1:].partition("}")
        return namespace, local
    return "", tag


def qualified(tag: str) -> str:
    """``{namespace}local`` as a person reads it: ``zeebe:input``, ``serviceTask`` (BPMN's own, unprefixed),
    ``include (http://www.w3.org/2001/XInclude)`` (a namespace without a usual prefix)."""
    namespace, local = split(tag)
    if namespace == BPMN:
        return local
    prefix = PREFIXES.get(namespace)
    return f"{prefix}:{local}" if prefix else (f"{local} ({namespace})" if namespace else local)


def is_xml_id(text: str) -> bool:
    """Whether ``text`` can be an XML id as it is (an NCName, in ASCII)."""
    return bool(_NCNAME.fullmatch(text))


def looks_like_xml(text: str) -> bool:
    """Whether ``text`` is XML rather than JSON: its first character, after a byte order mark and white space,
    is ``<``."""
    return text.lstrip("\ufeff \t\r\n").startswith("<")
