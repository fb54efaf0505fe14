"""Sign-in hardening: failed attempts limited per account and per address with a message saying when to try
again, sessions that end on the server (sign-out, a new password, deactivation), an idle timeout stated on the
sign-in page, and passwords checked against common ones."""
from __future__ import annotations

import time
from dataclasses import replace
from datetime import timedelta

import pytest
from itsdangerous import TimestampSigner
from sqlalchemy import select

from smscrm import create_app
from smscrm.accounts import logins
from smscrm.config import Settings
from smscrm.errors import ConfigError, ValidationError
from smscrm.models import Role, StaffUser
from tests.conftest import OWNER_EMAIL, OWNER_PASSWORD
from tests.web.conftest import csrf_token

ADDRESS, OTHER_ADDRESS, THIRD_ADDRESS = "203.0.113.7", "198.51.100.20", "192.0.2.33"


def attempt(client, email: str, password: str, *, address: str = ADDRESS, forwarded_for: str | None = None):
    environ = {"REMOTE_ADDR": address}
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    token = csrf_token(client.get("/sign-in", environ_base=environ, headers=headers).text)
    return client.post("/sign-in", data={"csrf_token": token, "email": email, "password": password},
                       environ_base=environ, headers=headers)


def test_after_five_failed_sign_ins_to_an_account_it_waits_and_says_how_long(app, merchant):
    for _ in range(5):
        assert attempt(app.test_client(), OWNER_EMAIL, "not the password").status_code == 200
    # even the right password, from a new address, waits now: the account is being guessed at
    refused = attempt(app.test_client(), OWNER_EMAIL, OWNER_PASSWORD, address=OTHER_ADDRESS)
    assert refused.status_code == 429
    wait = int(refused.headers["Retry-After"])
    assert 0 < wait <= 60
    assert "Too many failed sign-ins" in refused.text
    assert f"wait {wait} seconds and try again" in refused.text
    assert 'role="alert"' in refused.text
    # another account, from another address, is not held back by this one
    assert attempt(app.test_client(), "nobody@tea.example", "whatever it is", address=THIRD_ADDRESS).status_code == 200


def test_after_five_failed_sign_ins_from_an_address_it_waits(app, merchant):
    for number in range(5):
        assert attempt(app.test_client(), f"guess{number}@tea.example", "not the password").status_code == 200
    refused = attempt(app.test_client(), OWNER_EMAIL, OWNER_PASSWORD)
    assert refused.status_code == 429
    assert "Too many failed sign-ins" in refused.text
    assert attempt(app.test_client(), OWNER_EMAIL, OWNER_PASSWORD, address=OTHER_ADDRESS).status_code == 302


def test_the_wait_grows_with_further_failures(app, merchant, monkeypatch):
    """5 failures a minute; then 10 in 15 minutes: the 11th attempt, 2 minutes on, waits about 13 minutes."""
    start = time.time()
    for minute in (0, 1):  # five failures in each of two minutes: the one-minute limit is never passed
        monkeypatch.setattr(time, "time", lambda: start + 60.5 * minute)
        for _ in range(5):
            assert attempt(app.test_client(), OWNER_EMAIL, "not the password").status_code == 200
    monkeypatch.setattr(time, "time", lambda: start + 125)
    refused = attempt(app.test_client(), OWNER_EMAIL, OWNER_PASSWORD, address=OTHER_ADDRESS)
    assert refused.status_code == 429
    assert 12 * 60 < int(refused.headers["Retry-After"]) <= 15 * 60
    assert "wait 13 minutes and try again" in refused.text


def test_behind_a_trusted_proxy_each_client_address_counts_alone(engine, settings, merchant):
    app = create_app(replace(settings, trusted_proxies=1))
    for _ in range(5):
        attempt(app.test_client(), "nobody@tea.example", "a guess", address="10.0.0.2", forwarded_for=ADDRESS)
    assert attempt(app.test_client(), OWNER_EMAIL, OWNER_PASSWORD, address="10.0.0.2",
                   forwarded_for=ADDRESS).status_code == 429
    assert attempt(app.test_client(), OWNER_EMAIL, OWNER_PASSWORD, address="10.0.0.2",
                   forwarded_for=OTHER_ADDRESS).status_code == 302
    app.extensions["smscrm.engine"].dispose()


def test_without_a_trusted_proxy_x_forwarded_for_is_ignored(app, merchant):
    for number in range(5):
        attempt(app.test_client(), f"guess{number}@tea.example", "a guess", forwarded_for=f"192.0.2.{number}")
    assert attempt(app.test_client(), OWNER_EMAIL, OWNER_PASSWORD, forwarded_for=OTHER_ADDRESS).status_code == 429


def test_sign_ins_that_work_are_not_counted(app, merchant):
    for _ in range(7):
        assert attempt(app.test_client(), OWNER_EMAIL, OWNER_PASSWORD).status_code == 302


def test_a_cookie_replayed_after_sign_out_gets_the_sign_in_page(owner):
    kept = owner.get_cookie("session").value
    owner.post("/sign-out", data={"csrf_token": csrf_token(owner.get("/members").text)})
    owner.set_cookie("session", kept)
    replayed = owner.get("/members")
    assert replayed.status_code == 302
    assert replayed.location.startswith("/sign-in")


