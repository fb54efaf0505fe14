"""No API key and no whole phone number reaches a log: a phone travels in POST bodies only (URLs are written to
access logs), the key's refusals name the kind of refusal, and SQL errors leave their parameters out."""
from __future__ import annotations

import base64
import logging

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from smscrm.accounts import api_keys
from smscrm.db.engine import make_engine
from smscrm.loyalty import rewards
from tests.api.conftest import ADA

NEWCOMER = "+14155550123"
STRANGER = "+14155550199"


def national_digits(phone: str) -> str:
    return phone.removeprefix("+1")  # 4155550100: what would show of a phone in any written form


@pytest.fixture
def logged(caplog):
    caplog.set_level(logging.DEBUG)
    return caplog


def test_requests_with_a_key_and_phones_log_neither(client, api, session, loyal_merchant, ada, now, logged):
    rewards.create_reward(session, loyal_merchant, code="TEA", name="A pot of tea", points_cost=10, now=now)
    session.commit()
    assert api.post("/api/v1/members/lookup", json={"phone": ADA}).status_code == 200
    assert api.post("/api/v1/members/lookup", json={"phone": STRANGER}).status_code == 404
    assert api.post("/api/v1/purchases", json={"phone": NEWCOMER, "amount": 2000}).status_code == 201
    assert api.post("/api/v1/redemptions", json={"phone": ADA, "reward": "TEA"}).status_code == 409
    assert api.get(f"/api/v1/members/{ada.id}/ledger").status_code == 200
    assert api.get("/api/v1/members", query_string={"q": ADA}).status_code == 400
    wrong_key = api.key[:-4] + ("aaaa" if not api.key.endswith("aaaa") else "bbbb")
    basic = base64.b64encode(f"{api.key}:".encode()).decode()
    for authorization in (f"Bearer {wrong_key}", f"Basic {basic}", f"Bearer {api.key}x"):
        response = client.post("/api/v1/members/lookup", json={"phone": ADA}, headers={"Authorization": authorization})
        assert response.status_code == 401
    api_keys.revoke(session, "_".join(api.key.split("_")[:2]), now=now)
    session.commit()
    assert api.post("/api/v1/members/lookup", json={"phone": ADA}).status_code == 401

    assert "API request refused" in logged.text  # the refusals were logged, without what was refused
    secret = api.key.rsplit("_", 1)[-1]
    for leak in (api.key, secret, wrong_key, basic, *(national_digits(phone) for phone in (ADA, NEWCOMER, STRANGER))):
        assert leak not in logged.text


def test_a_failed_statement_leaves_its_parameters_out(database_url):
    engine = make_engine(database_url)
    try:
        with pytest.raises(DBAPIError) as failed, engine.connect() as connection:
            connection.execute(text("SELECT phone FROM no_such_table WHERE phone = :phone"), {"phone": ADA})
        assert national_digits(ADA) not in str(failed.value)
    finally:
        engine.dispose()
