"""Message events: an instance waits for a named message; send_message delivers it by instance id or by a
context value, its payload mapped into the context; a message for nobody is refused, not kept."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine import WorkflowManager
from engine.errors import InvalidValueError, MessageNotDeliveredError, UnknownInstanceError
from engine.replay import differences
from engine.validate import validate
from store import open_store

START = {"id": "start", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "START"}
END = {"id": "end", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "END"}
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def order_flow(**event: object) -> dict:
    """START -> ship (TASK) -> paid (MESSAGE 'payment_received') -> close (TASK) -> END."""
    paid = {"id": "paid", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "MESSAGE",
            "message": "payment_received", "output_mapping": {"amount": "paid_amount"}, **event}
    return {"workflow_id": "order", "nodes": [
        START, {"id": "ship", "type": "TASK", "task_id": "ship"}, paid,
        {"id": "close", "type": "TASK", "task_id": "close"}, END,
    ], "edges": [
        {"id": "e1", "source_id": "start", "target_id": "ship"},
        {"id": "e2", "source_id": "ship", "target_id": "paid"},
        {"id": "e3", "source_id": "paid", "target_id": "close"},
        {"id": "e4", "source_id": "close", "target_id": "end"},
    ]}


@pytest.fixture
def manager(tmp_path: Path):
    store = open_store(tmp_path / "wf.db")
    manager = WorkflowManager(store, clock=lambda: T0)
    manager.add_workflow(order_flow())
    yield manager
    store.close()


def waiting(manager: WorkflowManager, order_id: str) -> str:
    """An order instance whose token waits at the message event."""
    instance_id = manager.start_workflow("order", {"order_id": order_id})
    manager.task_done(manager.get_status(instance_id).executions[0].id, {})
    return instance_id


def test_a_message_sent_to_an_instance_id_maps_its_payload_and_moves_the_token(manager) -> None:
    instance_id = waiting(manager, "SO-1")
    (wait,) = manager.get_status(instance_id).waits
    assert (wait.kind, wait.message) == ("MESSAGE", "payment_received")
    assert manager.send_message("payment_received", instance_id, {"amount": 120, "extra": 1}, actor="bank") == (
        instance_id)
    view = manager.get_status(instance_id)
    assert view.context == {"order_id": "SO-1", "paid_amount": 120}  # unmapped payload fields are dropped
    assert [t.node_id for t in view.tokens] == ["close"] and view.waits == []
    received = next(e for e in view.history if e.kind == "MESSAGE_RECEIVED")
    assert received.actor == "bank" and received.details["payload"] == {"amount": 120, "extra": 1}
    assert differences(view) == []


def test_a_message_correlated_by_a_context_value_goes_to_the_instance_holding_it(manager) -> None:
    first, second = waiting(manager, "SO-1"), waiting(manager, "SO-2")
    assert manager.send_message("payment_received", {"order_id": "SO-2"}, {"amount": 5}) == second
    assert manager.get_status(second).context["paid_amount"] == 5
    assert manager.get_status(first).waits  # still waiting
    assert differences(manager.get_status(second)) == []


def test_a_message_before_its_instance_waits_is_refused_and_after_it_is_delivered(manager) -> None:
    instance_id = manager.start_workflow("order", {"order_id": "SO-7"})  # still at ship: not waiting yet
    with pytest.raises(MessageNotDeliveredError) as refused:
        manager.send_message("payment_received", instance_id, {"amount": 1})
    assert str(refused.value) == (f"message 'payment_received' not delivered: instance {instance_id} does not wait "
                                  "for it (its tokens are at ship; messages are not kept: send it again once the "
                                  "instance waits)")
    with pytest.raises(MessageNotDeliveredError, match="no instance whose order_id is 'SO-7' waits for it"):
        manager.send_message("payment_received", {"order_id": "SO-7"}, {"amount": 1})
    view = manager.get_status(instance_id)
    assert "paid_amount" not in view.context and [t.node_id for t in view.tokens] == ["ship"]
    manager.task_done(view.executions[0].id, {})
    assert manager.send_message("payment_received", {"order_id": "SO-7"}, {"amount": 1}) == instance_id
    assert [t.node_id for t in manager.get_status(instance_id).tokens] == ["close"]


def test_a_message_is_delivered_once(manager) -> None:
    instance_id = waiting(manager, "SO-1")
    manager.send_message("payment_received", instance_id, {"amount": 1})
    with pytest.raises(MessageNotDeliveredError, match=r"does not wait for it \(its tokens are at close;"):
        manager.send_message("payment_received", instance_id, {"amount": 2})
    assert manager.get_status(instance_id).context["paid_amount"] == 1


def test_a_value_several_waiting_instances_hold_is_refused_naming_them(manager) -> None:
    waiting(manager, "SO-1")
    waiting(manager, "SO-1")
    with pytest.raises(MessageNotDeliveredError, match="2 waiting instances have order_id = 'SO-1'"):
        manager.send_message("payment_received", {"order_id": "SO-1"}, {})


def test_bad_correlations_and_unknown_instances_are_clear_errors(manager) -> None:
    with pytest.raises(UnknownInstanceError):
        manager.send_message("payment_received", "no-such-instance", {})
    with pytest.raises(InvalidValueError, match="one context key"):
        manager.send_message("payment_received", {"a": 1, "b": 2}, {})
    with pytest.raises(InvalidValueError, match="needs a name"):
        manager.send_message(" ", "x", {})


def test_cancelling_an_instance_ends_its_message_wait(manager) -> None:
    instance_id = waiting(manager, "SO-1")
    manager.cancel(instance_id, "customer withdrew")
    assert manager.store.message_waits("payment_received") == []
    with pytest.raises(MessageNotDeliveredError):
        manager.send_message("payment_received", {"order_id": "SO-1"}, {})


@pytest.mark.parametrize(("message", "expected"), [
    (None, "node 'paid': a MESSAGE event needs a 'message'"),
    ("", "node 'paid': a MESSAGE event needs a 'message'"),
    (" paid ", "node 'paid': field 'message': ' paid ' has leading or trailing spaces"),
])
def test_a_message_event_without_a_name_is_refused_at_load(message, expected: str) -> None:
    flow = order_flow(message=message)
    errors = [str(p) for p in validate(flow) if p.severity == "error"]
    assert any(e.startswith(expected) for e in errors), errors


def test_a_message_event_goes_to_bpmn_and_back() -> None:
    from engine.bpmn.diagram import Bounds, Diagram
    from engine.bpmn.reader import read_bpmn
    from engine.bpmn.writer import write_bpmn
    from engine.validate import compile_blueprint

    compiled = compile_blueprint(order_flow())
    shapes = {node.id: Bounds(100 * n, 0, 40, 40) for n, node in enumerate(compiled.blueprint.nodes)}
    edges = {e.id: ((shapes[e.source_id].x + 40, 20), (shapes[e.target_id].x, 20)) for e in compiled.blueprint.edges}
    back = read_bpmn(write_bpmn(compiled, Diagram(shapes, edges))).blueprint
    paid = next(n for n in back["nodes"] if n["id"] == "paid")
    assert (paid["event_type"], paid["message"], paid["output_mapping"]) == (
        "MESSAGE", "payment_received", {"amount": "paid_amount"})
