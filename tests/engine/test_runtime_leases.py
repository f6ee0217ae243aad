"""Fenced leases, attempts that overrun their timeout, and a store that fails under the runtime.

Each claim of an execution gets a fencing token (``Execution.claim``); a worker's completion, failure and
lease renewal carry it, and one whose claim is no longer current changes nothing and is recorded as a
``STALE_REPORT``. The runtime's synchronous methods are driven with the fake clock: a worker function
plays the world moving on while it runs (the lease lapsing, another runtime claiming, an operator acting).
"""

from __future__ import annotations

import logging
import random
import threading
from datetime import timedelta

import blueprints as bps
import pytest

from engine import HistoryKind, StaleClaimError, StoreError, WorkflowManager
from engine.outcomes import Ignored
from engine.replay import differences
from engine.runtime import Outcome, WorkerRuntime
from engine.workers import RetryPolicy, WorkerRegistry

LEASE = 30.0


def runtime_for(manager: WorkflowManager, clock, owner: str, function, policy: RetryPolicy | None = None,
                **kwargs) -> WorkerRuntime:
    registry = WorkerRegistry()
    registry.register("do_a", function, policy or RetryPolicy(attempts=3, backoff=1, jitter=0))
    return WorkerRuntime(manager, registry, owner=owner, clock=clock, lease_seconds=LEASE, rng=random.Random(7),
                         **kwargs)


def started(manager: WorkflowManager) -> tuple[str, str]:
    """An instance of the one-task blueprint (task ``do_a``); (instance id, its execution id)."""
    manager.add_workflow(bps.linear())
    instance_id = manager.start_workflow("linear", {"global_input": 1})
    return instance_id, manager.get_status(instance_id).executions[0].id


def stale_reports(manager: WorkflowManager, instance_id: str) -> list:
    return [h for h in manager.get_status(instance_id).history if h.kind is HistoryKind.STALE_REPORT]


def take_over(manager: WorkflowManager, clock, execution_id: str, owner: str = "runtime-b"):
    """The lease lapses and another runtime claims the execution."""
    clock.advance(seconds=LEASE + 1)
    now = clock()
    claimed = manager.store.claim_execution(execution_id, owner, now, now + timedelta(seconds=LEASE))
    assert claimed is not None
    return claimed


# -- fencing ----------------------------------------------------------------------------------------


def test_each_claim_of_an_execution_gets_the_next_fencing_token(manager, clock) -> None:
    _, execution_id = started(manager)
    assert manager.get_execution(execution_id).claim == 0
    now = clock()
    first = manager.store.claim_execution(execution_id, "runtime-a", now, now + timedelta(seconds=LEASE))
    assert first.claim == 1 and first.lease_owner == "runtime-a"
    second = take_over(manager, clock, execution_id)
    assert second.claim == 2 and manager.get_execution(execution_id).claim == 2


def test_a_late_failure_of_a_taken_over_claim_changes_nothing_and_no_third_runtime_runs_it(manager, clock) -> None:
    instance_id, execution_id = started(manager)
    taken: list = []

    def slow_then_fails(inputs):
        taken.append(take_over(manager, clock, execution_id))  # runtime-b runs it now
        raise ConnectionError("smtp down")

    first = runtime_for(manager, clock, "runtime-a", slow_then_fails)
    assert first.run_execution(execution_id, "do_a") is Outcome.STALE
    execution = manager.get_execution(execution_id)
    assert (execution.status, execution.attempt, execution.lease_owner, execution.claim) == (
        "ACTIVE", 1, "runtime-b", 2)
    assert execution.lease_until == taken[0].lease_until and execution.next_attempt_at is None

    clock.advance(seconds=5)  # past the retry delay the stale failure would have set
    ran: list = []
    third = runtime_for(manager, clock, "runtime-c", lambda inputs: ran.append(inputs) or {"local_out": "c"})
    assert third.recover() == [] and ran == []
    (report,) = stale_reports(manager, instance_id)
    assert report.actor == "worker@runtime-a"
    assert {k: report.details[k] for k in ("report", "claim", "current_claim", "current_owner", "status")} == {
        "report": "failure", "claim": 1, "current_claim": 2, "current_owner": "runtime-b", "status": "ACTIVE"}
    assert "ConnectionError: smtp down" in report.details["error"]
    assert first.stats.stale == 1 and first.stats.retried == 0

    done = manager.task_done(execution_id, {"local_out": "b"}, actor="worker@runtime-b", claim=2)
    assert done.applied and manager.get_status(instance_id).status == "COMPLETED"
    assert differences(manager.get_status(instance_id)) == []


