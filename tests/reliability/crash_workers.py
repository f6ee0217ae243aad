"""Workers for the crash test, loaded by file path by the runtime processes the test SIGKILLs.

Each attempt appends ``start`` and ``end`` lines (task, marker, pid) to ``$WF_CRASH_LOG`` with single
``O_APPEND`` writes, so the test can tell which attempts a killed process left unfinished, and returns the
pid that did the work.
"""

from __future__ import annotations

import os
import random
import time

from engine.workers import worker


def _log(event: str, task: str, inputs: dict) -> None:
    line = f"{event} {task} {inputs.get('marker')} {os.getpid()}\n".encode()
    fd = os.open(os.environ["WF_CRASH_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def _work(task: str, inputs: dict) -> dict:
    _log("start", task, inputs)
    time.sleep(random.uniform(0.02, 0.12))
    _log("end", task, inputs)
    return {"by": os.getpid()}


@worker("a", attempts=3, backoff=0.05, timeout=30)
def a(inputs: dict) -> dict:
    return _work("a", inputs)


@worker("b", attempts=3, backoff=0.05, timeout=30)
def b(inputs: dict) -> dict:
    return _work("b", inputs)


@worker("c", attempts=3, backoff=0.05, timeout=30)
def c(inputs: dict) -> dict:
    return _work("c", inputs)
