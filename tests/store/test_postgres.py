"""PostgreSQL beyond the contract suite: copying a database both ways, the faults a server brings (unreachable,
a refused password, a missing database or user, connections dropped idle or inside a transaction), the
password kept out of every message, and the schema it creates."""

from __future__ import annotations

import json
import logging
import socket
import sqlite3
import struct
import threading
from pathlib import Path

import blueprints as bps
import postgres_server
import psycopg
import pytest
from typer.testing import CliRunner

from console.cli import app
from engine import WorkflowManager, machine
from engine.errors import DatabaseConnectionError, StoreError
from engine.replay import differences
from store import open_store
from store.postgres import PostgresTarget, redact

SECRET = "s3cr3t-Pa55"


def _world(manager: WorkflowManager) -> list[str]:
    """Instances in every state: completed, running in parallel, failed, cancelled, with a large context."""
    manager.add_workflow(bps.linear())
    manager.add_workflow(bps.parallel())
    manager.add_workflow(bps.linear(version=2, task_id="v2"))
    ids = []
    done = manager.start_workflow("linear", {"n": 1})
    manager.task_done(manager.get_status(done).executions[0].id, {"local_out": 1})
    ids.append(done)
    ids.append(manager.start_workflow("parallel", {"doc": "x" * 5000}))
    failed = manager.start_workflow("linear")
    manager.fail_task(manager.get_status(failed).executions[0].id, "broken")
    ids.append(failed)
    cancelled = manager.start_workflow("linear")
    manager.cancel(cancelled, "not needed")
    ids.append(cancelled)
    return ids


# -- copy ------------------------------------------------------------------------------------------------


def test_a_sqlite_database_copied_to_postgres_and_back_is_the_same_database(tmp_path: Path, postgres_url) -> None:
    source = open_store(tmp_path / "source.db")
    ids = _world(WorkflowManager(source))
    target = open_store(postgres_url)
    report = target.copy_from(source)
    assert report.verified == 4 and report.rows["instances"] == 4 and report.rows["blueprints"] == 3
    for instance_id in ids:
        assert target.get_instance(instance_id) == source.get_instance(instance_id)
        assert differences(target.get_instance(instance_id)) == []
    # Work goes on in the copy: numbers continue after the copied ones.
    manager = WorkflowManager(target)
    running = manager.get_status(ids[1])
    manager.task_done(running.executions[0].id, {"out": 1})
    new = manager.start_workflow("linear")
    seqs = [h.seq for i in (*ids, new) for h in manager.get_status(i).history]
    assert len(seqs) == len(set(seqs))
    assert differences(manager.get_status(new)) == [] and differences(manager.get_status(ids[1])) == []
    back = open_store(tmp_path / "back.db")
    assert back.copy_from(target).verified == 5
    for instance_id in (*ids, new):
        assert back.get_instance(instance_id) == target.get_instance(instance_id)
    for store in (source, target, back):
        store.close()


def test_copy_refuses_a_target_that_is_not_empty_unless_forced(tmp_path: Path, postgres_url) -> None:
    source = open_store(tmp_path / "source.db")
    _world(WorkflowManager(source))
    target = open_store(postgres_url)
    WorkflowManager(target).add_workflow(bps.exclusive())
    with pytest.raises(StoreError, match=r"the target is not empty \(1 blueprints row\); copy refuses"):
        target.copy_from(source)
    assert [b.workflow_id for b in target.list_blueprints()] == ["exclusive"]  # untouched
    report = target.copy_from(source, force=True)
    assert report.replaced == {"blueprints": 1} and report.verified == 4
    assert "exclusive" not in {b.workflow_id for b in target.list_blueprints()}
    source.close()
    target.close()