def test_a_late_completion_of_a_taken_over_claim_is_ignored_and_recorded(manager, clock) -> None:
    instance_id, execution_id = started(manager)

    def slow(inputs):
        take_over(manager, clock, execution_id)
        return {"local_out": "from a"}

    assert runtime_for(manager, clock, "runtime-a", slow).run_execution(execution_id, "do_a") is Outcome.STALE
    view = manager.get_status(instance_id)
    assert "global_output" not in view.context and view.executions[0].status == "ACTIVE"
    (report,) = stale_reports(manager, instance_id)
    assert report.details["report"] == "completion" and report.details["outputs"] == {"local_out": "from a"}

    again = manager.task_done(execution_id, {"local_out": "from a"}, actor="worker@runtime-a", claim=1)
    assert (again.applied, again.ignored) == (False, Ignored.STALE_CLAIM)
    assert "claim 1 of execution" in again.message and "claim 2 of runtime-b is the current one" in again.message
    assert len(stale_reports(manager, instance_id)) == 2
    assert manager.task_done(execution_id, {"local_out": "from b"}, claim=2).applied
    assert manager.get_status(instance_id).context["global_output"] == "from b"


def test_an_operators_fail_stands_against_the_workers_late_completion(manager, clock) -> None:
    """RELIABILITY.md: an operator's fail ends the worker's claim; the worker's completion is ignored and
    recorded, the incident stays, and the operator's own completion still resolves it (SPEC §3)."""
    instance_id, execution_id = started(manager)

    def slow(inputs):
        manager.fail_task(execution_id, "customer withdrew", actor="alice")
        return {"local_out": "shipped anyway"}

    assert runtime_for(manager, clock, "runtime-a", slow).run_execution(execution_id, "do_a") is Outcome.STALE
    view = manager.get_status(instance_id)
    assert [e.error for e in view.incidents] == ["customer withdrew"] and "global_output" not in view.context
    (report,) = stale_reports(manager, instance_id)
    assert (report.details["status"], report.details["current_owner"]) == ("FAILED", None)
    assert report.details["outputs"] == {"local_out": "shipped anyway"}

    done = manager.task_done(execution_id, report.details["outputs"], actor="alice")
    assert done.applied and done.resolved_incident
    assert manager.get_status(instance_id).context["global_output"] == "shipped anyway"
    assert differences(manager.get_status(instance_id)) == []


def test_a_workers_late_failure_after_an_operators_fail_is_recorded_not_refused(manager, clock) -> None:
    instance_id, execution_id = started(manager)
    now = clock()
    claim = manager.store.claim_execution(execution_id, "runtime-a", now, now + timedelta(seconds=LEASE)).claim
    manager.fail_task(execution_id, "by hand", actor="alice")
    with pytest.raises(StaleClaimError, match="it is FAILED and nobody holds a claim on it"):
        manager.fail_attempt(execution_id, "boom", None, actor="worker@runtime-a", claim=claim)
    assert manager.get_execution(execution_id).error == "by hand"
    assert [r.details["report"] for r in stale_reports(manager, instance_id)] == ["failure"]


def test_a_released_claim_is_stale_and_a_completion_without_a_claim_is_not_fenced(manager, clock) -> None:
    instance_id, execution_id = started(manager)
    now = clock()
    claim = manager.store.claim_execution(execution_id, "runtime-a", now, now + timedelta(seconds=LEASE)).claim
    manager.store.release_leases("runtime-a")  # the runtime stopped with the attempt unfinished
    stale = manager.task_done(execution_id, {"local_out": 1}, actor="worker@runtime-a", claim=claim)
    assert stale.ignored is Ignored.STALE_CLAIM and "its lease was given up" in stale.message
    now = clock()
    manager.store.claim_execution(execution_id, "runtime-b", now, now + timedelta(seconds=LEASE))
    assert manager.task_done(execution_id, {"local_out": 2}, actor="bob").applied  # an operator's: not fenced
    assert manager.get_status(instance_id).context["global_output"] == 2


