"""Regression tests for bugs found by the property, racing and bad-input tests (shrunk counterexamples)."""

from __future__ import annotations

import pytest
from reliability.invariants import assert_instance

from engine import NoMatchingConditionError, WorkflowManager
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