def test_signing_out_ends_the_users_other_sessions_too(app, merchant, owner):
    elsewhere = app.test_client()
    assert attempt(elsewhere, OWNER_EMAIL, OWNER_PASSWORD).status_code == 302
    assert elsewhere.get("/members").status_code == 200
    owner.post("/sign-out", data={"csrf_token": csrf_token(owner.get("/members").text)})
    assert elsewhere.get("/members").status_code == 302


def test_a_deactivated_login_is_signed_out_and_cannot_sign_in(app, session, merchant, now):
    owner_user = session.scalar(select(StaffUser).where(StaffUser.email == OWNER_EMAIL))
    staff = logins.create_staff_user(session, merchant, email="staff@tea.example", password="counter staff password",
                                     role=Role.STAFF, now=now)
    session.commit()
    counter = app.test_client()
    assert attempt(counter, "staff@tea.example", "counter staff password").status_code == 302
    logins.deactivate(session, staff, by=owner_user, now=now)
    session.commit()
    assert counter.get("/members").status_code == 302
    again = attempt(app.test_client(), "staff@tea.example", "counter staff password", address=OTHER_ADDRESS)
    assert again.status_code == 200
    assert "That email and password do not match" in again.text


def later_by(monkeypatch, delta: timedelta) -> None:
    """Every session cookie is judged as if `delta` had passed since it was signed."""
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: int(time.time() + delta.total_seconds()))


def test_the_sign_in_page_states_the_idle_time(client, merchant):
    assert "signed out after 8 hours without using the app" in client.get("/sign-in").text


def test_a_session_idle_longer_than_the_stated_time_ends(owner, monkeypatch):
    later_by(monkeypatch, timedelta(hours=8, minutes=1))
    response = owner.get("/members")
    assert response.status_code == 302
    assert response.location.startswith("/sign-in")


def test_the_idle_time_is_a_setting(engine, settings, merchant, monkeypatch):
    app = create_app(replace(settings, session_idle_minutes=30))
    client = app.test_client()
    assert "signed out after 30 minutes without using the app" in client.get("/sign-in").text
    assert attempt(client, OWNER_EMAIL, OWNER_PASSWORD).status_code == 302
    assert client.get("/members").status_code == 200
    later_by(monkeypatch, timedelta(minutes=31))
    assert client.get("/members").status_code == 302
    app.extensions["smscrm.engine"].dispose()


@pytest.mark.parametrize(("variable", "value"), [
    ("SMSCRM_SESSION_IDLE_MINUTES", "0"), ("SMSCRM_SESSION_IDLE_MINUTES", "eight hours"),
    ("SMSCRM_RATE_LIMIT_STORAGE_URI", "localhost:6379"), ("SMSCRM_TRUSTED_PROXIES", "-1"),
])
def test_a_bad_sign_in_setting_names_its_variable(variable, value):
    with pytest.raises(ConfigError, match=variable):
        Settings.from_env({"SMSCRM_ENV": "development", variable: value})


def test_sign_in_settings_are_read_from_the_environment():
    settings = Settings.from_env({"SMSCRM_ENV": "development", "SMSCRM_SESSION_IDLE_MINUTES": "90",
                                  "SMSCRM_RATE_LIMIT_STORAGE_URI": "redis://localhost:6379"})
    assert (settings.session_idle_minutes, settings.rate_limit_storage_uri) == (90, "redis://localhost:6379")
    assert Settings.from_env({"SMSCRM_ENV": "development"}).rate_limit_storage_uri == "memory://"


def test_a_session_in_use_stays_open(owner, monkeypatch):
    later_by(monkeypatch, timedelta(hours=7, minutes=59))
    assert owner.get("/members").status_code == 200


@pytest.mark.parametrize("password", ["12345678", "password1", "qwertyuiop", "iloveyou2", "Password123!"])
def test_common_passwords_are_refused_although_long_enough(session, merchant, now, password):
    with pytest.raises(ValidationError, match="too easy to guess"):
        logins.create_staff_user(session, merchant, email="staff@tea.example", password=password,
                                 role=Role.STAFF, now=now)


def test_a_password_made_of_the_shops_name_is_refused(session, merchant, now):
    with pytest.raises(ValidationError, match="too easy to guess"):
        logins.create_staff_user(session, merchant, email="staff@tea.example", password="greenleaftea",
                                 role=Role.STAFF, now=now)


def test_a_new_password_is_checked_too_and_the_old_one_stops_working(session, merchant):
    user = session.scalar(select(StaffUser).where(StaffUser.email == OWNER_EMAIL))
    with pytest.raises(ValidationError, match="too easy to guess"):
        logins.change_password(session, user, current=OWNER_PASSWORD, new="12345678")
    with pytest.raises(ValidationError, match="current password is not right"):
        logins.change_password(session, user, current="not it", new="lantern moss kettle")
    logins.change_password(session, user, current=OWNER_PASSWORD, new="lantern moss kettle")
    assert logins.authenticate(session, OWNER_EMAIL, OWNER_PASSWORD) is None
    assert logins.authenticate(session, OWNER_EMAIL, "lantern moss kettle") is user
