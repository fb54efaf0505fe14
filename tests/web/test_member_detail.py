"""A member's page: the balance explained entry by entry (newest first, paginated, times where the
merchant is), visit statistics, value class with the date it was computed, stage and referral code;
corrections by the owner."""
from __future__ import annotations

import html
import re
from datetime import datetime, timedelta, timezone

import pytest

from smscrm import points
from smscrm.accounts import logins
from smscrm.loyalty import classes, rewards
from smscrm.loyalty.points_history import ENTRIES_PER_PAGE
from smscrm.models import Member, Role
from tests.web.points_pages import (  # noqa: F401
    ANN,
    add_reward,
    fresh,
    give_points,
    hidden_fields,
    join,
    ledger_invariant,
    submit,
)

pytestmark = pytest.mark.usefixtures("ledger_invariant")

JOINED = datetime(2026, 1, 5, 18, 0, tzinfo=timezone.utc)  # 10:00 in Los Angeles
_ROW = re.compile(r'<tr class="entry-(\w+)">(.*?)</tr>', re.S)
_CELL = re.compile(r'<td class="([\w-]+)"[^>]*>(.*?)</td>', re.S)


def ledger_rows(page: str) -> list[dict]:
    """Each ledger row as {kind, when, what, points, balance-after}, tags dropped and spaces squeezed."""
    rows = []
    for kind, cells in _ROW.findall(page):
        row = {"kind": kind}
        for name, content in _CELL.findall(cells):
            row[name] = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", content)).split())
        rows.append(row)
    return rows


@pytest.fixture
def ann(session, merchant):
    """Ann joined with a welcome bonus, bought twice, took a tea at the counter, had a correction, and let
    a REDEEM code expire."""
    points.update_settings(merchant, welcome_bonus=20)
    session.commit()
    member = join(session, merchant, now=JOINED)
    give_points(session, merchant, ANN, 1250, now=JOINED + timedelta(days=1), reference="R-1")
    give_points(session, merchant, ANN, 5000, now=JOINED + timedelta(days=21))
    tea = add_reward(session, merchant, now=JOINED, points_cost=30)
    member = session.get(Member, member.id)
    rewards.redeem_at_counter(session, merchant, member, tea, now=JOINED + timedelta(days=22))
    points.adjust(session, member, points=5, note="cake mix-up", now=JOINED + timedelta(days=22, hours=1),
                  idempotency_key="fix-1")
    code = rewards.request_redemption(session, merchant, member, "TEA", now=JOINED + timedelta(days=23)).code
    rewards.release_expired_redemptions(session, now=JOINED + timedelta(days=31))
    session.commit()
    return member, code


def test_the_ledger_explains_the_balance_entry_by_entry(owner, ann):
    member, code = ann
    page = owner.get(f"/members/{member.id}").text
    assert "<strong>57</strong> points" in page
    rows = ledger_rows(page)
    assert [(row["kind"], row["what"], row["points"], row["balance-after"]) for row in rows] == [
        ("reversal", f"Returned code {code} expired unused", "+30", "57"),
        ("redeem", f"Reward Free tea · code {code} expired unused", "-30", "27"),
        ("adjust", "Adjustment cake mix-up", "+5", "57"),
        ("redeem", "Reward Free tea", "-30", "52"),
        ("earn", "Purchase of 50.00", "+50", "82"),
        ("earn", "Purchase of 12.50 · receipt R-1", "+12", "32"),
        ("bonus", "Bonus welcome bonus", "+20", "20"),
    ]
    running = 0
    for row in reversed(rows):  # read from the oldest up, each line is the one before plus its points
        running += int(row["points"])
        assert int(row["balance-after"]) == running
    assert "7 entries, newest first." in page


def test_times_are_where_the_merchant_is(owner, ann):
    member, _ = ann
    rows = ledger_rows(owner.get(f"/members/{member.id}").text)
    assert rows[-1]["when"] == "Jan 5, 2026 10:00 AM"  # 18:00 UTC in Los Angeles
    assert rows[-2]["when"] == "Jan 6, 2026 10:00 AM"


