"""Property tests: random well-formed blueprints driven by random operations keep every invariant.

Each example stores a random blueprint (``strategies.blueprints``) in a fresh in-memory database,
starts an instance with a random context and applies a random sequence of operations: completions with
random outputs (mapped and unmapped keys, values of several types), duplicate and late completions,
``fail_task``, ``retry``, ``cancel``, ``set_variables``, ``retry_instance``, the runtime's
``fail_attempt`` and ``mark_stuck``, and ``check_joins``. After every step the stored instance must
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
    NoMatchingConditionError,
    WorkflowError,
    WorkflowManager,
)
from engine.model import HistoryKind
from engine.validate import compile_blueprint, validate
from store import open_store
from store.sqlite import SqliteWriteTransaction

EXAMPLES = int(os.environ.get("WF_PROPERTY_EXAMPLES", "200"))
STEPS = 30

OPERATIONS = (
    "complete", "complete", "complete", "complete", "duplicate", "fail_task", "retry", "cancel",
    "set_variables", "retry_instance", "fail_attempt", "mark_stuck", "check_joins",
)

# A FAILED instance (stopped at a split) mostly gets what an operator would do: fix variables, retry.
WHEN_FAILED = ("set_variables", "set_variables", "retry_instance", "retry_instance", "complete", "cancel",
               "fail_task")

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


class Driver:
    """One instance of a random blueprint, and the checks around every operation on it."""

    def __init__(self, blueprint: dict, structured: bool = True) -> None:
        self.structured = structured
        self.store = open_store(":memory:")
        self.clock = Clock()
        self.manager = WorkflowManager(self.store, clock=self.clock)
        self.manager.add_workflow(blueprint)
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
        if isinstance(outcome, WorkflowError) and not (
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
                # In a block-structured blueprint every waiting join can still fire.
                return False, m.check_joins(self.instance_id, actor="prop")
        except WorkflowError as error:
            return None, error
        raise AssertionError(f"unknown operation {operation}")

    def _check_outcome(self, operation: str, before, after, outcome) -> None:  # noqa: C901
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
            if was_open:
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
            assert outcome == []

    def close(self) -> None:
        self.store.close()


@bounded
@given(gen.blueprints, gen.initial_context, st.data())
def test_random_operations_keep_every_invariant(blueprint, context, data) -> None:
    note(f"blueprint: {blueprint}")
    driver = Driver(blueprint)
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
    driver = Driver(blueprint)
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
