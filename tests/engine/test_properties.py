"""Property tests: random well-formed blueprints driven by random operations keep every invariant.

Each example stores a random blueprint (``strategies.blueprints``) in a fresh in-memory database,
starts an instance with a random context and applies a random sequence of operations: completions with
random outputs (mapped and unmapped keys, values of several types), duplicate and late completions,
``fail_task``, ``retry``, ``cancel``, ``set_variables``, ``retry_instance``, the runtime's
``fail_attempt`` and ``mark_stuck``, ``check_joins``, claims (each taking over the one before), workers'
completions and failures carrying a current or a stale claim, and an operator's repairs: token moves
(random removals and placements, refused when the instance could never finish) and migrations between two
versions. After every step the stored instance must
satisfy every invariant of :mod:`reliability.invariants` (token placement, joins, finished instances,
unique execution ids, append-only history, replay == stored state), and the outcome of the step must be
the one the state before it predicts: an operation refused with a ``WorkflowError`` changed nothing; a
duplicate completion changed nothing; an accepted one was applied exactly once.

The number of examples is bounded for CI (``WF_PROPERTY_EXAMPLES`` raises it for a longer run).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import strategies as gen
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st
from reliability.invariants import assert_instance

from engine import (
    InvalidStateError,
    InvalidValueError,
    NoMatchingConditionError,
    StaleClaimError,
    WorkflowError,
    WorkflowManager,
)
from engine.model import HistoryKind
from engine.outcomes import Ignored
from engine.validate import compile_blueprint, validate
from store import open_store
from store.sqlite import SqliteWriteTransaction

EXAMPLES = int(os.environ.get("WF_PROPERTY_EXAMPLES", "200"))
STEPS = 30

OPERATIONS = (
    "complete", "complete", "complete", "complete", "duplicate", "fail_task", "retry", "cancel",
    "set_variables", "retry_instance", "fail_attempt", "mark_stuck", "check_joins", "claim", "claim",
    "worker_report", "worker_report", "move", "migrate",
)

# A FAILED instance (stopped at a split) mostly gets what an operator would do: fix variables, retry.
WHEN_FAILED = ("set_variables", "set_variables", "retry_instance", "retry_instance", "complete", "cancel",
               "fail_task", "move", "migrate")

bounded = settings(max_examples=EXAMPLES, deadline=None, derandomize=False,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@bounded
@given(gen.blueprints)
def test_generated_blueprints_are_valid_without_warnings(blueprint) -> None:
    assert validate(blueprint) == []


class Clock:
    """A fake clock that moves 1 ms at every reading, so that every event has its own time."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now