def test_visit_statistics_stage_and_referral_code(owner, session, ann):
    member, _ = ann
    page = owner.get(f"/members/{member.id}").text
    facts = dict(re.findall(r"<dt>([^<]+)</dt>\s*<dd>(.*?)</dd>", page, re.S))
    squeeze = {name: " ".join(re.sub(r"<[^>]+>", " ", value).split()) for name, value in facts.items()}
    assert squeeze["Visits"] == "2"
    assert squeeze["Total spent"] == "62.50"
    assert squeeze["First visit"] == "Jan 6, 2026"
    assert squeeze["Last visit"] == "Jan 26, 2026"
    assert squeeze["Comes back"] == "every 20.0 days on average"
    assert squeeze["Stage"] == "Repeat customer"
    assert squeeze["Joined"] == "Jan 5, 2026"
    assert squeeze["Referral code"] == fresh(session).get(Member, member.id).referral_code
    assert "4155550142" not in page and "•••• 0142" in page


def test_two_visits_on_one_day_never_read_every_0_0_days(owner, session, merchant):
    member = join(session, merchant, now=JOINED)
    give_points(session, merchant, ANN, 1250, now=JOINED + timedelta(hours=1))
    give_points(session, merchant, ANN, 500, now=JOINED + timedelta(hours=2))  # back for a second coffee
    page = owner.get(f"/members/{member.id}").text
    assert "every 0.0 days" not in page and "— (after visits on two days)" in page


def test_the_value_class_shows_with_the_date_it_was_computed(owner, session, merchant, ann):
    member, _ = ann
    page = owner.get(f"/members/{member.id}").text
    assert "none yet" in page and "classes are computed every night" in page
    for number in range(4):  # four small spenders: Ann is the top fifth
        phone = f"+1415555020{number}"
        join(session, merchant, phone, name=f"Guest {number}", now=JOINED)
        give_points(session, merchant, phone, 100, now=JOINED + timedelta(days=2))
    classes.recompute(session, now=datetime(2026, 2, 1, 3, 0, tzinfo=timezone.utc))
    session.commit()
    page = owner.get(f"/members/{member.id}").text
    assert "A — among the top spenders of the last 12 months" in page
    assert "as of Jan 31, 2026" in page  # 03:00 UTC on 1 February is still 31 January in Los Angeles


def test_a_pending_shopper_shows_the_points_waiting_for_them(owner, session, merchant, now):
    result = give_points(session, merchant, "+14155550177", 3000, now=now)
    page = owner.get(f"/members/{result.member.id}").text
    assert "Invited, not joined yet" in page
    assert "<strong>0</strong> points" in page
    assert "30 more points wait for them to join (texting JOIN to +14155550000)." in page
    assert "No points yet." in page
    assert "Redeem a reward" not in page


def test_the_ledger_is_paginated_newest_first(owner, session, merchant, now):
    member = join(session, merchant, now=now)
    for number in range(ENTRIES_PER_PAGE + 5):
        points.adjust(session, member, points=1, note=f"stamp {number:02d}", now=now + timedelta(minutes=number),
                      idempotency_key=f"stamp-{number}")
    session.commit()
    first = owner.get(f"/members/{member.id}").text
    rows = ledger_rows(first)
    assert len(rows) == ENTRIES_PER_PAGE
    assert rows[0]["what"] == "Adjustment stamp 29" and rows[0]["balance-after"] == "30"
    assert "Page 1 of 2" in first and f'href="/members/{member.id}?page=2"' in first
    second = ledger_rows(owner.get(f"/members/{member.id}?page=2").text)
    assert [row["what"] for row in second] == [f"Adjustment stamp {n:02d}" for n in range(4, -1, -1)]
    assert second[-1]["balance-after"] == "1"


def test_the_members_list_links_each_member_by_name_to_the_page(owner, session, merchant, ann, now):
    member, _ = ann
    unnamed = join(session, merchant, "+14155550177", name="", now=now)
    page = owner.get("/members").text
    assert f'<td class="name"><a href="/members/{member.id}">{member.name}</a></td>' in page
    assert f'<a href="/members/{unnamed.id}"><span class="unnamed">No name yet</span></a>' in page


def test_the_page_offers_to_redeem_for_this_member(owner, ann):
    member, _ = ann
    assert f'href="/counter/redeem?member={member.id}"' in owner.get(f"/members/{member.id}").text


def test_another_merchants_member_is_not_found(owner, session, other_merchant, now):
    stranger = join(session, other_merchant, "+14155550100", name="Other", now=now)
    assert owner.get(f"/members/{stranger.id}").status_code == 404
    assert owner.get("/members/424242").status_code == 404
    assert owner.get("/members/99999999999999999999").status_code == 404


