"""A database of claims in every state an operator meets, and a fan-in whose join is stuck: the reports'
test world, built on any store (``tests/store/contract/`` and the SQLite-specific ``tests/store``)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from engine import WorkflowError, WorkflowManager

T0 = datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC)


class Clock:
    """Moves one second per reading; ``jump`` moves it further."""

    def __init__(self) -> None:
        self.now = T0
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            self.now += timedelta(seconds=1)
            return self.now

    def jump(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def _node(node_id: str, kind: str, **extra) -> dict:
    if kind == "TASK":
        return {"id": node_id, "type": "TASK", "task_id": extra.pop("task_id", node_id), **extra}
    if kind in ("START", "END"):
        return {"id": node_id, "type": "INTERNAL", "internal_type": "EVENT", "event_type": kind}
    return {"id": node_id, "type": "INTERNAL", "internal_type": "GATEWAY", "gateway_type": kind}


def _edges(*pairs) -> list[dict]:
    return [{"id": f"e{i}", "source_id": p[0], "target_id": p[1], **({"condition": p[2]} if len(p) == 3 else {})}
            for i, p in enumerate(pairs, start=1)]


CLAIM = {  # review (manual) -> route (no default) -> pay | END
    "workflow_id": "claim", "version": 1,
    "nodes": [_node("start", "START"), _node("review", "TASK", output_mapping={"decision": "decision"}),
              _node("route", "EXCLUSIVE_SPLIT"), _node("pay", "TASK"), _node("end", "END")],
    "edges": _edges(("start", "review"), ("review", "route"), ("route", "pay", "decision == 'yes'"),
                    ("route", "end", "decision == 'no'"), ("pay", "end")),
}
FAN_IN = {  # a || (choose: c == 1 -> join, else -> b -> END): with c != 1 the join can never fire
    "workflow_id": "fan_in", "version": 1,
    "nodes": [_node("start", "START"), _node("fork", "PARALLEL_SPLIT"), _node("a", "TASK"),
              _node("choose", "EXCLUSIVE_SPLIT"), _node("b", "TASK"), _node("join", "PARALLEL_JOIN"),
              _node("end", "END")],
    "edges": _edges(("start", "fork"), ("fork", "a"), ("fork", "choose"), ("a", "join"),
                    ("choose", "join", "c == 1"), ("choose", "b"), ("b", "end"), ("join", "end")),
}


def _open(manager: WorkflowManager, instance_id: str, node_id: str) -> str:
    return next(e.id for e in manager.get_status(instance_id).executions
                if e.node_id == node_id and e.status in ("ACTIVE", "FAILED", "STUCK"))


def build_world(manager: WorkflowManager, clock: Clock) -> dict[str, str]:
    """Fill the database of ``manager`` (whose clock is ``clock``); return the instances' ids by name."""
    manager.add_workflow(CLAIM)
    manager.add_workflow(FAN_IN)
    ids: dict[str, str] = {}
    ids["waiting"] = manager.start_workflow("claim", {"amount": 1})
    clock.jump(minutes=1)
    ids["failed"] = manager.start_workflow("claim", {"amount": 2})
    manager.fail_task(_open(manager, ids["failed"], "review"), "reviewer unreachable", actor="ops")
    clock.jump(minutes=1)
    ids["stuck"] = manager.start_workflow("claim", {"amount": 3})
    manager.mark_stuck(_open(manager, ids["stuck"], "review"), "lease of wh-1 expired", actor="stuck-check")
    clock.jump(minutes=1)
    ids["no_match"] = manager.start_workflow("claim", {"amount": 4})
    with pytest.raises(WorkflowError):
        manager.task_done(_open(manager, ids["no_match"], "review"), {"decision": "maybe"}, actor="alice")
    clock.jump(minutes=1)
    ids["done"] = manager.start_workflow("claim", {"amount": 5})
    manager.task_done(_open(manager, ids["done"], "review"), {"decision": "no"}, actor="alice")
    clock.jump(minutes=1)
    ids["join"] = manager.start_workflow("fan_in", {"c": 2})
    manager.task_done(_open(manager, ids["join"], "a"), {}, actor="bob")
    assert manager.check_joins(ids["join"], actor="stuck-check") == ["join"]
    return ids
