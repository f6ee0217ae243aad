"""Fixed data for the console tests (and the tmux demo): blueprints, instances in every state, a fixed clock.

Everything is deterministic: instance and execution ids come from a seeded generator and times from a
clock that moves one second per reading, so snapshots do not change between runs.
"""

from __future__ import annotations

import os
import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from engine import WorkflowError, WorkflowManager
from store import open_store

T0 = datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC)
NOW = T0 + timedelta(hours=2)  # what the console's clock reads in the tests


class StepClock:
    """A clock that moves ``step`` forward after every reading: ordered, repeatable times."""

    def __init__(self, start: datetime = T0, step: timedelta = timedelta(seconds=1)) -> None:
        self.now = start
        self.step = step
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            reading = self.now
            self.now += self.step
            return reading

    def jump(self, **delta: float) -> None:
        with self._lock:
            self.now += timedelta(**delta)


@contextmanager
def seeded_ids(seed: int = 7) -> Iterator[None]:
    """Make the engine's fresh ids repeatable while inside.

    Every id the engine makes (``uuid.uuid4()`` for instances, its own faster generator for executions
    and tokens) comes from ``os.urandom``, so that is what is seeded: the ids then depend only on how
    many are made and in what order, not on which function makes them.
    """
    rng = random.Random(seed)
    original = os.urandom
    os.urandom = rng.randbytes  # type: ignore[assignment]
    try:
        yield
    finally:
        os.urandom = original  # type: ignore[assignment]


def _node(node_id: str, kind: str, name: str | None = None, **extra: Any) -> dict[str, Any]:
    if kind == "TASK":
        node: dict[str, Any] = {"id": node_id, "type": "TASK", "task_id": extra.pop("task_id", node_id)}
    elif kind in ("START", "END"):
        node = {"id": node_id, "type": "INTERNAL", "internal_type": "EVENT", "event_type": kind}
    else:
        node = {"id": node_id, "type": "INTERNAL", "internal_type": "GATEWAY", "gateway_type": kind}
    if name:
        node["name"] = name
    node.update(extra)
    return node


def _edges(*pairs: tuple[str, str] | tuple[str, str, str]) -> list[dict[str, Any]]:
    edges = []
    for index, pair in enumerate(pairs, start=1):
        edge = {"id": f"e{index}", "source_id": pair[0], "target_id": pair[1]}
        if len(pair) == 3:
            edge["condition"] = pair[2]
        edges.append(edge)
    return edges


def order_fulfilment() -> dict[str, Any]:
    """START -> check stock -> (pack || invoice) -> join -> approve -> split -> ship | reject -> END."""
    return {
        "workflow_id": "order_fulfilment", "name": "Order fulfilment", "version": 1,
        "nodes": [
            _node("start", "START", "Start"),
            _node("check_stock", "TASK", "Check stock", input_mapping={"sku": "sku"},
                  output_mapping={"in_stock": "in_stock"}),
            _node("fork", "PARALLEL_SPLIT", "Fork"),
            _node("pack", "TASK", "Pack parcel", output_mapping={"parcel_id": "parcel_id"}),
            _node("invoice", "TASK", "Send invoice", output_mapping={"invoice_no": "invoice_no"}),
            _node("join", "PARALLEL_JOIN", "Join"),
            _node("approve", "TASK", "Approve shipment", task_id="manual_approval",
                  output_mapping={"approved": "approved", "comment": "review_comment"}),
            _node("decide", "EXCLUSIVE_SPLIT", "Approved?"),
            _node("ship", "TASK", "Ship", output_mapping={"tracking": "tracking_no"}),
            _node("end", "END", "End"),
        ],
        "edges": _edges(("start", "check_stock"), ("check_stock", "fork"), ("fork", "pack"), ("fork", "invoice"),
                        ("pack", "join"), ("invoice", "join"), ("join", "approve"), ("approve", "decide"),
                        ("decide", "ship", "approved == true"), ("decide", "end", "approved == false"),
                        ("ship", "end")),
    }


def expense_claim() -> dict[str, Any]:
    """START -> manager review -> split (no default: an unexpected answer fails the instance) -> pay -> END."""
    return {
        "workflow_id": "expense_claim", "name": "Expense claim", "version": 2,
        "nodes": [
            _node("start", "START"),
            _node("review", "TASK", "Manager review", task_id="manual_review",
                  input_mapping={"amount": "amount"}, output_mapping={"decision": "decision"}),
            _node("route", "EXCLUSIVE_SPLIT", "Route"),
            _node("pay", "TASK", "Pay out", output_mapping={"paid": "paid"}),
            _node("end", "END"),
        ],
        "edges": _edges(("start", "review"), ("review", "route"), ("route", "pay", "decision == 'approve'"),
                        ("route", "end", "decision == 'reject'"), ("pay", "end")),
    }


