"""Members journey, at 1280 and 390 px: staff add a shopper in person at the counter, find them in the list by
their phone typed another way, edit their details, and record an opt-out they ask for in person; every page
passes axe (and the Chinese pages too), and at 390 px the tables are cards."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from smscrm.models import ConsentEvent, Member
from tests.browser.accessibility import check_page
from tests.browser.conftest import PHONE_VIEWPORT, sign_in
from tests.web.points_pages import fresh

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 900}, PHONE_VIEWPORT], ids=["1280", "390"])
def test_add_in_person_find_edit_and_opt_out(open_page, session, merchant, text_from_shopper, viewport):
    width = viewport["width"]
    text_from_shopper("JOIN Ann Lee", sender="+14155550142")
    text_from_shopper("What time do you open on Sunday?", sender="+14155550142")
    page = open_page(viewport)
    page.goto("/members/new")
    sign_in(page)

    # add a shopper in person: not without the box that says they agreed
    expect(page.get_by_role("navigation", name="Counter").get_by_role("link", name="Join")).to_have_attribute(
        "aria-current", "page")
    page.get_by_label("Shopper's phone").fill("(415) 555-0177")
    page.get_by_label("Name (optional)").fill("Bea Park")
    page.get_by_label("Texts in").select_option("zh")
    agreed = page.get_by_label("The shopper agreed, here in person, to receive texts from us")
    expect(agreed).to_have_attribute("required", "")  # the browser asks first; the server refuses too (tests/web)
    check_page(page, f"members-new-{width}")
    page.get_by_label("The shopper agreed, here in person, to receive texts from us").check()
    page.get_by_role("button", name="Add the member").click()
    expect(page.get_by_role("status")).to_have_text("Bea Park joined in person; their consent is recorded.")
    expect(page.locator(".consent")).to_contain_text("in person, recorded by staff")

    # the list finds her by her phone typed another way; each member links to their page
    page.goto("/members")
    check_page(page, f"members-list-{width}")
    page.get_by_label("Search by phone, name or code").fill("+1 415-555-0177")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("table.members tbody tr")).to_have_count(1)
    if width < 600:  # a card: the header row is hidden, the cells stack
        assert page.locator("table.members thead").bounding_box()["height"] <= 1
        assert page.locator("table.members tbody tr").evaluate("row => getComputedStyle(row).display") == "grid"
    page.get_by_role("link", name="Bea Park").click()
    expect(page).to_have_url(re.compile(r"/members/\d+$"))

    # edit her details: a mistake is named, then the details are saved
    page.get_by_text("Edit details").click()
    page.get_by_label("Birthday month").select_option("2")
    page.get_by_label("Birthday day").fill("30")
    page.get_by_label("Interests").fill("green tea, cakes")
    page.get_by_label("Notes (only staff see them)").fill("Likes the window seat")
    page.get_by_role("button", name="Save details").click()
    expect(page.get_by_role("alert")).to_have_text("Feb has no day 30.")
    check_page(page, f"member-edit-error-{width}")
    page.get_by_label("Birthday day").fill("28")
    page.get_by_role("button", name="Save details").click()
    expect(page.get_by_role("status")).to_have_text("Details saved.")
    expect(page.locator(".facts").first).to_contain_text("cakes, green tea")
    expect(page.locator(".facts").first).to_contain_text("Likes the window seat")

    # an opt-out she asks for in person
    page.get_by_role("button", name="Record an opt-out asked for in person").click()
    expect(page.get_by_role("status")).to_have_text("Opt-out recorded: this member gets no more marketing or care texts.")
    expect(page.locator(".member-head .badge")).to_have_text("Opted out")
    check_page(page, f"member-opted-out-{width}")
    member = fresh(session).scalar(select(Member).where(Member.phone == "+14155550177"))
    assert (member.birthday_month, member.birthday_day, member.notes, member.is_opted_out) == (2, 28,
                                                                                               "Likes the window seat", True)
    assert [(event.action, event.channel) for event in session.scalars(
        select(ConsentEvent).where(ConsentEvent.phone == member.phone).order_by(ConsentEvent.id))] == [
        ("opt_in", "in_person"), ("opt_out", "in_person")]

    # a member with texts both ways, in both languages
    page.goto("/members?q=Ann")
    page.get_by_role("link", name="Ann Lee").click()
    expect(page.locator("table.texts")).to_contain_text("What time do you open on Sunday?")
    check_page(page, f"member-texts-{width}")
    if width < 600:
        assert page.locator("table.texts tbody tr").first.evaluate("row => getComputedStyle(row).display") == "grid"
        page.get_by_text("Menu", exact=True).click()
    page.get_by_role("button", name="用中文显示页面").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-Hans")
    check_page(page, f"zh-member-texts-{width}")
    page.goto("/members")
    check_page(page, f"zh-members-list-{width}")
    page.goto("/members/new")
    check_page(page, f"zh-members-new-{width}")
