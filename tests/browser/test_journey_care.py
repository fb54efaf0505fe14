"""Care journeys in a real browser.

1. The owner turns on a care rule and answers a shopper's question from the inbox.
2. The owner turns on birthday, Mid-Autumn and win-back care; the scheduler's care job and the delivery
   worker then run through three weeks (explicit `now`), and the right members get exactly one text
   each, at a decent hour where they live, in their language.
"""
from __future__ import annotations

import re
from collections import defaultdict
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect
from sqlalchemy import select, update

from smscrm import delivery, jobs, points
from smscrm.db.engine import make_sessionmaker
from smscrm.models import CareRule, Member, OutboundMessage
from tests.browser.conftest import PHONE_VIEWPORT, sign_in

pytestmark = pytest.mark.browser

LOS_ANGELES = ZoneInfo("America/Los_Angeles")


class RecordingTransport:
    """Sends nothing; remembers who got what, and when (the worker's `now`)."""

    name = "recording"
    max_send_seconds = 0.0

    def __init__(self):
        self.sent: list[tuple[str, str, datetime]] = []
        self.now: datetime | None = None

    def send(self, *, to: str, from_: str, body: str) -> str:
        self.sent.append((to, body, self.now))
        return f"SMrecorded{len(self.sent):024d}"

    def find_sent(self, *, to: str, from_: str, body: str, since: datetime) -> list[str]:
        return []


def test_owner_turns_on_a_rule_and_answers_the_inbox(open_page, session, merchant, text_from_shopper):
    page = open_page(PHONE_VIEWPORT)
    page.goto("/care")
    sign_in(page)
    page.get_by_text("Menu", exact=True).click()  # on a phone the navigation is folded into a menu
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Care")).to_have_attribute("aria-current", "page")

    page.get_by_role("button", name="Turn on After a visit").click()
    expect(page.get_by_role("status")).to_have_text("After a visit is on.")
    expect(page.locator("#rule-after_visit .badge")).to_have_text("On")
    assert session.scalar(select(CareRule.is_enabled).where(CareRule.kind == "after_visit")) is True

    text_from_shopper("JOIN Ann")
    text_from_shopper("Do you have the jasmine pearls in stock?")
    page.get_by_text("Menu", exact=True).click()
    nav.get_by_role("link", name="Inbox").click()
    expect(page.get_by_text("1 waiting for a reply")).to_be_visible()
    waiting = page.locator(".conversation")
    expect(waiting).to_contain_text("Do you have the jasmine pearls in stock?")
    expect(waiting).to_contain_text("Question")
    expect(waiting).to_contain_text("No class yet · 0 points · no visit yet")
    waiting.get_by_role("link", name="Open the conversation with Ann").click()

    page.get_by_label("Reply by SMS").fill("Yes — 40 g tins, come by any time!")
    page.get_by_role("button", name="Send reply").click()
    expect(page.get_by_role("status")).to_have_text("Reply sent by SMS.")
    expect(page.locator(".thread .from-staff")).to_contain_text("Yes — 40 g tins, come by any time!")
    expect(page.get_by_text(re.compile(r"First answered after (under a minute|\d+ min)"))).to_be_visible()
    page.get_by_role("button", name="Mark as resolved").click()
    expect(page.get_by_role("status")).to_have_text("Marked as resolved.")
    expect(page.get_by_text("0 waiting for a reply")).to_be_visible()

    [reply] = session.scalars(select(OutboundMessage).where(OutboundMessage.purpose == "inbox_reply")).all()
    assert (reply.to_phone, reply.body) == ("+14155550100", "Yes — 40 g tins, come by any time!")


