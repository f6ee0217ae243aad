"""Regression tests for bugs found by the property, racing and bad-input tests (shrunk counterexamples)."""

from __future__ import annotations

import pytest
from reliability.invariants import assert_instance

from engine import BlueprintError, InvalidValueError, NoMatchingConditionError, WorkflowManager
from engine.validate import compile_blueprint
from store import open_store

START = {"id": "start", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "START"}
END = {"id": "end", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "END"}


def _xsplit(node_id: str) -> dict:
    return {"id": node_id, "type": "INTERNAL", "internal_type": "GATEWAY", "gateway_type": "EXCLUSIVE_SPLIT"}


TWO_SPLITS = {
    "workflow_id": "two_splits",
    "nodes": [START, _xsplit("xs1"), _xsplit("xs2"), {"id": "t", "type": "TASK", "task_id": "job"}, END],
    "edges": [
        {"id": "e0", "source_id": "start", "target_id": "xs1"},
        {"id": "e1", "source_id": "xs1", "target_id": "xs2", "condition": "v0 == 1"},
        {"id": "e2", "source_id": "xs2", "target_id": "t", "condition": "v1 == 1"},
        {"id": "e3", "source_id": "t", "target_id": "end"},
    ],
}


@pytest.fixture
def manager():
    store = open_store(":memory:")
    manager = WorkflowManager(store)
    manager.add_workflow(TWO_SPLITS)
    yield manager
    store.close()


def test_retry_instance_moves_on_to_a_later_split_that_matches_nothing(manager) -> None:
    """Found by test_properties: an instance FAILED at split xs1; the operator fixed xs1's variable and
    retried; xs1 now matched but the next split xs2 did not. retry_instance raised "no condition matched
    at 'xs2'" yet rolled everything back, leaving the instance FAILED at xs1 — the error named a split the
    instance was not at, and the operator could not get past xs1 without guessing xs2's variables too.

    Now the retry is committed as far as it goes: the instance is FAILED at xs2 (as task_done would leave
    it), the error names xs2, and fixing xs2 and retrying again resumes it.
    """
    bp = compile_blueprint(TWO_SPLITS)
    with pytest.raises(NoMatchingConditionError, match="'xs1'"):
        manager.start_workflow("two_splits", {})
    instance_id = manager.list_instances()[0].id
    manager.set_variables(instance_id, {"v0": 1})
    with pytest.raises(NoMatchingConditionError, match="'xs2'") as raised:
        manager.retry_instance(instance_id, actor="erin")
    assert raised.value.node_id == "xs2"
    view = manager.get_status(instance_id)
    assert view.status == "FAILED" and "'xs2'" in view.error
    assert [(t.node_id, t.status) for t in view.tokens] == [("xs2", "FAILED")]
    assert_instance(view, bp, structured=True)

    manager.set_variables(instance_id, {"v1": 1})
    manager.retry_instance(instance_id, actor="erin")
    view = manager.get_status(instance_id)
    assert view.status == "ACTIVE" and view.error is None
    assert [t.node_id for t in view.tokens] == ["t"]
    assert_instance(view, bp, structured=True)


def test_retry_instance_still_failing_at_its_own_split_changes_nothing(manager) -> None:
    with pytest.raises(NoMatchingConditionError):
        manager.start_workflow("two_splits", {})
    instance_id = manager.list_instances()[0].id
    before = manager.get_status(instance_id)
    with pytest.raises(NoMatchingConditionError, match="'xs1'"):
        manager.retry_instance(instance_id)
    assert manager.get_status(instance_id) == before


# -- blueprints the store could not write: found by the bad-input corpus ---------------------------

ONE_TASK = {
    "workflow_id": "w",
    "nodes": [START, {"id": "t", "type": "TASK", "task_id": "job"}, END],
    "edges": [{"id": "e0", "source_id": "start", "target_id": "t"}, {"id": "e1", "source_id": "t", "target_id": "end"}],
}


