"""``wfconsole demo``: a database that shows every state an operator meets, built from ``sample_data/``.

The demo loads the sample blueprints and, on a database without instances yet, starts a few dozen
instances and drives them through the engine's public API — as a worker or an operator would — into
each state: completed, running, waiting at a join, waiting for a person, failed with an incident, stuck,
failed at an exclusive split, cancelled. Its expense approvals (a blueprint of its own, :data:`EXPENSE_APPROVAL`,
not a sample: the samples are the Go engine's format) are person's tasks with a candidate group and deadlines,
one assigned to a colleague and one claimed by whoever builds the demo, so that the Tasks view (``6``) shows
"mine", "claimable" and late tasks on a first run; two more are approved, one waiting for its receipt (a
message event), one in its objection period (a timer); an approval not done in two days goes to the finance
leads (an interrupting boundary timer). Times are spread over the last hour, so ages and charts look
lived-in. Running it again on the same database adds nothing twice; a build killed half-way and run again
finishes the demo, each instance made once (see :func:`build_demo`).
"""

from __future__ import annotations

import importlib.util
import json
import os
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from engine import WorkflowError, WorkflowManager
from engine.errors import StoreError
from engine.manager import default_actor
from engine.model import Execution
from engine.ports import InstanceQuery, InstanceSummary
from engine.workers import WorkerRegistry, collect_workers

DEMO_ACTOR = "demo"
MIN_INSTANCES = 20
EXPENSE_APPROVAL: dict[str, Any] = {
    "workflow_id": "expense_approval", "name": "Expense approval", "version": 1,
    "nodes": [
        {"id": "start", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "START", "name": "Submitted"},
        {"id": "approve", "type": "TASK", "task_id": "approve_expense", "name": "Approve the expense",
         "input_mapping": {"amount": "amount", "employee": "employee"}, "output_mapping": {"approved": "approved"},
         "candidate_group": "finance", "assignee_key": "approver", "deadline": {"key": "respond_within"},
         "boundary_timers": [{"duration": "P2D", "edge": "e_escalate"}]},
        {"id": "escalate", "type": "TASK", "task_id": "approve_expense", "name": "Approve as finance lead",
         "input_mapping": {"amount": "amount", "employee": "employee"}, "output_mapping": {"approved": "approved"},
         "candidate_group": "finance-leads", "deadline": "P1D"},
        {"id": "receipt", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "MESSAGE",
         "name": "Receipt uploaded", "message": "receipt_uploaded", "output_mapping": {"receipt": "receipt"}},
        {"id": "cool_off", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "TIMER",
         "name": "Objection period", "timer": "PT1H"},
        {"id": "end", "type": "INTERNAL", "internal_type": "EVENT", "event_type": "END", "name": "Paid out"},
    ],
    "edges": [{"id": "e1", "source_id": "start", "target_id": "approve"},
              {"id": "e2", "source_id": "approve", "target_id": "receipt"},
              {"id": "e_escalate", "source_id": "approve", "target_id": "escalate"},
              {"id": "e3", "source_id": "escalate", "target_id": "receipt"},
              {"id": "e4", "source_id": "receipt", "target_id": "cool_off"},
              {"id": "e5", "source_id": "cool_off", "target_id": "end"}],
}
"""The demo's person's tasks, timers and messages: the finance group approves within the time the expense claim
gives (after two days a boundary timer takes it away, to the finance leads), the receipt comes as a message
(``wfconsole send receipt_uploaded --key expense_id=EX-… --payload '{"receipt": "…"}'``), then an objection
period of an hour passes before the payout."""


def sample_dir() -> Path:
    """The ``sample_data`` folder of this checkout."""
    return Path(__file__).resolve().parent.parent / "sample_data"


@dataclass
class DemoSummary:
    """What the demo found or built."""

    blueprints: list[str] = field(default_factory=list)
    created: Counter = field(default_factory=Counter)
    existing: int = 0
    finished: str | None = None  # the state of an instance a build cut short left half-way, now finished

    @property
    def total_created(self) -> int:
        return sum(self.created.values())


