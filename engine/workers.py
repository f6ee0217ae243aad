"""Local task workers: Python callables that run a ``task_id``, declared with ``@worker``.

A workers module is an ordinary module::

    from engine.workers import worker

    @worker("send_email", attempts=5, timeout=30)
    def send_email(inputs: dict) -> dict:
        ...
        return {"status": "sent"}

A worker receives the execution's inputs (built from the node's input mapping) and returns a dict of
outputs (or ``None`` for none). ``async def`` workers are supported. ``load_workers`` imports a module by
name or file path and collects its workers into a :class:`WorkerRegistry`.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import random
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from engine.errors import WorkflowError

_MARK = "__wfconsole_worker__"


class WorkerLoadError(WorkflowError):
    """A workers module that cannot be found or imported, or that declares no worker."""


@dataclass(frozen=True)
class RetryPolicy:
    """How a task's failed attempts are retried.

    ``attempts`` is the total number of attempts (1 = no retry). The n-th retry waits
    ``backoff * multiplier ** (n - 1)`` seconds, at most ``max_backoff``, spread by +/- ``jitter`` (a
    fraction) so that many failing executions do not retry in lockstep. ``timeout`` bounds one attempt,
    in seconds.
    """

    attempts: int = 3
    backoff: float = 2.0
    multiplier: float = 2.0
    max_backoff: float = 300.0
    jitter: float = 0.2
    timeout: float = 300.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"attempts must be 1 or more, got {self.attempts}")
        if self.backoff < 0 or self.timeout <= 0 or not 0 <= self.jitter < 1:
            raise ValueError("backoff must be >= 0, timeout > 0 and jitter in [0, 1)")

    def delay(self, failed_attempt: int, rng: random.Random | None = None) -> timedelta | None:
        """The wait before the next attempt after ``failed_attempt`` failed; ``None`` when none is left."""
        if failed_attempt >= self.attempts:
            return None
        base = min(self.max_backoff, self.backoff * self.multiplier ** (failed_attempt - 1))
        spread = (rng or random).uniform(-self.jitter, self.jitter) if self.jitter else 0.0
        return timedelta(seconds=max(0.0, base * (1 + spread)))


@dataclass(frozen=True)
class WorkerSpec:
    """A callable registered for a task id, with its retry policy."""

    task_id: str
    function: Callable[..., Any]
    policy: RetryPolicy = field(default_factory=RetryPolicy)

    @property
    def is_async(self) -> bool:
        return inspect.iscoroutinefunction(self.function)


def worker(task_id: str, *, attempts: int | None = None, backoff: float | None = None,
           timeout: float | None = None, max_backoff: float | None = None,
           jitter: float | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare the decorated function as the worker of ``task_id``; overrides of the default policy."""
    overrides = {k: v for k, v in {"attempts": attempts, "backoff": backoff, "timeout": timeout,
                                   "max_backoff": max_backoff, "jitter": jitter}.items() if v is not None}
    policy = replace(RetryPolicy(), **overrides)

    def mark(function: Callable[..., Any]) -> Callable[..., Any]:
        setattr(function, _MARK, WorkerSpec(task_id=task_id, function=function, policy=policy))
        return function

    return mark


class WorkerRegistry:
    """Maps task ids to workers. Task ids without a worker are manual: they wait for a person."""

    def __init__(self, specs: list[WorkerSpec] | None = None) -> None:
        self._specs: dict[str, WorkerSpec] = {}
        for spec in specs or []:
            self.add(spec)

    def add(self, spec: WorkerSpec) -> None:
        if spec.task_id in self._specs and self._specs[spec.task_id].function is not spec.function:
            raise WorkerLoadError(f"two workers for task {spec.task_id!r}: "
                                  f"{_name(self._specs[spec.task_id].function)} and {_name(spec.function)}")
        self._specs[spec.task_id] = spec

    def register(self, task_id: str, function: Callable[..., Any], policy: RetryPolicy | None = None) -> None:
        """Register ``function`` for ``task_id`` without the decorator."""
        self.add(WorkerSpec(task_id=task_id, function=function, policy=policy or RetryPolicy()))

    def get(self, task_id: str) -> WorkerSpec | None:
        return self._specs.get(task_id)

    def __contains__(self, task_id: object) -> bool:
        return task_id in self._specs

    def __iter__(self) -> Iterator[WorkerSpec]:
        return iter(self._specs.values())

    def __len__(self) -> int:
        return len(self._specs)

    @property
    def task_ids(self) -> list[str]:
        return sorted(self._specs)


def collect_workers(module: Any) -> WorkerRegistry:
    """The workers declared with ``@worker`` at the top level of ``module``."""
    registry = WorkerRegistry()
    for value in vars(module).values():
        spec = getattr(value, _MARK, None)
        if isinstance(spec, WorkerSpec):
            registry.add(spec)
    return registry


def load_workers(*modules: str) -> WorkerRegistry:
    """Import each module (a dotted name or a ``.py`` file path) and collect its workers.

    Raises :class:`WorkerLoadError` naming the module when it cannot be imported or declares no worker.
    """
    registry = WorkerRegistry()
    for name in modules:
        module = _import(name)
        found = collect_workers(module)
        if not len(found):
            raise WorkerLoadError(f"{name}: declares no worker (decorate functions with @worker(\"task_id\"))")
        for spec in found:
            registry.add(spec)
    return registry


def _import(name: str) -> Any:
    path = Path(name)
    try:
        if name.endswith(".py") or path.exists():
            if not path.is_file():
                raise WorkerLoadError(f"{name}: no such file")
            module_name = f"wfconsole_workers_{path.stem}"
            spec = importlib.util.spec_from_file_location(module_name, path)
            if spec is None or spec.loader is None:
                raise WorkerLoadError(f"{name}: cannot be imported as a Python module")
            module = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = module
            spec.loader.exec_module(module)
            return module
        return importlib.import_module(name)
    except WorkerLoadError:
        raise
    except ModuleNotFoundError as error:
        raise WorkerLoadError(f"{name}: module not found ({error})") from None
    except Exception as error:  # the module's own import-time error: name it, with its line if known
        raise WorkerLoadError(f"{name}: import failed: {type(error).__name__}: {error}") from None


def _name(function: Callable[..., Any]) -> str:
    return f"{getattr(function, '__module__', '?')}.{getattr(function, '__qualname__', function)}"