@pytest.fixture
def shoppers(text_from_shopper, session, merchant):
    """Members who joined by text (their language is the keyword's) and told their birthday."""
    for sender, texts in {
        "+14155550101": ("JOIN Ann", "BDAY 10-02"),
        "+14155550102": ("入会王芳", "生日 10月3日"),
        "+14155550103": ("JOIN Bo",),
        "+14155550104": ("JOIN Cy", "BDAY 10-02", "STOP"),
        "+14155550105": ("JOIN Dee",),
    }.items():
        for body in texts:
            text_from_shopper(body, sender=sender)
    # Dee was a regular of class A (as the nightly recompute found) until late July (no receipt texts)
    points.update_settings(merchant, has_receipt_texts=False)
    for day in (20, 30):
        points.record_purchase(session, merchant, phone="+14155550105", amount_minor=4200,
                               now=datetime(2027, 7, day, 19, tzinfo=timezone.utc))
    session.execute(update(Member).where(Member.phone == "+14155550105").values(value_class="A"))
    session.execute(update(Member).where(Member.phone != "+14155550105").values(value_class="C"))
    session.commit()


def test_birthday_mid_autumn_and_win_back_reach_the_right_members_once(open_page, session, merchant, engine,
                                                                       shoppers):
    page = open_page()
    page.goto("/care")
    sign_in(page)
    page.get_by_role("button", name="Turn on Birthday").click()
    expect(page.get_by_role("status")).to_have_text("Birthday is on.")
    holidays = page.locator(".care-holidays")
    expect(holidays).to_contain_text("中秋节")
    holidays.get_by_role("button", name="Turn on Mid-Autumn Festival").click()
    expect(page.get_by_role("status")).to_have_text("Holiday greeting: Mid-Autumn Festival is on.")
    page.get_by_role("link", name="Texts and timing of Win-back").click()
    page.get_by_label("On: send this text").check()
    page.get_by_label("Members of class").select_option("A")
    page.get_by_label("Days without a visit").fill("30")
    expect(page.locator(".care-preview")).to_contain_text("We miss you at Green Leaf Tea, Ann!")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("Win-back saved: on.")
    expect(page.locator("#rule-win_back")).to_contain_text("Class A, no visit for 30+ days, at 11:00")

    # three weeks of scheduler and worker: Mid-Autumn is 2027-09-15, the birthdays Oct 2 and 3
    sessions, transport = make_sessionmaker(engine), RecordingTransport()
    care_job = next(job for job in jobs.JOBS if job.id == "care")
    moment = datetime(2027, 9, 13, tzinfo=timezone.utc)
    while moment < datetime(2027, 10, 6, tzinfo=timezone.utc):
        jobs.run_job(care_job, sessions, now=moment)
        transport.now = moment
        while delivery.deliver_due(sessions, transport, now=moment, worker_id="journey"):
            pass
        moment += timedelta(hours=1)

    received = defaultdict(list)
    for to, body, at in transport.sent:
        received[to].append(body)
        local = at.astimezone(LOS_ANGELES).time()
        assert time(9) <= local < time(20), f"{body!r} reached {to} at {local} their time"
    assert {to: len(bodies) for to, bodies in received.items()} == {
        "+14155550101": 2, "+14155550102": 2, "+14155550103": 1, "+14155550105": 2,
    }
    ann, wang, bo, dee = (received[f"+1415555010{n}"] for n in (1, 2, 3, 5))
    assert sorted(ann) == [
        "Happy Mid-Autumn Festival from all of us at Green Leaf Tea! Reply STOP to opt out.",
        "Happy birthday, Ann! Everyone at Green Leaf Tea wishes you a wonderful day. 50 bonus points are on your "
        "card. Reply STOP to opt out.",
    ]
    assert sorted(wang) == [
        "【绿叶茶馆】Green Leaf Tea祝您中秋节快乐！回复TD退订",
        "【绿叶茶馆】亲爱的王芳，Green Leaf Tea全体员工祝您生日快乐！已为您赠送50积分。回复TD退订",
    ]
    assert bo == ["Happy Mid-Autumn Festival from all of us at Green Leaf Tea! Reply STOP to opt out."]
    assert sorted(dee)[1] == (
        "We miss you at Green Leaf Tea, Dee! Come by soon: your 84 points are waiting. Reply STOP to opt out."
    )
    balances = dict(session.execute(select(Member.phone, Member.points_balance)).all())
    assert (balances["+14155550101"], balances["+14155550102"], balances["+14155550104"]) == (50, 50, 0)
