"""The sample blueprints: Go field names only, valid without warnings, and each path runs to completion."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from engine import WorkflowManager, validate

SAMPLES = Path(__file__).resolve().parents[2] / "sample_data"
NODE_FIELDS = {"id", "type", "name", "internal_type", "event_type", "gateway_type", "task_id", "input_mapping",
               "output_mapping", "x", "y"}
EDGE_FIELDS = {"id", "source_id", "target_id", "condition"}
EXPECTED = {"user_onboarding", "order_fulfilment", "loan_approval", "verification"}


def _sample(workflow_id: str) -> dict[str, Any]:
    return json.loads((SAMPLES / f"{workflow_id}.json").read_text())


@pytest.fixture
def wm(manager: WorkflowManager) -> WorkflowManager:
    for workflow_id in sorted(EXPECTED):
        manager.add_workflow(_sample(workflow_id))
    return manager


class Driver:
    """Answers dispatched tasks from a script of outputs per node, in dispatch order; the rest stay open."""

    def __init__(self, wm: WorkflowManager, recorder) -> None:
        self.wm = wm
        self.recorder = recorder
        self.seen = 0
        self.waiting: list = []  # dispatched, not answered yet (a person has not acted)

    def run(self, answers: dict[str, list[dict[str, Any]]]) -> list[str]:
        """Complete open executions with the next answer for their node until none applies; return the nodes."""
        scripts = {node: list(outputs) for node, outputs in answers.items()}
        visited = []
        while True:
            self.waiting += self.recorder.payloads[self.seen:]
            self.seen = len(self.recorder.payloads)
            ready = next((p for p in self.waiting if scripts.get(p.node_id)), None)
            if ready is None:
                break
            self.waiting.remove(ready)
            self.wm.task_done(ready.execution_id, scripts[ready.node_id].pop(0))
            visited.append(ready.node_id)
        assert not any(scripts.values()), f"answers left unused: {scripts}"
        return visited

    def inputs(self, node_id: str, index: int = -1) -> dict[str, Any]:
        return self.recorder.for_node(node_id)[index].inputs


@pytest.fixture
def driver(wm: WorkflowManager, recorder) -> Driver:
    return Driver(wm, recorder)


# -- the files ------------------------------------------------------------------------------------


def test_the_four_samples_are_there() -> None:
    assert {p.stem for p in SAMPLES.glob("*.json")} >= EXPECTED


@pytest.mark.parametrize("workflow_id", sorted(EXPECTED))
def test_sample_uses_only_go_field_names_with_names_and_layout(workflow_id: str) -> None:
    blueprint = _sample(workflow_id)
    assert blueprint["workflow_id"] == workflow_id and blueprint["version"] == 1 and blueprint["name"]
    for node in blueprint["nodes"]:
        assert set(node) <= NODE_FIELDS, f"{node['id']}: {set(node) - NODE_FIELDS}"
        assert node.get("name") and "x" in node and "y" in node, node["id"]
    for edge in blueprint["edges"]:
        assert set(edge) <= EDGE_FIELDS, f"{edge['id']}: {set(edge) - EDGE_FIELDS}"


@pytest.mark.parametrize("workflow_id", sorted(EXPECTED))
def test_sample_validates_without_errors_or_warnings(workflow_id: str) -> None:
    assert validate((SAMPLES / f"{workflow_id}.json").read_text(), workflow_id) == []


# -- running them ---------------------------------------------------------------------------------


def test_onboarding_delivered_first_time(wm: WorkflowManager, driver: Driver) -> None:
    instance_id = wm.start_workflow("user_onboarding", {"user_email": "ada@example.com", "user_name": "Ada"})
    visited = driver.run({"create_account": [{"account_id": "acc-1"}],
                          "welcome_email": [{"status": "sent", "message_id": "m-1"}]})
    assert visited == ["create_account", "welcome_email"]
    view = wm.get_status(instance_id)
    assert view.status == "COMPLETED"
    assert view.context["account_id"] == "acc-1" and view.context["email_status"] == "sent"
    assert driver.inputs("welcome_email")["email_address"] == "ada@example.com"


def test_onboarding_bounce_loops_through_a_person_and_resends(wm: WorkflowManager, driver: Driver) -> None:
    instance_id = wm.start_workflow("user_onboarding", {"user_email": "ada@exmaple.com"})
    visited = driver.run({
        "create_account": [{"account_id": "acc-2"}],
        "welcome_email": [{"status": "bounced"}, {"status": "sent"}],
        "verify_contact": [{"email_address": "ada@example.com"}],
    })
    assert visited == ["create_account", "welcome_email", "verify_contact", "welcome_email"]
    assert driver.inputs("verify_contact")["bounce_status"] == "bounced"
    assert driver.inputs("welcome_email", 0)["email_address"] == "ada@exmaple.com"
    assert driver.inputs("welcome_email", 1)["email_address"] == "ada@example.com"
    assert wm.get_status(instance_id).status == "COMPLETED"


def test_order_pays_and_reserves_in_parallel_then_ships(wm: WorkflowManager, driver: Driver) -> None:
    instance_id = wm.start_workflow("order_fulfilment", {
        "order_id": "SO-1", "customer_id": "C-1", "customer_email": "c@example.com",
        "items": [{"sku": "BOOK-1", "qty": 2}], "shipping_address": "1 Main St", "warehouse": "DE-1"})
    driver.run({"validate_order": [{"total": 59.8, "currency": "EUR"}]})
    assert sorted(p.node_id for p in driver.recorder.payloads[1:]) == ["charge_payment", "reserve_stock"]
    driver.run({"reserve_stock": [{"reservation_id": "R-1"}]})  # runs first; the join waits for payment
    view = wm.get_status(instance_id)
    assert sorted((t.node_id, t.status) for t in view.tokens) == [("charge_payment", "ACTIVE"), ("join", "WAITING")]
    visited = driver.run({"charge_payment": [{"payment_id": "P-1", "status": "captured"}],
                          "ship_order": [{"tracking_number": "TRK-1", "carrier": "DHL"}],
                          "notify_customer": [{"status": "sent"}]})
    assert visited == ["charge_payment", "ship_order", "notify_customer"]
    assert driver.inputs("charge_payment") == {"amount": 59.8, "currency": "EUR", "customer_id": "C-1",
                                               "order_id": "SO-1"}
    assert driver.inputs("ship_order")["reservation_id"] == "R-1"
    assert driver.inputs("notify_customer")["tracking_number"] == "TRK-1"
    assert wm.get_status(instance_id).status == "COMPLETED"


def test_small_loan_is_decided_from_the_score_and_paid_out(wm: WorkflowManager, driver: Driver) -> None:
    instance_id = wm.start_workflow("loan_approval", {"applicant_id": "A-1", "amount": 5000,
                                                      "applicant_email": "a@example.com", "iban": "DE00"})
    visited = driver.run({"credit_check": [{"score": 720, "bureau_ref": "X-1"}],
                          "auto_decision": [{"decision": "approved"}],
                          "disburse_funds": [{"transfer_id": "T-1"}],
                          "notify_applicant": [{"status": "sent"}]})
    assert visited == ["credit_check", "auto_decision", "disburse_funds", "notify_applicant"]
    view = wm.get_status(instance_id)
    assert view.status == "COMPLETED" and view.context["transfer_id"] == "T-1"


def test_large_loan_goes_to_a_person_with_a_rework_loop(wm: WorkflowManager, driver: Driver) -> None:
    instance_id = wm.start_workflow("loan_approval", {"applicant_id": "A-2", "applicant_name": "Bob",
                                                      "amount": 250000, "applicant_email": "b@example.com"})
    visited = driver.run({
        "credit_check": [{"score": 640}],
        "manual_review": [{"decision": "rework", "notes": "payslips missing", "reviewer": "alice"},
                          {"decision": "rejected", "notes": "income too low", "reviewer": "alice"}],
        "request_documents": [{"documents": ["payslip-2026-01.pdf"]}],
        "notify_applicant": [{"status": "sent"}],
    })
    assert visited == ["credit_check", "manual_review", "request_documents", "manual_review", "notify_applicant"]
    assert driver.inputs("request_documents")["notes"] == "payslips missing"
    assert driver.inputs("manual_review", 1)["documents"] == ["payslip-2026-01.pdf"]
    assert driver.inputs("manual_review", 1)["previous_notes"] == "payslips missing"
    assert driver.inputs("notify_applicant")["decision"] == "rejected"
    view = wm.get_status(instance_id)
    assert view.status == "COMPLETED" and not driver.recorder.for_node("disburse_funds")


def test_verification_checks_identity_and_address_in_parallel(wm: WorkflowManager, driver: Driver) -> None:
    instance_id = wm.start_workflow("verification", {"customer_id": "C-1"})
    visited = driver.run({"init": [{"ok": True, "records_found": 3}], "t1": [{"verified": True}],
                          "t2": [{"verified": True}]})
    assert visited == ["init", "t1", "t2"]
    view = wm.get_status(instance_id)
    assert view.status == "COMPLETED"
    assert view.context["identity_verified"] is True and view.context["address_verified"] is True


def test_verification_takes_the_manual_path_when_records_are_incomplete(wm: WorkflowManager,
                                                                        driver: Driver) -> None:
    instance_id = wm.start_workflow("verification", {"customer_id": "C-2"})
    visited = driver.run({"init": [{"ok": False, "records_found": 0}],
                          "alternative": [{"identity_verified": True, "address_verified": True, "agent": "eve"}]})
    assert visited == ["init", "alternative"]
    view = wm.get_status(instance_id)
    assert view.status == "COMPLETED" and view.context["verified_by"] == "eve"


def test_verification_without_ok_fails_at_the_split_and_recovers(wm: WorkflowManager, driver: Driver) -> None:
    from engine import NoMatchingConditionError

    instance_id = wm.start_workflow("verification", {"customer_id": "C-3"})
    with pytest.raises(NoMatchingConditionError, match="records_ok"):
        driver.run({"init": [{"records_found": 1}]})
    assert wm.get_status(instance_id).status == "FAILED"
    wm.set_variables(instance_id, {"ok": True})
    wm.retry_instance(instance_id)
    driver.run({"t1": [{"verified": True}], "t2": [{"verified": False}]})
    view = wm.get_status(instance_id)
    assert view.status == "COMPLETED" and view.context["address_verified"] is False
