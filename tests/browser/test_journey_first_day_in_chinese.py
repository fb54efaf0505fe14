"""What "done" means for issue 22: a new merchant signs in on a phone (390 px), reads the pages in Chinese and, from
the navigation alone, runs a day at the counter (a purchase, a reward added and redeemed), a campaign, and the care
calendar (a birthday greeting turned on and seen coming). Every label the journey reads is looked up in the Chinese
catalogue, so the journey fails if a page it crosses is not in Chinese; axe checks each page on the way."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.support import Translations
from playwright.sync_api import expect
from sqlalchemy import select

from smscrm.models import Campaign, CampaignStatus
from tests.browser.accessibility import check_page
from tests.browser.conftest import PHONE_VIEWPORT, sign_in

pytestmark = pytest.mark.browser
CATALOGUE = Translations.load(str(Path(__file__).resolve().parents[2] / "smscrm" / "translations"), ["zh"])


def zh(message: str, **values) -> str:
    """The Chinese the pages show for `message` (an untranslated string would read as English and fail the step)."""
    translated = CATALOGUE.gettext(message)
    assert translated != message, f"no Chinese for {message!r}"
    return translated % values if values else translated


def zh_plural(singular: str, plural: str, count: int, **values) -> str:
    return CATALOGUE.ngettext(singular, plural, count) % {"num": count, **values}


def follow_the_menu(page, link: str) -> None:
    """On a phone the navigation is folded into a menu: open it and follow `link`."""
    page.get_by_text(zh("Menu"), exact=True).click()
    page.get_by_role("navigation", name=zh("Main")).get_by_role("link", name=link, exact=True).click()


def test_a_new_merchant_runs_a_day_a_campaign_and_the_care_calendar_on_a_phone_in_chinese(
    open_page, session, merchant, text_from_shopper
):
    today = datetime.now(timezone.utc).astimezone(ZoneInfo(merchant.timezone)).date()
    soon = today + timedelta(days=4)
    text_from_shopper("入会 王芳")
    text_from_shopper(f"生日 1990年{soon.month}月{soon.day}日")
    text_from_shopper("JOIN Ann", sender="+14155550101")

    page = open_page(PHONE_VIEWPORT)
    page.goto("/")
    sign_in(page)
    page.get_by_role("button", name="用中文显示页面").click()
    assert page.locator("html").get_attribute("lang") == "zh-Hans"
    check_page(page, "first-day-zh-home-390")

    # The counter: a purchase for 王芳, then a reward added and redeemed for her.
    follow_the_menu(page, zh("Counter"))
    page.get_by_label(zh("Shopper's phone")).fill("415 555 0100")
    page.get_by_label(zh("Amount paid")).fill("68.00")
    page.get_by_role("button", name=zh("Record purchase")).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("王芳")
    check_page(page, "first-day-zh-purchase-390")

    follow_the_menu(page, zh("Rewards"))
    page.get_by_role("link", name=zh("Add a reward")).click()
    page.get_by_label(zh("Code shoppers text (REDEEM code)")).fill("TEA")
    page.get_by_label(zh("Name"), exact=True).fill("Free tea")
    page.get_by_label(zh("Name in Chinese texts (empty: the name above)")).fill("免费茶")
    page.get_by_label(zh("Points it costs")).fill("50")
    page.get_by_role("button", name=zh("Add the reward")).click()
    expect(page.get_by_role("status")).to_contain_text("REDEEM TEA")

    follow_the_menu(page, zh("Counter"))
    page.get_by_role("navigation", name=zh("Counter")).get_by_role("link", name=zh("Redeem"), exact=True).click()
    page.get_by_label(zh("Shopper's phone")).fill("4155550100")
    page.get_by_label(zh("Reward")).select_option(index=1)
    page.get_by_role("button", name=zh("Next: check and confirm")).click()
    page.get_by_role("button", name=zh("Confirm: give %(reward)s for %(points)s points", reward="Free tea",
                                       points=50)).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("王芳")
    check_page(page, "first-day-zh-redeemed-390")

    # A campaign to every member, in both languages, sent now.
    follow_the_menu(page, zh("Campaigns"))
    page.get_by_role("link", name=zh("New campaign")).click()
    page.get_by_label(zh("Campaign name")).fill("冬至")
    page.get_by_label(zh("Text in English")).fill("Winter solstice dumplings on us, {name}!")
    page.get_by_label(zh("Text in Chinese (for members who speak Chinese)")).fill("{name}您好，冬至来店送饺子")
    expect(page.locator("#preview [data-field=recipients]")).to_have_text("2")
    check_page(page, "first-day-zh-campaign-new-390")
    page.get_by_role("button", name=zh("Save draft")).click()
    page.get_by_role("button", name=zh_plural("Send now to %(shown)s member", "Send now to %(shown)s members", 2,
                                              shown="2")).click()
    expect(page.get_by_role("status").first).to_contain_text("2")
    assert session.scalar(select(Campaign.status)) == CampaignStatus.SENDING
    check_page(page, "first-day-zh-campaign-sending-390")

    # Care: birthday greetings on, and 王芳's seen coming on the calendar before anything is sent.
    follow_the_menu(page, zh("Care"))
    page.locator('a[href="/care/birthday"]').click()
    page.get_by_label(zh("On: send this text")).check()
    page.get_by_role("button", name=zh("Save"), exact=True).click()
    expect(page.get_by_role("status")).to_contain_text(zh("Birthday"))

    follow_the_menu(page, zh("Calendar"))
    expect(page.get_by_role("heading", level=1)).to_have_text(zh("Calendar"))
    day = page.locator(".calendar-day", has=page.locator(f'time[datetime="{soon.isoformat()}"]'))
    expect(day.locator(".upcoming")).to_contain_text(re.compile(zh("Birthday")))
    check_page(page, "first-day-zh-calendar-390")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_VIEWPORT["width"]
