"""Security checks: private database files, no SQL built from values, sandboxed conditions, actors recorded."""

from __future__ import annotations

import ast
import os
import re
import stat
import time
from pathlib import Path

import pytest

from engine import BlueprintError, WorkflowManager
from engine.conditions import MAX_CONDITION_LENGTH, ConditionError, compile_condition
from engine.manager import default_actor
from engine.model import HistoryKind
from store import open_store

STORE = Path(__file__).resolve().parents[2] / "store"


# -- file permissions -------------------------------------------------------------------------------


def test_database_and_its_wal_files_are_private_even_with_a_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        db = tmp_path / "wf.db"
        store = open_store(db)
        manager = WorkflowManager(store)
        manager.add_workflow(_one_task("w"))
        manager.start_workflow("w", {"secret": "s3cr3t"})
        for path in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
            assert path.exists(), path
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, f"{path.name} is {oct(path.stat().st_mode)}"
        store.close()
    finally:
        os.umask(old)


def test_an_existing_database_file_keeps_its_mode(tmp_path: Path) -> None:
    """open_store never widens the mode of a file that is already there (an operator may have chosen 0640)."""
    db = tmp_path / "wf.db"
    open_store(db).close()
    db.chmod(0o640)
    open_store(db).close()
    assert stat.S_IMODE(db.stat().st_mode) == 0o640


# -- no SQL built from values -----------------------------------------------------------------------

SQL_WORDS = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE|PRAGMA|BEGIN|WHERE|CREATE|DROP|ALTER|VALUES)\b")
EXECUTORS = {"execute", "executemany", "executescript", "exec_driver_sql", "text"}

# Every expression interpolated into SQL in store/, and why it cannot carry a caller's value. A new
# interpolation fails the test: review it, then add it here (or better, use a ``?`` parameter).
ALLOWED_INTERPOLATIONS = {
    "_EXECUTION_COLUMNS": "a module constant: the column list",
    "HISTORY_COLUMNS": "a module constant (store/history.py): the column list",
    "_INSTANCE_COLUMNS": "a module constant: the column list",
    "_INSTANCE_ORDERS[query.order]": "a value of the module constant _INSTANCE_ORDERS (ORDER BY ...): InstanceQuery "
                                     "refuses any order but engine.ports.INSTANCE_ORDERS' keys when it is made",
    "OPEN_EXECUTIONS": "a module constant: the condition of the partial index of open executions",
    "source": "'' or the constant ' INDEXED BY ix_history_notable' (reports.search_history); a constant FROM "
              "clause (reports.list_tasks)",
    "execution_columns": "the names of the module constant _EXECUTION_COLUMNS, each prefixed 'e.' (checked below)",
    "marks": "', '.join('?' ...): one placeholder per parameter (checked below)",
    "where": "' AND '.join(clauses) of constant clauses with ? placeholders (checked below)",
    "', '.join(sets)": "constant 'column = ?' items (checked below)",
    "mode": "'IMMEDIATE' or 'DEFERRED'",
    "settings.durability.value": "a Durability enum value (FULL or NORMAL)",
    "int(settings.busy_timeout_ms)": "an int",
    "_CLAIMABLE": "a class constant of SqliteStore: the condition of a claimable execution",
    "SqliteStore._CLAIMABLE": "the same constant, in PostgresStore's claim",
    "self._NEXT_NO": "a class constant: MAX(no) + 1 on SQLite, nextval('instances_no_seq') on PostgreSQL",
    "WORK_CHANNEL": "a module constant of store/postgres.py: the LISTEN/NOTIFY channel's name",
    "name": "a name of store/postgres.py's constant _SEQUENCES (CREATE SEQUENCE)",
    "table": "a name of store/copy.py's constant COPIED (the tables copied)",
    "names": "the column names of a table model (SQLModel.metadata), in store/copy.py",
    "key": "the primary-key column names of a table model (SQLModel.metadata), in store/copy.py",
    "', '.join(('?' for _ in columns))": "one placeholder per column (store/copy.py)",
}

