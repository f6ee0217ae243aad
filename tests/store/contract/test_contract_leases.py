"""Contract: claims, fencing tokens, lease renewal and release, and the stuck check's scans, on every Store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import blueprints as bps
import pytest

from engine.outcomes import Ignored

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)


@pytest.fixture
def world(backend):
    """A manager and one ACTIVE execution of task ``do_a``."""
    manager = backend.manager(lambda: T0)
    manager.add_workflow(bps.linear())
    instance_id = manager.start_workflow("linear")
    return manager, instance_id, manager.get_status(instance_id).executions[0].id


def test_a_claim_leases_the_execution_to_one_owner_at_a_time(backend, world) -> None:
    manager, _, execution_id = world
    store, rival = manager.store, backend.open()
    first = store.claim_execution(execution_id, "rt-a", T0, T0 + LEASE)
    assert (first.lease_owner, first.claim) == ("rt-a", 1)
    assert rival.claim_execution(execution_id, "rt-b", T0 + timedelta(seconds=5), T0 + LEASE) is None  # live lease
    later = T0 + LEASE + timedelta(seconds=1)  # lapsed: taken over, with the next fencing token
    second = rival.claim_execution(execution_id, "rt-b", later, later + LEASE)
    assert (second.lease_owner, second.claim) == ("rt-b", 2)


def test_a_report_under_a_stale_claim_changes_nothing(backend, world) -> None:
    manager, instance_id, execution_id = world
    manager.store.claim_execution(execution_id, "rt-a", T0, T0 + LEASE)
    later = T0 + LEASE + timedelta(seconds=1)
    backend.open().claim_execution(execution_id, "rt-b", later, later + LEASE)
    late = manager.task_done(execution_id, {"local_out": 1}, claim=1)
    assert (late.applied, late.ignored) == (False, Ignored.STALE_CLAIM)
    assert manager.get_status(instance_id).status == "ACTIVE"
    assert manager.task_done(execution_id, {"local_out": 2}, claim=2).applied


def test_renewals_extend_only_current_claims_and_release_drops_them(backend, world) -> None:
    manager, _, execution_id = world
    store = manager.store
    store.claim_execution(execution_id, "rt-a", T0, T0 + LEASE)
    assert store.renew_claims("rt-a", {execution_id: 1}, T0 + 2 * LEASE) == []
    assert store.get_execution(execution_id).lease_until == T0 + 2 * LEASE
    assert store.renew_claims("rt-a", {execution_id: 7}, T0 + 3 * LEASE) == [execution_id]  # not its claim
    assert store.release_leases("rt-a") == 1
    assert store.get_execution(execution_id).lease_owner is None
    assert backend.open().claim_execution(execution_id, "rt-b", T0, T0 + LEASE).claim == 2


def test_runnable_executions_are_those_with_no_live_lease_and_a_due_retry(world) -> None:
    manager, _, execution_id = world
    store = manager.store
    assert [e.id for e in store.runnable_executions(["do_a"], T0)] == [execution_id]
    assert store.runnable_executions(["other"], T0) == []
    store.claim_execution(execution_id, "rt-a", T0, T0 + LEASE)
    assert store.runnable_executions(["do_a"], T0 + timedelta(seconds=1)) == []
    assert [e.id for e in store.runnable_executions(["do_a"], T0 + 2 * LEASE)] == [execution_id]


def test_a_claim_is_refused_once_the_instance_is_not_active(world) -> None:
    manager, instance_id, execution_id = world
    manager.cancel(instance_id, "stop")
    assert manager.store.claim_execution(execution_id, "rt-a", T0, T0 + LEASE) is None
    assert manager.store.runnable_executions(["do_a"], T0) == []


def test_the_stuck_checks_scans_find_old_executions_and_waiting_joins(backend) -> None:
    manager = backend.manager(lambda: T0)
    manager.add_workflow(bps.parallel())
    instance_id = manager.start_workflow("parallel")
    store = manager.store
    assert store.active_executions_before(T0) == []
    assert len(store.active_executions_before(T0 + timedelta(seconds=1))) == 2
    assert store.instances_with_waiting_tokens() == []
    manager.task_done(manager.get_status(instance_id).executions[0].id, {})
    assert store.instances_with_waiting_tokens() == [instance_id]