def _nested(depth: int) -> list:
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize("blueprint, message", [
    # Each of these escaped add_workflow as a bare ValueError / OverflowError / UnicodeDecodeError /
    # PydanticSerializationError instead of a BlueprintError, from the store's JSON encoder or SQLite.
    ({**ONE_TASK, "layout": {"zoom": float("nan")}}, "NaN or an infinite number"),
    ('{"workflow_id": "w", "nodes": [], "zoom": Infinity}', "NaN or an infinite number"),
    ({**ONE_TASK, "workflow_id": "bad\ud800id"}, "not valid Unicode"),
    ({**ONE_TASK, "notes": _nested(300)}, "nested too deeply"),
    (b'{"workflow_id": "caf\xe9"}', "not UTF-8"),
    ({**ONE_TASK, "version": 10**30}, "version: must be at most 9223372036854775807"),
], ids=["nan", "json-infinity", "surrogate", "nested-extra-field", "latin-1-bytes", "huge-version"])
def test_blueprints_the_store_cannot_write_are_refused_with_a_blueprint_error(blueprint, message) -> None:
    store = open_store(":memory:")
    manager = WorkflowManager(store)
    with pytest.raises(BlueprintError, match=message):
        manager.add_workflow(blueprint)
    assert manager.store.list_blueprints() == []
    store.close()


@pytest.mark.parametrize("values, message", [
    # Both escaped as a bare ValueError / UnicodeEncodeError from the store's JSON encoder.
    ({"n": 10**5000}, r"\['n'\]: an integer too large"),
    ({"s": "caf\ud800"}, r"\['s'\]: a string that is not valid Unicode"),
    ({"deep": {"k\udfff": 1}}, r"\['deep'\]: .*not valid Unicode"),
    ({"bad\ud800": 1}, r"key 'bad\\ud800' is not valid Unicode"),
], ids=["huge-int", "surrogate", "surrogate-nested-key", "surrogate-key"])
def test_values_json_text_cannot_carry_are_refused_naming_the_key(values, message) -> None:
    store = open_store(":memory:")
    manager = WorkflowManager(store)
    manager.add_workflow(ONE_TASK)
    executions: list[str] = []
    manager.register_task_handler(lambda payload: executions.append(payload.execution_id))
    instance_id = manager.start_workflow("w")
    before = manager.get_status(instance_id)
    for call, what in ((lambda: manager.task_done(executions[0], values), "outputs"),
                       (lambda: manager.set_variables(instance_id, values), "variables"),
                       (lambda: manager.start_workflow("w", values), "initial context")):
        with pytest.raises(InvalidValueError, match=rf"{what}.*{message}"):
            call()
    assert manager.get_status(instance_id) == before
    assert len(manager.list_instances()) == 1
    store.close()


def test_ids_and_texts_that_are_not_valid_unicode_give_a_workflow_error() -> None:
    """A shell hands undecodable bytes to Python as lone surrogates (``wfconsole status $'\\xff'``). Ids,
    reasons, errors and actors holding one escaped every API call as a bare UnicodeEncodeError from the
    SQLite driver; now they are an InvalidValueError naming the text, and nothing is written."""
    store = open_store(":memory:")
    manager = WorkflowManager(store)
    manager.add_workflow(ONE_TASK)
    executions: list[str] = []
    manager.register_task_handler(lambda payload: executions.append(payload.execution_id))
    instance_id = manager.start_workflow("w")
    before = manager.get_status(instance_id)
    bad = "x\udcff"
    for call in (lambda: manager.get_status(bad), lambda: manager.start_workflow(bad),
                 lambda: manager.cancel(bad, "r"), lambda: manager.cancel(instance_id, bad),
                 lambda: manager.fail_task(executions[0], bad),
                 lambda: manager.set_variables(instance_id, {"a": 1}, actor=bad),
                 lambda: manager.get_execution(f"{bad}:t:00000000-0000-4000-8000-000000000001")):
        with pytest.raises(InvalidValueError, match=r"not valid Unicode.*x\\udcff"):
            call()
    assert manager.get_status(instance_id) == before
    store.close()


