"""The calendar of upcoming texts in a real browser, at a desk (1280 px) and on a phone (390 px): the owner turns on
birthday greetings and sees Ann's coming in three days before anything is sent — on the calendar, on the rule's
page (who gets it today: Bo) and on Ann's page — every page passing axe-core, with screenshots to look at."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from smscrm.models import Member, OutboundMessage
from tests.browser.accessibility import check_page
from tests.browser.conftest import PHONE_VIEWPORT, sign_in

pytestmark = pytest.mark.browser
DESK_VIEWPORT = {"width": 1280, "height": 900}


@pytest.mark.parametrize("viewport", [DESK_VIEWPORT, PHONE_VIEWPORT], ids=["1280", "390"])
def test_the_owner_sees_a_birthday_greeting_coming_before_it_is_sent(open_page, session, merchant, text_from_shopper,
                                                                     viewport):
    today = datetime.now(timezone.utc).astimezone(ZoneInfo(merchant.timezone)).date()
    soon = today + timedelta(days=3)
    text_from_shopper("JOIN Ann")
    text_from_shopper(f"BDAY {soon:%m-%d}")
    text_from_shopper("JOIN Bo", sender="+14155550101")
    text_from_shopper(f"BDAY {today:%m-%d}", sender="+14155550101")
    width = viewport["width"]
    page = open_page(viewport)
    page.goto("/care")
    sign_in(page)
    page.get_by_role("link", name="Texts and timing of Birthday").click()
    page.get_by_label("On: send this text").check()
    page.get_by_label("Send at (hour of the day, your time)").select_option("19")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("Birthday saved: on.")
    sent_before = session.scalar(select(func.count()).select_from(OutboundMessage))

    if width < 600:
        page.get_by_text("Menu", exact=True).click()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Calendar").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Calendar")
    day = page.locator(".calendar-day", has=page.locator(f'time[datetime="{soon.isoformat()}"]'))
    expect(day.locator(".upcoming")).to_contain_text(re.compile(r"Birthday\s+Care\s+1 member"))
    check_page(page, f"calendar-{width}")

    day.get_by_role("link", name="Birthday").click()
    today_section = page.locator(".care-today")
    expect(today_section).to_contain_text(": 1 member")
    expect(today_section.get_by_role("link", name="Bo")).to_be_visible()
    check_page(page, f"calendar-rule-today-{width}")

    ann = session.scalar(select(Member.id).where(Member.name == "Ann"))
    page.goto(f"/members/{ann}")
    coming = page.locator(".upcoming-texts")
    expect(coming.get_by_role("heading", name="Next texts")).to_be_visible()
    expect(coming.get_by_role("link", name="Birthday")).to_be_visible()
    check_page(page, f"calendar-member-{width}")

    page.goto("/calendar")
    page.get_by_role("button", name="用中文显示页面").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("日历")
    check_page(page, f"calendar-zh-{width}")
    assert session.scalar(select(func.count()).select_from(OutboundMessage)) == sent_before  # nothing was sent