# Every SQL argument of an execute that is not a literal, and why it holds only constant text.
ALLOWED_ARGUMENTS = {
    "self._LOAD_INSTANCE": "a class constant (SqliteWriteTransaction; PostgreSQL adds FOR UPDATE)",
    "self._LOAD_OPEN": "a class constant (SqliteWriteTransaction; PostgreSQL adds FOR UPDATE)",
    "self._CLAIM": "a class constant (SqliteStore; PostgreSQL's with SKIP LOCKED)",
    "_OPEN_EXECUTIONS_OF": "a module constant of store/sqlite.py",
    "pg_sql(sql)": "PgCursor.execute: the PostgreSQL text of the statement its caller passed, checked there",
    "sql": "PgCursor / PostgresWriteTransaction._send: the statement their callers passed, checked there",
    "statement": "store/postgres.py: the DDL SQLAlchemy compiles from the table models (schema_statements)",
    "insert": "store/copy.py: INSERT of a COPIED table's model columns, one ? each",
    "condition": "store/tables.py: the constant conditions of the partial indexes (_partial)",
    "b'BEGIN' if self.write else _READ_BEGIN": "b'BEGIN' or the module constant _READ_BEGIN",
    "b'COMMIT'": "a literal", "b'ROLLBACK'": "a literal",
}


def _store_modules() -> list[tuple[Path, ast.Module]]:
    return [(path, ast.parse(path.read_text(), str(path))) for path in sorted(STORE.glob("*.py"))]


def _sql_fstrings(tree: ast.Module) -> list[ast.JoinedStr]:
    found: dict[int, ast.JoinedStr] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            text = "".join(v.value for v in node.values if isinstance(v, ast.Constant))
            if SQL_WORDS.search(text):
                found[id(node)] = node
        if isinstance(node, ast.Call) and _callee(node) in EXECUTORS:
            for arg in node.args[:1]:
                for inner in ast.walk(arg):
                    if isinstance(inner, ast.JoinedStr):
                        found[id(inner)] = inner
    return list(found.values())


def _callee(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def test_sql_in_store_interpolates_only_constants() -> None:
    problems = []
    count = 0
    for path, tree in _store_modules():
        for fstring in _sql_fstrings(tree):
            for value in fstring.values:
                if isinstance(value, ast.FormattedValue):
                    count += 1
                    expression = ast.unparse(value.value)
                    if expression not in ALLOWED_INTERPOLATIONS:
                        problems.append(f"{path.name}:{fstring.lineno}: SQL interpolates {expression!r}")
    assert not problems, "\n".join(problems)
    assert count > 5  # the scan does see the store's f-strings


def test_sql_in_store_is_never_built_with_percent_or_format() -> None:
    problems = []
    for path, tree in _store_modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod) and _is_sql_literal(node.left):
                problems.append(f"{path.name}:{node.lineno}: SQL built with %")
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format" \
                    and _is_sql_literal(node.func.value):
                problems.append(f"{path.name}:{node.lineno}: SQL built with str.format")
            if isinstance(node, ast.Call) and _callee(node) in EXECUTORS and node.args:
                first = node.args[0]
                if not _literal_text(first) and not _from_constant_table(tree, first) \
                        and ast.unparse(first) not in ALLOWED_ARGUMENTS:
                    problems.append(f"{path.name}:{node.lineno}: SQL passed as {ast.unparse(first)!r}, "
                                    "not a literal: check where it comes from")
    assert not problems, "\n".join(problems)


