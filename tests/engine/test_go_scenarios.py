"""The Go engine's scenario suite, run through the Python API on a file database.

The Go engine drives its verification flow (an init task, an exclusive split on ``ok``, parallel tasks t1
and t2 with a join, an alternative path, an exclusive join, END) with a table of scenarios: task completions
in order, then the nodes where tokens must rest, or ``end`` for a completed instance. The same table runs
here, in SPEC's blueprint format and names, plus the README's onboarding flow and the Go engine's
concurrency tests.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import blueprints as bps
import pytest

from engine import HistoryKind, InstanceStatus, TokenStatus, WorkflowManager


@dataclass(frozen=True)
class Scenario:
    name: str
    steps: list[tuple[str, dict[str, Any]]]  # (node_id, outputs) completed in this order
    expected_tokens: list[str] | None  # where tokens rest; None: the instance is COMPLETED
    initial_context: dict[str, Any] = field(default_factory=dict)
    expected_context: dict[str, Any] | None = None


VERIFICATION = [
    Scenario("success path: ok -> parallel split -> t1, t2 -> parallel join -> exclusive join -> end",
             [("init", {"ok": True}), ("t1", {}), ("t2", {})], None, expected_context={"ok": True}),
    Scenario("success path with the parallel tasks finishing the other way round",
             [("init", {"ok": True}), ("t2", {}), ("t1", {})], None),
    Scenario("alternative path: not ok -> alternative task -> exclusive join -> end",
             [("init", {"ok": False}), ("alt_path", {})], None, expected_context={"ok": False}),
    Scenario("partial join: only t1 done, a token waits at the join",
             [("init", {"ok": True}), ("t1", {})], ["t2", "p_join"]),
    Scenario("partial join: only t2 done, a token waits at the join",
             [("init", {"ok": True}), ("t2", {})], ["t1", "p_join"]),
    Scenario("after init, both parallel tasks are running",
             [("init", {"ok": True})], ["t1", "t2"]),
    Scenario("before anything is done, the token is at init",
             [], ["init"]),
    Scenario("task outputs that are not mapped never reach the context",
             [("init", {"ok": False, "debug": "x"}), ("alt_path", {"ignored": 1})], None,
             initial_context={"user": "u1"}, expected_context={"user": "u1", "ok": False}),
]


ONBOARDING = [
    Scenario("welcome e-mail sent: straight to end",
             [("welcome_email", {"status": "sent"})], None,
             initial_context={"user_email": "a@b.c"},
             expected_context={"user_email": "a@b.c", "email_status": "sent"}),
    Scenario("welcome e-mail bounced: the default edge goes to support",
             [("welcome_email", {"status": "bounced"})], ["notify_support"],
             initial_context={"user_email": "a@b.c"}),
    Scenario("welcome e-mail bounced, support notified: end",
             [("welcome_email", {"status": "bounced"}), ("notify_support", {})], None,
             initial_context={"user_email": "a@b.c"}),
    Scenario("no status returned: the condition sees null and the default edge is taken",
             [("welcome_email", {})], ["notify_support"],
             initial_context={"user_email": "a@b.c"}),
]


def run_scenario(manager: WorkflowManager, recorder, workflow_id: str, scenario: Scenario) -> str:
    instance_id = manager.start_workflow(workflow_id, scenario.initial_context)
    for node_id, outputs in scenario.steps:
        execution_id = recorder.execution_id(node_id)
        manager.task_done(execution_id, outputs)
        manager.task_done(execution_id, outputs)  # every completion is delivered twice: idempotency
    return instance_id


def check_outcome(manager: WorkflowManager, instance_id: str, scenario: Scenario) -> None:
    inst = manager.get_status(instance_id)
    if scenario.expected_tokens is None:
        assert inst.status == InstanceStatus.COMPLETED
        assert inst.tokens == []
    else:
        assert inst.status == InstanceStatus.ACTIVE
        assert Counter(t.node_id for t in inst.tokens) == Counter(scenario.expected_tokens)
    if scenario.expected_context is not None:
        assert inst.context == scenario.expected_context
    completed = [h.execution_id for h in inst.history if h.kind is HistoryKind.EXECUTION_COMPLETED]
    assert len(completed) == len(set(completed)) == len(scenario.steps)  # each applied exactly once


@pytest.mark.parametrize("scenario", VERIFICATION, ids=lambda s: s.name)
def test_verification_flow(manager, recorder, scenario):
    manager.add_workflow(bps.verification_flow())
    instance_id = run_scenario(manager, recorder, "verification", scenario)
    check_outcome(manager, instance_id, scenario)


@pytest.mark.parametrize("scenario", ONBOARDING, ids=lambda s: s.name)
def test_user_onboarding(manager, recorder, scenario):
    manager.add_workflow(bps.user_onboarding())
    instance_id = run_scenario(manager, recorder, "user_onboarding", scenario)
    check_outcome(manager, instance_id, scenario)


def test_onboarding_task_receives_its_mapped_inputs(manager, recorder):
    manager.add_workflow(bps.user_onboarding())
    manager.start_workflow("user_onboarding", {"user_email": "hello@example.com", "secret": "s"})
    [payload] = recorder.payloads
    assert (payload.task_id, payload.inputs) == ("send_email", {"email_address": "hello@example.com"})


def test_verification_flow_join_token_waits_until_the_last_branch(manager, recorder):
    manager.add_workflow(bps.verification_flow())
    instance_id = manager.start_workflow("verification")
    manager.task_done(recorder.execution_id("init"), {"ok": True})
    manager.task_done(recorder.execution_id("t1"))
    waiting = [t for t in manager.get_status(instance_id).tokens if t.node_id == "p_join"]
    assert [t.status for t in waiting] == [TokenStatus.WAITING]
    assert "alt_path" not in recorder.nodes()


def test_concurrent_task_done_on_one_instance_completes_it(manager, recorder):
    manager.add_workflow(bps.parallel())
    instance_id = manager.start_workflow("parallel")
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def complete(node_id: str) -> None:
        barrier.wait()
        try:
            manager.task_done(recorder.execution_id(node_id), {"v": node_id})
        except BaseException as error:  # collected and asserted on below
            errors.append(error)

    threads = [threading.Thread(target=complete, args=(n,)) for n in ("task_a", "task_b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    inst = manager.get_status(instance_id)
    assert inst.status == InstanceStatus.COMPLETED and inst.tokens == []
    assert inst.context == {"a": "task_a", "b": "task_b"}


def test_concurrent_task_done_on_many_instances_completes_them_all(manager, recorder):
    manager.add_workflow(bps.linear())
    instance_ids = [manager.start_workflow("linear", {"global_input": i}) for i in range(20)]
    execution_ids = [p.execution_id for p in recorder.payloads]
    errors: list[BaseException] = []

    def complete(execution_id: str) -> None:
        try:
            manager.task_done(execution_id, {"local_out": "done"})
        except BaseException as error:  # collected and asserted on below
            errors.append(error)

    threads = [threading.Thread(target=complete, args=(e,)) for e in execution_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert {manager.get_status(i).status for i in instance_ids} == {InstanceStatus.COMPLETED}