class _DemoClock:
    """A clock that starts some minutes ago (or at ``since``, if later) and moves forward a little at every
    call, never past now."""

    def __init__(self, rng: random.Random, minutes: float = 40.0, since: datetime | None = None) -> None:
        self.rng = rng
        self.now = datetime.now(UTC) - timedelta(minutes=minutes)
        if since is not None:
            self.now = min(datetime.now(UTC), max(self.now, since))

    def __call__(self) -> datetime:
        # About 120 calls build the demo: some 40 minutes of history, ending a minute or two ago.
        self.now = min(datetime.now(UTC), self.now + timedelta(seconds=self.rng.uniform(8, 32)))
        return self.now


def _load_module(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location("wfconsole_sample_workers", path)
    if spec is None or spec.loader is None:
        raise StoreError(f"{path}: cannot be imported")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Driver:
    """Moves demo instances along, answering tasks as the sample workers and a person would."""

    def __init__(self, manager: WorkflowManager, registry: WorkerRegistry,
                 manual: dict[str, Callable[[dict], dict]]) -> None:
        self.manager = manager
        self.registry = registry
        self.manual = manual

    def open_executions(self, instance_id: str):
        return [e for e in self.manager.get_status(instance_id).executions if e.status == "ACTIVE"]

    def answer(self, execution) -> dict[str, Any]:
        spec = self.registry.get(execution.task_id)
        if spec is None:
            return self.manual[execution.task_id](execution.inputs)
        for _ in range(20):  # the sample workers fail now and then, as real ones do
            try:
                return spec.function(dict(execution.inputs))
            except Exception:
                continue
        raise WorkflowError(f"demo: worker {execution.task_id} kept failing")

    def drive(self, instance_id: str, stop_at: Callable[[Any], bool] | None = None, steps: int = 50) -> None:
        """Complete open executions until the instance ends or ``stop_at(execution)`` says to wait there."""
        for _ in range(steps):
            runnable = [e for e in self.open_executions(instance_id) if not (stop_at and stop_at(e))]
            if not runnable:
                return
            execution = runnable[0]
            self.manager.task_done(execution.id, self.answer(execution), actor=self._actor(execution))

    def _actor(self, execution) -> str:
        return "worker@demo" if execution.task_id in self.registry else DEMO_ACTOR

    def open_execution(self, instance_id: str, task_id: str) -> Execution | None:
        """The ACTIVE execution of ``task_id`` in the instance, or ``None``."""
        return next((e for e in self.open_executions(instance_id) if e.task_id == task_id), None)

    def has_completed(self, instance_id: str, task_id: str) -> bool:
        """Whether an execution of ``task_id`` in the instance was completed."""
        executions = self.manager.get_status(instance_id, history_limit=0).executions
        return any(e.task_id == task_id and e.status == "COMPLETED" for e in executions)


def _order(rng: random.Random, n: int, big: bool = False) -> dict[str, Any]:
    price = rng.choice([19.9, 49.0, 129.0, 349.0]) * (30 if big else 1)
    return {"order_id": f"SO-{20260 + n:05d}", "customer_id": f"C{rng.randrange(1000, 9999)}",
            "items": [{"sku": f"SKU-{rng.randrange(100, 999)}", "qty": rng.randint(1, 3), "price": price}],
            "warehouse": rng.choice(["BER-1", "AMS-2"]), "customer_email": f"buyer{n}@example.com",
            "shipping_address": f"{rng.randint(1, 99)} Market Street, Springfield", "shipped_template": "shipped_v2"}


def _loan(rng: random.Random, n: int, amount: int, iban: bool = True) -> dict[str, Any]:
    context = {"applicant_id": f"A-{4100 + n}", "applicant_name": rng.choice(["Ana Ruiz", "Li Wei", "Tom Berg",
                                                                             "Sara Okafor", "Jan Novak"]),
               "applicant_email": f"applicant{n}@example.com", "amount": amount, "decision_template": "loan_decision"}
    if iban:
        context["iban"] = f"DE{rng.randrange(10**19, 10**20)}"
    return context


def _user(rng: random.Random, n: int, bad_email: bool = False) -> dict[str, Any]:
    domain = "example.invalid" if bad_email else "example.com"
    return {"user_email": f"user{n}@{domain}", "user_name": f"User {n}", "plan": rng.choice(["free", "team"]),
            "welcome_template": "welcome_v3"}


def _verification(rng: random.Random, n: int, country: str = "DE") -> dict[str, Any]:
    return {"customer_id": f"K{7000 + n}", "country": country, "document_number": f"P{rng.randrange(10**7, 10**8)}",
            "address": f"{rng.randint(1, 200)} Harbour Road"}


def _expense(respond_within: str, approver: str | None = None) -> Callable[[random.Random, int], dict[str, Any]]:
    def make(rng: random.Random, n: int) -> dict[str, Any]:
        context = {"expense_id": f"EX-{880 + n}", "employee": rng.choice(["Ana Ruiz", "Li Wei", "Tom Berg"]),
                   "amount": rng.choice([86.4, 412.0, 1290.0]), "respond_within": respond_within}
        return {**context, "approver": approver} if approver else context
    return make


# A demo instance is known again by a context variable it was started with that no task writes: its business
# key, derived from its number. An instance found is not started twice.
_KEY_VARIABLES = {"order_fulfilment": "order_id", "loan_approval": "applicant_id",
                  "user_onboarding": "user_name", "verification": "customer_id", "expense_approval": "expense_id"}


def build_demo(manager: WorkflowManager, samples: Path | None = None, seed: int = 7) -> DemoSummary:
    """Load the sample blueprints and build the demo instances that are not there yet.

    The demo is a fixed list of instances (:func:`_recipes`), each started with a context made from the seed
    and its number alone, and taken to its state by steps that can be run again on a half-built instance. A
    build killed at any point and run again finds the instances already started by their key (an order id,
    an applicant id, ...), finishes the one it was building and starts the rest: each instance once. A
    database holding :data:`MIN_INSTANCES` instances or more, none of them the demo's, is left alone.
    """
    samples = samples or sample_dir()
    if not samples.is_dir():
        raise StoreError(f"{samples}: the sample_data folder is missing; run from a wfconsole checkout")
    summary = DemoSummary()
    paths = sorted(samples.glob("*.json"))
    stored = manager.add_workflows([(path.read_text(), str(path)) for path in paths]  # all or none
                                   + [(json.dumps(EXPENSE_APPROVAL), "console/demo.py")])
    names = [path.stem for path in paths] + [EXPENSE_APPROVAL["workflow_id"]]
    summary.blueprints += [f"{name} v{version}" for name, (version, _) in zip(names, stored, strict=True)]
    summary.existing = sum(manager.count_instances().values())
    recipes = _recipes(seed)
    found = _started(manager, recipes) if summary.existing else []
    if (not found and summary.existing >= MIN_INSTANCES) or len(found) == len(recipes):
        return summary
    module = _load_module(samples / "workers.py")
    previous_speed = os.environ.get("WFCONSOLE_DEMO_SPEED")
    os.environ["WFCONSOLE_DEMO_SPEED"] = "0"  # build instantly; the live workers keep their delays
    # The clock goes on from the last change of a build cut short, so that no history goes back in time.
    since = max((row.updated_at for row in found), default=None)
    demo_manager = manager.with_clock(_DemoClock(random.Random(seed), since=since))
    driver = _Driver(demo_manager, collect_workers(module), module.MANUAL_OUTPUTS)
    try:
        if found:  # the one a build cut short may have left half-way: its steps are safe to run again
            last = found[-1]
            recipes[len(found) - 1].build(driver, last.id)
            if demo_manager.get_status(last.id, history_limit=0).updated_at != last.updated_at:
                summary.finished = recipes[len(found) - 1].state
        for recipe in recipes[len(found):]:
            instance_id = demo_manager.start_workflow(recipe.workflow, recipe.context, actor=DEMO_ACTOR)
            summary.created[recipe.state] += 1
            recipe.build(driver, instance_id)
    finally:
        if previous_speed is None:
            os.environ.pop("WFCONSOLE_DEMO_SPEED", None)
        else:
            os.environ["WFCONSOLE_DEMO_SPEED"] = previous_speed
    return summary


def _started(manager: WorkflowManager, recipes: list[_Recipe]) -> list[InstanceSummary]:
    """The instances of the first recipes that are in the database, in order, up to the first that is not.

    The demo starts an instance only once the one before has its state, so the instances found are a
    prefix of the recipes and only the last of them can be half-built.
    """
    found = []
    for recipe in recipes:
        row = _find(manager, recipe)
        if row is None:
            break
        found.append(row)
    return found


def _find(manager: WorkflowManager, recipe: _Recipe) -> InstanceSummary | None:
    variable = _KEY_VARIABLES[recipe.workflow]
    key = recipe.context[variable]
    # The text search narrows it down (it matches parts of values too); the key must be equal.
    for row in manager.list_instances(InstanceQuery(workflow_id=recipe.workflow, text=key, limit=100)):
        if manager.get_status(row.id, history_limit=0).context.get(variable) == key:
            return row
    return None


@dataclass(frozen=True)
class _Recipe:
    """One demo instance: the state it shows, what it starts with, and the steps that take it there."""

    state: str
    workflow: str
    context: dict[str, Any]
    build: Callable[[_Driver, str], None]  # safe to call again on an instance it left half-way


def _recipes(seed: int) -> list[_Recipe]:
    """Every demo instance, in the order they are built; each context depends only on ``seed`` and its number."""
    plan: list[tuple[str, str, Callable[[random.Random, int], dict[str, Any]], Callable[[_Driver, str], None]]] = []
    # Person's tasks first, while the demo's clock is some 40 minutes back: those due within 20 or 30 minutes are
    # late by the time the console opens. One is a colleague's, one is claimed by whoever builds the demo.
    plan += [("waiting for a person", "expense_approval", _expense("PT20M"), _for_a_person),
             ("waiting for a person", "expense_approval", _expense("PT4H", approver="m.keller"), _for_a_person),
             ("waiting for a person", "expense_approval", _expense("P1D"), _for_a_person),
             ("waiting for a person", "expense_approval", _expense("PT30M"), _claimed_by_the_operator)]
    for _ in range(4):  # completed, one of each workflow
        plan += [("completed", "order_fulfilment", _order, _to_the_end),
                 ("completed", "loan_approval", lambda r, n: _loan(r, n, r.choice([2500, 8000, 25000])), _to_the_end),
                 ("completed", "user_onboarding", _user, _to_the_end),
                 ("completed", "verification", _verification, _to_the_end)]
    # Waiting for a person: loan reviews and a bounced welcome e-mail.
    plan += [("waiting for a person", "loan_approval", lambda r, n: _loan(r, n, r.choice([15000, 40000, 120000])),
              _up_to("manual_review"))] * 3
    plan += [("waiting for a person", "user_onboarding", lambda r, n: _user(r, n, bad_email=True),
              _up_to("verify_contact"))]
    # Waiting at a join: identity verified, the address check waits for a person.
    plan += [("waiting at a join", "verification", _verification, _up_to("verify_address"))] * 3
    plan += [("rework loop", "loan_approval", lambda r, n: _loan(r, n, 60000), _rework),
             ("failed with an incident", "order_fulfilment", lambda r, n: _order(r, n, big=True), _card_declined),
             ("failed with an incident", "loan_approval", lambda r, n: _loan(r, n, 12000, iban=False), _no_iban),
             ("stuck", "order_fulfilment", _order, _stuck_shipment),
             ("failed at a split", "verification", _verification, _split_without_match),
             ("cancelled", "order_fulfilment", _order, _cancel("customer withdrew the order")),
             ("cancelled", "loan_approval", lambda r, n: _loan(r, n, 9000), _cancel("duplicate application"))]
    # Approved expenses: one waits for its receipt (a message), one in its objection period (a timer).
    plan += [("waiting for a message", "expense_approval", _expense("P1D"), _approved),
             ("waiting at a timer", "expense_approval", _expense("P1D"), _receipt_received)]
    # Running: the workers take these on as soon as the demo's runtime starts.
    plan += [("running", workflow, make, _leave_running)
             for workflow, make in [("order_fulfilment", _order), ("user_onboarding", _user),
                                    ("verification", _verification)] * 2]
    return [_Recipe(state, workflow, make(random.Random(f"{seed}:{n}"), n), build)
            for n, (state, workflow, make, build) in enumerate(plan)]


# Each step below takes an instance to its state from wherever a build cut short left it: it acts only on
# what is still open, so running it again changes nothing.


def _to_the_end(d: _Driver, iid: str) -> None:
    d.drive(iid)


def _up_to(task_id: str) -> Callable[[_Driver, str], None]:
    def build(d: _Driver, iid: str) -> None:
        d.drive(iid, stop_at=lambda e: e.task_id == task_id)
    return build


def _leave_running(d: _Driver, iid: str) -> None:
    pass  # left to the workers


def _for_a_person(d: _Driver, iid: str) -> None:
    pass  # its task waits for a person: no worker runs it


def _claimed_by_the_operator(d: _Driver, iid: str) -> None:
    """A person's task claimed by whoever builds the demo ($WFCONSOLE_USER or the login name): "mine"."""
    task = d.open_execution(iid, "approve_expense")
    if task is not None and task.assignee is None:
        d.manager.claim_task(task.id, actor=default_actor())


def _approved(d: _Driver, iid: str) -> None:
    """An expense approved by the finance group: it waits for its receipt."""
    task = d.open_execution(iid, "approve_expense")
    if task is not None:
        d.manager.task_done(task.id, {"approved": True}, actor="m.keller")


def _receipt_received(d: _Driver, iid: str) -> None:
    """Approved, and its receipt came as a message: the objection period's timer runs."""
    _approved(d, iid)
    view = d.manager.get_status(iid, history_limit=0)
    if any(token.node_id == "receipt" for token in view.tokens):
        d.manager.send_message("receipt_uploaded", {"expense_id": view.context["expense_id"]},
                               {"receipt": f"receipt-{view.context['expense_id']}.pdf"}, actor=DEMO_ACTOR)


def _rework(d: _Driver, iid: str) -> None:
    """A loan that went through review and is back for rework: the loop in the graph."""
    d.drive(iid, stop_at=lambda e: e.task_id == "manual_review")
    review = d.open_execution(iid, "manual_review")
    if review is not None and not d.has_completed(iid, "manual_review"):
        d.manager.task_done(review.id, {"decision": "rework", "notes": "payslips missing", "reviewer": "m.keller"},
                            actor="m.keller")
    d.drive(iid, stop_at=lambda e: e.task_id == "manual_review")


def _card_declined(d: _Driver, iid: str) -> None:
    """Failed with an incident: a card declined after every attempt."""
    d.drive(iid, stop_at=lambda e: e.task_id == "charge_payment")
    charge = d.open_execution(iid, "charge_payment")
    if charge is not None:
        d.manager.fail_attempt(charge.id, "PermissionError: card declined: limit exceeded", None,
                               actor="worker@demo", error_type="PermissionError")


def _no_iban(d: _Driver, iid: str) -> None:
    """Failed with an incident: a loan approved by the reviewer (see MANUAL_OUTPUTS) with no IBAN on file."""
    d.drive(iid, stop_at=lambda e: e.task_id == "disburse_funds")
    disburse = d.open_execution(iid, "disburse_funds")
    if disburse is not None:
        d.manager.fail_attempt(disburse.id, "ValueError: no IBAN on file for the applicant: set the variable "
                               "'iban' and retry", None, actor="worker@demo", error_type="ValueError")


def _stuck_shipment(d: _Driver, iid: str) -> None:
    """Stuck: a worker host died holding a shipment; nobody else runs ship_order for that queue."""
    d.drive(iid, stop_at=lambda e: e.task_id == "ship_order")
    ship = d.open_execution(iid, "ship_order")
    if ship is not None:
        d.manager.mark_stuck(ship.id, "the lease of worker host wh-03:4711 lapsed and no running runtime took "
                             "the execution over", actor="stuck-check")


def _split_without_match(d: _Driver, iid: str) -> None:
    """Failed at an exclusive split: init was completed by hand without the 'ok' flag."""
    init = d.open_execution(iid, "init_verification")
    if init is None:
        return
    try:
        d.manager.task_done(init.id, {"records_found": 2}, actor="j.doe")
    except WorkflowError:
        pass  # the instance is FAILED at the split: that is the point


def _cancel(reason: str) -> Callable[[_Driver, str], None]:
    def build(d: _Driver, iid: str) -> None:
        view = d.manager.get_status(iid, history_limit=0)
        if view.status != "ACTIVE":
            return
        if not any(e.status == "COMPLETED" for e in view.executions):
            d.drive(iid, steps=1)
        d.manager.cancel(iid, reason, actor="m.keller")
    return build
