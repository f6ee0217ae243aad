"""The worker runtime: success, failures, retries with backoff, incidents, leases, recovery, stuck checks."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engine import ExecutionStatus, HistoryKind, WorkflowManager
from engine.runtime import Outcome, WorkerRuntime
from engine.workers import RetryPolicy, WorkerLoadError, WorkerRegistry, load_workers, worker
from store import open_store

START = {"id": "start", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "START"}
END = {"id": "end", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "END"}


def chain(workflow_id: str, *tasks: str) -> dict:
    """START -> one TASK per task id (node id = task id) -> END; each task maps out ``result``."""
    nodes = [START] + [{"id": t, "type": "TASK", "task_id": t, "input_mapping": {"value": "value"},
                        "output_mapping": {"result": f"{t}_result"}} for t in tasks] + [END]
    ids = ["start", *tasks, "end"]
    pairs = zip(ids, ids[1:], strict=False)
    edges = [{"id": f"e{i}", "source_id": a, "target_id": b} for i, (a, b) in enumerate(pairs)]
    return {"workflow_id": workflow_id, "nodes": nodes, "edges": edges}


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def manager(database: str, clock: FakeClock) -> WorkflowManager:
    store = open_store(database)  # a file, then a PostgreSQL database (tests/conftest.py)
    yield WorkflowManager(store, clock=clock)
    store.close()


def runtime_for(manager: WorkflowManager, clock: FakeClock, registry: WorkerRegistry, **kwargs) -> WorkerRuntime:
    return WorkerRuntime(manager, registry, owner=kwargs.pop("owner", "test-runtime"), clock=clock,
                         rng=random.Random(7), **kwargs)


def only_execution(manager: WorkflowManager, instance_id: str):
    executions = manager.get_status(instance_id).executions
    assert len(executions) >= 1
    return executions[-1]


def test_sync_worker_output_completes_the_execution(manager, clock) -> None:
    registry = WorkerRegistry()
    registry.register("double", lambda inputs: {"result": inputs["value"] * 2})
    runtime = runtime_for(manager, clock, registry)
    manager.add_workflow(chain("w", "double"))
    instance_id = manager.start_workflow("w", {"value": 21})
    assert runtime.recover() == [only_execution(manager, instance_id).id]
    view = manager.get_status(instance_id)
    assert view.status == "COMPLETED"
    assert view.context["double_result"] == 42
    done = [h for h in view.history if h.kind is HistoryKind.EXECUTION_COMPLETED]
    assert done[0].actor == "worker@test-runtime"


def test_async_worker_is_awaited(manager, clock) -> None:
    async def fetch(inputs):
        await asyncio.sleep(0)
        return {"result": f"fetched {inputs['value']}"}

    registry = WorkerRegistry()
    registry.register("fetch", fetch)
    runtime = runtime_for(manager, clock, registry)
    manager.add_workflow(chain("w", "fetch"))
    instance_id = manager.start_workflow("w", {"value": "x"})
    runtime.recover()
    assert manager.get_status(instance_id).context["fetch_result"] == "fetched x"


def test_failure_is_retried_with_exponential_backoff_then_succeeds(manager, clock) -> None:
    calls = []

    def flaky(inputs):
        calls.append(clock())
        if len(calls) < 3:
            raise ConnectionError("smtp down")
        return {"result": "sent"}

    registry = WorkerRegistry()
    registry.register("flaky", flaky, RetryPolicy(attempts=3, backoff=10, multiplier=3, jitter=0))
    runtime = runtime_for(manager, clock, registry)
    manager.add_workflow(chain("w", "flaky"))
    instance_id = manager.start_workflow("w", {})
    execution_id = only_execution(manager, instance_id).id

    assert runtime.run_execution(execution_id, "flaky") is Outcome.RETRY
    execution = manager.get_execution(execution_id)
    assert execution.status == "ACTIVE" and execution.attempt == 2
    assert execution.next_attempt_at == clock() + timedelta(seconds=10)
    assert execution.error == "ConnectionError: smtp down"
    assert runtime.recover() == []  # not due yet
    clock.advance(10)
    assert runtime.recover() == [execution_id]  # second attempt fails, next wait is 10 * 3
    assert manager.get_execution(execution_id).next_attempt_at == clock() + timedelta(seconds=30)
    clock.advance(29)
    assert runtime.recover() == []
    clock.advance(1)
    assert runtime.recover() == [execution_id]
    assert manager.get_status(instance_id).status == "COMPLETED"
    assert len(calls) == 3
    failures = [h for h in manager.get_status(instance_id).history if h.kind is HistoryKind.EXECUTION_ATTEMPT_FAILED]
    assert [h.details["attempt"] for h in failures] == [1, 2]
    assert "ConnectionError" in failures[0].details["traceback"]


def test_exhausted_attempts_become_an_incident_an_operator_can_retry(manager, clock) -> None:
    fixed = threading.Event()

    def charge(inputs):
        if not fixed.is_set():
            raise ValueError("card declined")
        return {"result": "charged"}

    registry = WorkerRegistry()
    registry.register("charge", charge, RetryPolicy(attempts=2, backoff=1, jitter=0))
    runtime = runtime_for(manager, clock, registry)
    manager.add_workflow(chain("w", "charge"))
    instance_id = manager.start_workflow("w", {})
    execution_id = only_execution(manager, instance_id).id
    assert runtime.run_execution(execution_id, "charge") is Outcome.RETRY
    clock.advance(1)
    assert runtime.run_execution(execution_id, "charge") is Outcome.FAILED

    view = manager.get_status(instance_id)
    assert view.status == "ACTIVE"
    assert [e.id for e in view.incidents] == [execution_id]
    failed = [h for h in view.history if h.kind is HistoryKind.EXECUTION_FAILED][0]
    assert failed.details["error_type"] == "ValueError" and "card declined" in failed.details["error"]
    assert runtime.recover() == []  # a FAILED execution is not retried by the runtime

    fixed.set()  # the operator fixes the cause, then retries
    new_id = manager.retry(execution_id, actor="alice")
    assert runtime.recover() == [new_id]
    assert manager.get_status(instance_id).status == "COMPLETED"


def test_attempt_past_its_timeout_fails_once_its_thread_has_ended(manager, clock) -> None:
    release = threading.Event()
    registry = WorkerRegistry()
    registry.register("hang", lambda inputs: release.wait(5), RetryPolicy(attempts=1, timeout=0.05))
    runtime = runtime_for(manager, clock, registry)
    manager.add_workflow(chain("w", "hang"))
    instance_id = manager.start_workflow("w", {})
    assert runtime.run_execution(only_execution(manager, instance_id).id, "hang") is Outcome.OVERRUN
    release.set()
    for overrun in runtime.overruns:
        overrun.thread.join(5)
    runtime.check_overruns()
    assert "exceeded its timeout of 0.05 s" in manager.get_status(instance_id).incidents[0].error


def test_worker_returning_a_non_dict_is_a_failed_attempt(manager, clock) -> None:
    registry = WorkerRegistry()
    registry.register("bad", lambda inputs: 42, RetryPolicy(attempts=1))
    runtime = runtime_for(manager, clock, registry)
    manager.add_workflow(chain("w", "bad"))
    instance_id = manager.start_workflow("w", {})
    runtime.recover()
    assert "returned int, expected a dict" in manager.get_status(instance_id).incidents[0].error


def test_manual_tasks_are_left_alone(manager, clock) -> None:
    runtime = runtime_for(manager, clock, WorkerRegistry())
    manager.add_workflow(chain("w", "approve"))
    instance_id = manager.start_workflow("w", {})
    execution = only_execution(manager, instance_id)
    assert runtime.recover() == []
    assert runtime.run_execution(execution.id, "approve") is Outcome.MANUAL
    clock.advance(7 * 24 * 3600)
    assert runtime.check_stuck() == []
    assert manager.get_execution(execution.id).status == "ACTIVE"
    assert manager.get_execution(execution.id).lease_owner is None


def test_a_leased_execution_is_not_claimed_by_another_runtime(manager, clock) -> None:
    registry = WorkerRegistry()
    registry.register("t", lambda inputs: {"result": 1})
    manager.add_workflow(chain("w", "t"))
    instance_id = manager.start_workflow("w", {})
    execution_id = only_execution(manager, instance_id).id
    first = manager.store.claim_execution(execution_id, "runtime-a", clock(), clock() + timedelta(seconds=30))
    assert first is not None and first.lease_owner == "runtime-a"
    other = runtime_for(manager, clock, registry, owner="runtime-b", lease_seconds=30)
    assert other.recover() == []
    assert other.run_execution(execution_id, "t") is Outcome.NOT_CLAIMED
    clock.advance(31)  # runtime-a died: its lease lapsed
    assert other.recover() == [execution_id]
    assert manager.get_status(instance_id).status == "COMPLETED"


def test_execution_committed_but_never_dispatched_is_recovered_on_start(manager, clock) -> None:
    manager.add_workflow(chain("w", "t"))
    instance_id = manager.start_workflow("w", {"value": 1})  # no runtime: the dispatch went nowhere
    registry = WorkerRegistry()
    registry.register("t", lambda inputs: {"result": inputs["value"] + 1})
    runtime_for(manager, clock, registry).recover()
    assert manager.get_status(instance_id).context["t_result"] == 2


def test_stuck_check_marks_an_abandoned_lease_once(manager, clock) -> None:
    manager.add_workflow(chain("w", "remote"))
    instance_id = manager.start_workflow("w", {})
    execution_id = only_execution(manager, instance_id).id
    manager.store.claim_execution(execution_id, "dead-host:1", clock(), clock() + timedelta(seconds=30))
    runtime = runtime_for(manager, clock, WorkerRegistry(), lease_seconds=30)
    assert runtime.check_stuck() == []  # the lease is still live
    clock.advance(60)
    findings = runtime.check_stuck()
    assert [f.execution_id for f in findings] == [execution_id]
    assert "dead-host:1" in findings[0].reason
    clock.advance(60)
    assert runtime.check_stuck() == []  # recorded once, not at every tick
    view = manager.get_status(instance_id)
    assert view.executions[0].status == ExecutionStatus.STUCK
    assert view.tokens[0].status == "STUCK"
    assert sum(1 for h in view.history if h.kind is HistoryKind.EXECUTION_STUCK) == 1
    manager.retry(execution_id)  # an operator can act on it
    assert manager.get_status(instance_id).executions[-1].status == "ACTIVE"


def test_the_scheduled_stuck_check_runs_once_per_period_among_runtimes(manager, clock) -> None:
    """Runtimes sharing a database (two here, as on two hosts) take turns: each period, one of them checks."""
    manager.add_workflow(chain("w", "remote"))
    instance_id = manager.start_workflow("w", {})
    execution_id = only_execution(manager, instance_id).id
    manager.store.claim_execution(execution_id, "dead-host:1", clock(), clock() + timedelta(seconds=30))
    first = runtime_for(manager, clock, WorkerRegistry(), owner="a", lease_seconds=30, stuck_interval=30)
    second = runtime_for(manager, clock, WorkerRegistry(), owner="b", lease_seconds=30, stuck_interval=30)
    assert first.check_stuck_in_turn() == []  # its turn: nothing stuck yet
    clock.advance(10)
    with pytest.MonkeyPatch.context() as patch:  # not its turn: it does not even look
        patch.setattr(second, "check_stuck", lambda: pytest.fail("checked out of turn"))
        assert second.check_stuck_in_turn() == []
    clock.advance(50)
    findings = second.check_stuck_in_turn()  # the next period: whoever comes first
    assert [f.execution_id for f in findings] == [execution_id]
    assert first.check_stuck_in_turn() == []
    clock.advance(30)
    assert first.check_stuck_in_turn() == []  # its turn again; recorded once, not at every turn
    view = manager.get_status(instance_id)
    assert sum(1 for h in view.history if h.kind is HistoryKind.EXECUTION_STUCK) == 1


def test_stuck_check_marks_an_attempt_running_past_its_timeout(manager, clock) -> None:
    registry = WorkerRegistry()
    registry.register("slow", lambda inputs: {}, RetryPolicy(timeout=60))
    manager.add_workflow(chain("w", "slow"))
    instance_id = manager.start_workflow("w", {})
    execution_id = only_execution(manager, instance_id).id
    runtime = runtime_for(manager, clock, registry, lease_seconds=30)
    # Another process holds it and keeps renewing its lease, but the attempt never ends.
    manager.store.claim_execution(execution_id, "other:2", clock(), clock() + timedelta(seconds=30))
    clock.advance(80)
    manager.store.renew_leases("other:2", [execution_id], clock() + timedelta(seconds=30))
    assert runtime.check_stuck() == []
    clock.advance(20)
    manager.store.renew_leases("other:2", [execution_id], clock() + timedelta(seconds=30))
    findings = runtime.check_stuck()
    assert len(findings) == 1 and "more than 90 s" in findings[0].reason


def test_stuck_check_marks_a_parallel_join_that_can_no_longer_fire(manager, clock) -> None:
    blueprint = {
        "workflow_id": "bad_join",
        "nodes": [START, END,
                  {"id": "x", "type": "INTERNAL", "internal_type": "GATEWAY", "gateway_type": "EXCLUSIVE_SPLIT"},
                  {"id": "a", "type": "TASK", "task_id": "a"}, {"id": "b", "type": "TASK", "task_id": "b"},
                  {"id": "j", "type": "INTERNAL", "internal_type": "GATEWAY", "gateway_type": "PARALLEL_JOIN"}],
        "edges": [{"id": "e1", "source_id": "start", "target_id": "x"},
                  {"id": "e2", "source_id": "x", "target_id": "a", "condition": "go == 'a'"},
                  {"id": "e3", "source_id": "x", "target_id": "b"},
                  {"id": "e4", "source_id": "a", "target_id": "j"}, {"id": "e5", "source_id": "b", "target_id": "j"},
                  {"id": "e6", "source_id": "j", "target_id": "end"}],
    }
    manager.add_workflow(blueprint)  # accepted with a warning: the join's branches come from no parallel split
    instance_id = manager.start_workflow("bad_join", {"go": "a"})
    manager.task_done(only_execution(manager, instance_id).id, {})
    runtime = runtime_for(manager, clock, WorkerRegistry())
    findings = runtime.check_stuck()
    assert [(f.node_id, f.instance_id) for f in findings] == [("j", instance_id)]
    assert runtime.check_stuck() == []
    view = manager.get_status(instance_id)
    assert [t.status for t in view.tokens] == ["STUCK"]
    assert sum(1 for h in view.history if h.kind is HistoryKind.JOIN_STUCK) == 1


def _gateway(node_id: str, kind: str) -> dict:
    return {"id": node_id, "type": "INTERNAL", "internal_type": "GATEWAY", "gateway_type": kind}


# A parallel join fed by a task and by both branches of a second parallel split further up.
NESTED_SPLIT = {
    "workflow_id": "nested_split",
    "nodes": [START, END, _gateway("ps", "PARALLEL_SPLIT"), _gateway("ps2", "PARALLEL_SPLIT"),
              _gateway("j", "PARALLEL_JOIN"),
              *({"id": t, "type": "TASK", "task_id": t} for t in ("a", "t", "b", "c"))],
    "edges": [{"id": f"e{n}", "source_id": s, "target_id": t} for n, (s, t) in enumerate(
        [("start", "ps"), ("ps", "a"), ("ps", "t"), ("t", "ps2"), ("ps2", "b"), ("ps2", "c"),
         ("a", "j"), ("b", "j"), ("c", "j"), ("j", "end")])],
}


def _open_executions(manager: WorkflowManager, instance_id: str) -> dict[str, str]:
    return {e.node_id: e.id for e in manager.get_status(instance_id).executions if e.status == "ACTIVE"}


def test_stuck_check_counts_every_branch_a_token_can_still_bring_to_a_join(manager, clock) -> None:
    manager.add_workflow(NESTED_SPLIT)  # a warning: the join's branches come from two splits
    instance_id = manager.start_workflow("nested_split", {})
    manager.task_done(_open_executions(manager, instance_id)["a"], {})
    # One token waits at j; the one at t will bring two more (through ps2): j needs three, so not stuck.
    assert runtime_for(manager, clock, WorkerRegistry()).check_stuck() == []
    manager.task_done(_open_executions(manager, instance_id)["t"], {})
    for execution_id in _open_executions(manager, instance_id).values():
        manager.task_done(execution_id, {})
    assert manager.get_status(instance_id).status == "COMPLETED"


def test_a_join_marked_stuck_still_fires_when_its_branches_arrive(manager, clock, monkeypatch) -> None:
    """A join marked STUCK by mistake (as the check before 2026-11-25 could) is not lost for good."""
    from engine import machine

    manager.add_workflow(NESTED_SPLIT)
    instance_id = manager.start_workflow("nested_split", {})
    manager.task_done(_open_executions(manager, instance_id)["a"], {})
    monkeypatch.setattr(machine, "stuck_joins", lambda bp, state: [("j", "marked by an older check")])
    assert [f.node_id for f in runtime_for(manager, clock, WorkerRegistry()).check_stuck()] == ["j"]
    monkeypatch.undo()
    assert [t.status for t in manager.get_status(instance_id).tokens if t.node_id == "j"] == ["STUCK"]
    manager.task_done(_open_executions(manager, instance_id)["t"], {})
    for execution_id in _open_executions(manager, instance_id).values():
        manager.task_done(execution_id, {})
    view = manager.get_status(instance_id)
    assert view.status == "COMPLETED"
    assert sum(1 for h in view.history if h.kind is HistoryKind.JOIN_FIRED) == 1


def test_stuck_check_leaves_a_join_a_loop_may_still_feed(manager, clock) -> None:
    blueprint = {
        "workflow_id": "loop_join",
        "nodes": [START, END, _gateway("ps", "PARALLEL_SPLIT"), _gateway("x", "EXCLUSIVE_SPLIT"),
                  _gateway("again", "EXCLUSIVE_JOIN"), _gateway("j", "PARALLEL_JOIN"),
                  *({"id": t, "type": "TASK", "task_id": t} for t in ("a", "work"))],
        "edges": [{"id": "e1", "source_id": "start", "target_id": "ps"},
                  {"id": "e2", "source_id": "ps", "target_id": "a"},
                  {"id": "e3", "source_id": "ps", "target_id": "again"},
                  {"id": "e4", "source_id": "again", "target_id": "work"},
                  {"id": "e5", "source_id": "work", "target_id": "x"},
                  {"id": "e6", "source_id": "x", "target_id": "again", "condition": "more == true"},
                  {"id": "e7", "source_id": "x", "target_id": "j"},
                  {"id": "e8", "source_id": "a", "target_id": "j"},
                  {"id": "e9", "source_id": "j", "target_id": "end"}],
    }
    manager.add_workflow(blueprint)
    instance_id = manager.start_workflow("loop_join", {"more": True})
    manager.task_done(_open_executions(manager, instance_id)["a"], {})
    runtime = runtime_for(manager, clock, WorkerRegistry())
    assert runtime.check_stuck() == []
    manager.task_done(_open_executions(manager, instance_id)["work"], {})  # more is true: round again
    assert runtime.check_stuck() == []
    manager.set_variables(instance_id, {"more": False})
    manager.task_done(_open_executions(manager, instance_id)["work"], {})
    assert manager.get_status(instance_id).status == "COMPLETED"


def test_a_completion_whose_next_split_matches_nothing_is_reported_completed(manager, clock) -> None:
    manager.add_workflow({
        "workflow_id": "dead_end",
        "nodes": [START, END, _gateway("x", "EXCLUSIVE_SPLIT"),
                  {"id": "t", "type": "TASK", "task_id": "check", "output_mapping": {"ok": "ok"}},
                  {"id": "b", "type": "TASK", "task_id": "b"}],
        "edges": [{"id": "e1", "source_id": "start", "target_id": "t"},
                  {"id": "e2", "source_id": "t", "target_id": "x"},
                  {"id": "e3", "source_id": "x", "target_id": "b", "condition": "ok == true"},
                  {"id": "e4", "source_id": "b", "target_id": "end"}],
    })
    registry = WorkerRegistry()
    registry.register("check", lambda inputs: {"ok": False})
    outcomes = []
    runtime = runtime_for(manager, clock, registry, on_outcome=lambda e, outcome, *_: outcomes.append(outcome))
    instance_id = manager.start_workflow("dead_end", {})
    execution_id = only_execution(manager, instance_id).id

    assert runtime.run_execution(execution_id, "check") is Outcome.COMPLETED
    assert outcomes == [Outcome.COMPLETED] and runtime.stats.completed == 1 and runtime.stats.failed == 0
    view = manager.get_status(instance_id)
    assert view.status == "FAILED" and "no condition matched" in view.error
    assert view.executions[0].status == "COMPLETED"


def test_retry_policy_backoff_grows_and_is_capped_with_jitter_bounds() -> None:
    policy = RetryPolicy(attempts=10, backoff=2, multiplier=2, max_backoff=20, jitter=0.5)
    rng = random.Random(1)
    for failed, base in [(1, 2), (2, 4), (3, 8), (4, 16), (5, 20), (9, 20)]:
        delay = policy.delay(failed, rng).total_seconds()
        assert base * 0.5 <= delay <= base * 1.5
    assert policy.delay(10) is None


def test_workers_load_by_module_name_and_by_file_path(tmp_path: Path) -> None:
    module = tmp_path / "my_workers.py"
    module.write_text(textwrap.dedent('''
        from engine.workers import worker

        @worker("send_email", attempts=5, timeout=10)
        def send_email(inputs):
            return {"status": "sent"}
    '''))
    registry = load_workers(str(module))
    assert registry.task_ids == ["send_email"]
    assert registry.get("send_email").policy.attempts == 5
    assert load_workers("tests.engine.worker_modules.slow_workers").task_ids == ["hold"]


@pytest.mark.parametrize("name, message", [
    ("no_such_module_xyz", "module not found"),
    ("/nonexistent/workers.py", "no such file"),
    ("json", "declares no worker"),
])
def test_unusable_worker_modules_are_named_in_the_error(name: str, message: str) -> None:
    with pytest.raises(WorkerLoadError, match=message):
        load_workers(name)


def test_decorator_keeps_the_function_callable() -> None:
    @worker("x", attempts=2)
    def x(inputs):
        return {"ok": True}

    assert x({}) == {"ok": True}


def test_scheduler_runs_dispatched_work_in_the_background_and_stops_cleanly(tmp_path: Path) -> None:
    store = open_store(tmp_path / "wf.db")
    manager = WorkflowManager(store)
    done = threading.Event()
    registry = WorkerRegistry()
    registry.register("t", lambda inputs: {"result": "ok"})
    manager.register_completion_handler(lambda instance: done.set())
    runtime = WorkerRuntime(manager, registry, poll_interval=0.2)
    runtime.start()
    try:
        manager.add_workflow(chain("w", "t"))
        instance_id = manager.start_workflow("w", {})
        assert done.wait(10), "the background runtime never completed the instance"
        assert manager.get_status(instance_id).status == "COMPLETED"
    finally:
        runtime.stop(grace=5)
    assert not runtime.running


def test_a_runtime_killed_mid_task_is_taken_over_by_another(database: str, tmp_path: Path) -> None:
    """SIGKILL a runtime process while its worker runs; a second runtime finishes the instance once."""
    db = database
    store = open_store(db)
    manager = WorkflowManager(store)
    manager.add_workflow(chain("w", "hold"))
    instance_id = manager.start_workflow("w", {"value": "payload"})
    env = {**os.environ, "WF_TEST_DIR": str(tmp_path), "PYTHONPATH": os.getcwd()}
    script = textwrap.dedent(f'''
        import time
        from engine import WorkflowManager
        from engine.runtime import WorkerRuntime
        from engine.workers import load_workers
        from store import open_store
        manager = WorkflowManager(open_store({str(db)!r}))
        runtime = WorkerRuntime(manager, load_workers("tests.engine.worker_modules.slow_workers"),
                                owner="doomed", lease_seconds=2, poll_interval=0.1)
        runtime.start()
        time.sleep(600)
    ''')
    doomed = subprocess.Popen([sys.executable, "-c", script], env=env)
    try:
        started = tmp_path / f"started-{doomed.pid}"
        for _ in range(600):  # wait (bounded) for the worker to be mid-task
            if started.exists():
                break
            if doomed.poll() is not None:
                pytest.fail("the runtime process died before its worker started")
            threading.Event().wait(0.05)
        assert started.exists()
        assert manager.get_status(instance_id).executions[0].lease_owner == "doomed"
    finally:
        doomed.send_signal(signal.SIGKILL)
        doomed.wait()
    (tmp_path / "release").write_text("go")

    clock = FakeClock()
    clock.now = datetime.now(UTC) + timedelta(seconds=5)  # past the dead runtime's lease
    survivor = WorkerRuntime(WorkflowManager(store, clock=clock),
                             load_workers("tests.engine.worker_modules.slow_workers"), owner="survivor", clock=clock)
    os.environ["WF_TEST_DIR"] = str(tmp_path)
    try:
        assert len(survivor.recover()) == 1
    finally:
        del os.environ["WF_TEST_DIR"]
    view = manager.get_status(instance_id)
    assert view.status == "COMPLETED"
    assert view.context["hold_result"] == f"done by {os.getpid()}"
    completions = [h for h in view.history if h.kind is HistoryKind.EXECUTION_COMPLETED]
    assert len(completions) == 1 and completions[0].actor == "worker@survivor"


def test_two_runtimes_on_one_database_never_run_one_execution_at_the_same_time(database: str) -> None:
    """Two runtimes (each its own store, as two processes or hosts would have) race for the same executions."""
    db = database
    runs: list[tuple[str, str, float, float]] = []
    lock = threading.Lock()
    # No run ends before both runtimes have started one: a runtime's pool holds a few executions at a time,
    # so neither can take all 30 before the other's first poll, however the two are scheduled.
    started_one = {"alpha": threading.Event(), "beta": threading.Event()}

    def work(owner: str):
        def run(inputs):
            started = time.monotonic()
            started_one[owner].set()
            for event in started_one.values():
                event.wait(30)
            threading.Event().wait(0.002)  # long enough for the other runtime to try the same execution
            with lock:
                runs.append((owner, inputs["value"], started, time.monotonic()))
            return {"result": owner}
        return run

    setup = open_store(db)
    WorkflowManager(setup).add_workflow(chain("w", "t"))
    instance_ids = [WorkflowManager(setup).start_workflow("w", {"value": n}) for n in range(30)]
    runtimes, stores = [], []
    for owner in ("alpha", "beta"):
        store = open_store(db)
        registry = WorkerRegistry()
        registry.register("t", work(owner))
        runtime = WorkerRuntime(WorkflowManager(store), registry, owner=owner, poll_interval=0.05)
        stores.append(store)
        runtimes.append(runtime)
    for runtime in runtimes:
        runtime.start()
    try:
        manager = WorkflowManager(setup)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if setup.count_instances().get("COMPLETED") == 30:
                break
            threading.Event().wait(0.05)  # waiting for two background runtimes, not a clock
    finally:
        for runtime in runtimes:
            runtime.stop(grace=5)
    assert setup.count_instances() == {"COMPLETED": 30}
    by_value: dict[int, list] = {}
    for owner, value, started, ended in runs:
        by_value.setdefault(value, []).append((owner, started, ended))
    assert sorted(by_value) == list(range(30))
    assert all(len(attempts) == 1 for attempts in by_value.values()), "an execution ran twice"
    assert {owner for owner, *_ in runs} == {"alpha", "beta"}, "both runtimes should have taken work"
    for instance_id in instance_ids:
        history = manager.get_status(instance_id).history
        assert sum(1 for h in history if h.kind is HistoryKind.EXECUTION_COMPLETED) == 1


def test_work_created_on_another_host_wakes_an_idle_runtime_before_its_poll(postgres_url: str) -> None:
    """PostgreSQL: a runtime polling once a minute still starts within seconds on work another host created
    (LISTEN/NOTIFY); its own first poll ran at start, before the work existed."""
    setup = open_store(postgres_url)
    WorkflowManager(setup).add_workflow(chain("w", "t"))
    store = open_store(postgres_url)
    registry = WorkerRegistry()
    ran = threading.Event()

    def work(inputs):
        ran.set()
        return {"result": 1}

    registry.register("t", work)
    runtime = WorkerRuntime(WorkflowManager(store), registry, owner="idle", poll_interval=60)
    runtime.start()
    try:
        threading.Event().wait(0.5)  # its first poll ran and found nothing; the next is a minute away
        other_host = WorkflowManager(open_store(postgres_url))
        instance_id = other_host.start_workflow("w", {"value": 1})
        assert ran.wait(timeout=10), "the runtime was not woken by the new work"
    finally:
        runtime.stop(grace=5)
        other_host.store.close()
        store.close()
    deadline = time.monotonic() + 5
    while setup.get_instance(instance_id).status != "COMPLETED" and time.monotonic() < deadline:
        threading.Event().wait(0.05)
    assert setup.get_instance(instance_id).status == "COMPLETED"
    setup.close()


STUCK_CHECKER = textwrap.dedent('''
    import sys, time
    from engine import WorkflowManager
    from engine.runtime import WorkerRuntime
    from engine.workers import load_workers
    from store import open_store
    db, owner = sys.argv[1:3]
    runtime = WorkerRuntime(WorkflowManager(open_store(db)), load_workers("tests.engine.worker_modules.slow_workers"),
                            owner=owner, poll_interval=0.2, stuck_interval=0.3, lease_seconds=30)
    runtime.start()
    time.sleep(4)
    runtime.stop(grace=1)
    print(runtime.stats.stuck)
''')


def test_runtimes_in_several_processes_record_each_stuck_execution_once(database: str) -> None:
    """Three runtime processes on one database, each with a stuck check every 0.3 s, for 4 s: the executions
    a dead host abandoned are each marked STUCK once, by whichever runtime had the turn."""
    store = open_store(database)
    manager = WorkflowManager(store)
    manager.add_workflow(chain("w", "remote"))  # no worker anywhere for "remote"
    now = datetime.now(UTC)
    abandoned = []
    for n in range(5):
        execution_id = only_execution(manager, manager.start_workflow("w", {"value": n})).id
        store.claim_execution(execution_id, "dead-host:1", now - timedelta(minutes=10), now - timedelta(minutes=9))
        abandoned.append(execution_id)
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    checkers = [subprocess.Popen([sys.executable, "-c", STUCK_CHECKER, database, f"checker-{n}"], env=env,
                                 stdout=subprocess.PIPE, text=True) for n in range(3)]
    found = [int(checker.communicate(timeout=120)[0].split()[-1]) for checker in checkers]
    assert sum(found) == len(abandoned), found  # each finding reported by one runtime only
    for execution_id in abandoned:
        view = manager.get_status(execution_id.split(":")[0])
        marks = [h for h in view.history if h.kind is HistoryKind.EXECUTION_STUCK]
        assert len(marks) == 1 and marks[0].actor.startswith("worker@checker-"), marks
        assert view.executions[0].status == ExecutionStatus.STUCK
    store.close()
