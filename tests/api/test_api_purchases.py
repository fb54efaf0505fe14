"""`POST /api/v1/purchases`: points for members, pending memberships for new phones, safe retries,
and amounts, phones and bodies checked with messages a POS developer can act on."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from smscrm import points
from smscrm.loyalty import members
from smscrm.models import Member, OutboundMessage, Purchase, Stage
from tests.api.conftest import ADA


def purchases_in(session) -> int:
    return session.scalar(select(func.count()).select_from(Purchase))


def test_a_purchase_by_a_member_earns_points_and_queues_a_receipt(api, session, ada):
    response = api.post("/api/v1/purchases", json={"phone": ADA, "amount": 1250, "reference": "R-1001"})
    assert response.status_code == 201
    body = response.get_json()
    assert {key: body[key] for key in ("phone", "amount", "reference", "points_earned", "balance", "is_pending")} == {
        "phone": ADA, "amount": 1250, "reference": "R-1001", "points_earned": 12, "balance": 12, "is_pending": False,
    }
    assert "Idempotent-Replayed" not in response.headers
    session.refresh(ada)
    assert (ada.points_balance, ada.visit_count, ada.total_spend_minor) == (12, 1, 1250)
    receipt = session.scalar(select(OutboundMessage).where(OutboundMessage.purpose == "purchase_receipt"))
    assert receipt.to_phone == ADA and "12" in receipt.body


def test_a_local_number_is_read_in_the_merchants_country(api, ada):
    body = api.post("/api/v1/purchases", json={"phone": "(415) 555-0100", "amount": 300}).get_json()
    assert (body["phone"], body["balance"]) == (ADA, 3)


def test_an_unknown_phone_becomes_a_pending_member_whose_points_are_held(api, session, loyal_merchant):
    body = api.post("/api/v1/purchases", json={"phone": "+14155550123", "amount": 2000}).get_json()
    assert (body["points_earned"], body["balance"], body["is_pending"]) == (20, 0, True)
    member = members.find(session, loyal_merchant.id, "+14155550123")
    assert (member.stage, member.points_balance, member.joined_at) == (Stage.PENDING, 0, None)
    assert api.get(f"/api/v1/members/{body['member_id']}").get_json()["stage"] == "pending"


def test_a_retry_with_the_same_idempotency_key_answers_the_same_and_records_nothing(api, session, ada):
    headers = {"Idempotency-Key": "8b0d6f7e-5a1c-4f0e-9d3b-2f1a0c9e8d7b"}
    first = api.post("/api/v1/purchases", json={"phone": ADA, "amount": 1250}, headers=headers)
    api.post("/api/v1/purchases", json={"phone": ADA, "amount": 700}, headers={"Idempotency-Key": "another"})
    again = api.post("/api/v1/purchases", json={"phone": ADA, "amount": 1250}, headers=headers)
    assert (again.status_code, again.get_json()) == (201, first.get_json())
    assert again.headers["Idempotent-Replayed"] == "true"
    assert purchases_in(session) == 2
    session.refresh(ada)
    assert ada.points_balance == 12 + 7


def test_without_a_key_the_receipt_reference_makes_a_retry_safe(api, session, ada):
    first = api.post("/api/v1/purchases", json={"phone": ADA, "amount": 990, "reference": "R-7"})
    again = api.post("/api/v1/purchases", json={"phone": ADA, "amount": 990, "reference": "R-7"})
    assert again.get_json() == first.get_json() and again.headers["Idempotent-Replayed"] == "true"
    assert purchases_in(session) == 1


@pytest.mark.parametrize(
    "retry",
    [{"phone": ADA, "amount": 1251}, {"phone": "+14155550188", "amount": 1250},
     {"phone": ADA, "amount": 1250, "reference": "R-2"}],
    ids=["other amount", "other phone", "other reference"],
)
def test_the_same_key_for_a_different_purchase_is_409(api, session, ada, retry):
    headers = {"Idempotency-Key": "till-1-sale-42"}
    api.post("/api/v1/purchases", json={"phone": ADA, "amount": 1250, "reference": "R-1"}, headers=headers)
    response = api.post("/api/v1/purchases", json=retry, headers=headers)
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "idempotency_key_reused"
    assert purchases_in(session) == 1


@pytest.mark.parametrize(
    "amount, hint",
    [(12.5, "not 12.5"), (1250.0, "not 1250.0"), ("1250", "not the string '1250'"), (True, "not true"),
     ([1250], "not [1250]"), (0, "at least 1"), (-500, "at least 1"), (10**12, "above the limit of 100000000")],
)
def test_a_bad_amount_is_400_saying_what_to_send(api, session, ada, amount, hint):
    response = api.post("/api/v1/purchases", json={"phone": ADA, "amount": amount})
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "invalid_amount"
    assert hint in error["message"]
    assert purchases_in(session) == 0


def test_an_amount_written_as_a_json_exponent_is_a_float_and_refused(api, ada):
    response = api.post("/api/v1/purchases", data='{"phone": "+14155550100", "amount": 1e3}',
                        content_type="application/json")
    assert response.get_json()["error"]["code"] == "invalid_amount"


@pytest.mark.parametrize(
    "payload, code, hint",
    [({"amount": 100}, "missing_field", "'phone' is required"),
     ({"phone": ADA}, "missing_field", "'amount' is required"),
     ({"phone": ADA, "amount": None}, "missing_field", "'amount' is required"),
     ({"phone": ADA, "amount": 100, "amout": 100}, "unknown_field", "the fields are phone, amount, reference"),
     ({"phone": "12", "amount": 100}, "invalid_phone", "+14155550100"),
     ({"phone": 4155550100, "amount": 100}, "invalid_phone", "must be a string"),
     ({"phone": ADA, "amount": 100, "reference": "x" * 65}, "invalid_reference", "0 to 64 characters"),
     ({"phone": ADA, "amount": 100, "reference": "a\nb"}, "invalid_reference", "control characters"),
     ([{"phone": ADA, "amount": 100}], "invalid_json", "JSON object")],
)
def test_a_bad_field_is_400_naming_it(api, session, ada, payload, code, hint):
    response = api.post("/api/v1/purchases", json=payload)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == code and hint in error["message"], error
    assert purchases_in(session) == 0


def test_a_blank_reference_counts_as_none(api, ada):
    assert api.post("/api/v1/purchases", json={"phone": ADA, "amount": 100, "reference": "  "}).get_json()[
        "reference"] is None


@pytest.mark.parametrize("key", ["", "has space", "x" * 81, "ключ"])
def test_a_bad_idempotency_key_is_400(api, ada, key):
    response = api.post("/api/v1/purchases", json={"phone": ADA, "amount": 100}, headers={"Idempotency-Key": key})
    assert (response.status_code, response.get_json()["error"]["code"]) == (400, "invalid_idempotency_key")


def test_malformed_json_is_400_and_another_content_type_is_415(api, ada):
    broken = api.post("/api/v1/purchases", data='{"phone": "+14155550100", "amount": ', content_type="application/json")
    assert (broken.status_code, broken.get_json()["error"]["code"]) == (400, "invalid_json")
    form = api.post("/api/v1/purchases", data={"phone": ADA, "amount": "100"})
    assert form.status_code == 415
    assert form.get_json()["error"] == {
        "code": "unsupported_media_type",
        "message": "send the body as JSON with the header Content-Type: application/json",
    }
    empty = api.post("/api/v1/purchases", data="", content_type="application/json")
    assert (empty.status_code, empty.get_json()["error"]["code"]) == (400, "invalid_json")


def test_a_purchase_only_touches_the_keys_merchant(api, session, ada, other_merchant, now):
    members.join(session, other_merchant, ADA, name="Ada at the salon", language="en", now=now)
    session.commit()
    api.post("/api/v1/purchases", json={"phone": ADA, "amount": 5000})
    salon_ada = members.find(session, other_merchant.id, ADA)
    session.refresh(salon_ada)
    assert (salon_ada.points_balance, salon_ada.visit_count) == (0, 0)
    assert session.scalar(select(func.count()).select_from(Member).where(Member.phone == ADA)) == 2


def test_the_ledger_explains_the_balance_the_api_reports(api, session, ada):
    for amount in (1250, 300, 4999):
        last = api.post("/api/v1/purchases", json={"phone": ADA, "amount": amount}).get_json()
    ledger = api.get(f"/api/v1/members/{last['member_id']}/ledger").get_json()
    assert last["member_id"] == ada.id
    assert sum(entry["points"] for entry in ledger["entries"]) == last["balance"] == ledger["points_balance"] == 12 + 3 + 49
    assert [entry["balance_after"] for entry in ledger["entries"]] == [64, 15, 12]
    assert points.verify_balances(session) == []


def test_a_retry_of_a_purchase_too_small_for_points_answers_the_same_after_the_balance_moved(api, ada):
    headers = {"Idempotency-Key": "till-1-sale-small"}
    first = api.post("/api/v1/purchases", json={"phone": ADA, "amount": 50}, headers=headers)
    api.post("/api/v1/purchases", json={"phone": ADA, "amount": 1000})
    again = api.post("/api/v1/purchases", json={"phone": ADA, "amount": 50}, headers=headers)
    assert again.get_json() == first.get_json()