class TestCorrections:
    """The owner corrects a balance with a note; the ledger shows it like any other entry."""

    @staticmethod
    def correct(client, member, **data):
        return submit(client, f"/members/{member.id}", data, action=f"/members/{member.id}/adjust")

    def test_the_owner_adds_points_with_a_note(self, owner, ann):
        member, _ = ann
        response = self.correct(owner, member, points="10", note="stamp card from before texts")
        assert response.status_code == 302
        assert response.location == f"/members/{member.id}"
        page = owner.get(response.location).text
        assert "+10 points: stamp card from before texts. The balance is now 67." in page
        top = ledger_rows(page)[0]
        assert (top["kind"], top["what"], top["points"], top["balance-after"]) == (
            "adjust", "Adjustment stamp card from before texts", "+10", "67")

    def test_taking_away_more_than_the_balance_is_refused(self, owner, session, ann):
        member, _ = ann
        response = self.correct(owner, member, points="-58", note="typo")
        assert response.status_code == 200
        assert "Ann Lee has 57 points: you can take away at most 57." in response.text
        assert fresh(session).get(Member, member.id).points_balance == 57
        assert self.correct(owner, member, points="-57", note="closing the card").status_code == 302
        assert fresh(session).get(Member, member.id).points_balance == 0

    @pytest.mark.parametrize(
        ("typed", "note", "message"),
        [
            ("0", "nothing", "A correction of 0 points changes nothing"),
            ("ten", "typo", "Type a whole number of points from -1,000,000 to 1,000,000, like 10 or -10."),
            ("1000001", "typo", "Type a whole number of points from -1,000,000 to 1,000,000, like 10 or -10."),
            ("", "typo", "Type a whole number of points"),
            ("5", "  ", "Say why the points change"),
            ("5", "x" * 201, "A note is at most 200 characters."),
        ],
    )
    def test_a_correction_that_is_not_valid_says_why(self, owner, session, ann, typed, note, message):
        member, _ = ann
        response = self.correct(owner, member, points=typed, note=note)
        assert response.status_code == 200
        assert message in response.text
        assert "<details class=\"card correction\" open>" in response.text
        assert fresh(session).get(Member, member.id).points_balance == 57

    def test_the_same_correction_sent_twice_counts_once(self, owner, session, ann):
        member, _ = ann
        page = owner.get(f"/members/{member.id}").text
        fields = {**hidden_fields(page, f"/members/{member.id}/adjust"), "points": "3", "note": "a stamp"}
        assert owner.post(f"/members/{member.id}/adjust", data=fields).status_code == 302
        assert owner.post(f"/members/{member.id}/adjust", data=fields).status_code == 302
        assert fresh(session).get(Member, member.id).points_balance == 60

    def test_staff_see_no_correction_and_cannot_send_one(self, client, session, merchant, ann, sign_in):
        member, _ = ann
        logins.create_staff_user(session, merchant, email="staff@tea.example", password="counter staff password",
                                   role=Role.STAFF, now=JOINED)
        session.commit()
        sign_in("staff@tea.example", "counter staff password")
        page = client.get(f"/members/{member.id}").text
        assert "Correct the points" not in page
        token = hidden_fields(page, "/sign-out")["csrf_token"]
        response = client.post(f"/members/{member.id}/adjust", data={"csrf_token": token, "points": "100",
                                                                      "note": "for me", "key": "k" * 32})
        assert response.status_code == 403
        assert fresh(session).get(Member, member.id).points_balance == 57

    def test_a_pending_shopper_cannot_be_corrected(self, owner, session, merchant, now):
        pending = give_points(session, merchant, "+14155550177", 3000, now=now).member
        assert "Correct the points" not in owner.get(f"/members/{pending.id}").text
        token = hidden_fields(owner.get("/counter").text, "/counter")["csrf_token"]
        response = owner.post(f"/members/{pending.id}/adjust", data={"csrf_token": token, "points": "5", "note": "x",
                                                                     "key": "k" * 32})
        assert response.status_code == 409
        assert fresh(session).get(Member, pending.id).points_balance == 0

    def test_another_merchants_member_cannot_be_corrected(self, owner, session, other_merchant, ann, now):
        stranger = join(session, other_merchant, "+14155550100", name="Other", now=now)
        page = owner.get(f"/members/{ann[0].id}").text
        fields = {**hidden_fields(page, f"/members/{ann[0].id}/adjust"), "points": "5", "note": "x"}
        assert owner.post(f"/members/{stranger.id}/adjust", data=fields).status_code == 404
        assert fresh(session).get(Member, stranger.id).points_balance == 0
