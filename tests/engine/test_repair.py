"""Repairs: moving tokens and migrating versions, each checked with the validator's soundness rules first."""

from __future__ import annotations

import blueprints as bps
import pytest

from engine import HistoryKind, WorkflowError, WorkflowManager
from engine.errors import InvalidStateError, InvalidValueError
from engine.repair import RepairRefusedError
from engine.replay import differences


def _tokens(manager: WorkflowManager, instance_id: str) -> list[tuple[str, str]]:
    return sorted((t.node_id, str(t.status)) for t in manager.get_status(instance_id).tokens)


def _open(manager: WorkflowManager, instance_id: str) -> list[str]:
    return sorted(e.node_id for e in manager.get_status(instance_id).executions if e.status == "ACTIVE")


def test_skip_to_cancels_the_task_and_creates_the_next_execution(manager, recorder) -> None:
    manager.add_workflow(bps.two_tasks())
    instance_id = manager.start_workflow("two_tasks")
    manager.move_tokens(instance_id, remove=["first"], add=["second"], actor="ops")
    view = manager.get_status(instance_id)
    assert _tokens(manager, instance_id) == [("second", "ACTIVE")]
    assert [(e.node_id, e.status) for e in view.executions] == [("first", "CANCELLED"), ("second", "ACTIVE")]
    assert recorder.nodes() == ["first", "second"]  # the new execution was dispatched after commit
    marker = next(h for h in view.history if h.kind is HistoryKind.INSTANCE_MODIFIED)
    assert marker.actor == "ops" and marker.details["removed"] == ["first"] and marker.details["forced"] is False
    assert differences(view) == []


def test_go_back_to_an_earlier_task_rebuilds_its_inputs_from_the_context(manager, recorder) -> None:
    manager.add_workflow(bps.loop())
    instance_id = manager.start_workflow("loop", {"count": 1})
    manager.task_done(recorder.execution_id("work"), {"n": 2})
    manager.set_variables(instance_id, {"count": 7})
    manager.move_tokens(instance_id, remove=["work"], add=["work"])  # run the task again
    assert recorder.for_node("work")[-1].inputs == {"n": 7}
    assert differences(manager.get_status(instance_id)) == []


def test_removing_a_branch_leaves_a_join_that_can_never_fire_and_is_refused(manager) -> None:
    manager.add_workflow(bps.parallel())
    instance_id = manager.start_workflow("parallel")
    before = manager.get_status(instance_id)
    with pytest.raises(RepairRefusedError) as refused:
        manager.move_tokens(instance_id, remove=["task_b"], add=[])
    assert "could never finish" in str(refused.value)
    assert any(f.kind == "join_cannot_fire" and f.node_id == "p_join" for f in refused.value.findings)
    assert manager.get_status(instance_id) == before  # nothing changed


def test_a_forced_repair_is_applied_and_recorded_as_forced(manager) -> None:
    manager.add_workflow(bps.parallel())
    instance_id = manager.start_workflow("parallel")
    manager.move_tokens(instance_id, remove=["task_b"], add=[], forced=True, actor="ops")
    view = manager.get_status(instance_id)
    marker = next(h for h in view.history if h.kind is HistoryKind.INSTANCE_MODIFIED)
    assert marker.details["forced"] is True and any("p_join" in p for p in marker.details["problems"])
    assert differences(view) == []


def test_a_token_placed_inside_a_parallel_block_without_its_siblings_is_found(manager) -> None:
    manager.add_workflow(bps.parallel_then_task())
    instance_id = manager.start_workflow("parallel_then_task")
    manager.task_done(manager.get_status(instance_id).executions[0].id, {})
    manager.task_done(manager.get_status(instance_id).executions[1].id, {})
    preview = manager.preview_repair(instance_id, remove=["after"], add=["task_a"])
    assert [f.kind for f in preview.findings] == ["cannot_finish", "join_cannot_fire"]
    assert "without its siblings" in str(preview.findings[1])
    assert _tokens(manager, instance_id) == [("after", "ACTIVE")]  # the preview applied nothing


def test_removing_every_token_is_refused_even_forced(manager) -> None:
    manager.add_workflow(bps.linear())
    instance_id = manager.start_workflow("linear")
    with pytest.raises(RepairRefusedError, match="cancel it instead"):
        manager.move_tokens(instance_id, remove=["task_a"], add=[], forced=True)


def test_moving_the_failed_token_off_a_split_resumes_the_instance(manager, recorder) -> None:
    manager.add_workflow(bps.no_match())
    instance_id = manager.start_workflow("no_match")
    with pytest.raises(WorkflowError):  # 'maybe' matches no condition: the instance stops FAILED at the split
        manager.task_done(recorder.execution_id("task_init"), {"status": "maybe"})
    assert manager.get_status(instance_id).status == "FAILED"
    manager.move_tokens(instance_id, remove=["split"], add=["task_b"], actor="ops")
    view = manager.get_status(instance_id)
    assert (view.status, view.error) == ("ACTIVE", None)
    assert _tokens(manager, instance_id) == [("task_b", "ACTIVE")]
    assert recorder.nodes()[-1] == "task_b"
    assert differences(view) == []


def test_unknown_nodes_and_empty_nodes_are_named(manager) -> None:
    manager.add_workflow(bps.two_tasks())
    instance_id = manager.start_workflow("two_tasks")
    with pytest.raises(InvalidValueError, match="has no node 'secnd'; did you mean 'second'"):
        manager.move_tokens(instance_id, remove=["first"], add=["secnd"])
    with pytest.raises(InvalidStateError, match="holds no token at 'second'; its tokens are at 'first'"):
        manager.move_tokens(instance_id, remove=["second"], add=["first"])


