"""Workers for the sample blueprints: the automated tasks, with small realistic delays and an occasional
failure. Tasks without a worker here are manual — they wait for a person in the console or the CLI:
``verify_contact``, ``manual_review``, ``request_documents``, ``verify_address``, ``manual_verification``.

Run them with ``wfconsole workers --module sample_data/workers.py``; ``wfconsole demo`` does so in-process.
``WFCONSOLE_DEMO_SPEED`` (default 1.0) scales the delays; 0 makes them instant.
"""

from __future__ import annotations

import os
import random
import time
import uuid

from engine.workers import worker

_rng = random.Random()


def _work(low: float, high: float) -> None:
    """Pretend to call a remote system."""
    speed = float(os.environ.get("WFCONSOLE_DEMO_SPEED", "1.0"))
    if speed > 0:
        time.sleep(_rng.uniform(low, high) * speed)


# -- user onboarding ---------------------------------------------------------------------------------

@worker("create_account", attempts=3, backoff=1)
def create_account(inputs: dict) -> dict:
    _work(0.2, 0.6)
    if not inputs.get("email"):
        raise ValueError("cannot create an account without an e-mail address")
    return {"account_id": f"acc_{uuid.uuid4().hex[:10]}"}


@worker("send_email", attempts=4, backoff=2, timeout=20)
def send_email(inputs: dict) -> dict:
    _work(0.2, 0.8)
    address = inputs.get("email_address") or ""
    if _rng.random() < 0.05:
        raise ConnectionError("SMTP relay mail.internal:587 refused the connection")
    status = "bounced" if address.endswith(".invalid") or "@" not in address else "sent"
    return {"status": status, "message_id": f"<{uuid.uuid4().hex}@mail.internal>"}


# -- order fulfilment --------------------------------------------------------------------------------

@worker("validate_order", attempts=2)
def validate_order(inputs: dict) -> dict:
    _work(0.1, 0.4)
    items = inputs.get("items") or []
    if not items:
        raise ValueError(f"order {inputs.get('order_id')} has no items")
    total = round(sum(item.get("qty", 1) * item.get("price", 0) for item in items), 2)
    return {"total": total, "currency": "EUR"}


@worker("charge_payment", attempts=3, backoff=2, timeout=30)
def charge_payment(inputs: dict) -> dict:
    _work(0.5, 1.5)
    if _rng.random() < 0.15:
        raise TimeoutError("payment gateway psp.example did not answer within 10 s")
    if (inputs.get("amount") or 0) > 5000:
        raise PermissionError(f"card declined for {inputs.get('amount')} {inputs.get('currency')}: limit exceeded")
    return {"payment_id": f"pay_{uuid.uuid4().hex[:12]}", "status": "captured"}


@worker("reserve_stock", attempts=3, backoff=1)
def reserve_stock(inputs: dict) -> dict:
    _work(0.3, 1.0)
    return {"reservation_id": f"res_{uuid.uuid4().hex[:8]}"}


@worker("ship_order", attempts=3, backoff=3, timeout=30)
def ship_order(inputs: dict) -> dict:
    _work(0.5, 1.2)
    if _rng.random() < 0.1:
        raise ConnectionError("carrier API returned 503 Service Unavailable")
    return {"tracking_number": f"1Z{_rng.randrange(10**9, 10**10)}", "carrier": _rng.choice(["DHL", "UPS", "DPD"])}


# -- loan approval -----------------------------------------------------------------------------------

@worker("credit_check", attempts=3, backoff=2)
def credit_check(inputs: dict) -> dict:
    _work(0.4, 1.0)
    seed = sum(map(ord, str(inputs.get("applicant_id", ""))))
    return {"score": 520 + seed % 300, "bureau_ref": f"CB-{seed:06d}"}


@worker("score_decision")
def score_decision(inputs: dict) -> dict:
    _work(0.1, 0.3)
    return {"decision": "approved" if (inputs.get("credit_score") or 0) >= 640 else "rejected"}


@worker("disburse_funds", attempts=5, backoff=5, timeout=60)
def disburse_funds(inputs: dict) -> dict:
    _work(0.5, 1.0)
    if not inputs.get("iban"):
        raise ValueError("no IBAN on file for the applicant: set the variable 'iban' and retry")
    return {"transfer_id": f"trf_{uuid.uuid4().hex[:10]}"}


# -- verification ------------------------------------------------------------------------------------

@worker("init_verification")
def init_verification(inputs: dict) -> dict:
    _work(0.2, 0.5)
    found = 0 if inputs.get("country") in (None, "", "XX") else 1 + len(str(inputs.get("customer_id"))) % 4
    return {"ok": found > 0, "records_found": found}


@worker("verify_identity", attempts=3)
def verify_identity(inputs: dict) -> dict:
    _work(0.3, 0.9)
    return {"verified": bool(inputs.get("document_number"))}


MANUAL_OUTPUTS = {
    "verify_contact": lambda inputs: {
        "email_address": str(inputs.get("email_address", "")).replace(".invalid", ".com")},
    "manual_review": lambda inputs: {"decision": "approved", "notes": "income documents checked",
                                     "reviewer": "demo-reviewer"},
    "request_documents": lambda inputs: {"documents": ["payslip-2026-10.pdf", "id-card.pdf"]},
    "verify_address": lambda inputs: {"verified": True},
    "manual_verification": lambda inputs: {"identity_verified": True, "address_verified": True,
                                           "agent": "demo-agent"},
}
"""What a person would answer at each manual task: the demo uses it to build finished instances."""
