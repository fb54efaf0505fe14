"""Rewards through the API: the catalog, redeeming at the counter, confirming one-time codes."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from smscrm import points
from smscrm.accounts import api_keys
from smscrm.db.engine import make_sessionmaker, utcnow
from smscrm.loyalty import members, rewards
from smscrm.models import Member, Redemption
from tests.api.conftest import ADA


@pytest.fixture
def catalog(session, loyal_merchant, now):
    made = {
        "TEA": rewards.create_reward(session, loyal_merchant, code="TEA", name="A pot of tea", name_zh="一壶茶",
                                     points_cost=10, now=now),
        "CAKE": rewards.create_reward(session, loyal_merchant, code="CAKE", name="Cake", points_cost=5, now=now,
                                      stock=1),
        "OLD": rewards.create_reward(session, loyal_merchant, code="OLD", name="Gone", points_cost=1, now=now,
                                     is_active=False),
        "FEAST": rewards.create_reward(session, loyal_merchant, code="FEAST", name="Feast", points_cost=900, now=now),
    }
    session.commit()
    return made


@pytest.fixture
def ada_with_points(session, loyal_merchant, ada, now):
    points.record_purchase(session, loyal_merchant, phone=ADA, amount_minor=3000, now=now)  # 30 points
    session.commit()
    return ada


def redemptions_in(session) -> int:
    return session.scalar(select(func.count()).select_from(Redemption))


def test_the_catalog_lists_active_rewards_cheapest_first(api, catalog):
    response = api.get("/api/v1/rewards")
    assert response.status_code == 200
    assert response.get_json()["rewards"] == [
        {"id": catalog["CAKE"].id, "code": "CAKE", "name": "Cake", "name_zh": None, "points_cost": 5, "stock": 1,
         "is_active": True},
        {"id": catalog["TEA"].id, "code": "TEA", "name": "A pot of tea", "name_zh": "一壶茶", "points_cost": 10,
         "stock": None, "is_active": True},
        {"id": catalog["FEAST"].id, "code": "FEAST", "name": "Feast", "name_zh": None, "points_cost": 900,
         "stock": None, "is_active": True},
    ]


def test_another_merchants_rewards_are_not_listed(api, session, other_merchant, now):
    rewards.create_reward(session, other_merchant, code="CUT", name="Haircut", points_cost=50, now=now)
    session.commit()
    assert api.get("/api/v1/rewards").get_json() == {"rewards": []}


def test_redeem_at_the_counter_takes_the_points_at_once(api, session, catalog, ada_with_points):
    response = api.post("/api/v1/redemptions", json={"phone": ADA, "reward": "tea"})
    assert response.status_code == 201
    body = response.get_json()
    assert {key: body[key] for key in ("phone", "reward", "points_cost", "balance_after", "channel", "status", "code")} == {
        "phone": ADA, "reward": {"code": "TEA", "name": "A pot of tea"}, "points_cost": 10, "balance_after": 20,
        "channel": "counter", "status": "confirmed", "code": None,
    }
    assert body["confirmed_at"] == body["created_at"]
    ledger = api.get(f"/api/v1/members/{body['member_id']}/ledger").get_json()
    assert [(entry["kind"], entry["points"], entry["redemption_id"]) for entry in ledger["entries"]][0] == (
        "redeem", -10, body["id"])
    assert ledger["points_balance"] == 20


def test_a_retried_redemption_with_its_key_is_answered_the_same_and_takes_points_once(
    api, session, catalog, ada_with_points
):
    headers = {"Idempotency-Key": "till-1-redeem-9"}
    first = api.post("/api/v1/redemptions", json={"phone": ADA, "reward": "TEA"}, headers=headers)
    again = api.post("/api/v1/redemptions", json={"phone": ADA, "reward": "TEA"}, headers=headers)
    assert (again.status_code, again.get_json()) == (201, first.get_json())
    assert again.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
    assert redemptions_in(session) == 1
    session.refresh(ada_with_points)
    assert ada_with_points.points_balance == 20
    other = api.post("/api/v1/redemptions", json={"phone": ADA, "reward": "CAKE"}, headers=headers)
    assert (other.status_code, other.get_json()["error"]["code"]) == (409, "idempotency_key_reused")


@pytest.mark.parametrize(
    "reward, status, code",
    [("FEAST", 409, "insufficient_points"), ("OLD", 409, "reward_unavailable"), ("NOPE", 404, "reward_not_found")],
)
def test_a_redemption_that_cannot_be_made_says_why_and_changes_nothing(
    api, session, catalog, ada_with_points, reward, status, code
):
    response = api.post("/api/v1/redemptions", json={"phone": ADA, "reward": reward})
    assert (response.status_code, response.get_json()["error"]["code"]) == (status, code)
    session.refresh(ada_with_points)
    assert (ada_with_points.points_balance, redemptions_in(session)) == (30, 0)


def test_the_last_one_in_stock_goes_once(api, session, catalog, ada_with_points):
    assert api.post("/api/v1/redemptions", json={"phone": ADA, "reward": "CAKE"}).status_code == 201
    sold_out = api.post("/api/v1/redemptions", json={"phone": ADA, "reward": "CAKE"})
    assert (sold_out.status_code, sold_out.get_json()["error"]["code"]) == (409, "reward_unavailable")
    assert api.get("/api/v1/rewards").get_json()["rewards"][0]["stock"] == 0


def test_a_pending_member_cannot_redeem(api, session, loyal_merchant, catalog, now):
    points.record_purchase(session, loyal_merchant, phone="+14155550123", amount_minor=5000, now=now)
    session.commit()
    response = api.post("/api/v1/redemptions", json={"phone": "+14155550123", "reward": "CAKE"})
    assert (response.status_code, response.get_json()["error"]["code"]) == (409, "insufficient_points")


def test_unknown_and_other_merchants_members_are_404(api, session, catalog, other_merchant, now):
    members.join(session, other_merchant, "+14155550177", name="Salon client", language="en", now=now)
    session.commit()
    for phone in ("+14155550177", "+14155550199"):
        response = api.post("/api/v1/redemptions", json={"phone": phone, "reward": "CAKE"})
        assert (response.status_code, response.get_json()["error"]["code"]) == (404, "member_not_found")


@pytest.mark.parametrize(
    "payload, code",
    [({"phone": ADA}, "missing_field"), ({"phone": ADA, "reward": 7}, "invalid_reward"),
     ({"phone": ADA, "reward": "TEA", "qty": 2}, "unknown_field"), ({"phone": "x", "reward": "TEA"}, "invalid_phone")],
)
def test_a_bad_redemption_request_is_400(api, catalog, ada_with_points, payload, code):
    response = api.post("/api/v1/redemptions", json=payload)
    assert (response.status_code, response.get_json()["error"]["code"]) == (400, code)


@pytest.fixture
def sms_redemption(session, loyal_merchant, catalog, ada_with_points):
    """Ada texted REDEEM TEA just now: 10 points reserved, a one-time code issued."""
    redemption = rewards.request_redemption(session, loyal_merchant, ada_with_points, "TEA", now=utcnow())
    session.commit()
    return redemption


def test_confirm_a_code_as_the_member_reads_it_out(api, sms_redemption):
    spoken = "-".join([sms_redemption.code[:3].lower(), sms_redemption.code[3:]])
    response = api.post("/api/v1/redemptions/confirm", json={"code": spoken})
    assert response.status_code == 200
    body = response.get_json()
    assert (body["id"], body["phone"], body["status"], body["channel"], body["code"], body["balance_after"]) == (
        sms_redemption.id, ADA, "confirmed", "sms", sms_redemption.code, 20,
    )
    used = api.post("/api/v1/redemptions/confirm", json={"code": sms_redemption.code})
    assert (used.status_code, used.get_json()["error"]["code"]) == (409, "redemption_code_used")


def test_an_expired_code_is_410_and_its_points_are_back(api, session, engine, loyal_merchant, catalog, ada_with_points):
    long_ago = utcnow() - timedelta(days=loyal_merchant.redemption_code_days + 1)
    redemption = rewards.request_redemption(session, loyal_merchant, ada_with_points, "TEA", now=long_ago)
    session.commit()
    response = api.post("/api/v1/redemptions/confirm", json={"code": redemption.code})
    assert (response.status_code, response.get_json()["error"]["code"]) == (410, "redemption_code_expired")
    with make_sessionmaker(engine)() as fresh:
        assert fresh.get(Member, ada_with_points.id).points_balance == 30
        assert fresh.get(Redemption, redemption.id).status == "expired"
    assert points.verify_balances(session) == []


def test_codes_are_checked_before_they_are_looked_up(api, sms_redemption):
    malformed = api.post("/api/v1/redemptions/confirm", json={"code": "12-34"})
    assert (malformed.status_code, malformed.get_json()["error"]["code"]) == (400, "invalid_code")
    assert "6 letters and digits" in malformed.get_json()["error"]["message"]
    never_issued = "ZZZZZZ" if sms_redemption.code != "ZZZZZZ" else "YYYYYY"
    unknown = api.post("/api/v1/redemptions/confirm", json={"code": never_issued})
    assert (unknown.status_code, unknown.get_json()["error"]["code"]) == (404, "redemption_code_invalid")


def test_another_merchants_code_is_404(client, session, other_merchant, sms_redemption, now):
    _row, salon_key = api_keys.create(session, other_merchant, now=now)
    session.commit()
    response = client.post("/api/v1/redemptions/confirm", json={"code": sms_redemption.code},
                           headers={"Authorization": f"Bearer {salon_key}"})
    assert (response.status_code, response.get_json()["error"]["code"]) == (404, "redemption_code_invalid")
    session.refresh(sms_redemption)
    assert sms_redemption.status == "reserved"