def test_a_stuck_mark_does_not_end_the_claim(manager, clock) -> None:
    """The stuck check flags a slow attempt for an operator; the worker's result, if it comes first,
    still counts (nobody else can run a STUCK execution meanwhile)."""
    instance_id, execution_id = started(manager)

    def slow(inputs):
        manager.mark_stuck(execution_id, "overdue", actor="stuck-check")
        return {"local_out": "late but fine"}

    assert runtime_for(manager, clock, "runtime-a", slow).run_execution(execution_id, "do_a") is Outcome.COMPLETED
    view = manager.get_status(instance_id)
    assert view.status == "COMPLETED" and view.context["global_output"] == "late but fine"
    assert stale_reports(manager, instance_id) == []


def test_a_lost_claim_is_recorded_once_by_the_renewals_and_the_new_owners_lease_is_kept(manager, clock) -> None:
    instance_id, execution_id = started(manager)
    leases: list = []

    def slow(inputs):
        taken = take_over(manager, clock, execution_id)
        for _ in range(3):
            clock.advance(seconds=5)
            runtime.renew_leases()
            leases.append(manager.get_execution(execution_id).lease_until)
        assert leases == [taken.lease_until] * 3  # runtime-b's lease, untouched
        return {"local_out": "a"}

    runtime = runtime_for(manager, clock, "runtime-a", slow)
    assert runtime.run_execution(execution_id, "do_a") is Outcome.STALE
    reports = stale_reports(manager, instance_id)
    assert [r.details["report"] for r in reports] == ["renewal", "completion"]
    assert reports[0].details["current_owner"] == "runtime-b" and reports[0].details["claim"] == 1


def test_renewals_extend_a_current_claims_lease(manager, clock) -> None:
    instance_id, execution_id = started(manager)

    def slow(inputs):
        for _ in range(3):
            clock.advance(seconds=LEASE - 5)
            runtime.renew_leases()
        assert runtime_for(manager, clock, "runtime-b", lambda inputs: {}).recover() == []  # the lease is live
        return {"local_out": "a"}

    runtime = runtime_for(manager, clock, "runtime-a", slow)
    assert runtime.run_execution(execution_id, "do_a") is Outcome.COMPLETED
    assert stale_reports(manager, instance_id) == []


# -- attempts that overrun their timeout ------------------------------------------------------------


def blocking_worker(release: threading.Event, calls: list):
    def hang(inputs):
        calls.append(inputs)
        release.wait(30)
        return {"local_out": "too late"}
    return hang


def test_an_overrunning_attempt_keeps_its_claim_until_its_thread_ends(manager, clock) -> None:
    instance_id, execution_id = started(manager)
    release, calls = threading.Event(), []
    policy = RetryPolicy(attempts=2, backoff=1, jitter=0, timeout=0.05)
    outcomes: list = []
    runtime = runtime_for(manager, clock, "runtime-a", blocking_worker(release, calls), policy,
                          on_outcome=lambda execution, outcome, *_: outcomes.append(outcome))
    try:
        assert runtime.run_execution(execution_id, "do_a") is Outcome.OVERRUN
        clock.advance(seconds=5)  # past the retry delay a recorded failure would have set
        runtime.check_overruns()
        execution = manager.get_execution(execution_id)
        assert (execution.status, execution.attempt, execution.lease_owner, execution.error) == (
            "ACTIVE", 1, "runtime-a", None)
        other_calls: list = []
        other = runtime_for(manager, clock, "runtime-b", lambda inputs: other_calls.append(1) or {"local_out": "b"})
        assert other.recover() == [] and runtime.recover() == [] and other_calls == []
        assert runtime.run_execution(execution_id, "do_a") is Outcome.NOT_CLAIMED and len(calls) == 1
        assert runtime.running_count == 1
    finally:
        release.set()
    for overrun in runtime.overruns:
        overrun.thread.join(10)
    runtime.check_overruns()
    execution = manager.get_execution(execution_id)
    assert (execution.status, execution.attempt, execution.lease_owner) == ("ACTIVE", 2, None)
    assert "attempt exceeded its timeout of 0.05 s (its thread ended" in execution.error
    assert outcomes == [Outcome.OVERRUN, Outcome.RETRY] and runtime.running_count == 0
    clock.advance(seconds=2)
    assert other.recover() == [execution_id] and other_calls == [1]
    assert manager.get_status(instance_id).status == "COMPLETED"


