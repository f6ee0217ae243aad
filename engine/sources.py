"""A blueprint file's text, JSON or BPMN 2.0 XML: parsed, validated or compiled the same way.

JSON text goes to :mod:`engine.validate` unchanged (the Go engine's blueprints load as they always did). Text
whose first character is ``<`` is BPMN: :func:`engine.bpmn.reader.read_bpmn` turns it into a blueprint, which
is then validated like any other, and every problem the validator names by a node or edge also gets the BPMN
element and line it came from (``node 'review' (userTask, line 12): cannot reach an END event``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from engine.blueprint import Blueprint
from engine.bpmn.xml import looks_like_xml
from engine.errors import BlueprintError, Problem
from engine.graph import CompiledBlueprint
from engine.validate import compile_blueprint, parse_blueprint, validate

if TYPE_CHECKING:
    from engine.bpmn.reader import ImportedBlueprint, Place

_INDEXED = re.compile(r"(nodes|edges)\[(\d+)\](.*)")
_BLUEPRINT_FIELDS = ("workflow_id", "name", "version")


def is_bpmn(text: str) -> bool:
    """Whether ``text`` is read as BPMN XML (its first character is ``<``) rather than JSON."""
    return looks_like_xml(text)


def parse_text(text: str, origin: str | None = None) -> Blueprint:
    """The blueprint in ``text`` (JSON or BPMN), not validated; :class:`BlueprintError` when it cannot be read."""
    if not is_bpmn(text):
        return parse_blueprint(text, origin)
    imported = _read(text, origin)
    try:
        return parse_blueprint(imported.blueprint, origin)
    except BlueprintError as error:
        raise BlueprintError(_located(error.problems, imported), origin) from None


def validate_text(text: str, origin: str | None = None) -> list[Problem]:
    """Every error and warning of the blueprint in ``text`` (JSON or BPMN; a BPMN file's with their lines)."""
    if not is_bpmn(text):
        return validate(text, origin)
    try:
        imported = _read(text, origin)
    except BlueprintError as error:
        return error.problems
    return _located(validate(imported.blueprint, origin), imported)


def compile_text(text: str, origin: str | None = None) -> CompiledBlueprint:
    """Parse and validate the blueprint in ``text`` (JSON or BPMN); :class:`BlueprintError` lists every error."""
    if not is_bpmn(text):
        return compile_blueprint(text, origin)
    imported = _read(text, origin)
    try:
        return compile_blueprint(imported.blueprint, origin)
    except BlueprintError as error:
        raise BlueprintError(_located(error.problems, imported), origin) from None


def _read(text: str, origin: str | None) -> ImportedBlueprint:
    from engine.bpmn.reader import read_bpmn  # the reader and its XML parser only for BPMN files

    return read_bpmn(text, origin)


def _located(problems: list[Problem], imported: ImportedBlueprint) -> list[Problem]:
    """``problems`` with the BPMN element and line of each node, edge or blueprint field they name."""
    places = {f"node {ident!r}": place for ident, place in imported.nodes.items()}
    places |= {f"edge {ident!r}": place for ident, place in imported.edges.items()}
    return [Problem(_where(problem.where, imported, places), problem.message, problem.severity)
            for problem in problems]


def _where(where: str, imported: ImportedBlueprint, places: dict[str, Place]) -> str:
    """The validator names a node or edge as ``node 'id'`` (or by its index, ``nodes[3].name``), a field of
    the blueprint by its name."""
    if where in places:
        return f"{where} ({_place(where, places[where])})"
    indexed = _INDEXED.fullmatch(where)
    if indexed:
        kind, number, rest = indexed.group(1)[:-1], int(indexed.group(2)), indexed.group(3)
        items = imported.blueprint.get(indexed.group(1), [])
        named = f"{kind} {items[number].get('id', '')!r}" if number < len(items) else ""
        if named in places:
            return f"{named} ({_place(named, places[named])}){rest}"
        return where
    if where.split(".")[0] in _BLUEPRINT_FIELDS:
        return f"{where} (process {imported.process.element_id!r}, line {imported.process.line})"
    return where


def _place(named: str, place: Place) -> str:
    """``userTask, line 12``; ``exclusiveGateway 'g', line 8`` when the node's id is not its element's (the join
    a gateway that joins and splits becomes, an edge between the two)."""
    same = named.endswith(f" {place.element_id!r}")
    return f"{place.element}, line {place.line}" if same else f"{place.element} {place.element_id!r}, line {place.line}"