def test_the_copy_command_copies_verifies_and_refuses_in_one_line(tmp_path: Path, postgres_url) -> None:
    db = tmp_path / "wfconsole.db"
    _world(WorkflowManager(open_store(db)))
    runner = CliRunner()
    copied = runner.invoke(app, ["copy", "--from", str(db), "--to", postgres_url, "--json"])
    assert copied.exit_code == 0, copied.output
    document = json.loads(copied.stdout)
    assert document["verified_instances"] == 4 and document["rows"]["executions"] >= 4
    again = runner.invoke(app, ["copy", "--from", str(db), "--to", postgres_url])
    assert again.exit_code == 1
    assert again.stderr.count("\n") == 1 and "the target is not empty" in again.stderr
    listed = runner.invoke(app, ["--db", postgres_url, "list", "--json"])
    assert listed.exit_code == 0 and len(json.loads(listed.stdout)["instances"]) == 4


# -- faults ----------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _server_url(**parts: str) -> str:
    base = PostgresTarget(postgres_server.server().url)
    user = parts.get("user", base.user or "postgres")
    password = f":{parts['password']}" if "password" in parts else ""
    return (f"postgresql://{user}{password}@{parts.get('host', base.host)}:{parts.get('port', base.port)}/"
            f"{parts.get('database', base.database)}")


@pytest.mark.parametrize("case, expected", [
    ("unreachable", r"cannot reach the PostgreSQL server at 127\.0\.0\.1:\d+ \(Connection refused\); is it running\?"),
    ("database", r"the database no_such_db_here does not exist on .*createdb"),
    ("user", r'the server has no user nobody_here \(role "nobody_here" does not exist\)'),
])
def test_a_server_that_cannot_be_used_is_one_line_without_the_password(case: str, expected: str) -> None:
    url = {"unreachable": _server_url(host="127.0.0.1", port=str(_free_port()), password=SECRET),
           "database": _server_url(database="no_such_db_here", password=SECRET),
           "user": _server_url(user="nobody_here", password=SECRET)}[case]
    with pytest.raises(DatabaseConnectionError, match=expected) as raised:
        open_store(url)
    message = str(raised.value)
    assert "\n" not in message and SECRET not in message and message.startswith("postgresql://")
    result = CliRunner().invoke(app, ["--db", url, "list", "--json"])
    assert result.exit_code == 2 and SECRET not in result.output and SECRET not in result.stderr
    assert result.stderr.count("\n") == 1


class PasswordRefusingServer:
    """A stand-in PostgreSQL server that asks for a password and refuses it (the test server trusts everyone):
    what a wrong password looks like to the client, byte for byte as the protocol has it."""

    def __init__(self) -> None:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(8)
        self.port = self.socket.getsockname()[1]
        self.passwords: list[bytes] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                return
            with connection:
                try:
                    self._session(connection)
                except OSError:
                    pass

    @staticmethod
    def _read(connection: socket.socket, size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = connection.recv(size - len(data))
            if not chunk:
                raise OSError("closed")
            data += chunk
        return data

    def _session(self, connection: socket.socket) -> None:
        while True:
            length, code = struct.unpack("!ii", self._read(connection, 8))
            body = self._read(connection, length - 8)
            if code in (80877103, 80877104):  # SSLRequest, GSSENCRequest: not here
                connection.sendall(b"N")
                continue
            user = body.split(b"user\x00", 1)[1].split(b"\x00", 1)[0].decode()
            break
        connection.sendall(b"R" + struct.pack("!ii", 8, 3))  # AuthenticationCleartextPassword
        self._read(connection, 1)  # 'p', a PasswordMessage
        size = struct.unpack("!i", self._read(connection, 4))[0]
        self.passwords.append(self._read(connection, size - 4).rstrip(b"\x00"))
        fields = b"".join(key + value.encode() + b"\x00" for key, value in (
            (b"S", "FATAL"), (b"V", "FATAL"), (b"C", "28P01"),
            (b"M", f'password authentication failed for user "{user}"'))) + b"\x00"
        connection.sendall(b"E" + struct.pack("!i", len(fields) + 4) + fields)

    def close(self) -> None:
        self.socket.close()


def test_a_wrong_password_is_one_line_naming_the_user_never_the_password(caplog) -> None:
    server = PasswordRefusingServer()
    url = f"postgresql://ada:{SECRET}@127.0.0.1:{server.port}/wf"
    try:
        with caplog.at_level(logging.DEBUG):
            with pytest.raises(DatabaseConnectionError) as raised:
                open_store(url)
            result = CliRunner().invoke(app, ["--db", url, "list", "--json"])
    finally:
        server.close()
    assert server.passwords and server.passwords[0] == SECRET.encode()  # it was sent, to the server only
    assert str(raised.value) == (f"postgresql://ada@127.0.0.1:{server.port}/wf: the server refused the password "
                                 "of ada (password authentication failed)")
    assert result.exit_code == 2 and SECRET not in result.output + result.stderr
    assert SECRET not in caplog.text


def test_a_password_never_reaches_the_source_the_history_or_json(postgres_url) -> None:
    url = postgres_url.replace("postgresql://postgres@", f"postgresql://postgres:{SECRET}@")  # trust: accepted
    store = open_store(url)
    assert SECRET not in store.source and "postgres@" in store.source
    manager = WorkflowManager(store)
    manager.add_workflow(bps.linear())
    instance_id = manager.start_workflow("linear")
    assert SECRET not in repr(manager.get_status(instance_id).history)
    shown = CliRunner().invoke(app, ["--db", url, "show", instance_id, "--json"])
    assert shown.exit_code == 0 and SECRET not in shown.output
    store.close()
    assert redact(f"see postgresql://u:{SECRET}@h/db") == "see postgresql://u:***@h/db"


def _backends(store) -> list[int]:
    """The server processes of the store's pooled connections."""
    with store.read() as cursor:
        return [cursor.execute("SELECT pg_backend_pid()").fetchone()[0]]


def _terminate(pids: list[int]) -> None:
    with psycopg.connect(postgres_server.server().url, autocommit=True) as admin:
        for pid in pids:
            admin.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))


