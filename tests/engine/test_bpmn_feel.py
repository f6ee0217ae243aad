"""Simple FEEL conditions translated to CEL, and everything else refused with its column."""

from __future__ import annotations

import re

import pytest

from engine.bpmn.feel import FeelError, feel_to_cel
from engine.conditions import compile_condition


@pytest.mark.parametrize(("feel", "cel"), [
    ("=amount > 100", "amount > 100"),
    ('= status = "ok"', 'status == "ok"'),
    ("=a != 1", "a != 1"),
    ("=a <= 1 and b >= 2", "a <= 1 && b >= 2"),
    ("=a < 1 or b > 2 and c = true", "a < 1 || b > 2 && c == true"),
    ("=(a < 1 or b > 2) and c", "(a < 1 || b > 2) && c"),
    ("=not(done)", "!(done)"),
    ("= not(x = null)", "!(x == null)"),
    ("=order.total >= -1.5", "order.total >= -1.5"),
    ("=approved", "approved"),
    ('=name = "a \\"quoted\\" word"', 'name == "a \\"quoted\\" word"'),
    ("amount > 100", "amount > 100"),  # the leading = is Zeebe's; a FEEL-tagged condition may go without
])
def test_simple_feel_reads_the_same_in_cel(feel: str, cel: str) -> None:
    assert feel_to_cel(feel) == cel
    compile_condition(cel)  # and CEL takes it


def test_the_translation_means_the_same() -> None:
    """``and`` binds tighter than ``or`` in both: the translation keeps that without adding parentheses."""
    condition = compile_condition(feel_to_cel("=a = 1 or b = 1 and c = 1"))
    assert condition.evaluate({"a": 1, "b": 0, "c": 0}) is True
    assert condition.evaluate({"a": 0, "b": 1, "c": 0}) is False
    assert condition.evaluate({"a": 0, "b": 1, "c": 1}) is True


@pytest.mark.parametrize(("feel", "message", "column"), [
    ("=a + 1", "'+' is not part of the simple FEEL", 4),
    ("=count(items) > 1", "a function call (count(...)) is not translated", 7),
    ("=x in [1, 2]", "'[' is not part of the simple FEEL", 7),
    ("=x in y", "unexpected 'in'", 4),
    ("=x between 1 and 5", "unexpected 'between'", 4),
    ("=a = b = c", "unexpected '='", 8),
    ("=if a then b else c", "'if' is not translated", 2),
    ('=@"2024-01-01"', "'@' is not part of the simple FEEL", 2),
    ("=a >", "the condition ends too soon", 5),
    ("=", "an empty condition", 2),
    ("=(a", "the condition ends too soon", 4),
    ("=not a", "expected '('", 6),
    ('="\\x41"', "the escape \\x is not translated", 3),
    ("=" + "(" * 500 + "a" + ")" * 500, "nested too deeply", 2),
])
def test_anything_else_is_refused_with_its_column(feel: str, message: str, column: int) -> None:
    with pytest.raises(FeelError, match=f"(?s)^{re.escape(message)}.*\\(column {column}\\)$"):
        feel_to_cel(feel)


def test_a_variable_cel_reserves_has_no_translation() -> None:
    with pytest.raises(FeelError, match="'package' is not translated \\(CEL reserves the word"):
        feel_to_cel("=package = 1")
