"""Signing in and out, CSRF on every form, and every merchant page behind the sign-in."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from smscrm import web
from smscrm.accounts import logins
from smscrm.models import StaffUser
from tests.conftest import OWNER_EMAIL, OWNER_PASSWORD
from tests.web.conftest import csrf_token

PUBLIC_ENDPOINTS = {"auth.sign_in"}


def test_the_sign_in_form_has_labelled_fields_and_a_csrf_token(client, merchant):
    page = client.get("/sign-in")
    assert page.status_code == 200
    assert '<label for="email">Email</label>' in page.text
    assert '<label for="password">Password</label>' in page.text
    assert csrf_token(page.text)
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page.text


def test_the_owner_signs_in_and_sees_the_merchant_name(client, merchant, sign_in):
    response = sign_in()
    assert response.status_code == 302
    assert response.location == "/"
    home = client.get("/")
    assert home.status_code == 200
    assert "Green Leaf Tea" in home.text
    assert OWNER_EMAIL in home.text


def test_the_email_is_not_case_sensitive(client, merchant, sign_in):
    assert sign_in(email="  Owner@Tea.Example ").status_code == 302


@pytest.mark.parametrize(
    ("email", "password"),
    [(OWNER_EMAIL, "wrong password"), ("nobody@tea.example", "correct horse battery")],
)
def test_wrong_credentials_show_the_form_again_with_one_message(client, merchant, sign_in, email, password):
    response = sign_in(email=email, password=password)
    assert response.status_code == 200
    assert "That email and password do not match" in response.text
    assert f'value="{email}"' in response.text  # the email is kept, the password is not
    assert password not in response.text
    assert client.get("/members").status_code == 302


def test_empty_fields_are_named(client, merchant, sign_in):
    response = sign_in(email="", password="")
    assert response.status_code == 200
    assert "Enter your email address." in response.text
    assert "Enter your password." in response.text


def test_a_sign_in_without_a_csrf_token_is_refused(client, merchant):
    client.get("/sign-in")
    response = client.post("/sign-in", data={"email": OWNER_EMAIL, "password": "correct horse battery"})
    assert response.status_code == 400
    assert "This form has expired or did not come from this site" in response.text
    assert client.get("/members").status_code == 302


def test_a_sign_in_with_another_sessions_token_is_refused(app, client, merchant):
    stranger = app.test_client()
    token = csrf_token(stranger.get("/sign-in").text)
    client.get("/sign-in")
    response = client.post(
        "/sign-in", data={"csrf_token": token, "email": OWNER_EMAIL, "password": "correct horse battery"}
    )
    assert response.status_code == 400


def test_signing_in_goes_on_to_the_page_that_asked_for_it(client, merchant, sign_in):
    asked = client.get("/members", query_string={"q": "ann"})
    assert asked.status_code == 302
    assert asked.location == "/sign-in?next=%2Fmembers%3Fq%3Dann"
    response = sign_in(next_url="/members?q=ann")
    assert response.location == "/members?q=ann"


@pytest.mark.parametrize(
    "next_url",
    ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)", "members", "/\x00x"],
)
def test_only_local_next_urls_are_followed(client, merchant, sign_in, next_url):
    response = sign_in(next_url=next_url)
    assert response.status_code == 302
    assert response.location == "/"


def test_a_signed_in_user_opening_the_sign_in_page_goes_home(owner):
    response = owner.get("/sign-in")
    assert response.status_code == 302
    assert response.location == "/"


def test_sign_out_is_a_post_with_the_csrf_token(owner):
    assert owner.get("/sign-out").status_code == 405
    refused = owner.post("/sign-out")
    assert refused.status_code == 400
    assert owner.get("/members").status_code == 200  # still signed in

    token = csrf_token(owner.get("/members").text)
    response = owner.post("/sign-out", data={"csrf_token": token})
    assert response.status_code == 302
    assert response.location == "/sign-in"
    assert "You are signed out." in owner.get("/sign-in").text
    after = owner.get("/members")
    assert after.status_code == 302
    assert after.location.startswith("/sign-in")


def test_changing_the_password_ends_existing_sessions(owner, session):
    user = session.scalar(select(StaffUser).where(StaffUser.email == OWNER_EMAIL))
    logins.change_password(session, user, current=OWNER_PASSWORD, new="a brand new password for tea")
    session.commit()
    response = owner.get("/members")
    assert response.status_code == 302
    assert response.location.startswith("/sign-in")


def web_pages(app):
    """Every GET route of the merchant web app's blueprints, with 1 for any URL argument."""
    names = {blueprint.name for blueprint in web.BLUEPRINTS}
    for rule in app.url_map.iter_rules():
        if rule.endpoint.partition(".")[0] in names and rule.endpoint not in PUBLIC_ENDPOINTS and "GET" in rule.methods:
            yield rule.build({argument: 1 for argument in rule.arguments}, append_unknown=False)[1]


def test_every_page_sends_a_visitor_to_the_sign_in(app, client, merchant):
    pages = list(web_pages(app))
    assert {"/", "/members", "/inbox"} <= set(pages)
    for path in pages:
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.location.startswith("/sign-in?next="), path


def test_pages_are_not_cached_and_allow_only_this_site(owner):
    response = owner.get("/members")
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_the_session_cookie_is_http_only_and_same_site(client, merchant, sign_in):
    response = sign_in()
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_twilio_webhooks_need_no_csrf_token(owner, text_in):
    """Twilio signs its requests: the web app's CSRF check (on for all its forms) never sees them."""
    response = text_in("JOIN Ann")
    assert response.status_code == 200
    assert "<Message>" in response.text


def test_the_error_page_is_readable(client, merchant):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert "<h1>Page not found</h1>" in response.text
