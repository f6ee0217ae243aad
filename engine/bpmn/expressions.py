"""A sequenceFlow's condition as CEL: CEL as written, Camunda 7's ``${...}`` read as the CEL inside it, simple
FEEL translated (:mod:`engine.bpmn.feel`); any other language refused. The result is compiled here, so that a
condition that does not compile is reported with the others of its file, with its line."""

from __future__ import annotations

import re

from engine.bpmn.feel import FeelError, feel_to_cel
from engine.bpmn.forms import Report
from engine.bpmn.xml import Element
from engine.conditions import ConditionError, compile_condition

CEL_LANGUAGE = "https://cel.dev"  # what the writer puts in a condition's language attribute
_CEL_LANGUAGES = {"cel", "https://cel.dev", "http://cel.dev", "https://github.com/google/cel-spec"}
_JUEL = re.compile(r"[$#]\{(.*)\}", re.DOTALL)


def read_condition(flow: Element, expression: Element, file_language: str | None, report: Report) -> str | None:
    """The CEL text of ``flow``'s ``conditionExpression`` (``None``: no condition), compiled; each problem
    reported. ``file_language`` is the definitions' ``expressionLanguage``, which counts when it is CEL or
    FEEL (BPMN's default, XPath, is ignored: modelers leave it so whatever their conditions are in)."""
    cel = _cel(flow, expression, file_language, report)
    if cel is not None:
        try:
            compile_condition(cel)
        except ConditionError as error:
            report(expression, f"the condition {_short(cel)} (as CEL): {error}", inside=flow)
    return cel


def _cel(flow: Element, expression: Element, file_language: str | None, report: Report) -> str | None:
    if len(expression):
        report(expression, "holds elements; a condition is text", inside=flow)
        return None
    text = expression.text or ""
    if file_language is not None and not (is_cel(file_language) or _is_feel(file_language)):
        file_language = None
    language = (expression.get("language") or file_language or "").strip()
    if is_cel(language):
        return text if text.strip() else None  # as written, to the space: what the writer wrote
    stripped = text.strip()
    if not stripped:
        return None
    if _is_feel(language) or (not language and stripped.startswith("=")):
        try:
            return feel_to_cel(stripped)
        except FeelError as error:
            report(expression, f"the condition {_short(stripped)} is not simple FEEL that wfconsole translates to "
                               f"CEL: {error}; write a comparison such as '=amount > 100' or CEL with "
                               f"language=\"{CEL_LANGUAGE}\"", inside=flow)
            return None
    if language:
        report(expression, f"the condition is in {language!r}; wfconsole reads CEL and simple FEEL", inside=flow)
        return None
    juel = _JUEL.fullmatch(stripped)
    return juel.group(1).strip() if juel else stripped


def is_cel(language: str) -> bool:
    """Whether a ``language`` attribute names CEL."""
    return language.lower().rstrip("/") in _CEL_LANGUAGES


def _is_feel(language: str) -> bool:
    return "feel" in language.lower()


def _short(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[:limit - 1] + "…")
