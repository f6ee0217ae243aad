"""CEL edge conditions (SPEC §2): compiled once, unset variables are null, never Python ``eval``."""

from __future__ import annotations

import builtins

import pytest

from engine.conditions import (
    MAX_CONDITION_LENGTH,
    ConditionError,
    ConditionEvaluationError,
    compile_condition,
)


@pytest.mark.parametrize(
    ("source", "context", "expected"),
    [
        ("ok == true", {"ok": True}, True),
        ("ok == true", {"ok": False}, False),
        ("status == 'approved'", {"status": "approved"}, True),
        ("status == 'approved'", {"status": "pending"}, False),
        ("amount > 100 && region in ['EU', 'US']", {"amount": 150, "region": "EU"}, True),
        ("amount > 100 && region in ['EU', 'US']", {"amount": 150, "region": "APAC"}, False),
        ("amount > 100 && region in ['EU', 'US']", {"amount": 50, "region": "EU"}, False),
        ("size(items) >= 2", {"items": [1, 2]}, True),
        ("name.startsWith('Al')", {"name": "Alice"}, True),
        ("order.total > 10.5", {"order": {"total": 11.0}}, True),
        ("!(ok)", {"ok": False}, True),
    ],
)
def test_condition_evaluates_against_the_context(source, context, expected):
    assert compile_condition(source).evaluate(context) is expected


def test_compile_records_the_variables_the_condition_reads():
    assert set(compile_condition("amount > 100 && region == 'EU'").variables) == {"amount", "region"}


def test_unset_variable_is_null():
    assert compile_condition("x == null").evaluate({}) is True
    assert compile_condition("x == null").evaluate({"x": 1}) is False


def test_unset_variable_does_not_equal_true():
    assert compile_condition("ok == true").evaluate({}) is False


def test_null_context_value_is_null():
    assert compile_condition("x == null").evaluate({"x": None}) is True


def test_evaluation_does_not_change_the_context():
    context = {"a": 1}
    compile_condition("b == null && a == 1").evaluate(context)
    assert context == {"a": 1}


def test_only_the_variables_a_condition_names_are_handed_to_the_evaluator():
    # The evaluator converts every value it is given (a list of thousands of objects cost milliseconds per
    # evaluation): it must see only what the condition reads. A value it cannot convert shows whether it saw
    # the rest of the context.
    unconvertible = object()
    assert compile_condition("ok == true").evaluate({"ok": True, "documents": unconvertible}) is True
    with pytest.raises(ConditionEvaluationError):
        compile_condition("ok == true && documents != null").evaluate({"ok": True, "documents": unconvertible})


@pytest.mark.parametrize(
    ("source", "context", "expected"),
    [
        ("items.exists(i, i > limit)", {"items": [1, 5], "limit": 3}, True),
        ("items.exists(i, i > limit)", {"items": [1, 5], "limit": 9, "i": 100}, False),
        ("m.all(k, m[k] > z)", {"m": {"a": 2, "b": 3}, "z": 1}, True),
        ("[1, 2].map(v, v * w)[1] == 4", {"w": 2}, True),
        ("has(order.total) && order.total > 1", {"order": {"total": 2}}, True),
        ("a.b.c == 'q'", {"a": {"b": {"c": "q"}}}, True),
    ],
)
def test_comprehension_and_nested_names_evaluate_as_with_the_whole_context(source, context, expected):
    assert compile_condition(source).evaluate(context) is expected


def test_non_boolean_result_is_an_evaluation_error_naming_the_condition():
    condition = compile_condition("amount + 1")
    with pytest.raises(ConditionEvaluationError, match=r"'amount \+ 1' gave int 2, not a boolean"):
        condition.evaluate({"amount": 1})


def test_type_mismatch_is_an_evaluation_error_naming_the_condition():
    condition = compile_condition("amount > 100")
    with pytest.raises(ConditionEvaluationError, match="'amount > 100'"):
        condition.evaluate({"amount": "lots"})


def test_comparing_an_unset_variable_with_a_number_is_an_evaluation_error():
    with pytest.raises(ConditionEvaluationError):
        compile_condition("amount > 100").evaluate({})


def test_syntax_error_gives_line_and_column():
    with pytest.raises(ConditionError) as caught:
        compile_condition("ok ==")
    assert (caught.value.line, caught.value.column) == (1, 6)
    assert "line 1, column 6" in str(caught.value)


def test_unknown_function_is_refused_at_compile_time():
    with pytest.raises(ConditionError, match="unknown function 'exec'"):
        compile_condition("exec('rm -rf /') == true")


def test_condition_at_the_size_limit_compiles_and_longer_is_refused():
    operand = " || x == 1"
    at_limit = "x == 1" + operand * ((MAX_CONDITION_LENGTH - 6) // len(operand))
    at_limit += " " * (MAX_CONDITION_LENGTH - len(at_limit))
    assert len(at_limit) == MAX_CONDITION_LENGTH
    assert compile_condition(at_limit).evaluate({"x": 1}) is True
    with pytest.raises(ConditionError, match=f"the limit is {MAX_CONDITION_LENGTH}"):
        compile_condition(at_limit + " ")


def test_python_expressions_are_not_conditions():
    for source in ("__import__('os').system('true')", "[x for x in range(3)]", "lambda: True"):
        with pytest.raises(ConditionError):
            compile_condition(source)


def test_conditions_never_use_python_eval_or_exec(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("Python eval/exec was called")

    monkeypatch.setattr(builtins, "eval", forbidden)
    monkeypatch.setattr(builtins, "exec", forbidden)
    condition = compile_condition("amount > 100 && region in ['EU', 'US']")
    assert condition.evaluate({"amount": 101, "region": "US"}) is True


def test_python_names_in_context_are_only_data():
    # A context value that looks like code is compared as a string, never run.
    condition = compile_condition("cmd == \"__import__('os')\"")
    assert condition.evaluate({"cmd": "__import__('os')"}) is True