@dataclass
class Scenario:
    """The database built by :func:`build_scenario` and the ids a test needs."""

    path: str
    manager: WorkflowManager
    clock: StepClock
    ids: dict[str, str] = field(default_factory=dict)

    def open_execution(self, instance_key: str, node_id: str) -> str:
        """The id of the open (ACTIVE, FAILED or STUCK) execution of ``node_id`` in a named instance."""
        view = self.manager.get_status(self.ids[instance_key])
        for execution in view.executions:
            if execution.node_id == node_id and execution.status in ("ACTIVE", "FAILED", "STUCK"):
                return execution.id
        raise AssertionError(f"no open execution of {node_id} in {instance_key}")


def _open_execution(manager: WorkflowManager, instance_id: str, node_id: str) -> str:
    for execution in manager.get_status(instance_id).executions:
        if execution.node_id == node_id and execution.status in ("ACTIVE", "FAILED", "STUCK"):
            return execution.id
    raise AssertionError(f"no open execution of {node_id}")


def build_scenario(path: str, seed: int = 7, start: datetime = T0) -> Scenario:
    """Fill a new database at ``path`` with two workflows and instances in every state.

    Named instances: ``half_done`` (parallel flow: invoice done, waiting at the join, pack ACTIVE),
    ``at_approval`` (both branches done, ACTIVE at the manual approval), ``incident`` (pack FAILED),
    ``completed``, ``cancelled``, ``claim_waiting`` (manager review ACTIVE), ``claim_failed``
    (FAILED: no condition matched). ``start`` is the time of the first event.
    """
    clock = StepClock(start)
    manager = WorkflowManager(open_store(path), clock=clock)
    scenario = Scenario(path=path, manager=manager, clock=clock)
    ids = scenario.ids
    with seeded_ids(seed):
        manager.add_workflow(order_fulfilment())
        manager.add_workflow(expense_claim())

        def order(key: str, sku: str, customer: str) -> str:
            ids[key] = manager.start_workflow("order_fulfilment", {"sku": sku, "customer": customer})
            manager.task_done(_open_execution(manager, ids[key], "check_stock"), {"in_stock": True},
                              actor="stock-worker")
            clock.jump(minutes=3)
            return ids[key]

        def done(key: str, node_id: str, outputs: dict[str, Any], actor: str = "worker") -> None:
            manager.task_done(_open_execution(manager, ids[key], node_id), outputs, actor=actor)
            clock.jump(minutes=1)

        order("completed", "SKU-100", "Ada Lovelace")
        done("completed", "pack", {"parcel_id": "P-1"})
        done("completed", "invoice", {"invoice_no": "INV-1"})
        done("completed", "approve", {"approved": True, "comment": "fine"}, actor="alice")
        done("completed", "ship", {"tracking": "TRK-1"})

        order("cancelled", "SKU-200", "Alan Turing")
        manager.cancel(ids["cancelled"], "customer withdrew the order", actor="bob")
        clock.jump(minutes=5)

        ids["claim_failed"] = manager.start_workflow("expense_claim", {"amount": 1200, "employee": "Grace"})
        try:
            done("claim_failed", "review", {"decision": "maybe"}, actor="carol")
        except WorkflowError:
            pass  # no condition matches 'maybe': the instance is FAILED, as intended

        order("incident", "SKU-300", "Edsger Dijkstra")
        manager.fail_task(_open_execution(manager, ids["incident"], "pack"), "label printer offline", actor="dave")
        clock.jump(minutes=7)

        order("at_approval", "SKU-400", "Barbara Liskov")
        done("at_approval", "pack", {"parcel_id": "P-4"})
        done("at_approval", "invoice", {"invoice_no": "INV-4"})

        ids["claim_waiting"] = manager.start_workflow("expense_claim", {"amount": 89.5, "employee": "Linus",
                                                                         "receipts": ["taxi", "lunch"]})
        clock.jump(minutes=4)

        order("half_done", "SKU-500", "Margaret Hamilton")
        done("half_done", "invoice", {"invoice_no": "INV-5"})
    return scenario