def test_replay_of_an_end_reached_in_the_step_of_a_no_match() -> None:
    """Found by test_properties (blueprints with an END inside a branch), shrunk: a parallel split whose
    empty branch reaches an END while another branch's exclusive split matches nothing, in one step. The
    machine completes the instance and clears the no-match error (commit 1535d08), but the replay kept
    the error of the INSTANCE_FAILED entry: replay != stored state."""
    def gateway(node_id: str, kind: str) -> dict:
        return {"id": node_id, "type": "INTERNAL", "internal_type": "GATEWAY", "gateway_type": kind}

    blueprint = {
        "workflow_id": "end_in_branch",
        "nodes": [START, gateway("ps", "PARALLEL_SPLIT"), gateway("pj", "PARALLEL_JOIN"),
                  gateway("xs", "EXCLUSIVE_SPLIT"), {"id": "t", "type": "TASK", "task_id": "job"}, END,
                  {"id": "end2", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "END"}],
        "edges": [{"id": "e0", "source_id": "start", "target_id": "ps"},
                  {"id": "e1", "source_id": "ps", "target_id": "pj"},
                  {"id": "e2", "source_id": "ps", "target_id": "xs"},
                  {"id": "e3", "source_id": "xs", "target_id": "t", "condition": "v0 == 0"},
                  {"id": "e4", "source_id": "t", "target_id": "end2"},
                  {"id": "e5", "source_id": "pj", "target_id": "end"}],
    }
    store = open_store(":memory:")
    manager = WorkflowManager(store)
    manager.add_workflow(blueprint)
    instance_id = manager.start_workflow("end_in_branch", {})
    view = manager.get_status(instance_id)
    assert view.status == "COMPLETED" and view.error is None
    assert_instance(view, compile_blueprint(blueprint))
    store.close()


def test_retry_instance_stopped_at_two_splits_when_the_first_resumes_to_an_end() -> None:
    """Two branches of a parallel split stop at exclusive splits in one step (the instance is FAILED with
    two FAILED tokens). After set_variables, retry_instance resumed the first, which reached an END and
    completed the instance (removing every token); it then tried to remove the second token again and
    raised a bare KeyError, every time: the instance could never be resumed."""
    def gateway(node_id: str, kind: str) -> dict:
        return {"id": node_id, "type": "INTERNAL", "internal_type": "GATEWAY", "gateway_type": kind}

    blueprint = {
        "workflow_id": "two_stops",
        "nodes": [START, gateway("ps", "PARALLEL_SPLIT"), gateway("xs1", "EXCLUSIVE_SPLIT"),
                  gateway("xs2", "EXCLUSIVE_SPLIT"), {"id": "t", "type": "TASK", "task_id": "job"}, END],
        "edges": [{"id": "e0", "source_id": "start", "target_id": "ps"},
                  {"id": "e1", "source_id": "ps", "target_id": "xs1"},
                  {"id": "e2", "source_id": "ps", "target_id": "xs2"},
                  {"id": "e3", "source_id": "xs1", "target_id": "end", "condition": "a == 1"},
                  {"id": "e4", "source_id": "xs2", "target_id": "t", "condition": "b == 1"},
                  {"id": "e5", "source_id": "t", "target_id": "end"}],
    }
    store = open_store(":memory:")
    manager = WorkflowManager(store)
    manager.add_workflow(blueprint)
    with pytest.raises(NoMatchingConditionError):
        manager.start_workflow("two_stops", {})
    instance_id = manager.list_instances()[0].id
    assert sorted(t.node_id for t in manager.get_status(instance_id).tokens) == ["xs1", "xs2"]
    manager.set_variables(instance_id, {"a": 1, "b": 1})
    manager.retry_instance(instance_id)
    view = manager.get_status(instance_id)
    assert view.status == "COMPLETED" and view.tokens == [] and view.error is None
    assert_instance(view, compile_blueprint(blueprint))
    store.close()
