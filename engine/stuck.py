"""The stuck-token check's rules: what no worker will finish on its own, marked STUCK once for an operator.

An ACTIVE execution is stuck when its lease lapsed and no running runtime has a worker for its task, or
when its attempt has run for longer than its timeout plus one lease under a runtime that keeps renewing;
a parallel join is stuck when the tokens that could still reach it are too few (``machine.stuck_joins``).
``WorkerRuntime.check_stuck`` runs these on its schedule.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from engine.errors import WorkflowError
from engine.manager import WorkflowManager
from engine.model import Execution
from engine.workers import WorkerRegistry

log = logging.getLogger("wfconsole.runtime")


@dataclass(frozen=True)
class StuckFinding:
    """One thing the stuck-token check marked STUCK."""

    instance_id: str
    node_id: str
    reason: str
    execution_id: str | None = None


def stuck_reason(execution: Execution, now: datetime, registry: WorkerRegistry, lease: timedelta) -> str | None:
    """Why ``execution`` (ACTIVE) is stuck at ``now``, or ``None`` when a worker will still finish it."""
    spec = registry.get(execution.task_id)
    if execution.lease_until is not None and execution.lease_until < now:
        if spec is None:
            return (f"the lease of {execution.lease_owner} expired at {execution.lease_until:%Y-%m-%d %H:%M:%S} "
                    f"and no running runtime has a worker for task {execution.task_id!r}")
        return None  # recover() takes it over
    if spec is not None and execution.lease_owner is not None:
        limit = timedelta(seconds=spec.policy.timeout) + lease
        if now - execution.updated_at > limit:
            return (f"attempt {execution.attempt} has run for more than {limit.total_seconds():g} s "
                    f"(timeout {spec.policy.timeout:g} s) under {execution.lease_owner}")
    return None


def mark_stuck_executions(manager: WorkflowManager, executions: Iterable[Execution], now: datetime,
                          registry: WorkerRegistry, lease: timedelta, actor: str) -> list[StuckFinding]:
    """Mark each stuck one of ``executions`` STUCK; return what was marked (an execution that changed
    between the scan and the mark is skipped)."""
    findings = []
    for execution in executions:
        reason = stuck_reason(execution, now, registry, lease)
        if reason is None:
            continue
        try:
            manager.mark_stuck(execution.id, reason, actor=actor)
        except WorkflowError as error:  # it changed between the scan and the mark
            log.info("stuck mark skipped: %s", error)
            continue
        findings.append(StuckFinding(execution.instance_id, execution.node_id, reason, execution.id))
    return findings


def mark_stuck_joins(manager: WorkflowManager, instance_ids: Iterable[str], actor: str) -> list[StuckFinding]:
    """Mark the parallel joins of those instances that can no longer fire STUCK; return what was marked."""
    findings = []
    for instance_id in instance_ids:
        try:
            joins = manager.check_joins(instance_id, actor=actor)
        except WorkflowError as error:
            log.info("join check of %s skipped: %s", instance_id, error)
            continue
        findings.extend(StuckFinding(instance_id, join, "parallel join can no longer fire") for join in joins)
    return findings
