"""Every API call needs `Authorization: Bearer <key>`; anything else is a 401 JSON error."""
from __future__ import annotations

from datetime import timedelta

import pytest

from smscrm.accounts import api_keys
from smscrm.models import ApiKey


def assert_401(response, code: str):
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == code
    assert response.get_json()["error"]["message"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_without_a_key_the_answer_is_401_and_says_how_to_send_one(client):
    response = client.get("/api/v1/members")
    assert_401(response, "missing_api_key")
    assert "Authorization: Bearer" in response.get_json()["error"]["message"]


@pytest.mark.parametrize(
    "header",
    ["Basic dXNlcjpwYXNz", "Bearer", "Bearer    ", "Token sk_0123456789ab_abc", "Bearer not-a-key"],
)
def test_a_malformed_authorization_header_is_401(client, header):
    assert_401(client.get("/api/v1/members", headers={"Authorization": header}), "invalid_api_key")


def test_a_forged_key_is_401(client, api_key):
    forged = api_key[:-2] + ("zz" if not api_key.endswith("zz") else "yy")
    assert_401(client.get("/api/v1/members", headers={"Authorization": f"Bearer {forged}"}), "invalid_api_key")


def test_a_valid_key_is_accepted_whatever_the_case_of_the_scheme(client, api_key):
    assert client.get("/api/v1/members", headers={"Authorization": f"bearer {api_key}"}).status_code == 200


def test_a_revoked_key_is_401_from_the_next_request_on(api, session, now):
    assert api.get("/api/v1/members").status_code == 200
    api_keys.revoke(session, api.key[:15], now=now)
    session.commit()
    assert_401(api.get("/api/v1/members"), "revoked_api_key")


def test_a_request_records_when_the_key_was_last_used(api, session, api_key):
    api.get("/api/v1/members")
    row = session.query(ApiKey).one()
    session.refresh(row)
    assert row.last_used_at is not None
    assert row.last_used_at > row.created_at - timedelta(seconds=1)


def test_the_openapi_document_is_public(client):
    assert client.get("/api/v1/openapi.json").status_code == 200


def test_csrf_protection_of_the_web_app_does_not_apply_to_the_key_authenticated_api(app, api, ada):
    assert app.config.get("WTF_CSRF_ENABLED", True) is True
    response = api.post("/api/v1/purchases", json={"phone": ada.phone, "amount": 100})
    assert response.status_code == 201
