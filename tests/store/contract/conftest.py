"""The store contract suite: what every implementation of ``engine.ports.Store`` must do, run on each backend.

A test takes the ``backend`` fixture (parametrised by :data:`BACKENDS`): ``backend.url`` is what
``open_store`` takes for a new, empty database of that backend, ``backend.open()`` opens a store on it (as
many as a test wants: several processes or hosts share one database), and ``backend.set_schema_version`` is
the one backend-specific hook (to fake a database written by a newer wfconsole). A new store implementation
adds its backend here and must pass every test in this directory, unchanged.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from engine import WorkflowManager
from store import open_store


@dataclass
class Backend:
    """One database of one backend, for one test."""

    name: str
    url: str
    set_schema_version: Callable[[int], None]
    opened: list = field(default_factory=list)

    def open(self):
        """A new store on this database (closed at the end of the test)."""
        store = open_store(self.url)
        self.opened.append(store)
        return store

    def manager(self, clock=None) -> WorkflowManager:
        """A manager on a new store of this database."""
        return WorkflowManager(self.open(), **({"clock": clock} if clock is not None else {}))

    def close_all(self) -> None:
        for store in self.opened:
            try:
                store.close()
            except Exception:  # noqa: BLE001 - a test may have closed it already
                pass


def _sqlite(tmp_path: Path) -> Iterator[Backend]:
    path = tmp_path / "contract.db"

    def set_schema_version(version: int) -> None:
        with sqlite3.connect(path) as connection:
            connection.execute("UPDATE wf_meta SET value = ? WHERE key = 'schema_version'", (str(version),))

    yield Backend("sqlite", str(path), set_schema_version)


def _postgres(tmp_path: Path) -> Iterator[Backend]:
    """A schema of its own on the test server (tests/postgres_server.py), dropped afterwards."""
    import postgres_server

    server = postgres_server.server()
    url = server.fresh_schema()

    def set_schema_version(version: int) -> None:
        server.execute(url, "UPDATE wf_meta SET value = %s WHERE key = 'schema_version'", (str(version),))

    yield Backend("postgres", url, set_schema_version)
    server.drop_schema(url)


BACKENDS: dict[str, Callable[[Path], Iterator[Backend]]] = {"sqlite": _sqlite, "postgres": _postgres}


@pytest.fixture(params=sorted(BACKENDS))
def backend(request, tmp_path: Path) -> Iterator[Backend]:
    made = BACKENDS[request.param](tmp_path)
    chosen = next(made)
    try:
        yield chosen
    finally:
        chosen.close_all()
        next(made, None)  # the backend's own clean-up (e.g. dropping its database)