def test_connections_the_server_dropped_while_idle_are_replaced_without_an_error(postgres_url) -> None:
    """As after a server restart: every pooled connection is gone; the next step opens another."""
    store = open_store(postgres_url)
    manager = WorkflowManager(store)
    manager.add_workflow(bps.linear())
    _terminate(_backends(store))
    instance_id = manager.start_workflow("linear")  # no error
    assert manager.get_status(instance_id).status == "ACTIVE"
    assert store.change_token() is not None
    store.close()


def test_a_connection_dropped_inside_a_step_stores_nothing_of_it_and_the_next_step_works(postgres_url) -> None:
    store = open_store(postgres_url)
    manager = WorkflowManager(store)
    manager.add_workflow(bps.linear())
    instance_id = manager.start_workflow("linear")
    before = manager.get_status(instance_id)
    execution_id = before.executions[0].id
    with pytest.raises(StoreError, match=r"connection to the PostgreSQL server .* was lost .*nothing of the "
                                         r"interrupted transaction was stored"):
        with store.write() as tx:
            state = tx.load_instance(instance_id)
            pid = tx.cursor.execute("SELECT pg_backend_pid()").fetchone()[0]
            bp = manager.get_workflow(state.workflow_id, state.version)
            transition = machine.task_done(bp, state, execution_id, {"local_out": 1},
                                           machine.event_at(before.updated_at))
            tx.apply(transition.changes, transition.state)
            _terminate([pid])  # the server goes away before the commit
    assert manager.get_status(instance_id) == before  # nothing half-written
    assert manager.task_done(execution_id, {"local_out": 2}).applied  # and the store goes on
    assert differences(manager.get_status(instance_id)) == []
    store.close()


# -- schema ------------------------------------------------------------------------------------------------


def test_a_schema_holding_other_tables_is_refused_untouched(postgres_url) -> None:
    postgres_server.server().execute(postgres_url, "CREATE TABLE accounts (id int)")
    with pytest.raises(StoreError, match=r"not a wfconsole database \(its schema t_\w+ has tables accounts\)"):
        open_store(postgres_url)


