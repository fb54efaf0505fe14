"""The loyalty settings page: every earn rule and threshold the merchant has, shown as it is, changed by
the owner with messages for what is not valid, read-only for staff."""
from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest

from smscrm.accounts import logins
from smscrm.models import Merchant, Role
from tests.web.points_pages import fresh, hidden_fields, submit

DEFAULTS = {
    "points_per_unit": "1", "earn_unit_minor": "1.00", "has_receipt_texts": "y", "multiplier_a_pct": "100",
    "multiplier_b_pct": "100", "multiplier_c_pct": "100", "class_a_revenue_pct": "80", "class_a_max_members_pct": "20",
    "class_b_members_pct": "30", "welcome_bonus": "0", "birthday_bonus": "50", "referral_bonus": "50",
    "points_expiry_months": "", "redemption_code_days": "7",
}


def save(client, **changes):
    data = {**DEFAULTS, **changes}
    return submit(client, "/loyalty", {name: value for name, value in data.items() if value is not None})


def merchant_now(session, merchant) -> Merchant:
    return fresh(session).get(Merchant, merchant.id)


def test_the_page_shows_the_settings_as_they_are(owner, merchant):
    page = owner.get("/loyalty").text
    for name, value in DEFAULTS.items():
        if name == "has_receipt_texts":
            assert '<input checked id="has_receipt_texts" name="has_receipt_texts" type="checkbox" value="y">' in page
        else:
            assert re.search(f'name="{name}"[^>]* type="text" value="{re.escape(value)}"', page), name
    assert "Now a purchase of 25.00 earns 25 points in class A, 25 in class B and 25 in class C." in page
    assert "Members' classes are computed every night." in page


def test_the_owner_changes_every_setting(owner, session, merchant):
    assert "Members get a text with their new balance." in owner.get("/counter").text
    response = save(
        owner, points_per_unit="3", earn_unit_minor="5", has_receipt_texts=None, multiplier_a_pct="150",
        multiplier_b_pct="120", multiplier_c_pct="90", class_a_revenue_pct="70", class_a_max_members_pct="10",
        class_b_members_pct="40", welcome_bonus="20", birthday_bonus="100", referral_bonus="30",
        points_expiry_months="12", redemption_code_days="14",
    )
    assert response.status_code == 302
    assert response.location == "/loyalty"
    saved = merchant_now(session, merchant)
    assert (saved.points_per_unit, saved.earn_unit_minor, saved.has_receipt_texts) == (3, 500, False)
    assert (saved.multiplier_a_pct, saved.multiplier_b_pct, saved.multiplier_c_pct) == (150, 120, 90)
    assert (saved.class_a_revenue_pct, saved.class_a_max_members_pct, saved.class_b_members_pct) == (70, 10, 40)
    assert (saved.welcome_bonus, saved.birthday_bonus, saved.referral_bonus) == (20, 100, 30)
    assert (saved.points_expiry_months, saved.redemption_code_days) == (12, 14)
    page = owner.get("/loyalty").text
    assert "The loyalty settings are saved." in page
    assert "22 points in class A, 18 in class B and 13 in class C." in page  # 25.00 at 3 points a 5.00 = 15
    assert "Receipt texts are off" in owner.get("/counter").text


def test_an_empty_expiry_means_points_never_expire(owner, session, merchant):
    save(owner, points_expiry_months="6")
    assert merchant_now(session, merchant).points_expiry_months == 6
    save(owner, points_expiry_months="")
    assert merchant_now(session, merchant).points_expiry_months is None


@pytest.mark.parametrize(
    ("name", "typed", "message"),
    [
        ("points_per_unit", "", "Type a whole number from 0 to 1,000."),
        ("points_per_unit", "one", "Type a whole number from 0 to 1,000."),
        ("points_per_unit", "1001", "Type a whole number from 0 to 1,000."),
        ("earn_unit_minor", "", "Type an amount, like 1.00."),
        ("earn_unit_minor", "0", "The amount must be more than 0."),
        ("earn_unit_minor", "10000.01", "That is more than 10,000.00. Check the amount."),
        ("multiplier_a_pct", "-1", "Type a whole number from 0 to 1,000."),
        ("class_a_revenue_pct", "0", "Type a whole number from 1 to 100."),
        ("points_expiry_months", "0", "Type a whole number from 1 to 120, or leave it empty."),
        ("redemption_code_days", "366", "Type a whole number from 1 to 365."),
        ("welcome_bonus", "1.5", "Type a whole number from 0 to 100,000."),
    ],
)
def test_a_value_out_of_bounds_is_refused_with_one_message_and_nothing_changes(owner, session, merchant, name, typed, message):
    response = save(owner, **{name: typed, "welcome_bonus": "5" if name != "welcome_bonus" else typed})
    assert response.status_code == 200
    assert response.text.count('class="field-error"') == 1
    assert message in response.text
    assert merchant_now(session, merchant).welcome_bonus == 0


def test_class_shares_over_all_members_are_refused_by_the_rule(owner, session, merchant):
    response = save(owner, class_a_max_members_pct="60", class_b_members_pct="50", welcome_bonus="5")
    assert response.status_code == 200
    assert "Class A&#39;s and class B&#39;s shares of members add up to more than 100 %." in response.text
    saved = merchant_now(session, merchant)
    assert (saved.class_a_max_members_pct, saved.class_b_members_pct, saved.welcome_bonus) == (20, 30, 0)


def test_the_date_classes_were_computed_is_shown_in_the_merchants_timezone(owner, session, merchant):
    merchant_now(session, merchant).classes_computed_at = datetime(2026, 3, 10, 2, 0, tzinfo=timezone.utc)
    session.commit()
    assert "Members' classes were last computed on Mar 9, 2026." in owner.get("/loyalty").text


def test_staff_neither_read_nor_change_the_settings(client, session, merchant, now, sign_in):
    logins.create_staff_user(session, merchant, email="staff@tea.example", password="counter staff password",
                               role=Role.STAFF, now=now)
    session.commit()
    sign_in("staff@tea.example", "counter staff password")
    counter = client.get("/counter").text
    assert '<a href="/loyalty"' not in counter
    assert client.get("/loyalty").status_code == 403
    token = hidden_fields(counter, "/sign-out")["csrf_token"]
    response = client.post("/loyalty", data={**DEFAULTS, "csrf_token": token, "welcome_bonus": "500"})
    assert response.status_code == 403
    assert merchant_now(session, merchant).welcome_bonus == 0


def test_another_merchants_settings_stay_as_they_are(owner, session, merchant, other_merchant):
    save(owner, welcome_bonus="25")
    assert merchant_now(session, merchant).welcome_bonus == 25
    assert fresh(session).get(Merchant, other_merchant.id).welcome_bonus == 0
