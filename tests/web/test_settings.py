"""Settings, owner only: the shop's names, 【signature】, Chinese opt-out line, language, timezone, country;
sender numbers; API keys (shown once, listed by prefix, revoked); staff logins (added with a role, deactivated,
a new password); and every user's own password. Staff see no settings link and get 403."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from smscrm.accounts import api_keys, logins
from smscrm.db.engine import utcnow
from smscrm.messaging.texts import opt_out_instruction
from smscrm.models import Merchant, Role, SenderNumber, StaffUser
from tests.conftest import MERCHANT_NUMBER, OWNER_EMAIL, OWNER_PASSWORD
from tests.web.conftest import csrf_token

STAFF_EMAIL, STAFF_PASSWORD = "staff@tea.example", "counter staff password"
PROFILE = {"name": "Green Leaf Tea", "name_zh": "绿叶茶馆", "signature": "绿叶", "opt_out_zh": "",
           "default_language": "zh", "timezone": "Asia/Shanghai", "country": "CN"}
SETTINGS_PAGES = ["/settings", "/settings/numbers", "/settings/api-keys", "/settings/staff", "/campaigns/settings"]
OWNER_PAGES = [*SETTINGS_PAGES, "/campaigns", "/campaigns/new", "/campaigns/segments", "/care", "/care/birthday",
               "/calendar", "/rewards", "/rewards/new", "/loyalty", "/members/import", "/members/export"]


def post(client, path: str, page: str | None = None, **data):
    token = csrf_token(client.get(page or path).text)
    return client.post(path, data={"csrf_token": token, **data})


@pytest.fixture
def staff_user(session, merchant, now) -> StaffUser:
    user = logins.create_staff_user(session, merchant, email=STAFF_EMAIL, password=STAFF_PASSWORD, role=Role.STAFF,
                                    now=now)
    session.commit()
    return user


@pytest.fixture
def as_staff(client, staff_user, sign_in):
    """The test client, signed in as staff."""
    assert sign_in(STAFF_EMAIL, STAFF_PASSWORD).status_code == 302
    return client


def test_the_owner_finds_settings_and_campaigns_in_the_navigation(owner):
    home = owner.get("/").text
    assert '<a href="/settings"' in home and '<a href="/campaigns"' in home
    for path in OWNER_PAGES:
        assert owner.get(path).status_code == 200, path


def test_staff_work_the_counter_members_and_inbox_and_get_403_elsewhere(as_staff, staff_user):
    start = as_staff.get("/")
    assert start.status_code == 302 and start.headers["Location"] == "/counter"
    nav = re.search(r'<nav[^>]*>(.*?)</nav>', as_staff.get("/counter").text, re.S).group(1)
    assert re.findall(r'<a href="(/[^"]*)"', nav) == ["/counter", "/members", "/inbox"]
    for path in OWNER_PAGES:
        assert as_staff.get(path).status_code == 403, path
    token = csrf_token(as_staff.get("/members").text)
    for path in ["/settings", "/settings/numbers", "/settings/api-keys", "/settings/staff",
                 f"/settings/staff/{staff_user.id}/deactivate", f"/settings/staff/{staff_user.id}/password"]:
        assert as_staff.post(path, data={"csrf_token": token}).status_code == 403, path


def test_the_owner_saves_the_shop_in_both_languages(owner, session, merchant):
    response = post(owner, "/settings", **{**PROFILE, "opt_out_zh": "回复 TD 退订本店"})
    assert response.status_code == 302
    session.expire_all()
    saved = session.get(Merchant, merchant.id)
    assert (saved.name_zh, saved.signature, saved.default_language, saved.timezone, saved.country) == (
        "绿叶茶馆", "绿叶", "zh", "Asia/Shanghai", "CN")
    assert opt_out_instruction(saved, "zh") == "回复TD退订本店"
    page = owner.get("/settings").text
    assert "The shop&#39;s settings are saved." in page
    assert 'value="绿叶茶馆"' in page


def test_an_empty_opt_out_line_brings_back_the_default(owner, session, merchant):
    post(owner, "/settings", **{**PROFILE, "opt_out_zh": "回复取消"})
    post(owner, "/settings", **PROFILE)
    session.expire_all()
    assert opt_out_instruction(session.get(Merchant, merchant.id), "zh") == "回复TD退订"


@pytest.mark.parametrize(("changes", "message"), [
    ({"name": ""}, "Give the shop's name"),
    ({"signature": "x" * 11}, "A signature is at most 10 characters."),
    ({"opt_out_zh": "请勿回复"}, "must be at most 10 characters and name a word that opts out"),
    # issue 21: every automatic reply fits one SMS part with the longest names accepted
    ({"name": "x" * 31}, "A name is at most 30 characters."),
    ({"name_zh": "绿" * 11}, "The Chinese name must be at most 10 characters."),
    ({"name": "Green Leaf 绿叶"}, "The English name must be written in letters an English SMS carries"),
    ({"timezone": "Mars/Olympus"}, "Choose a timezone from the list."),
    ({"country": "XX"}, "Choose a country code."),
    ({"default_language": "fr"}, "Choose English or Chinese."),
])
def test_a_mistake_is_explained_and_nothing_saved(owner, session, merchant, changes, message):
    response = post(owner, "/settings", **{**PROFILE, **changes})
    assert response.status_code == 200
    assert message in response.text
    session.expire_all()
    assert session.get(Merchant, merchant.id).timezone == "America/Los_Angeles"


def test_a_settings_form_without_its_csrf_token_is_refused(owner, session, merchant):
    response = owner.post("/settings", data=PROFILE)
    assert response.status_code == 400
    session.expire_all()
    assert session.get(Merchant, merchant.id).timezone == "America/Los_Angeles"


def test_numbers_are_added_and_removed_but_never_the_last(owner, session, merchant, other_merchant):
    assert post(owner, "/settings/numbers", number="(415) 555-0123").status_code == 302
    taken = post(owner, "/settings/numbers", number=other_merchant.primary_number)
    assert "already belongs to a merchant" in taken.text
    assert "is not a possible phone number" in post(owner, "/settings/numbers", number="12").text
    numbers = session.scalars(select(SenderNumber).where(SenderNumber.merchant_id == merchant.id)
                              .order_by(SenderNumber.id)).all()
    assert [number.number for number in numbers] == [MERCHANT_NUMBER, "+14155550123"]

    first, added = numbers
    assert post(owner, f"/settings/numbers/{first.id}/remove", "/settings/numbers").status_code == 302
    session.expire_all()
    assert session.scalars(select(SenderNumber.number).where(SenderNumber.merchant_id == merchant.id)).all() == [
        "+14155550123"]
    post(owner, f"/settings/numbers/{added.id}/remove", "/settings/numbers")
    assert "this is your only number" in owner.get("/settings/numbers").text.replace("This", "this")
    other_number = other_merchant.numbers[0].id
    assert post(owner, f"/settings/numbers/{other_number}/remove", "/settings/numbers").status_code == 404


def test_an_api_key_is_shown_once_listed_by_prefix_and_revoked(owner, session, merchant, other_merchant):
    created = post(owner, "/settings/api-keys", name="Till 1")
    assert created.status_code == 200
    [key] = re.findall(r"sk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}", created.text)
    assert api_keys.authenticate(session, key, now=utcnow()).merchant.id == merchant.id
    session.commit()

    listing = owner.get("/settings/api-keys").text
    prefix = key[:15]
    assert f"<code>{prefix}…</code>" in listing and "Till 1" in listing
    assert key not in listing  # shown once

    _theirs, their_key = api_keys.create(session, other_merchant, now=utcnow())
    session.commit()
    assert post(owner, f"/settings/api-keys/{their_key[:15]}/revoke", "/settings/api-keys").status_code == 404
    assert post(owner, f"/settings/api-keys/{prefix}/revoke", "/settings/api-keys").status_code == 302
    session.expire_all()
    assert api_keys.authenticate(session, key, now=utcnow()).merchant is None
    assert api_keys.authenticate(session, their_key, now=utcnow()).merchant is not None
    assert "Revoked" in owner.get("/settings/api-keys").text


def test_the_owner_adds_staff_who_sign_in_to_the_counter_only(owner, app, session, merchant, sign_in):
    refused = post(owner, "/settings/staff", email="new@tea.example", role="staff", password="12345678")
    assert refused.status_code == 200
    assert "too easy to guess" in refused.text
    assert post(owner, "/settings/staff", email="new@tea.example", role="staff",
                password="saffron window pebble").status_code == 302
    again = post(owner, "/settings/staff", email="NEW@tea.example", role="staff", password="saffron window pebble")
    assert "The email new@tea.example already has a login." in again.text

    counter = app.test_client()
    token = csrf_token(counter.get("/sign-in").text)
    counter.post("/sign-in", data={"csrf_token": token, "email": "new@tea.example", "password": "saffron window pebble"})
    assert counter.get("/counter").status_code == 200
    assert counter.get("/settings").status_code == 403
    user = session.scalar(select(StaffUser).where(StaffUser.email == "new@tea.example"))
    assert user.role == Role.STAFF and user.merchant_id == merchant.id


def test_deactivating_staff_signs_them_out_and_keeps_them_out(owner, app, session, staff_user):
    counter = app.test_client()
    token = csrf_token(counter.get("/sign-in").text)
    counter.post("/sign-in", data={"csrf_token": token, "email": STAFF_EMAIL, "password": STAFF_PASSWORD})
    assert counter.get("/members").status_code == 200

    assert post(owner, f"/settings/staff/{staff_user.id}/deactivate", "/settings/staff").status_code == 302
    assert counter.get("/members").status_code == 302
    assert "Deactivated" in owner.get("/settings/staff").text
    assert logins.authenticate(session, STAFF_EMAIL, STAFF_PASSWORD) is None


def test_the_owner_cannot_deactivate_themselves(owner, session, merchant):
    me = session.scalar(select(StaffUser).where(StaffUser.email == OWNER_EMAIL))
    post(owner, f"/settings/staff/{me.id}/deactivate", "/settings/staff")
    assert "cannot be deactivated" in owner.get("/settings/staff").text
    assert owner.get("/settings").status_code == 200


def test_the_owner_resets_a_staff_password(owner, app, session, staff_user):
    page = f"/settings/staff/{staff_user.id}/password"
    assert "too easy to guess" in post(owner, page, password="password1").text
    assert post(owner, page, password="velvet harbour lamp").status_code == 302
    session.expire_all()
    assert logins.authenticate(session, STAFF_EMAIL, STAFF_PASSWORD) is None
    assert logins.authenticate(session, STAFF_EMAIL, "velvet harbour lamp") is not None


def test_another_merchants_staff_are_not_found(owner, session, other_merchant, now):
    theirs = logins.create_staff_user(session, other_merchant, email="x@salon.example",
                                      password="counter staff password", role=Role.STAFF, now=now)
    session.commit()
    assert owner.get(f"/settings/staff/{theirs.id}/password").status_code == 404
    assert post(owner, f"/settings/staff/{theirs.id}/deactivate", "/settings/staff").status_code == 404


def test_anyone_changes_their_own_password_and_stays_signed_in_here_only(as_staff, app, session):
    elsewhere = app.test_client()
    token = csrf_token(elsewhere.get("/sign-in").text)
    elsewhere.post("/sign-in", data={"csrf_token": token, "email": STAFF_EMAIL, "password": STAFF_PASSWORD})

    wrong = post(as_staff, "/account/password", current="not it", password="amber tram orchard",
                 again="amber tram orchard")
    assert "The current password is not right." in wrong.text
    differ = post(as_staff, "/account/password", current=STAFF_PASSWORD, password="amber tram orchard",
                  again="amber tram orchids")
    assert "The two new passwords differ." in differ.text
    weak = post(as_staff, "/account/password", current=STAFF_PASSWORD, password="12345678", again="12345678")
    assert "too easy to guess" in weak.text

    done = post(as_staff, "/account/password", current=STAFF_PASSWORD, password="amber tram orchard",
                again="amber tram orchard")
    assert done.status_code == 302
    assert as_staff.get("/members").status_code == 200  # this session goes on
    assert elsewhere.get("/members").status_code == 302  # the other one ended
    session.expire_all()
    assert logins.authenticate(session, STAFF_EMAIL, "amber tram orchard") is not None


def test_the_owners_own_password_page_is_linked_from_the_header(owner):
    assert 'href="/account/password"' in owner.get("/").text
    assert OWNER_PASSWORD not in owner.get("/account/password").text
