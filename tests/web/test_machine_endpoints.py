"""The machine endpoints (Twilio's webhooks, the API, the health check) are served by the one app without its
browser machinery: no session cookie read or written, no CSRF check, no page headers, and errors in JSON."""
from __future__ import annotations

from smscrm.accounts import api_keys
from smscrm.loyalty import members
from smscrm.web import MACHINE_PATHS
from tests.conftest import MERCHANT_NUMBER

MACHINE_BLUEPRINTS = {"webhooks", "api", "health"}


def test_the_machine_endpoints_are_exactly_the_routes_under_the_machine_paths(app):
    rules = {rule.rule: rule.endpoint.partition(".")[0] for rule in app.url_map.iter_rules()}
    machine_rules = {rule for rule, blueprint in rules.items() if blueprint in MACHINE_BLUEPRINTS}
    assert {"/sms/inbound", "/sms/status", "/healthz", "/api/v1/purchases"} <= machine_rules
    assert machine_rules == {rule for rule in rules if rule.startswith(MACHINE_PATHS)}


def test_a_signed_in_browser_texting_keeps_its_session_and_gets_no_cookie_or_page_headers(owner, text_in):
    owner.set_cookie("remember_token", "a-remembered-user")
    response = text_in("JOIN Ann")
    assert response.status_code == 200
    assert "<Message>" in response.text
    assert "Set-Cookie" not in response.headers  # neither the session's nor the remember cookie
    assert "Content-Security-Policy" not in response.headers
    assert owner.get_cookie("remember_token").value == "a-remembered-user"
    assert owner.get("/members").status_code == 200  # still signed in


def test_machine_posts_need_no_csrf_token_while_the_pages_do(owner, session, merchant, now):
    members.join(session, merchant, "+14155550100", name="Ada", language="en", now=now)
    _row, key = api_keys.create(session, merchant, name="till 1", now=now)
    session.commit()
    response = owner.post(  # a browser's session cookie along, and no CSRF token
        "/api/v1/purchases", json={"phone": "+14155550100", "amount": 2500}, headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 201
    assert "Set-Cookie" not in response.headers
    refused = owner.post("/counter", data={"phone": "+14155550100", "amount": "25.00"})
    assert refused.status_code == 400 and "This form has expired" in refused.text


def test_the_health_check_answers_without_a_session(client):
    response = client.get("/healthz")
    assert response.get_json() == {"status": "ok", "database": "ok"}
    assert "Set-Cookie" not in response.headers


def test_an_unknown_machine_path_is_a_json_404_even_for_a_browser(client):
    for path in ("/sms/nothing-here", "/api/v2/members"):
        response = client.get(path, headers={"Accept": "text/html"})
        assert response.status_code == 404
        assert response.get_json()["error"]["code"] == "not_found"


def test_a_machine_error_is_json_even_for_a_browser(post_signed):
    response = post_signed("/sms/inbound", {"MessageSid": "SM1", "To": MERCHANT_NUMBER})  # no From
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "bad_request"


def test_an_unknown_page_is_an_html_404_unless_json_is_asked_for(client):
    assert "<h1>Page not found</h1>" in client.get("/no-such-page").text
    response = client.get("/no-such-page", headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"