def test_an_attempt_still_running_a_lease_past_its_timeout_is_given_up_as_a_zombie(manager, clock) -> None:
    instance_id, execution_id = started(manager)
    release, calls = threading.Event(), []
    policy = RetryPolicy(attempts=3, backoff=1, jitter=0, timeout=0.05)
    runtime = runtime_for(manager, clock, "runtime-a", blocking_worker(release, calls), policy)
    try:
        assert runtime.run_execution(execution_id, "do_a") is Outcome.OVERRUN
        clock.advance(seconds=LEASE - 1)
        runtime.renew_leases()
        runtime.check_overruns()
        assert runtime.zombie_count == 0 and manager.get_execution(execution_id).status == "ACTIVE"
        clock.advance(seconds=2)
        assert runtime.check_stuck() == []  # its own overrun: given up below, with the reason it knows
        runtime.check_overruns()
        execution = manager.get_execution(execution_id)
        assert execution.status == "STUCK" and execution.lease_owner is None
        assert "overran its timeout of 0.05 s and its thread still runs in runtime-a" in execution.error
        assert "zombie" in execution.error
        assert runtime.zombie_count == 1 and runtime.stats.zombies == 1 and runtime.running_count == 0
        clock.advance(seconds=60)
        assert runtime_for(manager, clock, "runtime-b", lambda inputs: {}).recover() == []  # an operator decides
        assert len(calls) == 1
    finally:
        release.set()
    for thread in list(runtime._zombies):
        thread.join(10)
    assert runtime.zombie_count == 0
    assert manager.get_status(instance_id).tokens[0].status == "STUCK"
    assert differences(manager.get_status(instance_id)) == []


# -- a store that fails -----------------------------------------------------------------------------


class DiskFullOnClaim:
    """The real store, but its first ``failures`` claims fail as SQLite does on a full disk."""

    def __init__(self, store, failures: int) -> None:
        self._store = store
        self.failures = failures

    def claim_execution(self, *args, **kwargs):
        if self.failures:
            self.failures -= 1
            raise StoreError(f"{self._store.source}: database or disk is full")
        return self._store.claim_execution(*args, **kwargs)

    def __getattr__(self, name: str):
        return getattr(self._store, name)


def test_a_failing_claim_is_one_log_line_retried_with_backoff_and_the_runtime_goes_on(store, clock, caplog) -> None:
    flaky = DiskFullOnClaim(store, failures=2)
    manager = WorkflowManager(flaky, clock=clock)
    instance_id, execution_id = started(manager)
    runtime = runtime_for(manager, clock, "runtime-a", lambda inputs: {"local_out": "ok"}, poll_interval=1.0)
    with caplog.at_level(logging.INFO, logger="wfconsole.runtime"):
        assert runtime.recover() == [execution_id]  # found; its claim failed
        assert runtime.recover() == []  # backing off: 1 s
        clock.advance(seconds=1.1)
        runtime.recover()  # fails again: 2 s
        clock.advance(seconds=1.1)
        assert runtime.recover() == []
        clock.advance(seconds=1.1)
        assert runtime.recover() == [execution_id]
    assert manager.get_status(instance_id).status == "COMPLETED"
    failures = [r for r in caplog.records if "disk is full" in r.getMessage()]
    assert [r.getMessage().split("; ")[-1] for r in failures] == ["next try in 1 s", "next try in 2 s"]
    assert all(r.levelno == logging.WARNING and not r.exc_info for r in failures)
    assert f"claiming execution {execution_id} failed" in failures[0].getMessage()
