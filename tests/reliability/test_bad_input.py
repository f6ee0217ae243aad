"""The bad-input corpus: every bad blueprint, value and database gives an error that names the problem,
through the API, and nothing is half-written.

Blueprint files live in ``tests/data/bad/`` (each listed in ``BLUEPRINTS`` with what its error must say);
the big and deep ones (20,000 nodes, 100,000 levels of JSON, huge conditions) are generated here.

Values JSON cannot hold (decided here, enforced by ``engine.manager.check_json_object``): NaN and
infinities, sets, bytes, datetimes, Decimals and any other object, non-string keys, lone surrogates,
integers too long to write as text and nesting deeper than 100 levels are **refused** with an
``InvalidValueError`` naming the key (``outputs['when']: a datetime is not a JSON value (convert it to an
ISO 8601 string)``), in outputs, variables and initial contexts alike. They are never converted silently
(a NaN turned into null, a datetime into some string format): a value read back equals the value written.
Tuples are the one exception: they are JSON arrays and are read back as lists. An object of more than
``engine.values.MAX_VALUES_BYTES`` (1 MiB) of JSON is refused with its size and the limit.
"""

from __future__ import annotations

import decimal
import hashlib
import json
import math
import os
import re
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from engine import (
    BlueprintError,
    InvalidValueError,
    MalformedExecutionIdError,
    StoreError,
    UnknownExecutionError,
    UnknownInstanceError,
    UnknownWorkflowError,
    WorkflowManager,
)
from engine.values import MAX_VALUES_BYTES
from store import open_store

BAD = Path(__file__).resolve().parents[1] / "data" / "bad"

# file -> what the error must say (each a regex, all must match); the origin (file name) is always named.
BLUEPRINTS: dict[str, list[str]] = {
    "malformed.json": [r"JSON at line 5, column 5: Expecting ',' delimiter"],
    "truncated.json": [r"JSON at line 1, column \d+: Unterminated string"],
    "empty.json": [r"JSON at line 1, column 1: Expecting value"],
    "not_an_object.json": [r"expected a JSON object, found an array"],
    "latin1.json": [r"not UTF-8 text"],
    "wrong_types.json": [r"5 errors", r"version: Input should be a valid integer",
                         r"nodes\[1\]\.input_mapping \(node 'work'\): Input should be a valid dictionary",
                         r"nodes\[2\]\.id: Input should be a valid string", r"edges: Input should be a valid list"],
    "unknown_node_type.json": [r"node 'sub': unknown node type 'SUBPROCESS'",
                               r"node 'signal': unknown event_type 'SIGNAL'"],
    "unknown_gateway_type.json": [r"node 'either': unknown gateway_type 'INCLUSIVE_SPLIT'"],
    "edge_to_nowhere.json": [r"edge 'e2': target_id 'ghost' is not a node",
                             r"edge 'e3': source_id 'phantom' is not a node"],
    "duplicate_ids.json": [r"node 'work': duplicate node id", r"edge 'e1': duplicate edge id"],
    "no_start_no_end.json": [r"needs exactly one START event, found 0", r"needs at least one END event"],
    "condition_syntax_error.json": [r"edge 'broken': condition does not compile at line 1, column 10"],
    "condition_unknown_function.json": [r"edge 'shell': .*unknown function 'system'"],
    "condition_nested_comprehensions.json": [r"edge 'slow': .*comprehensions nested 10 deep; the limit is 1"],
    "condition_on_a_task_edge.json": [r"edge 'e2': has a condition but leaves TASK node 'work'"],
    "nan_in_layout.json": [r"holds NaN or an infinite number"],
}

START = {"id": "start", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "START"}
END = {"id": "end", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "END"}
ONE_TASK = {
    "workflow_id": "w",
    "nodes": [START, {"id": "t", "type": "TASK", "task_id": "job", "output_mapping": {"when": "when", "n": "n"}},
              END],
    "edges": [{"id": "e0", "source_id": "start", "target_id": "t"}, {"id": "e1", "source_id": "t", "target_id": "end"}],
}


