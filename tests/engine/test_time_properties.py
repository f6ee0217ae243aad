"""Property tests with timers, boundary timers and messages: random blueprints of tasks, timer and message events
(some tasks with deadlines and boundary timers, interrupting or not) driven by random operations (complete,
advance the clock and fire what is due, send a message, claim, cancel), every invariant and the replay checked
after every step, and every timer fired at most once."""

from __future__ import annotations

import os
import random
from collections import Counter
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from reliability.invariants import assert_instance

from engine import WorkflowManager
from engine.errors import InvalidStateError, MessageNotDeliveredError, NoMatchingConditionError
from engine.runtime import WorkerRuntime
from engine.workers import WorkerRegistry
from store import open_store

EXAMPLES = int(os.environ.get("WF_PROPERTY_EXAMPLES", "25"))
T0 = datetime(2026, 1, 1, tzinfo=UTC)

step_kinds = st.sampled_from(["task", "timer", "message", "boundary", "lazy_boundary", "deadline"])


def chain(kinds: list[str]) -> dict:
    """START -> one node per kind -> END; a boundary task's timeout edge leads to an escalation task, then on."""
    nodes = [{"id": "start", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "START"}]
    edges: list[dict] = []
    previous = "start"
    for index, kind in enumerate(kinds):
        node_id = f"n{index}"
        if kind == "timer":
            node = {"id": node_id, "type": "INTERNAL", "internal_type": "EVENT", "event_type": "TIMER",
                    "timer": f"PT{index + 1}M"}
        elif kind == "message":
            node = {"id": node_id, "type": "INTERNAL", "internal_type": "EVENT", "event_type": "MESSAGE",
                    "message": f"m{index}", "output_mapping": {"value": f"v{index}"}}
        else:
            node = {"id": node_id, "type": "TASK", "task_id": f"t{index}"}
            if kind == "deadline":
                node["deadline"] = "PT3M"
            if kind in ("boundary", "lazy_boundary"):
                node["boundary_timers"] = [{"duration": "PT2M", "edge": f"x{index}",
                                            "interrupting": kind == "boundary"}]
        nodes.append(node)
        edges.append({"id": f"e{index}", "source_id": previous, "target_id": node_id})
        previous = node_id
    nodes.append({"id": "end", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "END"})
    edges.append({"id": "e_end", "source_id": previous, "target_id": "end"})
    for index, kind in enumerate(kinds):  # escalations rejoin the chain after their task
        if kind in ("boundary", "lazy_boundary"):
            nodes.append({"id": f"esc{index}", "type": "TASK", "task_id": f"esc{index}"})
            after = f"n{index + 1}" if index + 1 < len(kinds) else "end"
            edges += [{"id": f"x{index}", "source_id": f"n{index}", "target_id": f"esc{index}"},
                      {"id": f"y{index}", "source_id": f"esc{index}", "target_id": after}]
    return {"workflow_id": "timed", "nodes": nodes, "edges": edges}


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                      HealthCheck.function_scoped_fixture])
@given(kinds=st.lists(step_kinds, min_size=1, max_size=5), seed=st.integers(0, 2**32 - 1),
       steps=st.integers(1, 25))
def test_random_operations_on_timers_and_messages_keep_every_invariant(tmp_path_factory, kinds, seed, steps) -> None:
    now = [T0]
    store = open_store(tmp_path_factory.mktemp("time") / "wf.db")
    manager = WorkflowManager(store, clock=lambda: now[0])
    try:
        bp = manager.get_workflow("timed", manager.add_workflow(chain(kinds)))
        runtime = WorkerRuntime(manager, WorkerRegistry(), owner="rt", clock=lambda: now[0], rng=random.Random(1))
        instances = [manager.start_workflow("timed") for _ in range(2)]
        rng = random.Random(seed)
        previous = {i: manager.get_status(i).history for i in instances}
        for _ in range(steps):
            instance_id = rng.choice(instances)
            view = manager.get_status(instance_id)
            operation = rng.choice(["complete", "complete", "tick", "tick", "message", "claim", "cancel"])
            note(f"{operation} on {instance_id[:8]} at {now[0]:%H:%M}")
            opened = [e for e in view.executions if e.status == "ACTIVE"]
            try:
                if operation == "complete" and opened:
                    manager.task_done(rng.choice(opened).id, {}, actor=rng.choice(["ann", "ben"]), force=True)
                elif operation == "tick":
                    now[0] += timedelta(seconds=rng.choice([30, 60, 120, 300]))
                    runtime.fire_due_timers()
                elif operation == "message":
                    waits = [w for w in view.waits if w.kind == "MESSAGE"]
                    name = waits[0].message if waits and rng.random() < 0.8 else f"m{rng.randrange(5)}"
                    manager.send_message(name, instance_id, {"value": rng.randrange(100)})
                elif operation == "claim" and opened:
                    manager.claim_task(rng.choice(opened).id, actor=rng.choice(["ann", "ben"]))
                elif operation == "cancel" and rng.random() < 0.2:
                    manager.cancel(instance_id, "random cancel")
            except (MessageNotDeliveredError, InvalidStateError, NoMatchingConditionError):
                pass  # refused (or ignored), nothing changed
            for other in instances:
                after = manager.get_status(other)
                assert_instance(after, bp, previous[other])
                previous[other] = after.history
                fired = Counter(e.details["wait_id"] for e in after.history if e.kind == "TIMER_FIRED")
                assert all(count == 1 for count in fired.values()), fired
    finally:
        store.close()
