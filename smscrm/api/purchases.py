"""Recording a purchase from the till: `POST /api/v1/purchases`.

A retry is safe: with the same `Idempotency-Key` header (or, without one, the same receipt
`reference`) the purchase is not recorded again and the answer is the first one, marked with
`Idempotent-Replayed: true`. The same key or reference with another phone or amount is a 409.
"""
from __future__ import annotations

from flask import jsonify

from smscrm import points
from smscrm.api import blueprint, inputs
from smscrm.api.auth import current_merchant
from smscrm.api.members import iso
from smscrm.db.engine import utcnow
from smscrm.errors import Conflict
from smscrm.web.request_db import db_session

PURCHASE_FIELDS = {"required": ("phone", "amount"), "optional": ("reference",)}


def purchase_json(result: points.PurchaseResult) -> dict:
    return {
        "id": result.purchase_id,
        "member_id": result.member_id,
        "phone": result.phone,
        "amount": result.amount_minor,
        "reference": result.reference,
        "points_earned": result.points_earned,
        "balance": result.balance,
        "is_pending": result.is_pending,
        "created_at": iso(result.created_at),
    }


@blueprint.post("/purchases")
def record_purchase():
    inputs.only_query_parameters()
    merchant = current_merchant()
    key = inputs.idempotency_key()
    body = inputs.json_body(**PURCHASE_FIELDS)
    phone = inputs.phone(body["phone"], merchant)
    amount = inputs.amount_minor(body["amount"])
    reference = body.get("reference")
    if reference is not None:
        reference = inputs.text(reference, field="reference", max_chars=points.MAX_REFERENCE_CHARS, min_chars=0) or None
    session = db_session()
    result = points.record_purchase(
        session, merchant, phone=phone, amount_minor=amount, reference=reference, idempotency_key=key,
        now=utcnow(), channel="api",
    )
    if result.is_replay and key is not None and result.reference != reference:
        raise Conflict(
            "this Idempotency-Key was already used for a purchase with another reference", code="idempotency_key_reused"
        )
    session.commit()
    response = jsonify(purchase_json(result))
    response.status_code = 201
    if result.is_replay:
        response.headers["Idempotent-Replayed"] = "true"
    return response