def test_hosts_opening_a_new_database_at_once_create_it_once(postgres_url) -> None:
    opened, errors = [], []
    barrier = threading.Barrier(5)

    def open_it() -> None:
        barrier.wait()
        try:
            opened.append(open_store(postgres_url))
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=open_it) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(opened) == 5
    for store in opened:
        store.close()


def _shape_sqlite(path: Path) -> dict:
    with sqlite3.connect(path) as connection:
        tables = [r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {
            "columns": {t: sorted(r[1] for r in connection.execute(f"PRAGMA table_info({t})")) for t in tables},
            "indexes": sorted(r[0] for r in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_%'")),
        }


def test_a_new_postgres_database_has_the_tables_columns_and_indexes_of_a_new_sqlite_one(tmp_path, postgres_url):
    open_store(tmp_path / "new.db").close()
    open_store(postgres_url).close()
    schema = postgres_url.rsplit("search_path%3D", 1)[-1]
    with psycopg.connect(postgres_server.server().url) as connection:
        tables = [r[0] for r in connection.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,))]
        columns = {t: sorted(r[0] for r in connection.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s",
            (schema, t))) for t in tables}
        indexes = sorted(r[0] for r in connection.execute(
            "SELECT indexname FROM pg_indexes WHERE schemaname = %s AND indexname NOT LIKE '%%_pkey'", (schema,)))
        collations = {r[0] for r in connection.execute(
            "SELECT collation_name FROM information_schema.columns WHERE table_schema = %s "
            "AND data_type = 'text'", (schema,))}
    assert {"columns": columns, "indexes": indexes} == _shape_sqlite(tmp_path / "new.db")
    assert collations == {"C"}  # byte order, as SQLite compares text


def test_a_deadlock_in_the_stores_own_transaction_is_retried_not_reported(postgres_url, monkeypatch) -> None:
    """release_leases locks the owner's executions; another transaction holding the second one asks for the
    first: a deadlock, which the server resolves by rolling back release_leases (it waits with the shorter
    deadlock_timeout). The store runs it again; the caller sees only the result."""
    import store.postgres as postgres

    pauses: list[int] = []
    monkeypatch.setattr(postgres, "_pause", pauses.append)
    store = open_store(postgres_url)
    manager = WorkflowManager(store)
    manager.add_workflow(bps.linear())
    executions = sorted(manager.get_status(manager.start_workflow("linear")).executions[0].id for _ in range(2))
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    for execution_id in executions:
        store.claim_execution(execution_id, "host-a", now, now + timedelta(minutes=5))
    first, second = executions
    with psycopg.connect(postgres_url) as rival:
        rival.execute("SET deadlock_timeout = '10s'")
        rival.execute("SELECT 1 FROM executions WHERE id = %s FOR UPDATE", (second,))
        released: list = []
        worker = threading.Thread(target=lambda: released.append(store.release_leases("host-a")))
        worker.start()
        threading.Event().wait(0.3)  # release_leases holds the first and waits for the second
        rival.execute("SELECT 1 FROM executions WHERE id = %s FOR UPDATE", (first,))  # the cycle
        rival.rollback()
        worker.join(timeout=30)
    assert released == [2] and pauses, "the deadlock was not retried"
    assert all(store.get_execution(e).lease_owner is None for e in executions)
    store.close()


def test_without_a_server_the_tests_skip_in_one_line_unless_required(monkeypatch) -> None:
    from _pytest.outcomes import Failed, Skipped

    monkeypatch.delenv("WFCONSOLE_REQUIRE_POSTGRES", raising=False)
    with pytest.raises(Skipped, match=r"PostgreSQL tests need a server: .*set WFCONSOLE_TEST_POSTGRES_URL=") as skip:
        postgres_server.unavailable("127.0.0.1:1 did not answer")
    assert "\n" not in str(skip.value)
    monkeypatch.setenv("WFCONSOLE_REQUIRE_POSTGRES", "1")
    with pytest.raises(Failed, match="WFCONSOLE_REQUIRE_POSTGRES=1: required"):
        postgres_server.unavailable("127.0.0.1:1 did not answer")
