"""One attempt of a worker, bounded by its timeout, and what the runtime keeps of an attempt that overran.

Python cannot stop a thread. A synchronous attempt runs in a thread of its own; when it passes its
timeout, :func:`call_with_timeout` raises :class:`AttemptOverrun` with the thread still running, and the
runtime keeps the attempt (an :class:`Overrun`) until the thread ends: its claim stays and its lease is
renewed, so no other attempt of the execution starts meanwhile, here or in another runtime. A thread that
has still not ended when the overrun is given up is a zombie (see ``WorkerRuntime.check_overruns``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from engine.model import Execution
from engine.workers import WorkerSpec


class AttemptOverrun(TimeoutError):
    """A synchronous attempt passed its timeout and its thread still runs."""

    def __init__(self, timeout: float, thread: threading.Thread) -> None:
        super().__init__(f"attempt exceeded its timeout of {timeout:g} s")
        self.timeout = timeout
        self.thread = thread


@dataclass
class Overrun:
    """An attempt past its timeout whose thread still runs: its failure is recorded when the thread ends,
    or the execution is marked STUCK at ``give_up_at`` (the thread is then a zombie)."""

    spec: WorkerSpec
    execution: Execution
    thread: threading.Thread
    give_up_at: datetime
    started: float = field(default_factory=time.monotonic)  # when the attempt started (time.monotonic)

    def failure(self) -> TimeoutError:
        """The error the attempt is recorded with once its thread has ended."""
        late = time.monotonic() - self.started - self.spec.policy.timeout
        return TimeoutError(f"attempt exceeded its timeout of {self.spec.policy.timeout:g} s "
                            f"(its thread ended {max(0.0, late):.1f} s later)")


class StoreBackoff:
    """After a store failure, the runtime's polls wait: ``first`` seconds, doubled at each failure in a
    row up to ``cap``; a success starts over. Times come from the runtime's clock."""

    def __init__(self, first: float, cap: float = 30.0) -> None:
        self.first = first
        self.cap = cap
        self.failures = 0
        self.until: datetime | None = None

    def failed(self, now: datetime) -> float:
        """Count a failure at ``now``; return the seconds until the next try."""
        self.failures += 1
        delay = min(self.cap, self.first * 2 ** (self.failures - 1))
        self.until = now + timedelta(seconds=delay)
        return delay

    def succeeded(self) -> None:
        self.failures = 0
        self.until = None

    def waiting(self, now: datetime) -> bool:
        """Whether the next try is not due yet."""
        return self.until is not None and now < self.until


def call_with_timeout(function: Callable[[dict[str, Any]], Any], inputs: dict[str, Any], timeout: float) -> Any:
    """Run a synchronous worker in a thread of its own and wait at most ``timeout`` seconds for it.

    Raises :class:`AttemptOverrun` (with the thread, still running) when it does not end in time, or the
    worker's own exception.
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
        raise AttemptOverrun(timeout, thread)
    if "error" in box:
        raise box["error"]
    return box.get("result")