# PostgreSQL: fewer examples (each step is a few round trips to the server); one schema for the module, emptied
# before each example (a schema each would cost its DDL every time).
postgres_bounded = settings(bounded, max_examples=max(10, EXAMPLES // 8))
_postgres: list = []


def postgres_store():
    """The module's store on the test PostgreSQL server (skips when there is none), emptied."""
    if not _postgres:
        import postgres_server

        _postgres.append(open_store(postgres_server.server().fresh_schema()))
    store = _postgres[0]
    with store.write() as tx:
        for table in ("history", "contexts", "executions", "instances", "blueprints"):
            tx.cursor.execute(f"DELETE FROM {table}")
    return store


class Driver:
    """One instance of a random blueprint, and the checks around every operation on it."""

    def __init__(self, blueprint: dict, structured: bool = True, backend: str = "sqlite") -> None:
        self.structured = structured
        self.shared = backend == "postgres"
        self.store = postgres_store() if self.shared else open_store(":memory:")
        self.clock = Clock()
        self.manager = WorkflowManager(self.store, clock=self.clock)
        self.manager.add_workflow(blueprint)
        self.manager.add_workflow({**blueprint, "version": 2})  # the same graph: migrations map by node id
        self.bp = compile_blueprint(blueprint)
        self.instance_id: str | None = None
        self.last: tuple | None = None  # (execution, payload, allowed) of the current operation

    def view(self):
        return self.manager.get_status(self.instance_id)

    def start(self, context: dict) -> None:
        try:
            self.instance_id = self.manager.start_workflow(self.bp.workflow_id, context)
        except NoMatchingConditionError as error:  # committed: the instance is FAILED at the split
            self.instance_id = error.instance_id
        view = self.view()
        assert {k: view.context[k] for k in context} == context
        assert_instance(view, self.bp, structured=self.structured)

    def step(self, data: st.DataObject) -> None:
        before = self.view()
        choices = WHEN_FAILED if before.status == "FAILED" else OPERATIONS
        operation = data.draw(st.sampled_from(choices), label="operation")
        expect_change, outcome = self._apply(operation, before, data)
        after = self.view()
        note(f"{operation}: {outcome!r} -> {after.status}, tokens {[t.node_id for t in after.tokens]}")
        event(f"{operation}: {type(outcome).__name__ if isinstance(outcome, Exception) else 'ok'}")
        event(f"{before.status}: {operation}")
        assert_instance(after, self.bp, before.history, structured=self.structured)
        self._assert_kept_state_is_the_stored_one()
        stopped_at = {t.node_id for t in before.tokens if t.status == "FAILED"}
        if isinstance(outcome, WorkflowError) and not isinstance(outcome, StaleClaimError) and not (
                isinstance(outcome, NoMatchingConditionError)
                and (operation != "retry_instance" or outcome.node_id not in stopped_at)):
            # Refused (or retry_instance still finding no match where it stopped): nothing changed.
            assert after == before, f"{operation} raised {outcome!r} but changed the instance"
        elif expect_change is False:
            assert after == before, f"{operation} should have been a no-op"
        elif expect_change is True:
            assert len(after.history) > len(before.history), f"{operation} recorded nothing"
        self._check_outcome(operation, before, after, outcome)

    def _assert_kept_state_is_the_stored_one(self) -> None:
        """The store hands out the state it kept after a step instead of reading it back (store.sqlite._States):
        it must be exactly what reading it back gives."""
        with self.store.write() as tx:
            kept = tx._states.get(self.instance_id)
            fresh = SqliteWriteTransaction(tx.cursor)
            state = fresh.load_instance(self.instance_id)
        if kept is not None:
            event("state kept by the store")
            assert kept[0] == state
            opened, read = kept[1], fresh._open[self.instance_id]
            assert (opened.context, opened.tokens, opened.marks, opened.no) == (
                read.context, read.tokens, read.marks, read.no)

    def _pick(self, data, executions, preferred: tuple[str, ...]):
        good = [e for e in executions if str(e.status) in preferred]
        pool = good if good and data.draw(st.integers(0, 5), label="prefer") else executions
        return data.draw(st.sampled_from(pool), label="execution") if pool else None

    def _apply(self, operation: str, before, data: st.DataObject):
        """Run ``operation``; return (whether it must change the instance, its result or error)."""
        m, active = self.manager, before.status == "ACTIVE"
        self.last = None
        try:
            if operation in ("complete", "duplicate"):
                preferred = ("ACTIVE", "FAILED", "STUCK") if operation == "complete" else (
                    "COMPLETED", "CANCELLED", "RETRIED")
                execution = self._pick(data, before.executions, preferred)
                if execution is None:
                    return None, None
                outputs = data.draw(gen.outputs, label="outputs")
                applies = active and execution.id in {t.id for t in before.tokens}
                self.last = (execution, outputs, applies)
                m.task_done(execution.id, outputs)
                return applies, None
            if operation in ("fail_task", "fail_attempt", "mark_stuck"):
                execution = self._pick(data, before.executions, ("ACTIVE",))
                if execution is None:
                    return None, None
                allowed = ("ACTIVE", "STUCK") if operation == "fail_task" else ("ACTIVE",)
                self.last = (execution, None, active and str(execution.status) in allowed)
                if operation == "fail_task":
                    m.fail_task(execution.id, "boom", actor="prop")
                elif operation == "mark_stuck":
                    m.mark_stuck(execution.id, "overdue", actor="prop")
                else:
                    m.fail_attempt(execution.id, "flaky", self.clock.now + timedelta(seconds=5), actor="prop")
                return True, None
            if operation == "retry":
                execution = self._pick(data, before.executions, ("FAILED", "STUCK"))
                if execution is None:
                    return None, None
                self.last = (execution, None, active and str(execution.status) in ("FAILED", "STUCK"))
                return True, m.retry(execution.id, actor="prop")
            if operation == "cancel":
                m.cancel(self.instance_id, "property test", actor="prop")
                return True, None
            if operation == "set_variables":
                values = data.draw(gen.every_variable if before.status == "FAILED" else gen.variables,
                                   label="variables")
                self.last = (None, values, None)
                m.set_variables(self.instance_id, values, actor="prop")
                return True, None
            if operation == "retry_instance":
                m.retry_instance(self.instance_id, actor="prop")
                return True, None
            if operation == "check_joins":
                # In a block-structured blueprint every waiting join can still fire (unless an operator moved
                # tokens: then it may mark one STUCK).
                return (False if self.structured else None), m.check_joins(self.instance_id, actor="prop")
            if operation == "claim":  # a lease that lapses at once: the next claim takes it over
                execution = self._pick(data, before.executions, ("ACTIVE",))
                if execution is None:
                    return None, None
                now = self.clock()
                return None, self.store.claim_execution(execution.id, f"worker-{execution.claim + 1}", now, now)
            if operation == "worker_report":
                return self._worker_report(before, data)
            if operation == "move":
                holding = sorted({t.node_id for t in before.tokens})
                remove = data.draw(st.lists(st.sampled_from(holding), max_size=1), label="remove") if holding else []
                add = data.draw(st.lists(st.sampled_from(sorted(self.bp.nodes)), max_size=1), label="add")
                if not remove and not add:
                    return None, None
                self.last = (None, (remove, add), None)
                m.move_tokens(self.instance_id, remove, add, actor="prop")
                self.structured = False  # an operator may leave a state no flow of the blueprint reaches
                return True, None
            if operation == "migrate":
                self.last = (None, 2 if before.version == 1 else 1, None)
                m.migrate(self.instance_id, self.last[1], actor="prop")
                return True, None
        except WorkflowError as error:
            return None, error
        raise AssertionError(f"unknown operation {operation}")

    def _worker_report(self, before, data: st.DataObject):
        """A worker's completion or failure under a claim drawn from the execution's claims so far."""
        execution = self._pick(data, before.executions, ("ACTIVE", "FAILED", "STUCK"))
        if execution is None:
            return None, None
        claim = data.draw(st.one_of(st.just(execution.claim), st.integers(0, execution.claim)), label="claim")
        kind = data.draw(st.sampled_from(("completion", "failure", "last failure")), label="report")
        current = execution.claim == claim and execution.lease_owner is not None
        stale = before.status == "ACTIVE" and str(execution.status) in ("ACTIVE", "FAILED", "STUCK") and not current
        outputs = data.draw(gen.outputs, label="outputs") if kind == "completion" else None
        if current:
            event(f"{kind} under the current claim")
        self.last = (execution, (kind, claim, outputs), stale)
        if kind == "completion":
            return None, self.manager.task_done(execution.id, outputs, actor="worker", claim=claim)
        retry_at = self.clock.now + timedelta(seconds=5) if kind == "failure" else None
        self.manager.fail_attempt(execution.id, "boom", retry_at, actor="worker", claim=claim)
        return None, None

    def _check_worker_report(self, before, after, outcome) -> None:
        execution, (kind, claim, outputs), stale = self.last
        new = after.history[len(before.history):]
        stale_entries = [h for h in new if h.kind is HistoryKind.STALE_REPORT]
        if not stale:
            assert stale_entries == [], f"a report under a current claim was recorded as stale: {stale_entries}"
            # Judged as the same report without a claim would be.
            active = before.status == "ACTIVE"
            if kind == "completion":
                self.last = (execution, outputs, active and execution.id in {t.id for t in before.tokens})
                self._check_outcome("complete", before, after, outcome)
            else:
                allowed = ("ACTIVE",) if kind == "failure" else ("ACTIVE", "STUCK")
                self.last = (execution, None, active and str(execution.status) in allowed)
                self._check_outcome("fail_attempt" if kind == "failure" else "fail_task", before, after, outcome)
            return
        event(f"stale {kind}")
        assert [h.kind for h in new] == [HistoryKind.STALE_REPORT]
        assert (new[0].details["report"], new[0].details["claim"]) == (kind.split()[-1], claim)
        keep = ("status", "error", "context", "tokens", "executions")
        assert [getattr(after, k) for k in keep] == [getattr(before, k) for k in keep], "a stale report changed state"
        if kind == "completion":
            assert outcome.ignored is Ignored.STALE_CLAIM and not outcome.applied
        else:
            assert isinstance(outcome, StaleClaimError), outcome

    def _check_outcome(self, operation: str, before, after, outcome) -> None:  # noqa: C901
        if operation == "worker_report" and self.last:
            self._check_worker_report(before, after, outcome)
            return
        refused = isinstance(outcome, WorkflowError) and not isinstance(outcome, NoMatchingConditionError)
        was_open = before.status in ("ACTIVE", "FAILED")
        if operation in ("complete", "duplicate") and self.last:
            execution, outputs, applies = self.last
            assert not refused, outcome
            done = [h for h in after.history if h.kind is HistoryKind.EXECUTION_COMPLETED
                    and h.execution_id == execution.id]
            if applies:
                assert len(done) == 1 and done[0].details["outputs"] == outputs
                stored = next(e for e in after.executions if e.id == execution.id)
                assert stored.status == "COMPLETED" and stored.outputs == outputs
            else:
                assert len(done) == (1 if execution.status == "COMPLETED" else 0)
        elif operation in ("fail_task", "fail_attempt", "mark_stuck", "retry") and self.last:
            execution, _, allowed = self.last
            if not allowed:
                assert isinstance(outcome, InvalidStateError), f"{operation} on {execution.status} gave {outcome!r}"
                return
            assert not refused, f"{operation} on an {execution.status} execution was refused: {outcome}"
            stored = {e.id: e for e in after.executions}
            if operation == "fail_task":
                assert stored[execution.id].status == "FAILED" and stored[execution.id].error == "boom"
            elif operation == "mark_stuck":
                assert stored[execution.id].status == "STUCK"
            elif operation == "fail_attempt":
                assert stored[execution.id].status == "ACTIVE"
                assert stored[execution.id].attempt == execution.attempt + 1
            else:
                new = stored[outcome]
                assert stored[execution.id].status == "RETRIED"
                assert new.attempt == execution.attempt + 1 and new.node_id == execution.node_id
                mapping = self.bp.nodes[new.node_id].input_mapping
                assert new.inputs == {k: before.context.get(v) for k, v in mapping.items()}
        elif operation == "cancel":
            if was_open:
                assert outcome is None and after.status == "CANCELLED"
            else:
                assert isinstance(outcome, InvalidStateError)
        elif operation == "set_variables" and self.last:
            _, values, _ = self.last
            if any(value == "" for value in values.values()):  # an empty value is refused
                assert isinstance(outcome, InvalidValueError) and after == before
            elif was_open:
                assert outcome is None
                assert all(after.context[k] == v for k, v in values.items())
            else:
                assert isinstance(outcome, InvalidStateError)
        elif operation == "retry_instance":
            if before.status != "FAILED":
                assert isinstance(outcome, InvalidStateError)
            elif outcome is None:
                assert after.status in ("ACTIVE", "COMPLETED")
            elif outcome.node_id in {t.node_id for t in before.tokens if t.status == "FAILED"}:
                assert isinstance(outcome, NoMatchingConditionError) and after == before
            else:  # resumed, then stopped at a later split
                assert after.status == "FAILED" and f"{outcome.node_id!r}" in after.error
                assert any(t.node_id == outcome.node_id and t.status == "FAILED" for t in after.tokens)
        elif operation == "check_joins":
            assert outcome == [] or not self.structured  # after a move a join may have lost its branches
        elif operation == "move" and self.last:
            if outcome is None or (isinstance(outcome, NoMatchingConditionError) and outcome.committed):
                marker = [h for h in after.history[len(before.history):] if h.kind is HistoryKind.INSTANCE_MODIFIED]
                assert len(marker) == 1 and marker[0].details["forced"] is False
                assert (marker[0].details["removed"], marker[0].details["added"]) == self.last[1]
            else:
                assert isinstance(outcome, WorkflowError) and after == before
        elif operation == "migrate" and self.last:
            if outcome is None:
                assert after.version == self.last[1] and before.status in ("ACTIVE", "FAILED")
            else:
                assert isinstance(outcome, InvalidStateError) and before.status not in ("ACTIVE", "FAILED")

    def close(self) -> None:
        if not self.shared:
            self.store.close()


@bounded
@given(gen.blueprints, gen.initial_context, st.data())
def test_random_operations_keep_every_invariant(blueprint, context, data) -> None:
    random_operations(blueprint, context, data, "sqlite")


@postgres_bounded
@given(gen.blueprints, gen.initial_context, st.data())
def test_random_operations_keep_every_invariant_on_postgres(blueprint, context, data) -> None:
    random_operations(blueprint, context, data, "postgres")


def random_operations(blueprint, context, data, backend: str) -> None:
    note(f"blueprint: {blueprint}")
    driver = Driver(blueprint, backend=backend)
    try:
        driver.start(context)
        for _ in range(data.draw(st.integers(min_value=3, max_value=STEPS), label="steps")):
            driver.step(data)
        event(f"final status {driver.view().status}")
    finally:
        driver.close()


@bounded
@given(gen.blueprints_with_ends, gen.initial_context, st.data())
def test_random_operations_on_blueprints_with_an_end_inside_a_branch(blueprint, context, data) -> None:
    """The same with END events inside parallel and exclusive branches (valid, with warnings): reaching
    one ends the instance while other branches may still run."""
    note(f"blueprint: {blueprint}")
    driver = Driver(blueprint, structured=False)
    try:
        driver.start(context)
        for _ in range(data.draw(st.integers(min_value=3, max_value=STEPS), label="steps")):
            driver.step(data)
    finally:
        driver.close()


@bounded
@given(gen.blueprints, gen.initial_context, st.data())
def test_completions_are_applied_once_and_duplicates_change_nothing(blueprint, context, data) -> None:
    """Complete open executions in a random order, each completion sent twice; the second is a no-op.

    When the instance ends, every execution it created is COMPLETED or CANCELLED, each completed once.
    """
    completions_once(blueprint, context, data, "sqlite")


@postgres_bounded
@given(gen.blueprints, gen.initial_context, st.data())
def test_completions_are_applied_once_and_duplicates_change_nothing_on_postgres(blueprint, context, data) -> None:
    completions_once(blueprint, context, data, "postgres")


def completions_once(blueprint, context, data, backend: str) -> None:
    driver = Driver(blueprint, backend=backend)
    try:
        driver.start(context)
        for _ in range(40):
            view = driver.view()
            open_ones = [e for e in view.executions if e.status == "ACTIVE"]
            if view.status != "ACTIVE" or not open_ones:
                break
            execution = data.draw(st.sampled_from(open_ones), label="execution")
            outputs = data.draw(gen.outputs, label="outputs")
            try:
                driver.manager.task_done(execution.id, outputs)
            except NoMatchingConditionError:
                pass
            once = driver.view()
            assert_instance(once, driver.bp, view.history, structured=True)
            driver.manager.task_done(execution.id, data.draw(gen.outputs, label="duplicate outputs"))
            assert driver.view() == once
        view = driver.view()
        if view.status == "COMPLETED":
            assert {str(e.status) for e in view.executions} <= {"COMPLETED", "CANCELLED"}
        if view.status == "FAILED":
            assert view.error and "no condition matched" in view.error
    finally:
        driver.close()
