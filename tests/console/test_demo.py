"""``console.demo.build_demo``: cut short at any step and run again, it ends with the demo a build in one go makes."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from console.demo import build_demo
from engine import WorkflowManager
from engine.ports import InstanceQuery
from store import open_store

# The variable each sample workflow's instances are told apart by (its business key).
KEYS = {"order_fulfilment": "order_id", "loan_approval": "applicant_id", "user_onboarding": "user_name",
        "verification": "customer_id", "expense_approval": "expense_id"}


class Killed(BaseException):
    """A kill between two steps: a BaseException, so that no ``except Exception`` of the demo can catch it."""


class KillingStore:
    """The store, refusing to open any write transaction after the first ``allowed``: a process killed there.

    ``before`` records, for every write, how many instances were stored just before it: which demo instance
    the write belongs to.
    """

    def __init__(self, store, allowed: int | None = None) -> None:
        self.store = store
        self.allowed = allowed
        self.before: list[int] = []

    def write(self):
        if self.allowed is not None and len(self.before) >= self.allowed:
            raise Killed
        self.before.append(sum(self.store.count_instances().values()))
        return self.store.write()

    def __getattr__(self, name: str):
        return getattr(self.store, name)


def signature(manager: WorkflowManager) -> list[tuple]:
    """Each instance as workflow, key, status, executions and tokens: two builds of one demo are equal in this."""
    rows = manager.list_instances(InstanceQuery(limit=1000))
    result = []
    for row in rows:
        view = manager.get_status(row.id, history_limit=0)
        result.append((view.workflow_id, view.context[KEYS[view.workflow_id]], str(view.status),
                       tuple(sorted((e.node_id, str(e.status)) for e in view.executions)),
                       tuple(sorted((t.node_id, str(t.status)) for t in view.tokens))))
    return sorted(result)


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[tuple], list[int]]:
    """The signature of a build in one go, and for each of its writes the instances stored before it."""
    store = KillingStore(open_store(tmp_path_factory.mktemp("clean") / "demo.db"))
    try:
        summary = build_demo(WorkflowManager(store))
        assert summary.total_created == 42
        return signature(WorkflowManager(store.store)), store.before
    finally:
        store.store.close()


def kill_points(before: list[int]) -> list[int]:
    """The writes to kill the build at: every one of the rework loop (it acts in the middle), the last one
    (the operator's fail, stuck mark, cancel, claim...) of each instance acted on by hand, and a few others."""
    writes_of = {}  # instance number -> the indexes of its writes after its start
    for index, stored in enumerate(before):
        writes_of.setdefault(stored - 1, []).append(index)
    rework = 27  # the order of console.demo._recipes
    points = set(writes_of[rework]) | {writes_of[n][-1] for n in range(rework + 1, rework + 7)}
    points |= {writes_of[0][0], writes_of[20][0], writes_of[33][-1] + 1,
               writes_of[3][-1]}  # the expense claimed by the operator  # after a start; the first left running
    return sorted(points)


def test_the_kill_points_cover_the_instances_acted_on_by_hand(clean) -> None:
    _, before = clean
    assert len(before) > 100 and len(kill_points(before)) == KILL_POINTS


KILL_POINTS = 14


@pytest.mark.parametrize("point", range(KILL_POINTS))
def test_a_build_killed_between_two_steps_and_run_again_ends_as_a_build_in_one_go(tmp_path: Path, clean,
                                                                                   point: int) -> None:
    expected, before = clean
    points = kill_points(before)
    store = open_store(tmp_path / "demo.db")
    try:
        with pytest.raises(Killed):
            build_demo(WorkflowManager(KillingStore(store, allowed=points[point])))
        summary = build_demo(WorkflowManager(store))
        manager = WorkflowManager(store)
        built = signature(manager)
        assert summary.total_created + summary.existing == 42
        assert built == expected
        keys = Counter((workflow, key) for workflow, key, *_ in built)
        assert max(keys.values()) == 1
        again = build_demo(manager)
        assert again.total_created == 0 and again.existing == 42
    finally:
        store.close()


def test_a_demo_on_a_database_of_other_instances_adds_nothing(tmp_path: Path) -> None:
    store = open_store(tmp_path / "demo.db")
    try:
        manager = WorkflowManager(store)
        manager.add_workflow((Path(__file__).parents[2] / "sample_data" / "user_onboarding.json").read_text())
        for n in range(20):
            manager.start_workflow("user_onboarding", {"user_name": f"someone {n}", "user_email": "a@example.com"})
        summary = build_demo(manager)
        assert summary.total_created == 0 and summary.existing == 20
        assert sum(store.count_instances().values()) == 20
    finally:
        store.close()