def _literal_text(node: ast.AST) -> bool:
    """A string literal, an f-string (checked above), or a ``+`` or ``a if c else b`` of those."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _literal_text(node.left) and _literal_text(node.right)
    if isinstance(node, ast.IfExp):
        return _literal_text(node.body) and _literal_text(node.orelse)
    return isinstance(node, ast.JoinedStr) or isinstance(node, ast.Constant) and isinstance(node.value, str)


def _from_constant_table(tree: ast.Module, name: ast.AST) -> bool:
    """``name`` is the target of a ``for`` over a module-level table of string constants (a tuple, or a
    dict's ``.items()``/``.values()``), like the migration steps' statements."""
    if not isinstance(name, ast.Name):
        return False
    constant_tables = set()
    for statement in tree.body:
        if isinstance(statement, (ast.Assign, ast.AnnAssign)) and statement.value is not None:
            leaves = [n for n in ast.walk(statement.value) if not isinstance(n, (ast.Tuple, ast.List, ast.Dict,
                                                                                   ast.Load))]
            if leaves and all(isinstance(n, ast.Constant) and isinstance(n.value, str) for n in leaves):
                targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
                constant_tables.update(t.id for t in targets if isinstance(t, ast.Name))
    for loop in ast.walk(tree):
        if not isinstance(loop, ast.For) or name.id not in {n.id for n in ast.walk(loop.target)
                                                            if isinstance(n, ast.Name)}:
            continue
        if _literal_column(loop, name.id):
            return True
        source = loop.iter
        if isinstance(source, ast.Call) and isinstance(source.func, ast.Attribute) \
                and source.func.attr in ("items", "values"):
            source = source.func.value
        if isinstance(source, ast.Name) and source.id in constant_tables:
            return True
    return False


def _literal_column(loop: ast.For, name: str) -> bool:
    """``for a, b in (("x", ...), ("y", ...))``: ``a`` takes only the string constants written there."""
    if not isinstance(loop.iter, (ast.Tuple, ast.List)):
        return False
    if isinstance(loop.target, ast.Name):
        return loop.target.id == name and all(
            isinstance(item, ast.Constant) and isinstance(item.value, str) for item in loop.iter.elts)
    if not isinstance(loop.target, ast.Tuple):
        return False
    positions = [i for i, t in enumerate(loop.target.elts) if isinstance(t, ast.Name) and t.id == name]
    return bool(positions) and all(
        isinstance(item, ast.Tuple) and len(item.elts) > positions[0]
        and isinstance(item.elts[positions[0]], ast.Constant) and isinstance(item.elts[positions[0]].value, str)
        for item in loop.iter.elts)


def _constant_text(tree: ast.Module, node: ast.AST) -> bool:
    """A string constant, or an f-string interpolating only names that take constant strings (``marks`` and
    ``OPEN_EXECUTIONS`` are checked to be such by the test below)."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, ast.JoinedStr):
        return all(isinstance(v, ast.Constant) or _from_constant_table(tree, v.value)
                   or (isinstance(v.value, ast.Name) and v.value.id in ("marks", "OPEN_EXECUTIONS"))
                   for v in node.values)
    return False


def _is_sql_literal(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str) and bool(SQL_WORDS.search(node.value))


def test_the_interpolated_names_are_built_from_constants() -> None:
    """``marks`` is only ever ``', '.join('?' for ...)``; ``sets``/``clauses`` only get string constants."""
    problems = []
    for path, tree in _store_modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name) and target.id == "marks":
                        text = ast.unparse(node.value)
                        if not re.fullmatch(r"', '\.join\(\('\?' for _ in [\w.]+\)\)", text):
                            problems.append(f"{path.name}:{node.lineno}: marks = {text}")
                    if isinstance(target, ast.Name) and target.id in ("_EXECUTION_COLUMNS", "HISTORY_COLUMNS",
                                                                       "_INSTANCE_COLUMNS", "OPEN_EXECUTIONS"):
                        if not isinstance(node.value, ast.Constant):
                            problems.append(f"{path.name}:{node.lineno}: {target.id} is not a constant")
                    if isinstance(target, ast.Name) and target.id == "execution_columns":
                        text = ast.unparse(node.value)
                        if text != "', '.join((f'e.{name}' for name in _EXECUTION_COLUMNS.split(', ')))":
                            problems.append(f"{path.name}:{node.lineno}: execution_columns = {text}")
                    if isinstance(target, ast.Name) and target.id == "where" and isinstance(node.value, ast.Call):
                        if ast.unparse(node.value.func) != "self._instance_filter":
                            problems.append(f"{path.name}:{node.lineno}: where = {ast.unparse(node.value)}")
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "append":
                owner = ast.unparse(node.func.value)
                if owner in ("sets", "clauses") and not all(_constant_text(tree, a) for a in node.args):
                    problems.append(f"{path.name}:{node.lineno}: {owner}.append({ast.unparse(node.args[0])})")
    assert not problems, "\n".join(problems)


def test_the_scan_catches_a_value_formatted_into_sql() -> None:
    """The scan itself works: SQL with an interpolated value is found."""
    bad = ast.parse('def f(cur, name):\n    cur.execute(f"SELECT * FROM instances WHERE id = \'{name}\'")\n')
    (fstring,) = _sql_fstrings(bad)
    assert [ast.unparse(v.value) for v in fstring.values if isinstance(v, ast.FormattedValue)] == ["name"]


def test_hostile_values_are_stored_as_data(tmp_path: Path) -> None:
    """Ids, keys and values full of SQL are parameters, never SQL."""
    store = open_store(tmp_path / "wf.db")
    manager = WorkflowManager(store)
    hostile = "x'); DROP TABLE instances; --"
    manager.add_workflow(_one_task(hostile))
    instance_id = manager.start_workflow(hostile, {hostile: hostile, "a%_\\": "%"})
    assert manager.get_status(instance_id).context[hostile] == hostile
    assert [i.id for i in manager.list_instances()] == [instance_id]
    from engine import InstanceQuery
    assert [i.id for i in manager.list_instances(InstanceQuery(text="%"))] == [instance_id]
    assert manager.list_instances(InstanceQuery(text="' OR 1=1 --")) == []
    store.close()