def test_migration_keeps_a_task_whose_node_stays_and_moves_the_version(manager, recorder) -> None:
    manager.add_workflow(bps.linear(version=1))
    instance_id = manager.start_workflow("linear")
    [execution] = manager.get_status(instance_id).executions
    manager.add_workflow(bps.linear(version=2))
    manager.migrate(instance_id, 2, actor="ops")
    view = manager.get_status(instance_id)
    assert view.version == 2 and [e.id for e in view.executions] == [execution.id]  # kept as it was
    assert manager.task_done(execution.id, {"local_out": 1}).applied
    assert manager.get_status(instance_id).status == "COMPLETED"
    marker = next(h for h in manager.get_status(instance_id).history if h.kind is HistoryKind.INSTANCE_MIGRATED)
    assert (marker.details["from_version"], marker.details["to_version"], marker.actor) == (1, 2, "ops")
    assert differences(manager.get_status(instance_id)) == []


def test_migration_refuses_naming_each_token_without_a_target_and_maps_renamed_nodes(manager, recorder) -> None:
    manager.add_workflow(bps.parallel())
    instance_id = manager.start_workflow("parallel")
    renamed = bps.parallel()
    renamed["version"] = 2
    for node in renamed["nodes"]:
        if node["id"] in ("task_a", "task_b"):
            node["id"] = node["id"].replace("task_", "step_")
    for edge in renamed["edges"]:
        edge["source_id"] = edge["source_id"].replace("task_", "step_")
        edge["target_id"] = edge["target_id"].replace("task_", "step_")
    manager.add_workflow(renamed)
    with pytest.raises(InvalidStateError) as refused:
        manager.migrate(instance_id, 2)
    assert "'task_a' has no node in version 2 (new task nodes there: 'step_a', 'step_b')" in str(refused.value)
    assert "'task_b' has no node in version 2" in str(refused.value)
    manager.migrate(instance_id, 2, {"task_a": "step_a", "task_b": "step_b"})
    view = manager.get_status(instance_id)
    assert view.version == 2 and _open(manager, instance_id) == ["step_a", "step_b"]
    assert {p.node_id for p in recorder.payloads[-2:]} == {"step_a", "step_b"}  # new executions, dispatched
    assert differences(view) == []


def test_migration_to_a_kind_that_differs_is_refused(manager) -> None:
    manager.add_workflow(bps.two_tasks())
    instance_id = manager.start_workflow("two_tasks")
    manager.add_workflow(bps.blueprint("two_tasks", [bps.start(), bps.xsplit("first"), bps.end()],
                                       [bps.edge("e1", "start", "first"), bps.edge("e2", "first", "end")],
                                       version=2))
    with pytest.raises(InvalidStateError, match=r"'first' \(task\) cannot go to 'first' \(exclusive split\)"):
        manager.migrate(instance_id, 2)


def test_steps_in_a_batch_are_recorded_with_its_id(manager) -> None:
    manager.add_workflow(bps.linear())
    ids = [manager.start_workflow("linear") for _ in range(2)]
    with manager.batch("batch-1"):
        for instance_id in ids:
            manager.cancel(instance_id, "cleanup", actor="ops")
    for instance_id in ids:
        view = manager.get_status(instance_id)
        assert view.history[-1].kind is HistoryKind.BATCH_ITEM and view.history[-1].details == {"batch_id": "batch-1"}
        assert differences(view) == []
    other = manager.start_workflow("linear")
    manager.cancel(other, "alone")
    assert all(h.kind is not HistoryKind.BATCH_ITEM for h in manager.get_status(other).history)


def test_a_batch_over_10000_instances_stopped_half_way_and_resumed_does_nothing_twice() -> None:
    from engine.operations import Operations
    from engine.ports import InstanceQuery
    from store import open_store

    store = open_store(":memory:")
    manager = WorkflowManager(store)
    manager.add_workflow(bps.linear())
    for _ in range(10_000):
        manager.start_workflow("linear")
    ops = Operations(manager, actor="ops")
    chosen = ops.matching_ids(InstanceQuery(workflow_id="linear", status="ACTIVE"))
    assert len(chosen) == 10_000
    act = ops.batch_action("set", values={"flag": True})  # stays ACTIVE: only the batch's record tells done
    seen: list[int] = []
    first = ops.batch(chosen, act, should_stop=lambda: len(seen) >= 5_000, progress=lambda n, total: seen.append(n))
    assert first.stopped and len(first.done) == 5_000 and first.refused == []
    second = ops.batch(chosen, act, batch_id=first.batch_id)
    assert not second.stopped and len(second.skipped) == 5_000 and len(second.done) == 5_000
    assert set(first.done).isdisjoint(second.done) and set(first.done) | set(second.done) == set(chosen)
    sample = manager.get_status(chosen[0])
    assert [h.kind for h in sample.history].count(HistoryKind.CONTEXT_SET) == 1  # done once
    store.close()


def test_an_empty_variable_name_or_value_is_refused(manager) -> None:
    manager.add_workflow(bps.linear())
    instance_id = manager.start_workflow("linear")
    with pytest.raises(InvalidValueError, match="a variable name must not be empty"):
        manager.set_variables(instance_id, {" ": 1})
    with pytest.raises(InvalidValueError, match="'note': an empty value; set null to clear it, or unset it"):
        manager.set_variables(instance_id, {"note": ""})
    manager.set_variables(instance_id, {"note": None})
    assert manager.get_status(instance_id).context == {"note": None}
