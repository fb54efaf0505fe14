"""Headers that keep browsers safe: the pages may not be framed, and a site served over https is https only."""
from __future__ import annotations

from dataclasses import replace

from smscrm import create_app


def test_pages_may_not_be_framed(client):
    response = client.get("/sign-in")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_an_https_site_tells_browsers_to_use_https_only_on_every_response(client, settings):
    assert settings.public_url.startswith("https://")
    for path in ("/sign-in", "/healthz", "/api/v1/members"):
        assert client.get(path).headers["Strict-Transport-Security"] == "max-age=31536000", path


def test_a_site_without_an_https_public_url_sends_no_hsts(engine, settings):
    for public_url in ("", "http://127.0.0.1:5000"):
        app = create_app(replace(settings, public_url=public_url, validate_signatures=False))
        response = app.test_client().get("/sign-in")
        assert "Strict-Transport-Security" not in response.headers
        assert response.headers["X-Frame-Options"] == "DENY"
        app.extensions["smscrm.engine"].dispose()
