"""The care page: rules and holidays turned on and off, texts and timing edited (checked by the domain),
the owner alone changes them, and each merchant sees only its own."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from smscrm.accounts import logins
from smscrm.marketing import care_rules
from smscrm.models import CareKind, CareRule, Role
from tests.web.conftest import csrf_token, other_merchant, owner, sign_in  # noqa: F401  (fixtures)

STAFF_EMAIL, STAFF_PASSWORD = "staff@tea.example", "staff password 123"


def rule(session, merchant, kind: str, holiday: str = "") -> CareRule | None:
    session.expire_all()
    return session.scalar(select(CareRule).where(
        CareRule.merchant_id == merchant.id, CareRule.kind == kind, CareRule.holiday == holiday))


def switch(client, kind: str, **extra):
    token = csrf_token(client.get("/care").text)
    return client.post(f"/care/{kind}/switch", data={"csrf_token": token, **extra})


def save(client, path: str, **fields):
    token = csrf_token(client.get(path).text)
    return client.post(path, data={"csrf_token": token, **fields})


def test_the_page_lists_every_rule_off_and_the_holidays(owner):
    page = owner.get("/care").text
    for title in ("Welcome", "Welcome follow-up", "Birthday", "Join anniversary", "After a visit", "Win-back",
                  "Points about to expire", "Class upgrade"):
        assert f"<h2>{title}</h2>" in page
    assert page.count('<span class="badge">Off</span>') >= 8
    assert "Mid-Autumn Festival" in page and "中秋节" in page and "Thanksgiving Day" in page
    assert '<a href="/care" aria-current="page">Care</a>' in page


def test_turning_a_rule_on_and_off_keeps_its_defaults(owner, session, merchant):
    assert switch(owner, "birthday").status_code == 302
    saved = rule(session, merchant, "birthday")
    assert (saved.is_enabled, saved.send_hour, saved.grace_hours) == (True, 10, 24)
    page = owner.get("/care").text
    assert "Birthday is on." in page
    assert re.search(r'id="rule-birthday">.*?badge-in">On<', page, re.S)

    switch(owner, "birthday")
    assert rule(session, merchant, "birthday").is_enabled is False


def test_a_holiday_is_turned_on_by_name(owner, session, merchant):
    assert switch(owner, "holiday", holiday="Mid-Autumn Festival").status_code == 302
    assert rule(session, merchant, "holiday", "Mid-Autumn Festival").is_enabled is True
    assert switch(owner, "holiday", holiday="Boxing Day").status_code == 302
    assert "not a holiday in the calendar" in owner.get("/care").text
    assert rule(session, merchant, "holiday", "Boxing Day") is None


def test_editing_texts_and_timing(owner, session, merchant):
    response = save(
        owner, "/care/birthday", is_enabled="y", text_en="Happy birthday {name}!", text_zh="",
        send_hour="11", bonus_points="25", grace_hours="12",
    )
    assert response.status_code == 302
    saved = rule(session, merchant, "birthday")
    assert (saved.is_enabled, saved.texts, saved.send_hour, saved.grace_hours) == (
        True, {"en": "Happy birthday {name}!"}, 11, 12)
    session.refresh(merchant)
    assert merchant.birthday_bonus == 25
    page = owner.get("/care/birthday").text
    assert "Happy birthday Ann! 25 bonus points are on your card. Reply STOP to opt out." in page
    assert "【绿叶茶馆】亲爱的王芳，Green Leaf Tea全体员工祝您生日快乐！已为您赠送25积分。回复TD退订" in page


def test_a_holiday_text_is_edited_on_its_own_page(owner, session, merchant):
    response = save(owner, "/care/holiday?holiday=Mid-Autumn+Festival", is_enabled="y", text_en="",
                    text_zh="中秋快乐，{name}！", send_hour="9", bonus_points="0", grace_hours="12",
                    holiday="Mid-Autumn Festival")
    assert response.status_code == 302
    saved = rule(session, merchant, "holiday", "Mid-Autumn Festival")
    assert (saved.texts, saved.send_hour) == ({"zh": "中秋快乐，{name}！"}, 9)
    assert owner.get("/care/holiday?holiday=Boxing+Day").status_code == 404


@pytest.mark.parametrize("fields, message", [
    ({"text_en": "Hi {nmae}"}, "unknown placeholder {nmae}"),
    ({"days": "0"}, "Number must be between 1 and 365"),
])
def test_a_mistake_is_explained_and_nothing_saved(owner, session, merchant, fields, message):
    values = {"is_enabled": "y", "text_en": "", "text_zh": "", "value_class": "A", "days": "60",
              "holdout_pct": "10", "send_hour": "11", "bonus_points": "0", "grace_hours": "24", **fields}
    response = save(owner, "/care/win_back", **values)
    assert response.status_code == 200
    assert message in response.text
    assert rule(session, merchant, "win_back") is None


def test_win_back_saves_its_class_and_holdout(owner, session, merchant):
    save(owner, "/care/win_back", is_enabled="y", text_en="", text_zh="", value_class="A", days="45",
         holdout_pct="20", send_hour="11", bonus_points="0", grace_hours="24")
    saved = rule(session, merchant, "win_back")
    assert (saved.value_class, saved.days, saved.holdout_pct) == ("A", 45, 20)
    assert "Class A, no visit for 45+ days, at 11:00; holdout 20%" in owner.get("/care").text


def test_staff_neither_read_nor_change_the_care_rules(client, session, merchant, now, sign_in):
    logins.create_staff_user(session, merchant, email=STAFF_EMAIL, password=STAFF_PASSWORD, role=Role.STAFF, now=now)
    session.commit()
    sign_in(STAFF_EMAIL, STAFF_PASSWORD)
    token = csrf_token(client.get("/members").text)
    assert '<a href="/care"' not in client.get("/members").text
    for path in ("/care", "/care/birthday"):
        assert client.get(path).status_code == 403, path
    assert client.post("/care/birthday/switch", data={"csrf_token": token}).status_code == 403
    assert client.post("/care/birthday", data={"csrf_token": token, "is_enabled": "y"}).status_code == 403
    assert rule(session, merchant, "birthday") is None


def test_each_merchant_sees_its_own_rules(owner, session, merchant, other_merchant, now):
    care_rules.save_rule(session, other_merchant, CareKind.BIRTHDAY, now=now, is_enabled=True)
    session.commit()
    assert not re.search(r'id="rule-birthday">.*?badge-in">On<', owner.get("/care").text, re.S)


def test_an_unknown_rule_is_404(owner):
    assert owner.get("/care/horoscope").status_code == 404


def test_the_care_and_campaign_pages_state_the_weekly_cap_as_delivery_applies_it(owner, session, merchant):
    """tests/test_delivery_rules.py::TestWeeklyCap holds the worker to the same rule."""
    merchant.weekly_marketing_cap = 3
    session.commit()
    rule_text = ("At most 3 care and marketing texts together reach a member in any 7 days: a text that would be "
                 "one more is not sent, and is counted as “weekly cap reached”. Replies and receipts do not count.")
    for path in ("/care", "/campaigns/new", "/campaigns/settings"):
        page = owner.get(path).text
        assert rule_text in " ".join(page.split()), path
    assert "counts toward the weekly limit" not in owner.get("/care").text
