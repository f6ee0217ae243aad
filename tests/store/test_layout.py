"""The store's layout (schema v4): an instance's open state is one row, its executions a range of the primary
key, and the engine's hot path reads and writes them without any scan.

Each statement a step runs is checked with ``EXPLAIN QUERY PLAN``: a step that scanned a table or an index
would get slower with every instance stored (it happened once: the open executions of an instance were
looked up through the partial index of all open executions).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import WorkflowManager
from store import open_store

FLOW = {  # start -> fork -> (a, b) -> join -> end
    "workflow_id": "fork", "version": 1,
    "nodes": [{"id": "start", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "START"},
              {"id": "fork", "type": "INTERNAL", "internal_type": "GATEWAY", "gateway_type": "PARALLEL_SPLIT"},
              {"id": "a", "type": "TASK", "task_id": "a", "output_mapping": {"x": "x"}},
              {"id": "b", "type": "TASK", "task_id": "b"},
              {"id": "join", "type": "INTERNAL", "internal_type": "GATEWAY", "gateway_type": "PARALLEL_JOIN"},
              {"id": "end", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "END"}],
    "edges": [{"id": "e1", "source_id": "start", "target_id": "fork"},
              {"id": "e2", "source_id": "fork", "target_id": "a"}, {"id": "e3", "source_id": "fork", "target_id": "b"},
              {"id": "e4", "source_id": "a", "target_id": "join"}, {"id": "e5", "source_id": "b", "target_id": "join"},
              {"id": "e6", "source_id": "join", "target_id": "end"}],
}


@pytest.fixture
def manager(tmp_path: Path):
    store = open_store(tmp_path / "wf.db")
    manager = WorkflowManager(store)
    manager.add_workflow(FLOW)
    yield manager
    store.close()


def _row(manager: WorkflowManager, instance_id: str) -> tuple:
    with manager.store.read() as cur:
        return cur.execute("SELECT tokens, token_nodes, token_marks, context FROM instances WHERE id = ?",
                           (instance_id,)).fetchone()


def test_the_instance_row_follows_its_tokens_and_context(manager: WorkflowManager) -> None:
    instance_id = manager.start_workflow("fork", {"who": "ada"})
    view = manager.get_status(instance_id)
    assert [t.node_id for t in view.tokens] == ["a", "b"]  # the order they were made in
    tokens, nodes, marks, _ = _row(manager, instance_id)
    assert nodes == "a\nb" and marks is None

    manager.task_done(next(e.id for e in view.executions if e.node_id == "a"), {"x": 1})
    view = manager.get_status(instance_id)
    assert view.context == {"who": "ada", "x": 1}
    assert [(t.node_id, str(t.status)) for t in view.tokens] == [("b", "ACTIVE"), ("join", "WAITING")]
    _, nodes, marks, _ = _row(manager, instance_id)
    assert nodes == "b\njoin" and marks == "WAITING"
    assert manager.store.instances_with_waiting_tokens() == [instance_id]

    manager.fail_task(next(e.id for e in view.executions if e.node_id == "b"), "boom")
    assert _row(manager, instance_id)[2] == "FAILED,WAITING"

    manager.task_done(next(e.id for e in view.executions if e.node_id == "b"), {})
    view = manager.get_status(instance_id)
    assert str(view.status) == "COMPLETED" and view.tokens == []
    assert _row(manager, instance_id)[1:3] == ("", None)
    assert manager.store.instances_with_waiting_tokens() == []


def test_executions_made_in_one_step_keep_their_order(manager: WorkflowManager) -> None:
    flow = {**FLOW, "workflow_id": "fork_zb", "nodes": [
        {**n, "id": {"a": "z", "b": "b"}.get(n["id"], n["id"])} for n in FLOW["nodes"]],
        "edges": [{**e, "source_id": {"a": "z"}.get(e["source_id"], e["source_id"]),
                   "target_id": {"a": "z"}.get(e["target_id"], e["target_id"])} for e in FLOW["edges"]]}
    manager.add_workflow(flow)
    view = manager.get_status(manager.start_workflow("fork_zb"))
    assert [e.node_id for e in view.executions] == ["z", "b"]  # edge order, not id order


def _plans(manager: WorkflowManager, statements: list[str]) -> list[tuple[str, list[str]]]:
    with manager.store.read() as cur:
        return [(sql, [row[3] for row in cur.execute("EXPLAIN QUERY PLAN " + sql)]) for sql in statements
                if sql.lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE"))]


def test_a_step_reads_and_writes_by_primary_key_only(manager: WorkflowManager) -> None:
    for _ in range(20):  # other instances, so that a scan would have something to read
        manager.start_workflow("fork")
    instance_id = manager.start_workflow("fork")
    first = next(e.id for e in manager.get_status(instance_id).executions if e.node_id == "a")
    statements: list[str] = []
    with manager.store.write() as tx:
        tx.cursor.connection.set_trace_callback(statements.append)
    try:
        manager.task_done(first, {"x": 1})
        manager.get_status(instance_id)
    finally:
        with manager.store.write() as tx:
            tx.cursor.connection.set_trace_callback(None)
    plans = _plans(manager, statements)
    assert len(plans) >= 5
    for sql, plan in plans:
        for step in plan:
            assert not step.startswith("SCAN"), (sql, plan)  # no scan of anything (sorting a few rows is fine)
            if " executions " in step or " instances " in step:
                assert "PRIMARY KEY" in step or "sqlite_autoindex_instances" in step, (sql, plan)
            if " history " in step:
                assert "ix_history_instance_no_seq" in step, (sql, plan)


def test_the_runtime_queries_use_the_partial_indexes(manager: WorkflowManager) -> None:
    statements: list[str] = []
    with manager.store.write() as tx:
        tx.cursor.connection.set_trace_callback(statements.append)
    from datetime import UTC, datetime
    now = datetime.now(UTC)
    manager.store.runnable_executions(["a"], now)
    manager.store.active_executions_before(now)
    manager.store.instances_with_waiting_tokens()
    manager.store.list_executions(["ACTIVE", "FAILED"])
    with manager.store.write() as tx:
        tx.cursor.connection.set_trace_callback(None)
    plans = _plans(manager, statements)
    assert len(plans) == 4
    for sql, plan in plans:
        assert any("ix_executions_open" in step or "ix_instances_token_marks" in step for step in plan), (sql, plan)


def test_a_step_writes_its_history_entries_as_one_row(manager: WorkflowManager) -> None:
    instance_id = manager.start_workflow("fork", {"who": "ada"})
    with manager.store.read() as cur:
        rows_before = cur.execute("SELECT COUNT(*) FROM history").fetchone()[0]
    view = manager.get_status(instance_id)
    manager.task_done(next(e.id for e in view.executions if e.node_id == "a"), {"x": 1})
    with manager.store.read() as cur:
        assert cur.execute("SELECT COUNT(*) FROM history").fetchone()[0] == rows_before + 1
    history = manager.get_status(instance_id).history
    assert len(history) > 6
    assert [h.seq for h in history] == list(range(history[0].seq, history[0].seq + len(history)))
    for limit in (1, 3, len(history) - 1, len(history), len(history) + 5):  # across the rows' borders
        assert manager.get_status(instance_id, history_limit=limit).history == history[-limit:]
    assert manager.get_status(instance_id, history_limit=0).history == []


def test_the_history_search_matches_entries_not_rows(manager: WorkflowManager) -> None:
    from engine.reports import HistoryQuery

    first = manager.start_workflow("fork")
    second = manager.start_workflow("fork")
    for instance_id in (first, second):
        view = manager.get_status(instance_id)
        manager.task_done(next(e.id for e in view.executions if e.node_id == "a"), {"x": 1}, actor="ada")
    hits = manager.store.search_history(HistoryQuery(kind="EXECUTION_COMPLETED"))
    assert [(h.entry.instance_id, h.entry.node_id) for h in hits] == [(second, "a"), (first, "a")]
    hits = manager.store.search_history(HistoryQuery(instance_id=first, node="JOI"))
    assert {h.entry.node_id for h in hits} == {"join"} and {h.entry.instance_id for h in hits} == {first}
    hits = manager.store.search_history(HistoryQuery(actor="AD", limit=1))
    assert [(h.entry.instance_id, str(h.entry.kind)) for h in hits] == [(second, "TOKEN_CREATED")]
    assert all(h.entry.actor == "ada" for h in manager.store.search_history(HistoryQuery(actor="ada")))
    everything = manager.get_status(first).history
    assert [h.entry for h in manager.store.search_history(HistoryQuery(instance_id=first, limit=1000))] == \
        everything[::-1]


def test_a_state_kept_by_one_connection_is_dropped_when_another_writes(tmp_path: Path) -> None:
    """Connection A keeps the state it wrote; B (another store on the file: another process) moves the
    instance on; A's next step must start from B's state, not its own."""
    from engine.replay import differences

    stores = [open_store(tmp_path / "shared.db") for _ in range(2)]
    first, second = (WorkflowManager(store) for store in stores)
    try:
        first.add_workflow(FLOW)
        instance_id = first.start_workflow("fork")
        view = first.get_status(instance_id)
        a, b = (next(e.id for e in view.executions if e.node_id == node) for node in ("a", "b"))
        second.task_done(a, {"x": 1})
        first.task_done(b, {})  # with A's kept state, a's token would still be ACTIVE and the join not fire
        view = first.get_status(instance_id)
        assert str(view.status) == "COMPLETED" and view.context == {"x": 1}
        assert differences(view) == []
    finally:
        for store in stores:
            store.close()


def test_a_claim_on_the_same_connection_drops_the_kept_state(manager: WorkflowManager) -> None:
    """A claim writes the execution's lease outside a step; the completion that follows must see it (and
    clear it), not the state kept from before the claim."""
    from datetime import UTC, datetime, timedelta

    instance_id = manager.start_workflow("fork")
    execution = next(e for e in manager.get_status(instance_id).executions if e.node_id == "a")
    now = datetime.now(UTC)
    assert manager.store.claim_execution(execution.id, "worker-1", now, now + timedelta(minutes=1)) is not None
    manager.task_done(execution.id, {"x": 1})
    done = next(e for e in manager.get_status(instance_id).executions if e.id == execution.id)
    assert str(done.status) == "COMPLETED" and done.lease_owner is None and done.lease_until is None


def test_the_kept_states_are_bounded_and_the_oldest_goes_first(manager: WorkflowManager, monkeypatch) -> None:
    from store.sqlite import _States

    monkeypatch.setattr(_States, "limit", 3)
    ids = [manager.start_workflow("fork") for _ in range(5)]
    with manager.store.write() as tx:
        kept = list(tx._states)
    assert kept == ids[-3:]
    for instance_id in ids:  # the evicted ones are read back from the database, the same
        view = manager.get_status(instance_id)
        manager.task_done(next(e.id for e in view.executions if e.node_id == "a"), {"x": 1})
        assert manager.get_status(instance_id).context == {"x": 1}


def test_a_search_for_a_notable_kind_reads_the_marked_rows_only(manager: WorkflowManager) -> None:
    """Failures and interventions mark their history row; a search for such a kind across instances uses
    the partial index of marked rows and finds exactly what reading every entry would."""
    from engine.reports import HistoryQuery
    from store.history import NOTABLE_KINDS

    ids = [manager.start_workflow("fork") for _ in range(4)]
    for n, instance_id in enumerate(ids):
        view = manager.get_status(instance_id)
        a = next(e.id for e in view.executions if e.node_id == "a")
        if n % 2:
            manager.fail_task(a, f"boom {n}", actor="ops")
            manager.retry(a, actor="ops")
        else:
            manager.task_done(a, {"x": n})
    with manager.store.read() as cur:
        marked = cur.execute("SELECT COUNT(*) FROM history WHERE notable IS NOT NULL").fetchone()[0]
        total = cur.execute("SELECT COUNT(*) FROM history").fetchone()[0]
    assert 0 < marked < total
    everything = [h for i in ids for h in manager.get_status(i).history]
    for kind in ("EXECUTION_FAILED", "EXECUTION_RETRIED", "TOKEN_STATUS", "EXECUTION_COMPLETED"):
        hits = [h.entry for h in manager.store.search_history(HistoryQuery(kind=kind, limit=1000))]
        assert hits == sorted((h for h in everything if h.kind == kind), key=lambda h: -h.seq), kind
        assert (kind in NOTABLE_KINDS) == bool(hits and kind != "EXECUTION_COMPLETED")
    statements: list[str] = []
    with manager.store.write() as tx:
        tx.cursor.connection.set_trace_callback(statements.append)
    manager.store.search_history(HistoryQuery(kind="EXECUTION_FAILED"))
    with manager.store.write() as tx:
        tx.cursor.connection.set_trace_callback(None)
    plans = _plans(manager, [s for s in statements if "FROM history" in s])
    assert plans and all(any("ix_history_notable" in step for step in plan) for _, plan in plans), plans


def test_the_kept_states_are_bounded_by_the_size_of_their_json_too(manager: WorkflowManager, monkeypatch) -> None:
    """A context can hold large documents: the kept states stop at ``budget`` characters of JSON, whatever
    their number, and an instance too large alone is not kept at all (read back from the database)."""
    from store.sqlite import _States

    monkeypatch.setattr(_States, "budget", 25_000)
    document = "x" * 10_000
    ids = [manager.start_workflow("fork", {"document": document}) for _ in range(4)]
    with manager.store.write() as tx:
        states = tx._states
        assert list(states) == ids[-2:]  # two of ~10,100 characters fit in 25,000, three do not
        assert states.weight == sum(kept[2] for kept in states.values()) > 20_000
    huge = manager.start_workflow("fork", {"document": "y" * 30_000})
    with manager.store.write() as tx:
        assert huge not in tx._states and tx._states.weight <= 25_000
    for instance_id in [*ids, huge]:  # kept or not, every step sees the same state
        view = manager.get_status(instance_id)
        manager.task_done(next(e.id for e in view.executions if e.node_id == "a"), {"x": 1})
        assert manager.get_status(instance_id).context["x"] == 1
    with manager.store.write() as tx:
        assert tx._states.weight == sum(kept[2] for kept in tx._states.values()) <= 25_000


def test_the_decoded_executions_are_bounded_by_the_size_of_their_json(monkeypatch) -> None:
    from datetime import UTC, datetime

    from engine.model import Execution, ExecutionStatus
    from store.sqlite import _execution_params, _Executions

    monkeypatch.setattr(_Executions, "budget", 1_000)
    now = datetime.now(UTC)
    cache = _Executions()

    def execution(n: int, size: int) -> tuple:
        e = Execution(id=f"i:a:{n}", instance_id="i", node_id="a", task_id="t", inputs={"doc": "z" * size},
                      outputs=None, status=ExecutionStatus.ACTIVE, attempt=1, error=None, created_at=now,
                      updated_at=now)
        row = _execution_params(e)
        cache.remember(row, e)
        return row

    rows = [execution(n, 300) for n in range(5)]
    assert [r[0] for r in cache] == [r[0] for r in rows[-3:]] and cache.weight == sum(len(r[4]) for r in rows[-3:])
    execution(9, 2_000)  # larger than the whole budget: not kept, nothing evicted for it
    assert len(cache) == 3
    assert cache.get_or_decode(rows[0]).inputs == {"doc": "z" * 300}  # decoded again, then kept
    assert cache.weight == sum(len(r[4]) for r in cache) <= 1_000


def _count_context_writes(manager: WorkflowManager) -> None:
    """A table counting the writes to ``contexts``, kept by triggers (this test's database only)."""
    with manager.store.write() as tx:
        tx.cursor.execute("CREATE TABLE context_writes (n INTEGER)")
        tx.cursor.execute("INSERT INTO context_writes VALUES (0)")
        for event in ("INSERT", "UPDATE"):
            tx.cursor.execute(f"CREATE TRIGGER count_context_{event.lower()} AFTER {event} ON contexts "
                              "BEGIN UPDATE context_writes SET n = n + 1; END")


def _context_writes(manager: WorkflowManager) -> int:
    with manager.store.read() as cur:
        return cur.execute("SELECT n FROM context_writes").fetchone()[0]


def test_a_large_context_has_its_own_row_which_only_steps_changing_the_context_write(
        manager: WorkflowManager, tmp_path: Path) -> None:
    from store.tables import CONTEXT_INLINE_LIMIT

    _count_context_writes(manager)
    document = {"pages": ["p" * 100] * (CONTEXT_INLINE_LIMIT // 50)}
    instance_id = manager.start_workflow("fork", {"document": document, "who": "ada"})
    assert _row(manager, instance_id)[3] == "" and _context_writes(manager) == 1
    view = manager.get_status(instance_id)
    b = next(e.id for e in view.executions if e.node_id == "b")
    manager.task_done(b, {"ignored": True})  # b maps no outputs: the context is unchanged
    assert _context_writes(manager) == 1
    a = next(e.id for e in view.executions if e.node_id == "a")
    manager.task_done(a, {"x": 7})  # a maps x into the context
    assert _context_writes(manager) == 2
    expected = {"document": document, "who": "ada", "x": 7}
    assert manager.get_status(instance_id).context == expected
    manager.store.close()
    reopened = open_store(tmp_path / "wf.db")  # nothing kept: read back from the database
    try:
        assert WorkflowManager(reopened).get_status(instance_id).context == expected
    finally:
        reopened.close()


def test_a_context_that_grows_past_the_limit_moves_to_its_own_row_and_stays_searchable(
        manager: WorkflowManager, tmp_path: Path) -> None:
    from engine import InstanceQuery
    from store.tables import CONTEXT_INLINE_LIMIT

    small = manager.start_workflow("fork", {"who": "grace"})  # not all hex letters: no id can hold it
    grown = manager.start_workflow("fork", {"who": "bob"})
    assert _row(manager, grown)[3] == '{"who":"bob"}'
    manager.set_variables(grown, {"notes": "n" * CONTEXT_INLINE_LIMIT, "city": "Reykjavik"}, actor="ops")
    assert _row(manager, grown)[3] == ""
    manager.set_variables(grown, {"city": "Oslo"}, actor="ops")
    manager.store.close()
    reopened = open_store(tmp_path / "wf.db")
    try:
        wm = WorkflowManager(reopened)
        assert wm.get_status(grown).context == {"who": "bob", "notes": "n" * CONTEXT_INLINE_LIMIT, "city": "Oslo"}
        assert [s.id for s in wm.list_instances(InstanceQuery(text="oslo"))] == [grown]
        assert [s.id for s in wm.list_instances(InstanceQuery(text="grace"))] == [small]
        assert wm.list_instances(InstanceQuery(text="city")) == []  # a name, not a value
        view = wm.get_status(grown)  # a step of the moved instance, read back
        wm.task_done(next(e.id for e in view.executions if e.node_id == "a"), {"x": 1})
        assert wm.get_status(grown).context["x"] == 1 and wm.get_status(grown).context["city"] == "Oslo"
    finally:
        reopened.close()