# -- conditions ------------------------------------------------------------------------------------


@pytest.mark.parametrize("source, message", [
    ("x" * (MAX_CONDITION_LENGTH - 4) + " == 1", f"the limit is {MAX_CONDITION_LENGTH}"),
    ("os.system('rm -rf /')", "unknown function 'system'"),
    # Regression: names starting with '_' were taken for operators and slipped through to evaluation.
    ("__import__('os') == 1", "unknown function '__import__'"),
    ("_private_(1) == 1", "unknown function '_private_'"),
    ("exec('1') == 1", "unknown function 'exec'"),
    ("open('/etc/passwd').size() > 0", "unknown function 'open'"),
    ("(" * 500 + "x" + ")" * 500 + " == 1", "does not compile"),
    ("[1,2].exists(a, [1,2].exists(b, a == b))", "comprehensions nested 2 deep; the limit is 1"),
], ids=["huge", "os.system", "__import__", "_private_", "exec", "open", "deeply nested", "nested comprehensions"])
def test_hostile_conditions_are_refused_at_load(source: str, message: str) -> None:
    with pytest.raises(ConditionError, match=message):
        compile_condition(source)


def test_nested_comprehensions_are_refused_because_their_cost_multiplies() -> None:
    """A 400-character condition of ten nested comprehensions over ten elements would take 10**10 steps
    while the write lock is held; it is refused when the blueprint is loaded, naming the edge."""
    digits = "[0,1,2,3,4,5,6,7,8,9]"
    source = "".join(f"{digits}.exists(v{i}, " for i in range(10)) + "false" + ")" * 10
    assert len(source) < 400
    blueprint = _one_task("w")
    blueprint["nodes"].insert(1, {"id": "x", "type": "INTERNAL", "internal_type": "GATEWAY",
                                  "gateway_type": "EXCLUSIVE_SPLIT"})
    blueprint["edges"] = [{"id": "e0", "source_id": "start", "target_id": "x"},
                          {"id": "hostile", "source_id": "x", "target_id": "t", "condition": source},
                          {"id": "e2", "source_id": "t", "target_id": "end"}]
    with pytest.raises(BlueprintError, match="edge 'hostile'.*comprehensions nested 10 deep"):
        WorkflowManager(open_store(":memory:")).add_workflow(blueprint)


def test_the_costliest_accepted_condition_evaluates_quickly() -> None:
    """Within the limits (4096 characters, no nesting) evaluation stays linear: well under a second."""
    items = ",".join("1" for _ in range(900))
    source = f"[{items}].exists(a, a == 2) || [{items}].all(b, b == 1 && x == 'y')"
    assert len(source) <= MAX_CONDITION_LENGTH
    condition = compile_condition(source)
    started = time.perf_counter()
    assert condition.evaluate({"x": "y"}) is True
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize("source", [
    "[1, 2].map(x, x * 2).exists(y, y == 4)",  # chained, not nested
    "items.exists(i, i.sku == 'a.exists(')",  # the macro name inside a string does not count
    "r'\\\\' == x || tags.all(t, t != '')",
])
def test_single_level_comprehensions_are_allowed(source: str) -> None:
    compile_condition(source)


# -- actors ----------------------------------------------------------------------------------------


def test_operator_actions_record_the_actor_and_default_to_the_os_user() -> None:
    store = open_store(":memory:")
    manager = WorkflowManager(store)
    manager.add_workflow(_one_task("w"))
    first, second = manager.start_workflow("w"), manager.start_workflow("w")
    manager.set_variables(first, {"k": 1}, actor="alice")
    manager.cancel(first, "by hand", actor="alice")
    manager.cancel(second, "by default")
    actors = {h.kind: h.actor for h in manager.get_status(first).history if h.actor}
    assert actors == {HistoryKind.CONTEXT_SET: "alice", HistoryKind.INSTANCE_CANCELLED: "alice",
                      HistoryKind.EXECUTION_CANCELLED: "alice", HistoryKind.TOKEN_REMOVED: "alice"}
    cancelled = next(h for h in manager.get_status(second).history if h.kind is HistoryKind.INSTANCE_CANCELLED)
    assert cancelled.actor == default_actor() and cancelled.actor


def _one_task(workflow_id: str) -> dict:
    return {
        "workflow_id": workflow_id,
        "nodes": [{"id": "start", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "START"},
                  {"id": "t", "type": "TASK", "task_id": "job"},
                  {"id": "end", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "END"}],
        "edges": [{"id": "e0", "source_id": "start", "target_id": "t"},
                  {"id": "e1", "source_id": "t", "target_id": "end"}],
    }
