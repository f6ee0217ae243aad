"""``wfconsole demo``: a database that shows every state an operator meets, built from ``sample_data/``.

The demo loads the sample blueprints and, on a database without instances yet, starts a few dozen
instances and drives them through the engine's public API — as a worker or an operator would — into
each state: completed, running, waiting at a join, waiting for a person, failed with an incident, stuck,
failed at an exclusive split, cancelled. Times are spread over the last hour, so ages and charts look
lived-in. Running it again on the same database adds nothing twice.
"""

from __future__ import annotations

import importlib.util
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
from engine.workers import WorkerRegistry, collect_workers

DEMO_ACTOR = "demo"
MIN_INSTANCES = 20


def sample_dir() -> Path:
    """The ``sample_data`` folder of this checkout."""
    return Path(__file__).resolve().parent.parent / "sample_data"


@dataclass
class DemoSummary:
    """What the demo found or built."""

    blueprints: list[str] = field(default_factory=list)
    created: Counter = field(default_factory=Counter)
    existing: int = 0

    @property
    def total_created(self) -> int:
        return sum(self.created.values())


class _DemoClock:
    """A clock that starts some hours ago and moves forward a little at every call, never past now."""

    def __init__(self, rng: random.Random, minutes: float = 40.0) -> None:
        self.rng = rng
        self.now = datetime.now(UTC) - timedelta(minutes=minutes)

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

    def first(self, instance_id: str, task_id: str):
        return next(e for e in self.open_executions(instance_id) if e.task_id == task_id)


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


def build_demo(manager: WorkflowManager, samples: Path | None = None, seed: int = 7) -> DemoSummary:
    """Load the sample blueprints and, on a database with few instances, build the demo instances."""
    samples = samples or sample_dir()
    if not samples.is_dir():
        raise StoreError(f"{samples}: the sample_data folder is missing; run from a wfconsole checkout")
    summary = DemoSummary()
    paths = sorted(samples.glob("*.json"))
    stored = manager.add_workflows([(path.read_text(), str(path)) for path in paths])  # all or none
    summary.blueprints += [f"{path.stem} v{version}" for path, (version, _) in zip(paths, stored, strict=True)]
    summary.existing = sum(manager.store.count_instances().values())
    if summary.existing >= MIN_INSTANCES:
        return summary
    module = _load_module(samples / "workers.py")
    rng = random.Random(seed)
    previous_speed = os.environ.get("WFCONSOLE_DEMO_SPEED")
    os.environ["WFCONSOLE_DEMO_SPEED"] = "0"  # build instantly; the live workers keep their delays
    demo_manager = WorkflowManager(manager.store, clock=_DemoClock(rng))
    try:
        _populate(_Driver(demo_manager, collect_workers(module), module.MANUAL_OUTPUTS), rng, summary)
    finally:
        if previous_speed is None:
            os.environ.pop("WFCONSOLE_DEMO_SPEED", None)
        else:
            os.environ["WFCONSOLE_DEMO_SPEED"] = previous_speed
    return summary


def _populate(d: _Driver, rng: random.Random, summary: DemoSummary) -> None:  # noqa: PLR0915 - a script
    wm = d.manager
    n = 0

    def start(workflow: str, context: dict[str, Any], state: str) -> str:
        nonlocal n
        n += 1
        summary.created[state] += 1
        return wm.start_workflow(workflow, context, actor=DEMO_ACTOR)

    for _ in range(4):  # completed, one of each workflow
        d.drive(start("order_fulfilment", _order(rng, n), "completed"))
        d.drive(start("loan_approval", _loan(rng, n, rng.choice([2500, 8000, 25000])), "completed"))
        d.drive(start("user_onboarding", _user(rng, n), "completed"))
        d.drive(start("verification", _verification(rng, n), "completed"))
    for _ in range(3):  # waiting for a person: loan reviews and a bounced welcome e-mail
        d.drive(start("loan_approval", _loan(rng, n, rng.choice([15000, 40000, 120000])), "waiting for a person"),
                stop_at=lambda e: e.task_id == "manual_review")
    d.drive(start("user_onboarding", _user(rng, n, bad_email=True), "waiting for a person"),
            stop_at=lambda e: e.task_id == "verify_contact")
    for _ in range(3):  # waiting at a join: identity verified, the address check waits for a person
        d.drive(start("verification", _verification(rng, n), "waiting at a join"),
                stop_at=lambda e: e.task_id == "verify_address")
    # A loan that went through review and is back for rework: the loop in the graph.
    iid = start("loan_approval", _loan(rng, n, 60000), "rework loop")
    d.drive(iid, stop_at=lambda e: e.task_id == "manual_review")
    wm.task_done(d.first(iid, "manual_review").id, {"decision": "rework", "notes": "payslips missing",
                                                    "reviewer": "m.keller"}, actor="m.keller")
    d.drive(iid, stop_at=lambda e: e.task_id == "manual_review")
    # Failed with an incident: a card declined after every attempt; a loan with no IBAN on file.
    iid = start("order_fulfilment", _order(rng, n, big=True), "failed with an incident")
    d.drive(iid, stop_at=lambda e: e.task_id == "charge_payment")
    wm.fail_attempt(d.first(iid, "charge_payment").id, "PermissionError: card declined: limit exceeded", None,
                    actor="worker@demo", error_type="PermissionError")
    iid = start("loan_approval", _loan(rng, n, 12000, iban=False), "failed with an incident")
    d.drive(iid, stop_at=lambda e: e.task_id == "disburse_funds")
    if d.open_executions(iid):  # the reviewer approved it (see MANUAL_OUTPUTS)
        wm.fail_attempt(d.first(iid, "disburse_funds").id,
                        "ValueError: no IBAN on file for the applicant: set the variable 'iban' and retry", None,
                        actor="worker@demo", error_type="ValueError")
    # Stuck: a worker host died holding a shipment; nobody else runs ship_order for that queue.
    iid = start("order_fulfilment", _order(rng, n), "stuck")
    d.drive(iid, stop_at=lambda e: e.task_id == "ship_order")
    wm.mark_stuck(d.first(iid, "ship_order").id, "the lease of worker host wh-03:4711 lapsed and no running "
                  "runtime took the execution over", actor="stuck-check")
    # Failed at an exclusive split: init was completed by hand without the 'ok' flag.
    iid = start("verification", _verification(rng, n), "failed at a split")
    try:
        wm.task_done(d.first(iid, "init_verification").id, {"records_found": 2}, actor="j.doe")
    except WorkflowError:
        pass  # the instance is FAILED at the split: that is the point
    for reason in ("customer withdrew the order", "duplicate application"):  # cancelled
        iid = start("order_fulfilment" if "order" in reason else "loan_approval",
                    _order(rng, n) if "order" in reason else _loan(rng, n, 9000), "cancelled")
        d.drive(iid, steps=1)
        wm.cancel(iid, reason, actor="m.keller")
    for index in range(6):  # running: the workers take these on as soon as the demo's runtime starts
        workflow, make = [("order_fulfilment", _order), ("user_onboarding", _user),
                          ("verification", _verification)][index % 3]
        start(workflow, make(rng, n), "running")
