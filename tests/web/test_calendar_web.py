"""The calendar of upcoming texts in the merchant pages: the calendar itself (in the navigation, both languages),
who a care rule texts today on its page, and the next texts on a member's page. The pages use the real
clock, so the members' birthdays are set from today where the merchant is."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from smscrm import broadcast
from smscrm.accounts import logins
from smscrm.marketing import care_rules, segments
from smscrm.models import CareKind, Role
from tests.campaign_members import add_member
from tests.web.conftest import csrf_token


@pytest.fixture
def today(merchant):
    """Today's date where the merchant is (the pages' own clock)."""
    return datetime.now(timezone.utc).astimezone(ZoneInfo(merchant.timezone)).date()


@pytest.fixture
def birthdays(session, merchant, now, today):
    """Birthday greetings on (at 19:00; an occurrence not yet sent stays in the calendar for its grace), Ann's birthday in three days, Bo's today."""
    care_rules.save_rule(session, merchant, CareKind.BIRTHDAY, now=now, is_enabled=True, send_hour=19)
    soon, day = today + timedelta(days=3), today
    ann = add_member(session, merchant, now=now, name="Ann", birthday_month=soon.month, birthday_day=soon.day)
    bo = add_member(session, merchant, now=now, name="Bo", birthday_month=day.month, birthday_day=day.day)
    add_member(session, merchant, now=now, name="Cy", birthday_month=soon.month, birthday_day=soon.day,
               is_opted_out=True)
    session.commit()
    return ann, bo


def test_the_calendar_shows_a_birthday_greeting_before_it_is_sent(owner, birthdays, today):
    page = owner.get("/calendar").text

    assert '<a href="/calendar" aria-current="page">Calendar</a>' in page
    day = re.search(rf'<time datetime="{today + timedelta(days=3)}">(.*?)</time>(.*?)</li>\s*</ul>', page, re.S)
    assert day, page
    assert re.search(r'<a href="/care/birthday">Birthday</a>.*?<strong>1 member</strong>', day[2], re.S)  # not Cy


def test_the_calendar_in_chinese(owner, birthdays):
    token = csrf_token(owner.get("/calendar").text)
    owner.post("/language", data={"csrf_token": token, "language": "zh", "next": "/calendar"})
    page = owner.get("/calendar").text
    assert "<h1>日历</h1>" in page and "1 位会员" in page


def test_with_nothing_on_the_calendar_says_so(owner):
    assert "No texts in the next 30 days." in owner.get("/calendar").text


def test_a_scheduled_campaign_is_on_the_calendar(owner, session, merchant, now, today):
    for _ in range(3):
        add_member(session, merchant, now=now)
    segment = segments.save_segment(session, merchant, name="Everyone", rules={}, now=now)
    campaign = broadcast.save_draft(session, merchant, broadcast.CampaignDraft(name="Tea week", text_en="New teas!"),
                                    segment=segment, now=now)
    broadcast.schedule_campaign(session, campaign, at=datetime.now(timezone.utc) + timedelta(days=5), now=now)
    session.commit()

    page = owner.get("/calendar").text
    assert re.search(rf'<a href="/campaigns/{campaign.id}">Tea week</a>.*?<strong>3 members</strong>', page, re.S)


def test_a_rules_page_shows_who_gets_it_today(owner, birthdays):
    ann, bo = birthdays
    page = owner.get("/care/birthday").text
    section = page[page.index("Who gets it today"):page.index("What members get")]
    assert ": 1 member" in section
    assert f'<a href="/members/{bo.id}">Bo</a>' in section and "Ann" not in section


def test_a_rule_that_is_off_shows_who_it_would_text(owner, session, merchant, now, today):
    add_member(session, merchant, now=now, name="Dee", birthday_month=today.month, birthday_day=today.day)
    session.commit()
    page = owner.get("/care/birthday").text
    assert "(if the rule were on)" in page and ">Dee</a>" in page


def test_a_members_page_shows_the_next_texts(owner, birthdays, today):
    ann, bo = birthdays
    page = owner.get(f"/members/{ann.id}").text
    section = page[page.index("Next texts"):page.index("Points, entry by entry")]
    assert '<a href="/care/birthday">Birthday</a>' in section and "a text" in section

    todays = owner.get(f"/members/{bo.id}").text  # today's greeting is on its way
    assert '<a href="/care/birthday">Birthday</a>' in todays


def test_staff_see_a_members_next_texts_without_links_and_no_calendar(client, session, merchant, now, sign_in):
    member = add_member(session, merchant, now=now)
    segment = segments.save_segment(session, merchant, name="Everyone", rules={}, now=now)
    campaign = broadcast.save_draft(session, merchant, broadcast.CampaignDraft(name="Tea week", text_en="New teas!"),
                                    segment=segment, now=now)
    broadcast.schedule_campaign(session, campaign, at=datetime.now(timezone.utc) + timedelta(days=5), now=now)
    logins.create_staff_user(session, merchant, email="staff@tea.example", password="counter staff password",
                             role=Role.STAFF, now=now)
    session.commit()
    sign_in("staff@tea.example", "counter staff password")

    page = client.get(f"/members/{member.id}").text
    assert "Tea week" in page and f"/campaigns/{campaign.id}" not in page
    assert '<a href="/calendar"' not in page
    assert client.get("/calendar").status_code == 403
