"""Recording a purchase at the counter: amounts typed as money, phones in local or international form,
points and the new balance shown, pending shoppers invited to join, and one purchase per form however
often it is sent."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from smscrm import points
from smscrm.messaging import consent
from smscrm.models import (
    ConsentAction,
    ConsentChannel,
    EntryKind,
    Member,
    OutboundMessage,
    PointsEntry,
    Purchase,
    Stage,
)
from smscrm.web.money import country_locale, minor_units, money
from tests.web.points_pages import (  # noqa: F401
    ANN,
    fresh,
    give_points,
    hidden_fields,
    join,
    ledger_invariant,
    submit,
)

pytestmark = pytest.mark.usefixtures("ledger_invariant")


def record(client, **data):
    return submit(client, "/counter", {"reference": "", **data})


def purchases(session):
    fresh(session)
    return session.scalars(select(Purchase).order_by(Purchase.id)).all()


@pytest.fixture
def ann(session, merchant, now):
    return join(session, merchant, now=now - timedelta(days=30))


def test_a_purchase_for_a_member_shows_the_points_and_the_new_balance(owner, session, merchant, ann):
    give_points(session, merchant, ANN, 4000, now=ann.joined_at)
    response = record(owner, phone="(415) 555-0142", amount="12.50", reference="R-1001")
    assert response.status_code == 302
    [_, purchase] = purchases(session)
    assert response.location == f"/counter/purchases/{purchase.id}"
    assert (purchase.member_id, purchase.amount_minor, purchase.reference, purchase.channel) == (ann.id, 1250, "R-1001", "web")
    assert isinstance(purchase.amount_minor, int)

    page = owner.get(response.location).text
    assert "+12 points for Ann Lee" in page
    assert "New balance <strong>52</strong> points" in page
    assert "12.50" in page and "R-1001" in page
    assert "Not a member yet" not in page
    assert f'href="/members/{ann.id}"' in page
    receipt = session.scalar(select(OutboundMessage).where(OutboundMessage.purpose == "purchase_receipt",
                                                           OutboundMessage.member_id == ann.id,
                                                           OutboundMessage.body.contains("you now have 52 points")))
    assert receipt is not None


def test_the_page_shows_the_time_in_the_merchants_timezone(owner, session, merchant, ann):
    # 03:05 UTC on 8 February is 19:05 on 7 February in Los Angeles (UTC−8 in winter)
    result = give_points(session, merchant, ANN, 1000, now=datetime(2026, 2, 8, 3, 5, tzinfo=timezone.utc))
    page = owner.get(f"/counter/purchases/{result.purchase.id}").text
    assert '<time datetime="2026-02-08T03:05:00+00:00">Feb 7, 2026 7:05\u202fPM</time>' in page


def test_the_same_form_sent_twice_records_one_purchase(owner, session, ann):
    form = owner.get("/counter").text
    fields = {**hidden_fields(form, "/counter"), "phone": ANN, "amount": "20", "reference": ""}
    first = owner.post("/counter", data=fields)
    second = owner.post("/counter", data=fields)
    assert first.status_code == second.status_code == 302
    assert first.location == second.location
    [purchase] = purchases(session)
    assert purchase.amount_minor == 2000
    assert session.scalar(select(Member.points_balance).where(Member.id == ann.id)) == 20
    assert "already recorded" not in owner.get(second.location).text


def test_each_opening_of_the_form_has_its_own_key(owner):
    keys = {hidden_fields(owner.get("/counter").text, "/counter")["key"] for _ in range(3)}
    assert len(keys) == 3


def test_a_receipt_number_recorded_before_gives_no_new_points(owner, session, merchant, ann):
    earlier = give_points(session, merchant, ANN, 1500, now=ann.joined_at, reference="R-7")
    response = record(owner, phone=ANN, amount="15.00", reference="R-7")
    assert response.location == f"/counter/purchases/{earlier.purchase.id}"
    assert len(purchases(session)) == 1
    assert "no new points were given" in owner.get(response.location).text
    assert "no new points were given" not in owner.get(response.location).text  # the notice shows once


def test_a_receipt_number_used_for_another_amount_is_refused_with_a_message(owner, session, merchant, ann):
    give_points(session, merchant, ANN, 1500, now=ann.joined_at, reference="R-7")
    response = record(owner, phone=ANN, amount="16.00", reference="R-7")
    assert response.status_code == 200
    assert "Receipt R-7 is already recorded with a different phone or amount." in response.text
    assert len(purchases(session)) == 1
    assert 'value="16.00"' in response.text  # what was typed stays, to correct


def test_a_form_sent_again_after_changing_the_amount_asks_to_check(owner, session, ann):
    fields = {**hidden_fields(owner.get("/counter").text, "/counter"), "phone": ANN, "reference": ""}
    assert owner.post("/counter", data={**fields, "amount": "10"}).status_code == 302
    again = owner.post("/counter", data={**fields, "amount": "11"})
    assert again.status_code == 200
    assert "This form was already sent with a different phone or amount." in again.text
    assert hidden_fields(again.text, "/counter")["key"] != fields["key"]  # a fresh key: pressing again records it
    assert len(purchases(session)) == 1


def test_an_unknown_phone_becomes_a_pending_member_invited_to_join(owner, session, merchant):
    response = record(owner, phone="415 555 0177", amount="30")
    page = owner.get(response.location).text
    assert "Not a member yet" in page
    assert "30 points held for •••• 0177" in page
    assert "We texted them an invitation to join." in page
    fresh(session)
    member = session.scalar(select(Member).where(Member.phone == "+14155550177"))
    assert (member.stage, member.joined_at, member.points_balance) == (Stage.PENDING, None, 0)
    [purchase] = purchases(session)
    assert purchase.is_points_held
    assert session.scalar(select(func.count()).where(OutboundMessage.purpose == "purchase_invite")) == 1


def test_a_pending_shopper_who_opted_out_is_not_invited_and_staff_are_told(owner, session, merchant, now):
    consent.record_consent(session, merchant_id=merchant.id, phone="+14155550177", action=ConsentAction.OPT_OUT,
                           keyword="STOP", channel=ConsentChannel.SMS, now=now - timedelta(days=1))
    session.commit()
    page = owner.get(record(owner, phone="4155550177", amount="30").location).text
    assert "They opted out of texts, so no invitation was sent." in page
    assert "text JOIN to +14155550000" in page
    assert session.scalar(select(func.count()).select_from(OutboundMessage)) == 0


def test_held_points_arrive_when_the_shopper_joins_by_text(owner, session, text_in):
    record(owner, phone="+1 415 555 0177", amount="30")
    assert "<Message>" in text_in("JOIN Cy", sender="+14155550177").text
    fresh(session)
    member = session.scalar(select(Member).where(Member.phone == "+14155550177"))
    assert member.points_balance == 30
    page = owner.get(f"/members/{member.id}").text
    assert "30</strong> points" in page


def test_an_international_number_is_read_as_typed(owner, session, merchant):
    record(owner, phone="+44 7700 900123", amount="5")
    fresh(session)
    assert session.scalar(select(Member.phone)) == "+447700900123"


@pytest.mark.parametrize(
    ("phone", "message"),
    [
        ("", "Enter the shopper&#39;s phone number."),
        ("12", "That is not a phone number."),
        ("call me", "That is not a phone number."),
        ("4" * 41, "That is not a phone number."),
    ],
)
def test_a_phone_that_is_not_one_is_refused_with_a_message(owner, session, ann, phone, message):
    response = record(owner, phone=phone, amount="12.50")
    assert response.status_code == 200
    assert message in response.text
    assert purchases(session) == []


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "Enter the amount paid."),
        ("twelve", "Type the amount as a number, like 12.50."),
        ("12.505", "Use at most two digits for the cents, like 12.50."),
        ("0", "The amount must be more than 0."),
        ("0.00", "The amount must be more than 0."),
        ("-5", "Type the amount as a number, like 12.50."),
        ("12,50", "Did you mean 12.50? The cents come after “.”."),
        ("1.250,00", "Did you mean 1,250.00? The cents come after “.”."),
        ("1,2,3", "Type the amount as a number, like 12.50."),
        ("1000000.01", "That is more than 1,000,000.00. Check the amount."),
        ("1e3", "Type the amount as a number, like 12.50."),
        ("٣", "Type the amount as a number, like 12.50."),
    ],
)
def test_an_amount_that_is_not_money_is_refused_with_one_message(owner, session, ann, typed, message):
    response = record(owner, phone=ANN, amount=typed)
    assert response.status_code == 200
    assert response.text.count('class="field-error"') == 1
    assert message in response.text
    assert purchases(session) == []


US, GERMANY = country_locale("US"), country_locale("DE")


@pytest.mark.parametrize(
    ("typed", "locale", "minor"),
    [("12.50", US, 1250), ("12.5", US, 1250), ("12", US, 1200), ("12.", US, 1200), (".5", US, 50),
     ("$12.50", US, 1250), ("１２．５０", US, 1250), (" 7 ", US, 700), ("0.01", US, 1), ("1000000", US, 100_000_000),
     ("1,250.00", US, 125_000), ("12,50", GERMANY, 1250), ("1.250,00", GERMANY, 125_000), ("€12,5", GERMANY, 1250),
     ("１２，５０", GERMANY, 1250), ("12", GERMANY, 1200)],
)
def test_amounts_are_read_as_the_shop_writes_them_into_minor_units(typed, locale, minor):
    assert minor_units(typed, maximum=points.MAX_AMOUNT_MINOR, locale=locale) == minor


@pytest.mark.parametrize(
    ("typed", "locale", "hint"),
    [("12,50", US, "Did you mean 12.50?"), ("0,5", US, "Did you mean 0.50?"), ("12.50", GERMANY, "Did you mean 12,50?"),
     ("1,250.00", GERMANY, "Did you mean 1.250,00?")],
)
def test_the_other_decimal_mark_is_asked_about_with_the_amount_meant_never_100_times_off(app, typed, locale, hint):
    with app.test_request_context(), pytest.raises(ValueError, match=re.escape(hint)):
        minor_units(typed, maximum=points.MAX_AMOUNT_MINOR, locale=locale)


def test_a_shop_in_a_decimal_comma_country_records_12_50_typed_12_comma_50(owner, session, merchant, ann):
    merchant.country = "DE"
    session.commit()
    assert 'placeholder="12,50"' in owner.get("/counter").text
    record(owner, phone="+14155550100", amount="12,50")
    assert [purchase.amount_minor for purchase in purchases(session)] == [1250]


@pytest.mark.parametrize("minor, shown", [(1250, "12.50"), (5, "0.05"), (123456789, "1,234,567.89"), (-300, "-3.00")])
def test_money_is_shown_with_two_decimals(minor, shown):
    assert money(minor) == shown


def test_a_made_up_key_is_a_stale_form_and_records_nothing(owner, session, ann):
    fields = {**hidden_fields(owner.get("/counter").text, "/counter"), "phone": ANN, "amount": "5", "reference": ""}
    response = owner.post("/counter", data={**fields, "key": "x"})
    assert response.status_code == 200
    assert "This form is out of date." in response.text
    assert purchases(session) == []


def test_a_purchase_without_the_csrf_token_is_refused(owner, session, ann):
    fields = hidden_fields(owner.get("/counter").text, "/counter")
    response = owner.post("/counter", data={"key": fields["key"], "phone": ANN, "amount": "5"})
    assert response.status_code == 400
    assert purchases(session) == []


def test_an_overlong_receipt_number_is_refused(owner, session, ann):
    response = record(owner, phone=ANN, amount="5", reference="R" * 65)
    assert "A receipt number is at most 64 characters." in response.text
    assert purchases(session) == []


def test_another_merchants_purchase_is_not_found(owner, session, other_merchant, now):
    other = give_points(session, other_merchant, "+14155550100", 1000, now=now)
    assert owner.get(f"/counter/purchases/{other.purchase.id}").status_code == 404
    assert owner.get("/counter/purchases/999999").status_code == 404
    assert owner.get("/counter/purchases/99999999999999999999").status_code == 404


def test_points_follow_the_merchants_earn_rule(owner, session, merchant, ann):
    points.update_settings(merchant, points_per_unit=3, earn_unit_minor=500)
    session.commit()
    page = owner.get(record(owner, phone=ANN, amount="19.99").location).text
    assert "+11 points for Ann Lee" in page  # 3 points a 5.00: 11.994, fractions dropped
    fresh(session)
    assert session.scalar(select(PointsEntry.points).where(PointsEntry.kind == EntryKind.EARN)) == 11
