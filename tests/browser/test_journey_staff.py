"""Journey: the owner adds a staff login in Settings; the staff member signs in at the counter and finds the
counter, the members and the inbox, nothing else.
Screenshots of the settings pages at 1280 and 390 px go to pytest's temporary folder."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PHONE_VIEWPORT, sign_in

pytestmark = pytest.mark.browser
STAFF_EMAIL, STAFF_PASSWORD = "mei@tea.example", "jasmine ladder quietly"


@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 900}, PHONE_VIEWPORT], ids=["1280", "390"])
def test_owner_adds_staff_who_signs_in_without_settings(open_page, merchant, viewport, tmp_path):
    page = open_page(viewport=viewport)
    page.goto("/settings")
    sign_in(page)
    expect(page).to_have_url(re.compile(r"/settings$"))
    expect(page.get_by_label("Shop name (Chinese)")).to_be_visible()
    page.screenshot(path=tmp_path / f"settings-{viewport['width']}.png", full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]

    page.get_by_role("navigation", name="Settings").get_by_role("link", name="Staff").click()
    page.get_by_label("Email").fill(STAFF_EMAIL)
    page.get_by_label("Their first password").fill("12345678")
    page.get_by_role("button", name="Add the login").click()
    expect(page.locator(".field-error")).to_contain_text("too easy to guess")
    page.get_by_label("Their first password").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Add the login").click()
    expect(page.get_by_role("status")).to_contain_text(f"{STAFF_EMAIL} can sign in now")
    expect(page.get_by_role("row").filter(has_text=STAFF_EMAIL)).to_contain_text("Can sign in")
    page.screenshot(path=tmp_path / f"staff-{viewport['width']}.png", full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    page.get_by_role("button", name="Sign out").click()

    sign_in(page, STAFF_EMAIL, STAFF_PASSWORD)
    expect(page).to_have_url(re.compile(r"/counter$"))
    if viewport["width"] < 600:
        page.get_by_text("Menu", exact=True).click()  # on a phone the navigation is folded into a menu
    main_nav = page.get_by_role("navigation", name="Main")
    expect(main_nav.get_by_role("link", name="Counter")).to_be_visible()
    expect(main_nav.get_by_role("link")).to_have_text(["Counter", "Members", "Inbox"])
    page.screenshot(path=tmp_path / f"staff-counter-{viewport['width']}.png", full_page=True)
    page.goto("/settings")
    expect(page.get_by_role("heading", level=1)).to_have_text("Not allowed")
