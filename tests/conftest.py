"""Shared fixtures: a file database in ``tmp_path``, a manager with a recording task handler, a fake clock.

Blueprint builders live in ``tests/blueprints.py``; this directory is put on ``sys.path`` so that tests
import them as ``import blueprints as bps`` whatever pytest's import mode.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

# The tests' commands print as they would to a pipe, whatever terminal runs pytest: pytest-xdist's workers
# inherit COLUMNS=80 and LINES=24, which would make every table 80 columns wide. A test that wants a width
# passes COLUMNS itself.
for _name in ("COLUMNS", "LINES"):
    os.environ.pop(_name, None)

if str(Path(__file__).parent) not in sys.path:
    sys.path.append(str(Path(__file__).parent))  # appended: tests/engine must not shadow the engine package

from engine import TaskPayload, WorkflowManager  # noqa: E402
from store import open_store  # noqa: E402
from store.sqlite import SqliteStore  # noqa: E402

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


class FakeClock:
    """A deterministic clock: each reading is ``tick`` after the one before (so times are ordered);
    ``advance`` jumps ahead."""

    def __init__(self, start: datetime = T0, tick: timedelta = timedelta(milliseconds=1)) -> None:
        self.now = start
        self.tick = tick
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            reading = self.now
            self.now += self.tick
            return reading

    def advance(self, **delta: float) -> None:
        with self._lock:
            self.now += timedelta(**delta)


@dataclass
class TaskRecorder:
    """A task handler that records every payload it receives, in order."""

    payloads: list[TaskPayload] = field(default_factory=list)

    def __call__(self, payload: TaskPayload) -> None:
        self.payloads.append(payload)

    def for_node(self, node_id: str) -> list[TaskPayload]:
        return [p for p in self.payloads if p.node_id == node_id]

    def execution_id(self, node_id: str, index: int = -1) -> str:
        """The execution id of the ``index``-th dispatch of ``node_id`` (the newest by default)."""
        found = self.for_node(node_id)
        assert found, f"no task was dispatched for node {node_id!r}; dispatched: {self.nodes()}"
        return found[index].execution_id

    def nodes(self) -> list[str]:
        return [p.node_id for p in self.payloads]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "wf.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[SqliteStore]:
    opened = open_store(db_path)
    yield opened
    opened.close()


@pytest.fixture
def recorder() -> TaskRecorder:
    return TaskRecorder()


@pytest.fixture
def manager(store: SqliteStore, clock: FakeClock, recorder: TaskRecorder) -> WorkflowManager:
    """A manager on a file database, with ``recorder`` as its task handler and the fake clock."""
    wm = WorkflowManager(store, clock=clock)
    wm.register_task_handler(recorder)
    return wm


# -- PostgreSQL (tests/postgres_server.py) --------------------------------------------------------------


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """The URL of an empty schema of its own on the test PostgreSQL server (skips when there is none)."""
    import postgres_server

    server = postgres_server.server()
    url = server.fresh_schema()
    yield url
    server.drop_schema(url)


def pytest_sessionfinish(session, exitstatus) -> None:
    import postgres_server

    postgres_server.close()


@pytest.fixture(params=["sqlite", "postgres"])
def database(request, tmp_path: Path) -> Iterator[str]:
    """What ``open_store`` takes for a new, empty database: a file in ``tmp_path``, then (the same test again)
    a schema of its own on the test PostgreSQL server. For the suites that must hold on both backends."""
    if request.param == "sqlite":
        yield str(tmp_path / "wf.db")
        return
    yield request.getfixturevalue("postgres_url")
