"""The worker runtime: runs local task workers and the stuck-token check on an in-process APScheduler.

Every execution a worker runs is first *claimed*: a lease (owner, until when) taken in a write transaction,
so several runtime processes on one database never run an execution at the same time. Leases of running
attempts are renewed; a runtime that dies stops renewing, its leases lapse, and another runtime (or this
one after a restart) picks the executions up again. Executions committed but never dispatched (a crash
between commit and dispatch) are found the same way, by the periodic poll.

Each claim carries a fencing token (``Execution.claim``); the attempt's completion, failure and lease
renewals carry it too, so a worker whose claim was taken over, released or ended by an operator changes
nothing: its report is recorded as stale (``STALE_REPORT``). An attempt that overruns its timeout keeps
its claim until its thread ends (:mod:`engine.attempts`): no second attempt of one execution runs at once.
A store that fails (disk full, locked) costs one log line per failure, and the polls back off.

Time comes from one injectable clock; the synchronous methods (:meth:`WorkerRuntime.run_execution`,
:meth:`~WorkerRuntime.recover`, :meth:`~WorkerRuntime.renew_leases`, :meth:`~WorkerRuntime.check_overruns`,
:meth:`~WorkerRuntime.check_stuck`) are what the scheduled jobs call, and what tests call directly with a
fake clock.
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

from engine.attempts import AttemptOverrun, Overrun, StoreBackoff, call_with_timeout
from engine.errors import (
    InvalidStateError,
    InvalidValueError,
    NoMatchingConditionError,
    StaleClaimError,
    StoreError,
    WorkflowError,
)
from engine.manager import WorkflowManager
from engine.model import Execution, TaskPayload
from engine.outcomes import Ignored
from engine.stuck import StuckFinding, mark_stuck_executions, mark_stuck_joins
from engine.workers import WorkerRegistry, WorkerSpec

__all__ = ["Outcome", "RuntimeStats", "StuckFinding", "WorkerRuntime", "default_owner"]

log = logging.getLogger("wfconsole.runtime")


class Outcome(StrEnum):
    COMPLETED = "completed"
    RETRY = "retry"  # the attempt failed; another is scheduled
    FAILED = "failed"  # the last attempt failed: an incident
    NOT_CLAIMED = "not-claimed"  # someone else holds it, it is not due, or it is no longer ACTIVE
    MANUAL = "manual"  # no local worker: it waits for a person
    STALE = "stale"  # the claim was lost meanwhile (taken over, released, failed by an operator): nothing changed
    OVERRUN = "overrun"  # past its timeout, its thread still runs: the failure is recorded when it ends
    ZOMBIE = "zombie"  # an overrun given up: the execution is STUCK, the thread still runs
    UNRECORDED = "unrecorded"  # the store failed while recording the outcome: the lease lapses, it runs again


@dataclass
class RuntimeStats:
    """Counters for the console header and the headless log."""

    started_at: float = field(default_factory=time.monotonic)
    completed: int = 0
    retried: int = 0
    failed: int = 0
    stuck: int = 0
    stale: int = 0  # reports under a claim that was no longer current
    zombies: int = 0  # overrunning attempts given up while their thread still ran


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
        self._running: set[str] = set()  # executions with an attempt here, overrunning ones included
        self._submitted: set[str] = set()
        self._claims: dict[str, int] = {}  # the fencing tokens of the claims whose leases are renewed
        self._overruns: dict[str, Overrun] = {}
        self._zombies: list[threading.Thread] = []
        self._backoff = StoreBackoff(poll_interval)
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

    @property
    def overruns(self) -> list[Overrun]:
        """The attempts past their timeout whose thread still runs (their next attempt waits)."""
        with self._lock:
            return list(self._overruns.values())

    @property
    def zombie_count(self) -> int:
        """Attempts given up as zombies whose thread still runs in this process."""
        with self._lock:
            self._zombies = [thread for thread in self._zombies if thread.is_alive()]
            return len(self._zombies)

    def start(self) -> None:
        """Start the scheduler: the poll (recovery), the lease renewal and the stuck-token check."""
        if self._scheduler is not None:
            return
        scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(self.max_workers), "control": ThreadPoolExecutor(2)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        scheduler.add_job(self._guarded(self.recover), "interval", seconds=self.poll_interval, id="poll",
                          executor="control", next_run_time=datetime.now().astimezone())
        scheduler.add_job(self._guarded(self.renew_leases), "interval",
                          seconds=max(0.5, self.lease.total_seconds() / 3), id="renew", executor="control")
        scheduler.add_job(self._guarded(self.check_overruns), "interval", seconds=1.0, id="overruns",
                          executor="control")
        scheduler.add_job(self._guarded(self.check_stuck_in_turn), "interval", seconds=self.stuck_interval,
                          id="stuck", executor="control")
        self._scheduler = scheduler
        scheduler.start()
        if callable(getattr(self.store, "wait_for_work", None)):
            threading.Thread(target=self._listen, name=f"wfconsole-listen-{self.owner}", daemon=True).start()
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
        try:
            released = self.store.release_leases(self.owner)
        except WorkflowError as error:  # they lapse on their own
            log.warning("runtime %s could not release its leases: %s", self.owner, error)
            released = 0
        if unfinished:
            log.warning("runtime %s stopped with %d attempt(s) unfinished; %d lease(s) released",
                        self.owner, len(unfinished), released)
        if scheduler is not None:
            scheduler.shutdown(wait=False)
        log.info("runtime %s stopped", self.owner)

    def _listen(self) -> None:
        """Where the store can tell (``wait_for_work``: PostgreSQL's LISTEN), run the poll as soon as another
        process or host creates work, instead of at the next ``poll_interval``; the poll stays the fallback."""
        scheduler = self._scheduler
        failures = 0
        while self._scheduler is scheduler and scheduler is not None and not self._stopping:
            try:
                woken = self.store.wait_for_work(timeout=1.0)
                failures = 0
            except StoreError as error:
                failures += 1
                if failures == 1:
                    log.warning("runtime %s cannot listen for new work (polling every %.1f s meanwhile): %s",
                                self.owner, self.poll_interval, error)
                time.sleep(min(30.0, self.poll_interval * 2 ** failures))
                continue
            if woken and not self._stopping:
                try:
                    scheduler.modify_job("poll", next_run_time=datetime.now().astimezone())
                except Exception:  # noqa: BLE001 - stopping: the job is gone
                    return

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
        scheduler.add_job(self._guarded(self.run_execution), args=[execution_id, task_id], executor="default",
                          misfire_grace_time=None)

    def recover(self) -> list[str]:
        """Find executions with a local worker that nobody runs (never dispatched, lease lapsed, retry due)
        and submit them; without a started scheduler, run them here. Return their ids. After a store
        failure, polls wait (doubling up to 30 s) before trying again."""
        if self._stopping or self._backoff.waiting(self.clock()):
            return []
        try:
            found = self.store.runnable_executions(self.registry.task_ids, self.clock(), limit=200)
        except StoreError as error:
            self._store_failed("looking for runnable executions", error)
            return []
        if not found:
            self._backoff.succeeded()
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
        """Extend the leases of the running attempts' claims. A claim found no longer current (taken over,
        released, failed by an operator) is recorded once as a stale renewal and not renewed again."""
        with self._lock:
            claims = dict(self._claims)
        if not claims:
            return
        try:
            lost = self.store.renew_claims(self.owner, claims, self.clock() + self.lease)
        except StoreError as error:
            self._store_failed("renewing leases", error)
            return
        for execution_id in lost:
            with self._lock:
                if self._claims.get(execution_id) != claims[execution_id]:
                    continue  # its attempt ended meanwhile
                del self._claims[execution_id]
            try:
                if self.manager.record_lost_claim(execution_id, claims[execution_id], actor=self.actor):
                    log.warning("execution %s: claim %d lost while its attempt runs; its report will change nothing",
                                execution_id, claims[execution_id], extra={"execution_id": execution_id})
            except WorkflowError as error:
                log.info("execution %s: lost claim not recorded: %s", execution_id, error)

    # -- running one execution ----------------------------------------------------------------------

    def run_execution(self, execution_id: str, task_id: str) -> Outcome:
        """Claim the execution, run its worker, and record the outcome."""
        spec = self.registry.get(task_id)
        try:
            if spec is None:
                return Outcome.MANUAL
            if self._stopping:
                return Outcome.NOT_CLAIMED
            with self._lock:
                if execution_id in self._running:  # an attempt of it still runs here (it overran)
                    return Outcome.NOT_CLAIMED
            now = self.clock()
            try:
                execution = self.store.claim_execution(execution_id, self.owner, now, now + self.lease)
            except StoreError as error:
                self._store_failed(f"claiming execution {execution_id}", error)
                return Outcome.NOT_CLAIMED
            self._backoff.succeeded()
            if execution is None:
                return Outcome.NOT_CLAIMED
            with self._lock:
                self._running.add(execution_id)
                self._claims[execution_id] = execution.claim
            outcome = None
            try:
                outcome = self._attempt(spec, execution)
            finally:
                if outcome is not Outcome.OVERRUN:  # an overrun stays running until its thread ends
                    self._finished(execution_id)
            return outcome
        finally:
            with self._idle:
                self._submitted.discard(execution_id)

    def _finished(self, execution_id: str) -> None:
        """The attempt of ``execution_id`` is over: its lease is no longer renewed."""
        with self._idle:
            self._running.discard(execution_id)
            self._claims.pop(execution_id, None)
            self._overruns.pop(execution_id, None)
            self._idle.notify_all()

    def _attempt(self, spec: WorkerSpec, execution: Execution) -> Outcome:
        started = time.monotonic()
        try:
            outputs = self._call(spec, execution.inputs)
            try:
                completion = self.manager.task_done(execution.id, outputs, actor=self.actor, claim=execution.claim)
                if completion.ignored is Ignored.STALE_CLAIM:
                    return self._stale(execution, time.monotonic() - started, completion.message)
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
        except AttemptOverrun as overrun:
            return self._overran(spec, execution, overrun, started)
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
            result = call_with_timeout(spec.function, dict(inputs), timeout)
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
            self.manager.fail_attempt(execution.id, message, next_at, actor=self.actor, claim=execution.claim,
                                      error_type=type(error).__name__, traceback=tail)
        except StaleClaimError as stale:
            return self._stale(execution, elapsed, str(stale))
        except StoreError as problem:
            self._store_failed(f"recording the failure of execution {execution.id}", problem)
            self._report(execution, Outcome.UNRECORDED, elapsed, message)
            return Outcome.UNRECORDED
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

    def _stale(self, execution: Execution, elapsed: float, message: str) -> Outcome:
        self.stats.stale += 1
        log.info("execution %s: %s", execution.id, message,
                 extra={"instance_id": execution.instance_id, "execution_id": execution.id})
        self._report(execution, Outcome.STALE, elapsed, message)
        return Outcome.STALE

    # -- attempts that overran their timeout ------------------------------------------------------

    def _overran(self, spec: WorkerSpec, execution: Execution, overrun: AttemptOverrun, started: float) -> Outcome:
        """Keep the attempt, its claim and its lease until its thread ends (see :meth:`check_overruns`)."""
        give_up_at = execution.updated_at + timedelta(seconds=spec.policy.timeout) + self.lease
        with self._lock:
            self._overruns[execution.id] = Overrun(spec, execution, overrun.thread, give_up_at, started)
        message = f"{overrun}; its thread still runs: the next attempt waits for it to end"
        self._report(execution, Outcome.OVERRUN, time.monotonic() - started, message)
        return Outcome.OVERRUN

    def check_overruns(self) -> None:
        """Record the failure of each overrunning attempt whose thread has ended (its next attempt may
        then start); give up those still running at their timeout plus one lease (the stuck check's
        bound): the execution is marked STUCK, and the thread is counted as a zombie until it ends."""
        now = self.clock()
        with self._lock:
            overruns = list(self._overruns.items())
        for execution_id, overrun in overruns:
            if not overrun.thread.is_alive():
                try:
                    self._record_failure(overrun.spec, overrun.execution, overrun.failure(),
                                         time.monotonic() - overrun.started)
                finally:
                    self._finished(execution_id)
            elif now >= overrun.give_up_at:
                self._give_up(overrun)

    def _give_up(self, overrun: Overrun) -> None:
        execution, timeout = overrun.execution, overrun.spec.policy.timeout
        reason = (f"attempt {execution.attempt} overran its timeout of {timeout:g} s and its thread still runs "
                  f"in {self.owner}: given up as a zombie (retrying it runs the task again beside it)")
        with self._lock:
            self._zombies.append(overrun.thread)
        self.stats.zombies += 1
        try:
            self.manager.mark_stuck(execution.id, reason, actor=self.actor)
        except WorkflowError as error:  # marked already (by a stuck check), failed or finished meanwhile
            log.info("execution %s: zombie not marked: %s", execution.id, error)
        try:
            self.store.release_leases(self.owner, [execution.id])  # no report of it will come: end the claim
        except WorkflowError as error:  # it lapses on its own
            log.info("execution %s: lease not released: %s", execution.id, error)
        finally:
            self._finished(execution.id)
        self._report(execution, Outcome.ZOMBIE, time.monotonic() - overrun.started, reason)

    # -- reporting ----------------------------------------------------------------------------------

    def _store_failed(self, what: str, error: Exception) -> None:
        """One log line for a store failure (the traceback only in debug), and the polls back off."""
        delay = self._backoff.failed(self.clock())
        log.warning("%s failed: %s; next try in %g s", what, error, delay, exc_info=log.isEnabledFor(logging.DEBUG))

    def _guarded(self, job: Callable[..., Any]) -> Callable[..., Any]:
        """``job`` for the scheduler: an exception it lets through is one log line, not a traceback (the
        scheduler's own logging would print one at every run)."""
        def run(*args: Any) -> Any:
            try:
                return job(*args)
            except Exception as error:
                log.error("%s failed: %s: %s", job.__name__, type(error).__name__, error,
                          exc_info=log.isEnabledFor(logging.DEBUG))
                return None
        return run

    def _report(self, execution: Execution, outcome: Outcome, elapsed: float, error: str | None) -> None:
        log.info("%s %s %s attempt %d in %.2fs%s", outcome.value, execution.task_id, execution.id,
                 execution.attempt, elapsed, f": {error}" if error else "",
                 extra={"instance_id": execution.instance_id, "execution_id": execution.id})
        if self.on_outcome is not None:
            self.on_outcome(execution, outcome, elapsed, error)

    # -- the stuck-token check --------------------------------------------------------------------

    def check_stuck_in_turn(self) -> list[StuckFinding]:
        """The scheduled stuck check: run when it is this runtime's turn, so that the runtimes sharing a database
        (on any number of hosts) check it once per ``stuck_interval`` between them (``take_turn``), not each."""
        now = self.clock()
        try:
            # A little shorter than the interval: the runtime that took the last turn can take the next on time.
            mine = self.store.take_turn("stuck-check", now, timedelta(seconds=self.stuck_interval * 0.9))
        except StoreError as error:
            self._store_failed("the stuck check", error)
            return []
        return self.check_stuck() if mine else []

    def check_stuck(self) -> list[StuckFinding]:
        """Mark STUCK, once each: attempts running past their timeout, lapsed leases no local worker can
        take over, and parallel joins that can no longer fire (the rules: :mod:`engine.stuck`)."""
        now = self.clock()
        shortest = min((s.policy.timeout for s in self.registry), default=60.0)
        cutoff = now - timedelta(seconds=min(shortest, self.lease.total_seconds()))
        try:
            overdue = self.store.active_executions_before(cutoff)
            waiting = self.store.instances_with_waiting_tokens()
        except StoreError as error:
            self._store_failed("the stuck check", error)
            return []
        with self._lock:  # this runtime's own overruns: check_overruns gives them up, with a better reason
            overdue = [execution for execution in overdue if execution.id not in self._overruns]
        findings = mark_stuck_executions(self.manager, overdue, now, self.registry, self.lease, self.actor)
        findings += mark_stuck_joins(self.manager, waiting, self.actor)
        self.stats.stuck += len(findings)
        for finding in findings:
            log.warning("stuck: %s at %s: %s", finding.instance_id, finding.node_id, finding.reason,
                        extra={"instance_id": finding.instance_id})
        return findings
