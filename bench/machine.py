"""Micro-benchmark of the pure state machine (:mod:`engine.machine`), with no store and no manager.

    .venv/bin/python bench/machine.py                   # µs per machine.start and per machine.task_done
    .venv/bin/python bench/machine.py --instances 2000  # a shorter run
    .venv/bin/python bench/machine.py --dump FILE       # write a canonical repr of every transition
    .venv/bin/python bench/machine.py --check FILE      # compare with a dump written earlier (exit 1 if not equal)

Each instance of the Go engine's verification flow (:data:`bench.preload.VERIFICATION_FLOW`) is started
with ``machine.start`` and then run to its END with the three ``machine.task_done`` calls of the
``ok == true`` path, in memory: each transition's ``state`` and the execution ids of its ``dispatch``
payloads feed the next call, as the manager would after its commit. The blueprint is compiled once, the
way :meth:`engine.manager.WorkflowManager.get_workflow` does, with
:func:`engine.validate.compile_blueprint`.

Times and fresh ids come from fixed :class:`engine.machine.Event` objects whose ``new_uuid`` is a
counter, so two runs of the same code give the very same transitions. ``--dump`` / ``--check`` use this
to prove that an optimisation changed nothing: besides the timed path they run other scenarios through
the same helpers (the ``ok == false`` path, a split with no match then ``set_variables`` and
``retry_instance``, ``fail_task`` and ``retry``, ``attempt_failed``, ``mark_stuck``, a stuck join,
``cancel``, a duplicate completion) and write the ``repr`` of every transition, one per line.

Each figure is the best of ``--rounds`` rounds (the machine is shared; the best round is the one least
disturbed), a round being the mean over ``--instances`` instances. The garbage collector stays on, as in
the engine.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

# Run as a script, this file's directory comes first on sys.path, and this file would shadow the
# ``engine`` package: put the repository root there instead.
_HERE = Path(__file__).resolve().parent
ROOT = _HERE.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(ROOT))

from bench.preload import VERIFICATION_FLOW, outputs_for  # noqa: E402
from engine import machine  # noqa: E402
from engine.graph import CompiledBlueprint  # noqa: E402
from engine.model import InstanceState, Transition  # noqa: E402
from engine.validate import compile_blueprint  # noqa: E402

T0 = datetime(2024, 1, 1, 12, 0, 0, tzinfo=UTC)


def uuid_counter() -> Callable[[], str]:
    """A deterministic ``new_uuid``: version-4-shaped ids numbered from 1."""
    numbers = itertools.count(1)
    return lambda: f"00000000-0000-4000-8000-{next(numbers):012d}"


def make_events(count: int, new_uuid: Callable[[], str]) -> list[machine.Event]:
    """``count`` events one second apart (the n-th call of an instance uses the n-th), sharing ``new_uuid``."""
    return [machine.Event(at=T0 + timedelta(seconds=i), actor="bench", new_uuid=new_uuid) for i in range(count)]


def node_of(execution_id: str) -> str:
    return execution_id.split(":")[1]


# -- the timed run ---------------------------------------------------------------------------------


def timed_round(bp: CompiledBlueprint, instances: int) -> tuple[float, float, int]:
    """Run ``instances`` instances to their END; return (µs per start, µs per task_done, task_done calls)."""
    events = make_events(4, uuid_counter())
    start, task_done, clock = machine.start, machine.task_done, time.perf_counter_ns
    start_ns = done_ns = done_calls = 0
    for i in range(instances):
        context = {"customer": f"c{i}", "amount": i}
        before = clock()
        transition = start(bp, f"inst-{i:06d}", context, events[0])
        start_ns += clock() - before
        state = transition.state
        pending = [p.execution_id for p in transition.dispatch]
        step = 1
        while pending:
            execution_id = pending.pop(0)
            outputs = outputs_for(node_of(execution_id))
            before = clock()
            transition = task_done(bp, state, execution_id, outputs, events[step])
            done_ns += clock() - before
            done_calls += 1
            step += 1
            state = transition.state
            pending.extend(p.execution_id for p in transition.dispatch)
        if state.status != "COMPLETED":
            raise SystemExit(f"instance {state.id} ended {state.status}, not COMPLETED")
    return start_ns / instances / 1000, done_ns / done_calls / 1000, done_calls


# -- the transitions compared by --dump / --check --------------------------------------------------


class Scenarios:
    """Every scenario records each transition (``None`` for an ignored call) into ``self.out``."""

    def __init__(self, bp: CompiledBlueprint) -> None:
        self.bp = bp
        self.events = make_events(16, uuid_counter())
        self.out: list[Transition | None] = []

    def keep(self, transition: Transition | None) -> Transition | None:
        self.out.append(transition)
        return transition

    def begin(self, instance_id: str, context: dict[str, Any]) -> Transition:
        return self.keep(machine.start(self.bp, instance_id, context, self.events[0]))

    def done(self, state: InstanceState, execution_id: str, outputs: dict[str, Any], n: int) -> Transition:
        return self.keep(machine.task_done(self.bp, state, execution_id, outputs, self.events[n]))

    def execution(self, state: InstanceState, node_id: str):
        return next(e for e in state.executions.values() if e.node_id == node_id)

    def happy(self, i: int, ok: Any = True) -> InstanceState:
        """Like the timed run (``ok`` true), or down the alternative path (``ok`` false)."""
        transition = self.begin(f"happy-{ok}-{i}", {"customer": f"c{i}"})
        state, pending, n = transition.state, [p.execution_id for p in transition.dispatch], 1
        while pending:
            execution_id = pending.pop(0)
            outputs = {"ok": ok} if node_of(execution_id) == "init" else outputs_for(node_of(execution_id))
            transition = self.done(state, execution_id, outputs, n)
            state, n = transition.state, n + 1
            pending.extend(p.execution_id for p in transition.dispatch)
        # A late duplicate completion is ignored.
        self.done(state, f"happy-{ok}-{i}:t1:x", {}, n)
        return state

    def no_match_then_retry(self, i: int) -> None:
        transition = self.begin(f"nomatch-{i}", {})
        init = transition.dispatch[0].execution_id
        state = self.done(transition.state, init, {"ok": "maybe"}, 1).state
        self.keep(machine.set_variables(self.bp, state, {"ok": True}, self.events[2]))
        state = self.out[-1].state
        state = self.keep(machine.retry_instance(self.bp, state, self.events[3])).state
        for n, node_id in enumerate(("t1", "t2"), start=4):
            state = self.done(state, self.execution(state, node_id).id, {"status": "done"}, n).state

    def incidents(self, i: int) -> None:
        transition = self.begin(f"incident-{i}", {"n": i})
        state = self.done(transition.state, transition.dispatch[0].execution_id, {"ok": True}, 1).state
        t1 = self.execution(state, "t1")
        state = self.keep(machine.attempt_failed(self.bp, state, t1, "timeout", T0 + timedelta(minutes=5),
                                                 self.events[2], worker="w1")).state
        state = self.keep(machine.fail_task(self.bp, state, self.execution(state, "t1"), "refused",
                                            self.events[3], worker="w1")).state
        state = self.keep(machine.retry(self.bp, state, self.execution(state, "t1"), self.events[4])).state
        state = self.keep(machine.mark_stuck(self.bp, state, self.execution(state, "t1"), "overdue",
                                             self.events[5])).state
        # Completing a STUCK execution resolves the incident; t2 failed, then completed by an operator.
        state = self.done(state, self.execution(state, "t1").id, {"status": "late"}, 6).state
        state = self.keep(machine.fail_task(self.bp, state, self.execution(state, "t2"), "boom",
                                            self.events[7])).state
        self.done(state, self.execution(state, "t2").id, {"status": "fixed"}, 8)

    def stuck_join_and_cancel(self, i: int) -> None:
        transition = self.begin(f"stuck-{i}", {})
        state = self.done(transition.state, transition.dispatch[0].execution_id, {"ok": True}, 1).state
        state = self.done(state, self.execution(state, "t1").id, {"status": "done"}, 2).state
        # t2's execution vanishes (as after an operator's surgery): the join can no longer fire.
        t2 = self.execution(state, "t2")
        tokens = {k: v for k, v in state.tokens.items() if k != t2.id}
        executions = {k: v for k, v in state.executions.items() if k != t2.id}
        state = InstanceState(**{**state.__dict__, "tokens": tokens, "executions": executions})
        for join_id, reason in machine.stuck_joins(self.bp, state):
            state = self.keep(machine.mark_join_stuck(self.bp, state, join_id, reason, self.events[3])).state
        self.keep(machine.cancel(self.bp, state, "customer withdrew", self.events[4]))

    def run(self, instances: int) -> list[Transition | None]:
        for i in range(instances):
            self.happy(i, ok=True)
            self.happy(i, ok=False)
            self.no_match_then_retry(i)
            self.incidents(i)
            self.stuck_join_and_cancel(i)
        return self.out


def canonical(transitions: list[Transition | None]) -> Iterator[str]:
    """One line per transition: its dataclass ``repr`` (state, change set in order, dispatch), and the
    error's type, message and node, which an exception's ``repr`` leaves out."""
    for transition in transitions:
        if transition is None:
            yield "None"
            continue
        error = transition.error
        described = None if error is None else (type(error).__name__, str(error), getattr(error, "node_id", None))
        yield f"{transition!r} error={described!r}"


# -- main --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=20_000, help="instances per timed round (20,000)")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds; the best is reported (3)")
    parser.add_argument("--dump", metavar="FILE", help="write the canonical transitions to FILE, untimed")
    parser.add_argument("--check", metavar="FILE", help="compare the canonical transitions with FILE, untimed")
    parser.add_argument("--check-instances", type=int, default=50,
                        help="instances per scenario for --dump/--check (50)")
    args = parser.parse_args(argv)

    bp = compile_blueprint(VERIFICATION_FLOW)
    if args.dump or args.check:
        lines = list(canonical(Scenarios(bp).run(args.check_instances)))
        text = "\n".join(lines) + "\n"
        if args.dump:
            Path(args.dump).write_text(text)
            print(f"wrote {len(lines)} transitions to {args.dump}")
            return 0
        expected = Path(args.check).read_text().splitlines()
        if expected == lines:
            print(f"identical: {len(lines)} transitions match {args.check}")
            return 0
        for number, (want, got) in enumerate(itertools.zip_longest(expected, lines), start=1):
            if want != got:
                print(f"DIFFERENT at transition {number} of {len(expected)} expected, {len(lines)} found:\n"
                      f"  expected: {want}\n  found:    {got}")
                break
        return 1

    best_start = best_done = float("inf")
    calls = 0
    for _ in range(args.rounds):
        per_start, per_done, calls = timed_round(bp, args.instances)
        best_start, best_done = min(best_start, per_start), min(best_done, per_done)
        print(f"round: start {per_start:6.2f} µs   task_done {per_done:6.2f} µs", file=sys.stderr)
    print(f"machine.start     {best_start:6.2f} µs per call ({args.instances} calls, best of {args.rounds} rounds)")
    print(f"machine.task_done {best_done:6.2f} µs per call ({calls} calls, best of {args.rounds} rounds)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