def _rows(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as raw:
        counts = {t: raw.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                  for t in ("blueprints", "instances", "executions", "history")}
    raw.close()
    return counts


EMPTY = {"blueprints": 0, "instances": 0, "executions": 0, "history": 0}


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "wf.db"


@pytest.fixture
def manager(db: Path):
    store = open_store(db)
    yield WorkflowManager(store)
    store.close()


# -- blueprints ------------------------------------------------------------------------------------


def test_every_corpus_file_has_an_expectation() -> None:
    assert sorted(p.name for p in BAD.glob("*.json")) == sorted(BLUEPRINTS)


@pytest.mark.parametrize("name", sorted(BLUEPRINTS))
def test_bad_blueprint_file_is_refused_naming_every_problem(name: str, manager, db: Path) -> None:
    with pytest.raises(BlueprintError) as raised:
        manager.add_workflow((BAD / name).read_bytes(), origin=name)
    message = str(raised.value)
    assert message.startswith(f"{name}: invalid blueprint")
    for pattern in BLUEPRINTS[name]:
        assert re.search(pattern, message), f"{pattern!r} not in {message!r}"
    assert "\n" not in message  # one line, as the CLI prints it
    assert _rows(db) == EMPTY


def test_a_blueprint_of_20000_nodes_is_refused_quickly(manager, db: Path) -> None:
    ids = [f"n{i}" for i in range(20_000)]
    nodes = [START] + [{"id": i, "type": "TASK", "task_id": "job"} for i in ids] + [END]
    chain = ["start", *ids, "end"]
    edges = [{"id": f"e{i}", "source_id": chain[i], "target_id": chain[i + 1]} for i in range(len(chain) - 1)]
    text = json.dumps({"workflow_id": "huge", "nodes": nodes, "edges": edges})
    started = time.perf_counter()
    with pytest.raises(BlueprintError, match=r"huge\.json: invalid blueprint: nodes: 20002 nodes; the limit is 10000"):
        manager.add_workflow(text, origin="huge.json")
    assert time.perf_counter() - started < 10
    assert _rows(db) == EMPTY


def test_a_blueprint_of_16_mib_and_more_is_refused_before_parsing(manager) -> None:
    text = '{"workflow_id": "big", "nodes": [], "padding": "' + "x" * (16 * 1024 * 1024) + '"}'
    with pytest.raises(BlueprintError, match=r"bytes; the limit is 16777216"):
        manager.add_workflow(text)


@pytest.mark.parametrize("depth", [100_000, 5_000, 300])
def test_deeply_nested_json_is_refused(depth: int, manager, db: Path) -> None:
    shell = {"workflow_id": "deep", "nodes": [START, END],
             "edges": [{"id": "e", "source_id": "start", "target_id": "end"}], "notes": "HERE"}
    text = json.dumps(shell).replace('"HERE"', "[" * depth + "]" * depth)
    with pytest.raises(BlueprintError, match=r"deep\.json: invalid blueprint: blueprint: .*nested too deeply"):
        manager.add_workflow(text, origin="deep.json")
    assert _rows(db) == EMPTY


def _split_with(condition: str) -> dict:
    return {
        "workflow_id": "hostile",
        "nodes": [START, {"id": "x", "type": "INTERNAL", "internal_type": "GATEWAY", "gateway_type": "EXCLUSIVE_SPLIT"},
                  END],
        "edges": [{"id": "e0", "source_id": "start", "target_id": "x"},
                  {"id": "c", "source_id": "x", "target_id": "end", "condition": condition}],
    }


@pytest.mark.parametrize("condition, message", [
    (" || ".join(f"amount > {i}" for i in range(400)), r"characters; the limit is 4096"),
    ("(" * 1000 + "ok" + ")" * 1000 + " == true", r"does not compile at line 1, column \d+: .*Recursion limit"),
    ("!" * 3000 + "(ok == true)", None),  # long but flat: accepted, evaluates fine
    ("exec('import os') == 1", r"unknown function 'exec'"),
    ("ok.__class__() == 1", r"unknown function '__class__'"),
    ("items.map(a, items.map(b, a + b)).size() > 0", r"comprehensions nested 2 deep"),
], ids=["huge", "deeply-nested", "long-flat", "exec", "dunder-method", "nested-comprehension"])
def test_hostile_conditions(condition: str, message: str | None, manager, db: Path) -> None:
    if message is None:
        manager.add_workflow(_split_with(condition))
        instance_id = manager.start_workflow("hostile", {"ok": True})
        assert manager.get_status(instance_id).status == "COMPLETED"
        return
    with pytest.raises(BlueprintError, match=rf"edge 'c': .*{message}"):
        manager.add_workflow(_split_with(condition))
    assert _rows(db) == EMPTY


# -- values JSON cannot hold -----------------------------------------------------------------------


@pytest.mark.parametrize("value, message", [
    (math.nan, r"nan is not a JSON number"),
    (math.inf, r"inf is not a JSON number"),
    ({1, 2}, r"a set is not a JSON value"),
    (b"bytes", r"a bytes is not a JSON value"),
    (datetime(2026, 1, 1, tzinfo=UTC), r"a datetime is not a JSON value \(convert it to an ISO 8601 string\)"),
    (date(2026, 1, 1), r"a date is not a JSON value"),
    (decimal.Decimal("1.10"), r"a Decimal is not a JSON value"),
    ([1, {"deeper": [math.nan]}], r"nan is not a JSON number"),
    ({1: "int key"}, r"key 1 is not a string"),
    (object(), r"a object is not a JSON value"),
], ids=["nan", "inf", "set", "bytes", "datetime", "date", "decimal", "nested-nan", "int-key", "object"])
def test_values_json_cannot_hold_are_refused_naming_the_key(value, message: str, manager, db: Path) -> None:
    manager.add_workflow(ONE_TASK)
    executions: list[str] = []
    manager.register_task_handler(lambda payload: executions.append(payload.execution_id))
    instance_id = manager.start_workflow("w", {"n": 1})
    before, rows = manager.get_status(instance_id), _rows(db)
    for what, call in (("outputs", lambda: manager.task_done(executions[0], {"when": value})),
                       ("variables", lambda: manager.set_variables(instance_id, {"when": value})),
                       ("initial context", lambda: manager.start_workflow("w", {"when": value}))):
        with pytest.raises(InvalidValueError, match=rf"^{what}\['when'\]: {message}"):
            call()
    assert manager.get_status(instance_id) == before and _rows(db) == rows


def test_values_over_the_size_limit_are_refused_with_their_size_by_every_call(manager, db: Path) -> None:
    manager.add_workflow(ONE_TASK)
    executions: list[str] = []
    manager.register_task_handler(lambda payload: executions.append(payload.execution_id))
    instance_id = manager.start_workflow("w", {"n": 1})
    before, rows = manager.get_status(instance_id), _rows(db)
    big = {"when": "x" * (50 * 1024 * 1024)}  # 50 MiB: what the API took before, and show --json needed 1.4 GB for
    size = f"{50 * 1024 * 1024 + len(json.dumps({'when': ''}, separators=(',', ':'))):,}"
    for what, call in (("outputs", lambda: manager.task_done(executions[0], big)),
                       ("variables", lambda: manager.set_variables(instance_id, big)),
                       ("initial context", lambda: manager.start_workflow("w", big))):
        with pytest.raises(InvalidValueError, match=rf"^{what}: {size} bytes of JSON; the limit is 1,048,576"):
            call()
    assert manager.get_status(instance_id) == before and _rows(db) == rows
    just = {"when": "x" * (MAX_VALUES_BYTES - len('{"when":""}'))}  # the limit itself is allowed
    manager.task_done(executions[0], just)
    assert manager.get_status(instance_id).context["when"] == just["when"]


def test_tuples_are_json_arrays_and_read_back_as_lists(manager) -> None:
    manager.add_workflow(ONE_TASK)
    instance_id = manager.start_workflow("w", {"pair": (1, 2)})
    assert manager.get_status(instance_id).context["pair"] == [1, 2]


@pytest.mark.parametrize("values, message", [
    ("not a dict", r"outputs must be a JSON object, got a string"),
    ([("when", 1)], r"outputs must be a JSON object, got an array"),
    ({("tuple", "key"): 1}, r"outputs: key \('tuple', 'key'\) is not a string"),
])
def test_outputs_that_are_not_an_object_are_refused(values, message: str, manager) -> None:
    manager.add_workflow(ONE_TASK)
    executions: list[str] = []
    manager.register_task_handler(lambda payload: executions.append(payload.execution_id))
    manager.start_workflow("w")
    with pytest.raises(InvalidValueError, match=message):
        manager.task_done(executions[0], values)


def test_bad_ids_each_get_their_own_error(manager) -> None:
    manager.add_workflow(ONE_TASK)
    instance_id = manager.start_workflow("w")
    with pytest.raises(MalformedExecutionIdError, match="malformed execution id 'nonsense'"):
        manager.task_done("nonsense", {})
    with pytest.raises(MalformedExecutionIdError, match="'not-a-uuid' is not a UUID"):
        manager.task_done(f"{instance_id}:t:not-a-uuid", {})
    with pytest.raises(MalformedExecutionIdError, match="must be a string, got int"):
        manager.task_done(42, {})
    with pytest.raises(UnknownInstanceError, match="unknown instance 'ghost'"):
        manager.task_done("ghost:t:00000000-0000-4000-8000-000000000000", {})
    with pytest.raises(UnknownExecutionError, match="unknown execution"):
        manager.fail_task(f"{instance_id}:t:00000000-0000-4000-8000-000000000000", "boom")
    with pytest.raises(UnknownWorkflowError, match="unknown workflow 'nope'"):
        manager.start_workflow("nope")


# -- databases -------------------------------------------------------------------------------------


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _filled(db: Path, instances: int = 30) -> list[str]:
    store = open_store(db)
    manager = WorkflowManager(store)
    manager.add_workflow(ONE_TASK)
    ids = [manager.start_workflow("w", {"pad": "x" * 500}) for _ in range(instances)]
    store.close()
    assert not Path(f"{db}-wal").exists() or Path(f"{db}-wal").stat().st_size == 0
    return ids


def _read_everything(db: Path, ids: list[str]) -> None:
    store = open_store(db)
    try:
        manager = WorkflowManager(store)
        for instance_id in ids:
            manager.get_status(instance_id)
        manager.list_instances()
    finally:
        store.close()


@pytest.mark.parametrize("damage", ["header", "pages", "truncated", "garbage"])
def test_a_corrupted_database_gives_a_store_error_naming_the_file(damage: str, db: Path) -> None:
    ids = _filled(db)
    data = bytearray(db.read_bytes())
    if damage == "header":
        data[:100] = b"x" * 100
    elif damage == "pages":
        data[4096 * 3:4096 * 7] = bytes(range(256)) * 64
    elif damage == "truncated":
        data = data[:len(data) // 2 + 100]
    else:
        data = bytearray(b"this is not sqlite" * 1000)
    db.write_bytes(bytes(data))
    digest = _digest(db)
    with pytest.raises(StoreError, match=rf"{db.name}: the file is not a wfconsole database or is corrupted "
                                         r"\((file is not a database|database disk image is malformed)\)"):
        _read_everything(db, ids)
    assert _digest(db) == digest  # nothing was written to it


def test_a_read_only_database_can_be_read_but_writes_name_the_problem(db: Path) -> None:
    """Opened through SQLite's read-only mode (``file:...?mode=ro``), which holds for root too."""
    ids = _filled(db, instances=2)
    digest = _digest(db)
    store = open_store(f"sqlite:///file:{db}?mode=ro&uri=true")
    manager = WorkflowManager(store)
    assert manager.get_status(ids[0]).status == "ACTIVE"
    for call in (lambda: manager.cancel(ids[0], "no"), lambda: manager.start_workflow("w"),
                 lambda: manager.set_variables(ids[1], {"k": 1})):
        with pytest.raises(StoreError, match=r"the database is read-only \(attempt to write a readonly database\)"):
            call()
    store.close()
    assert _digest(db) == digest


@pytest.mark.skipif(os.geteuid() == 0, reason="running as root: file permissions do not stop root from "
                                               "writing, so chmod 0400 cannot make the file read-only; the "
                                               "mode=ro test above covers the read-only path")
def test_a_database_file_without_write_permission_names_the_problem(db: Path) -> None:
    ids = _filled(db, instances=1)
    db.chmod(0o400)
    try:
        store = open_store(db)
        with pytest.raises(StoreError, match=r"read-only"):
            WorkflowManager(store).cancel(ids[0], "no")
        store.close()
    except StoreError as error:  # refused already when opening: as good
        assert "read-only" in str(error) or "readonly" in str(error)
    finally:
        db.chmod(0o600)


HOLD_LOCK = """
import sqlite3, sys
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.read()  # until the test closes our stdin
connection.execute("ROLLBACK")
"""


@pytest.fixture
def locked(db: Path):
    """Another process holds the write lock (BEGIN IMMEDIATE) until the test ends."""
    ids = _filled(db, instances=2)
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(db)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        yield ids
    finally:
        holder.stdin.close()
        holder.wait(timeout=10)


def test_a_database_locked_past_the_busy_timeout_cannot_be_opened(db: Path, locked) -> None:
    started = time.perf_counter()
    with pytest.raises(StoreError, match=rf"{db.name}: the database stayed locked by another process past the "
                                         r"busy timeout \(database is locked\)"):
        open_store(db, busy_timeout_ms=200)
    assert 0.15 < time.perf_counter() - started < 5


def test_writes_to_a_locked_database_fail_cleanly_and_succeed_once_it_is_free(db: Path) -> None:
    ids = _filled(db, instances=2)
    store = open_store(db, busy_timeout_ms=200)
    manager = WorkflowManager(store)
    before = manager.get_status(ids[0])
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(db)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        for call in (lambda: manager.cancel(ids[0], "no"), lambda: manager.start_workflow("w"),
                     lambda: manager.set_variables(ids[0], {"k": 1})):
            with pytest.raises(StoreError, match=r"locked by another process past the busy timeout"):
                call()
        assert manager.get_status(ids[0]) == before  # readers are not blocked (WAL)
    finally:
        holder.stdin.close()
        holder.wait(timeout=10)
    assert manager.get_status(ids[0]) == before and len(manager.list_instances()) == 2
    manager.cancel(ids[0], "now it works")
    assert manager.get_status(ids[0]).status == "CANCELLED"
    store.close()


def test_a_database_of_a_future_schema_version_is_refused_untouched(db: Path) -> None:
    _filled(db, instances=1)
    with sqlite3.connect(db) as raw:
        raw.execute("UPDATE wf_meta SET value = '99' WHERE key = 'schema_version'")
    raw.close()
    digest = _digest(db)
    with pytest.raises(StoreError, match=rf"{db.name}: written by a newer wfconsole \(schema version 99; this one "
                                         r"knows up to \d+\); upgrade wfconsole to open it"):
        open_store(db)
    assert _digest(db) == digest


@pytest.mark.parametrize("case", ["foreign", "directory", "missing-directory"])
def test_paths_that_are_not_a_wfconsole_database(case: str, tmp_path: Path) -> None:
    if case == "foreign":
        path = tmp_path / "shop.db"
        with sqlite3.connect(path) as raw:
            raw.execute("CREATE TABLE customers (id INTEGER)")
        raw.close()
        message = r"shop\.db: not a wfconsole database \(it has tables customers\)"
    elif case == "directory":
        path, message = tmp_path, r": is a directory, not a database file"
    else:
        path, message = tmp_path / "nowhere" / "wf.db", r"the directory .*nowhere does not exist"
    with pytest.raises(StoreError, match=message):
        open_store(path)
