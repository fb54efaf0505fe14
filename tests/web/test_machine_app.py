"""The machine endpoints (Twilio's webhooks, the API, the health check) are served by an app of their own,
beside the merchant web app and without its browser machinery."""
from __future__ import annotations

from smscrm import MACHINE_PATHS, machine_app


def test_every_machine_route_is_under_the_machine_paths_and_the_web_app_has_none(app):
    machine_rules = [rule.rule for rule in machine_app(app).url_map.iter_rules()]
    assert {"/sms/inbound", "/sms/status", "/healthz", "/api/v1/purchases"} <= set(machine_rules)
    assert all(rule.startswith(MACHINE_PATHS) for rule in machine_rules)  # else dispatching never reaches it
    assert not [rule.rule for rule in app.url_map.iter_rules() if rule.rule.startswith(MACHINE_PATHS)]


def test_a_signed_in_browser_texting_keeps_its_session_and_gets_no_cookie_or_page_headers(owner, text_in):
    response = text_in("JOIN Ann")
    assert response.status_code == 200
    assert "<Message>" in response.text
    assert "Set-Cookie" not in response.headers
    assert "Content-Security-Policy" not in response.headers
    assert owner.get("/members").status_code == 200  # still signed in


def test_an_unknown_machine_path_is_a_json_404_even_for_a_browser(client):
    for path in ("/sms/nothing-here", "/api/v2/members"):
        response = client.get(path, headers={"Accept": "text/html"})
        assert response.status_code == 404
        assert response.get_json()["error"]["code"] == "not_found"


def test_an_unknown_page_is_an_html_404_unless_json_is_asked_for(client):
    assert "<h1>Page not found</h1>" in client.get("/no-such-page").text
    response = client.get("/no-such-page", headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_the_machine_app_shares_the_web_apps_database_engines(app):
    machines = machine_app(app)
    for name in ("smscrm.engine", "smscrm.autocommit_engine", "smscrm.sessionmaker"):
        assert machines.extensions[name] is app.extensions[name]
