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


def test_a_periodic_turn_goes_to_one_caller_per_period_across_stores(backend) -> None:
    first, second = backend.open(), backend.open()  # two runtimes, on two hosts
    period = timedelta(seconds=30)
    assert first.take_turn("stuck-check", T0, period)
    assert not second.take_turn("stuck-check", T0 + timedelta(seconds=1), period)
    assert not first.take_turn("stuck-check", T0 + timedelta(seconds=29), period)
    assert first.take_turn("other-job", T0, period)  # each job its own turn
    assert second.take_turn("stuck-check", T0 + period, period)  # due: whoever comes first
    assert not first.take_turn("stuck-check", T0 + period, period)


def test_a_turn_is_taken_once_when_many_callers_race(backend) -> None:
    import threading

    stores = [backend.open() for _ in range(6)]
    barrier = threading.Barrier(len(stores))
    won: list[bool] = []

    def race(store) -> None:
        barrier.wait()
        won.append(store.take_turn("stuck-check", T0, timedelta(seconds=30)))

    threads = [threading.Thread(target=race, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(won) == [False] * 5 + [True]


def test_the_same_blueprint_stored_by_racing_stores_is_stored_once(backend) -> None:
    import threading

    from engine import WorkflowManager

    managers = [WorkflowManager(backend.open()) for _ in range(4)]
    barrier = threading.Barrier(len(managers))
    results: list = []

    def add(manager) -> None:
        barrier.wait()
        try:
            results.append(manager.add_workflow(bps.linear(version=7)))
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            results.append(error)

    threads = [threading.Thread(target=add, args=(manager,)) for manager in managers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not [r for r in results if isinstance(r, Exception)], results
    assert [b.version for b in backend.open().list_blueprints()] == [7]
