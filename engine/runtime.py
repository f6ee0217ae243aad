"""The worker runtime: runs local task workers and the stuck-token check on an in-process APScheduler.

Every execution a worker runs is first *claimed*: a lease (owner, until when) taken in a write transaction,
so several runtime processes on one database never run an execution at the same time. Leases of running
attempts are renewed; a runtime that dies stops renewing, its leases lapse, and another runtime (or this
one after a restart) picks the executions up again. Executions committed but never dispatched (a crash
between commit and dispatch) are found the same way, by the periodic poll.

Time comes from one injectable clock; the synchronous methods (:meth:`WorkerRuntime.run_execution`,
:meth:`~WorkerRuntime.recover`, :meth:`~WorkerRuntime.check_stuck`) are what the scheduled jobs call, and
what tests call directly with a fake clock.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from engine.errors import InvalidStateError, InvalidValueError, NoMatchingConditionError, WorkflowError
from engine.manager import WorkflowManager
from engine.model import Execution, TaskPayload
from engine.workers import WorkerRegistry, WorkerSpec

log = logging.getLogger("wfconsole.runtime")


class Outcome(StrEnum):
    COMPLETED = "completed"
    RETRY = "retry"  # the attempt failed; another is scheduled
    FAILED = "failed"  # the last attempt failed: an incident
    NOT_CLAIMED = "not-claimed"  # someone else holds it, it is not due, or it is no longer ACTIVE
    MANUAL = "manual"  # no local worker: it waits for a person


@dataclass(frozen=True)
class StuckFinding:
    """One thing the stuck-token check marked STUCK."""

    instance_id: str
    node_id: str
    reason: str
    execution_id: str | None = None


@dataclass
class RuntimeStats:
    """Counters for the console header and the headless log."""

    started_at: float = field(default_factory=time.monotonic)
    completed: int = 0
    retried: int = 0
    failed: int = 0
    stuck: int = 0


def default_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class WorkerRuntime:
    """Runs the workers of ``registry`` for the executions of ``manager``'s database."""

    def __init__(self, manager: WorkflowManager, registry: WorkerRegistry, *, owner: str | None = None,
                 clock: Callable[[], datetime] | None = None, lease_seconds: float = 30.0,
                 poll_interval: float = 1.0, stuck_interval: float = 30.0, max_workers: int = 4,
                 rng: random.Random | None = None,
                 on_outcome: Callable[[Execution, Outcome, float, str | None], None] | None = None) -> None:
        self.manager = manager
        self.store = manager.store
        self.registry = registry
        self.owner = owner or default_owner()
        self.actor = f"worker@{self.owner}"
        self.clock = clock or manager.clock
        self.lease = timedelta(seconds=lease_seconds)
        self.poll_interval = poll_interval
        self.stuck_interval = stuck_interval
        self.max_workers = max_workers
        self.rng = rng or random.Random()
        self.on_outcome = on_outcome
        self.stats = RuntimeStats()
        self._running: set[str] = set()
        self._submitted: set[str] = set()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._stopping = False
        self._scheduler: BackgroundScheduler | None = None
        manager.register_task_handler(self._on_dispatch)

    # -- lifecycle --------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._scheduler is not None and not self._stopping

    @property
    def running_count(self) -> int:
        with self._lock:
            return len(self._running)

    def start(self) -> None:
        """Start the scheduler: the poll (recovery), the lease renewal and the stuck-token check."""
        if self._scheduler is not None:
            return
        scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(self.max_workers), "control": ThreadPoolExecutor(2)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        scheduler.add_job(self.recover, "interval", seconds=self.poll_interval, id="poll", executor="control",
                          next_run_time=datetime.now().astimezone())
        scheduler.add_job(self.renew_leases, "interval", seconds=max(0.5, self.lease.total_seconds() / 3),
                          id="renew", executor="control")
        scheduler.add_job(self.check_stuck, "interval", seconds=self.stuck_interval, id="stuck", executor="control")
        self._scheduler = scheduler
        scheduler.start()
        log.info("runtime %s started with workers for %s", self.owner, ", ".join(self.registry.task_ids))

    def stop(self, grace: float = 30.0) -> None:
        """Stop claiming; let running attempts finish within ``grace`` seconds; release the rest's leases."""
        self._stopping = True
        scheduler, self._scheduler = self._scheduler, None
        if scheduler is not None:
            for job_id in ("poll", "stuck"):
                try:
                    scheduler.remove_job(job_id)
                except Exception:  # already gone
                    pass
        deadline = time.monotonic() + grace
        with self._idle:
            while self._running and time.monotonic() < deadline:
                self._idle.wait(timeout=max(0.0, deadline - time.monotonic()))
            unfinished = list(self._running)
        released = self.store.release_leases(self.owner)
        if unfinished:
            log.warning("runtime %s stopped with %d attempt(s) unfinished; %d lease(s) released",
                        self.owner, len(unfinished), released)
        if scheduler is not None:
            scheduler.shutdown(wait=False)
        log.info("runtime %s stopped", self.owner)

    # -- dispatch and recovery --------------------------------------------------------------------

    def _on_dispatch(self, payload: TaskPayload) -> None:
        if payload.task_id in self.registry and self.running:
            self._submit(payload.execution_id, payload.task_id)

    def _submit(self, execution_id: str, task_id: str) -> None:
        with self._lock:
            if execution_id in self._submitted or execution_id in self._running or self._scheduler is None:
                return
            self._submitted.add(execution_id)
            scheduler = self._scheduler
        scheduler.add_job(self.run_execution, args=[execution_id, task_id], executor="default",
                          misfire_grace_time=None)

    def recover(self) -> list[str]:
        """Find executions with a local worker that nobody runs (never dispatched, lease lapsed, retry due)
        and submit them; without a started scheduler, run them here. Return their ids."""
        if self._stopping:
            return []
        found = self.store.runnable_executions(self.registry.task_ids, self.clock(), limit=200)
        ids = []
        for execution in found:
            with self._lock:
                if execution.id in self._submitted or execution.id in self._running:
                    continue
            ids.append(execution.id)
            if self._scheduler is not None:
                self._submit(execution.id, execution.task_id)
            else:
                self.run_execution(execution.id, execution.task_id)
        return ids

    def renew_leases(self) -> None:
        with self._lock:
            running = list(self._running)
        if running:
            self.store.renew_leases(self.owner, running, self.clock() + self.lease)

    # -- running one execution ----------------------------------------------------------------------

    def run_execution(self, execution_id: str, task_id: str) -> Outcome:
        """Claim the execution, run its worker, and record the outcome."""
        spec = self.registry.get(task_id)
        try:
            if spec is None:
                return Outcome.MANUAL
            if self._stopping:
                return Outcome.NOT_CLAIMED
            now = self.clock()
            execution = self.store.claim_execution(execution_id, self.owner, now, now + self.lease)
            if execution is None:
                return Outcome.NOT_CLAIMED
            with self._lock:
                self._running.add(execution_id)
            return self._attempt(spec, execution)
        finally:
            with self._idle:
                self._submitted.discard(execution_id)
                self._running.discard(execution_id)
                self._idle.notify_all()

    def _attempt(self, spec: WorkerSpec, execution: Execution) -> Outcome:
        started = time.monotonic()
        try:
            outputs = self._call(spec, execution.inputs)
            try:
                completion = self.manager.task_done(execution.id, outputs, actor=self.actor)
                if not completion.applied:  # cancelled, retried or completed by someone else meanwhile
                    log.info("execution %s: %s", execution.id, completion.message,
                             extra={"instance_id": execution.instance_id, "execution_id": execution.id})
                    return Outcome.NOT_CLAIMED
            except NoMatchingConditionError as error:
                # The completion is committed: the exclusive split after the task matched nothing and the
                # instance is FAILED there, an incident of the instance's, not a failure of this attempt.
                log.warning("execution %s completed; %s", execution.id, error,
                            extra={"instance_id": execution.instance_id, "execution_id": execution.id})
        except InvalidStateError as error:  # cancelled or finished meanwhile: nothing to record
            log.info("execution %s changed while it ran: %s", execution.id, error)
            return Outcome.NOT_CLAIMED
        except (Exception, asyncio.CancelledError) as error:
            return self._record_failure(spec, execution, error, time.monotonic() - started)
        self.stats.completed += 1
        self._report(execution, Outcome.COMPLETED, time.monotonic() - started, None)
        return Outcome.COMPLETED

    def _call(self, spec: WorkerSpec, inputs: dict[str, Any]) -> dict[str, Any]:
        timeout = spec.policy.timeout
        if spec.is_async:
            result = asyncio.run(asyncio.wait_for(spec.function(dict(inputs)), timeout))
        else:
            result = _call_with_timeout(spec.function, dict(inputs), timeout)
        if result is None:
            return {}
        if not isinstance(result, dict):
            raise InvalidValueError(f"worker for {spec.task_id!r} returned {type(result).__name__}, "
                                    "expected a dict of outputs")
        return result

    def _record_failure(self, spec: WorkerSpec, execution: Execution, error: BaseException,
                        elapsed: float) -> Outcome:
        if isinstance(error, TimeoutError | asyncio.TimeoutError) and not str(error):
            error = TimeoutError(f"attempt exceeded its timeout of {spec.policy.timeout:g} s")
        message = f"{type(error).__name__}: {error}"
        tail = "".join(traceback.format_exception(error)[-3:]).strip()[-2000:]
        delay = spec.policy.delay(execution.attempt, self.rng)
        next_at = None if delay is None else self.clock() + delay
        try:
            self.manager.fail_attempt(execution.id, message, next_at, actor=self.actor,
                                      error_type=type(error).__name__, traceback=tail)
        except WorkflowError as problem:  # the instance was cancelled or finished meanwhile
            log.info("execution %s: failure not recorded: %s", execution.id, problem)
            return Outcome.NOT_CLAIMED
        outcome = Outcome.FAILED if next_at is None else Outcome.RETRY
        if outcome is Outcome.FAILED:
            self.stats.failed += 1
        else:
            self.stats.retried += 1
        self._report(execution, outcome, elapsed, message)
        return outcome

    def _report(self, execution: Execution, outcome: Outcome, elapsed: float, error: str | None) -> None:
        log.info("%s %s %s attempt %d in %.2fs%s", outcome.value, execution.task_id, execution.id,
                 execution.attempt, elapsed, f": {error}" if error else "",
                 extra={"instance_id": execution.instance_id, "execution_id": execution.id})
        if self.on_outcome is not None:
            self.on_outcome(execution, outcome, elapsed, error)

    # -- the stuck-token check --------------------------------------------------------------------

    def check_stuck(self) -> list[StuckFinding]:
        """Mark STUCK, once each: attempts running past their timeout, lapsed leases no local worker can
        take over, and parallel joins that can no longer fire."""
        now = self.clock()
        findings: list[StuckFinding] = []
        shortest = min((s.policy.timeout for s in self.registry), default=60.0)
        cutoff = now - timedelta(seconds=min(shortest, self.lease.total_seconds()))
        for execution in self.store.active_executions_before(cutoff):
            reason = self._stuck_reason(execution, now)
            if reason and self._mark(lambda e=execution, r=reason: self.manager.mark_stuck(e.id, r, actor=self.actor)):
                findings.append(StuckFinding(execution.instance_id, execution.node_id, reason, execution.id))
        for instance_id in self.store.instances_with_waiting_tokens():
            try:
                joins = self.manager.check_joins(instance_id, actor=self.actor)
            except WorkflowError as error:
                log.info("join check of %s skipped: %s", instance_id, error)
                continue
            findings.extend(StuckFinding(instance_id, join, "parallel join can no longer fire") for join in joins)
        self.stats.stuck += len(findings)
        for finding in findings:
            log.warning("stuck: %s at %s: %s", finding.instance_id, finding.node_id, finding.reason,
                        extra={"instance_id": finding.instance_id})
        return findings

    def _stuck_reason(self, execution: Execution, now: datetime) -> str | None:
        spec = self.registry.get(execution.task_id)
        if execution.lease_until is not None and execution.lease_until < now:
            if spec is None:
                return (f"the lease of {execution.lease_owner} expired at {execution.lease_until:%Y-%m-%d %H:%M:%S} "
                        f"and no running runtime has a worker for task {execution.task_id!r}")
            return None  # recover() takes it over
        if spec is not None and execution.lease_owner is not None:
            limit = timedelta(seconds=spec.policy.timeout) + self.lease
            if now - execution.updated_at > limit:
                return (f"attempt {execution.attempt} has run for more than {limit.total_seconds():g} s "
                        f"(timeout {spec.policy.timeout:g} s) under {execution.lease_owner}")
        return None

    @staticmethod
    def _mark(action: Callable[[], None]) -> bool:
        try:
            action()
            return True
        except WorkflowError as error:  # it changed between the scan and the mark
            log.info("stuck mark skipped: %s", error)
            return False


def _call_with_timeout(function: Callable[[dict[str, Any]], Any], inputs: dict[str, Any], timeout: float) -> Any:
    """Run a synchronous worker in a thread of its own and wait at most ``timeout`` seconds.

    Python cannot kill a thread: an attempt that overruns is abandoned (its result ignored) and recorded
    as failed, and its lease is no longer renewed.
    """
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = function(inputs)
        except BaseException as error:  # handed to the caller's thread
            box["error"] = error

    thread = threading.Thread(target=target, name="wfconsole-worker", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise TimeoutError(f"attempt exceeded its timeout of {timeout:g} s")
    if "error" in box:
        raise box["error"]
    return box.get("result")
