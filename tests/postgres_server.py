"""The PostgreSQL server the tests use: ``$WFCONSOLE_TEST_POSTGRES_URL`` (default: the development machines'
server at 127.0.0.1:5432, trust authentication).

A test session makes one database of its own on it (a unique name, dropped at the end, so runs never
collide) and each test a schema in it (``fresh_schema``): creating a database costs ~0.4 s with its drop,
a schema ~4 ms. A test's URL names its schema (``?options=-csearch_path=...``), so subprocesses and other
stores opened from it share the test's tables.

Where no server answers, PostgreSQL tests skip with one line saying how to enable them;
``WFCONSOLE_REQUIRE_POSTGRES=1`` (set by ``.ci/run``) turns the skip into a failure.
"""

from __future__ import annotations

import os
import uuid
from urllib.parse import quote

import pytest

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"


def admin_url() -> str:
    return os.environ.get("WFCONSOLE_TEST_POSTGRES_URL", DEFAULT_URL)


def unavailable(reason: str) -> None:
    """Skip (or, with WFCONSOLE_REQUIRE_POSTGRES=1, fail) the test: no server to run it on."""
    message = (f"PostgreSQL tests need a server: {reason}; set WFCONSOLE_TEST_POSTGRES_URL="
               "postgresql://user@host:port/db (default " + DEFAULT_URL + ") to run them")
    if os.environ.get("WFCONSOLE_REQUIRE_POSTGRES") == "1":
        pytest.fail(message + " (WFCONSOLE_REQUIRE_POSTGRES=1: required)", pytrace=False)
    pytest.skip(message)


class Server:
    """The session's database on the test server."""

    def __init__(self) -> None:
        import psycopg
        from sqlalchemy.engine import make_url

        self.psycopg = psycopg
        base = make_url(admin_url())
        self.database = f"wfconsole_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        self.base = base
        self.admin = psycopg.connect(base.set(drivername="postgresql").render_as_string(hide_password=False),
                                     autocommit=True, connect_timeout=5)
        self.admin.execute(f'CREATE DATABASE "{self.database}"')
        self.url = base.set(drivername="postgresql", database=self.database).render_as_string(hide_password=False)
        self.connection = psycopg.connect(self.url, autocommit=True)

    def fresh_schema(self) -> str:
        """A new empty schema; the URL of a database whose tables go there."""
        name = f"t_{uuid.uuid4().hex[:12]}"
        self.connection.execute(f'CREATE SCHEMA "{name}"')
        return self.schema_url(name)

    def schema_url(self, name: str) -> str:
        separator = "&" if "?" in self.url else "?"
        return f"{self.url}{separator}options={quote('-csearch_path=' + name)}"

    def drop_schema(self, url: str) -> None:
        name = url.rsplit("search_path%3D", 1)[-1]
        self.connection.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')

    def execute(self, url: str, sql: str, params: tuple = ()) -> None:
        """Run one statement in the schema of ``url``."""
        with self.psycopg.connect(url, autocommit=True) as connection:
            connection.execute(sql, params)

    def close(self) -> None:
        self.connection.close()
        self.admin.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
        self.admin.close()


_server: Server | None = None
_failure: str | None = None


def server() -> Server:
    """The session's server, made on first use; skips (or fails) the test when none answers."""
    global _server, _failure
    if _server is None and _failure is None:
        try:
            _server = Server()
        except ImportError as error:
            _failure = f"psycopg is not installed ({error})"
        except Exception as error:  # noqa: BLE001 - any reason a server cannot be used: told in one line
            _failure = " ".join(str(error).split()) or type(error).__name__
    if _server is None:
        unavailable(f"{admin_url()} did not answer ({_failure})")
    return _server


def close() -> None:
    """End of the session: drop the session's database."""
    global _server
    if _server is not None:
        _server.close()
        _server = None
