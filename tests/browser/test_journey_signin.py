"""First journey: a shopper joins by text, the owner signs in, finds them among the members, signs out."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PHONE_VIEWPORT, sign_in

pytestmark = pytest.mark.browser


def test_owner_sees_a_shopper_who_joined_by_text_then_signs_out(page, merchant, text_from_shopper):
    welcome = text_from_shopper("JOIN Ann Lee", sender="+14155550142")
    assert "Ann Lee" in welcome

    page.goto("/members")
    expect(page).to_have_url(re.compile(r"/sign-in\?next=%2Fmembers$"))
    expect(page.get_by_role("status")).to_have_text("Please sign in to see that page.")
    sign_in(page)

    expect(page).to_have_url(re.compile(r"/members$"))
    expect(page.get_by_role("banner")).to_contain_text("Green Leaf Tea")
    expect(page.get_by_role("link", name="Members", exact=True)).to_have_attribute("aria-current", "page")
    member = page.get_by_role("row").filter(has_text="Ann Lee")
    expect(member).to_contain_text("•••• 0142")
    expect(member).to_contain_text("Opted in")
    expect(page.locator("main")).not_to_contain_text("555")

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/sign-in$"))
    expect(page.get_by_role("status")).to_have_text("You are signed out.")

    page.goto("/members")
    expect(page).to_have_url(re.compile(r"/sign-in\?next=%2Fmembers$"))
    expect(page.locator("main")).not_to_contain_text("Ann Lee")


def test_a_wrong_password_keeps_the_owner_on_the_form_with_a_message(page, merchant):
    page.goto("/")
    sign_in(page, password="not the password")
    expect(page.get_by_role("alert")).to_contain_text("That email and password do not match")
    expect(page.get_by_label("Email")).to_have_value("owner@tea.example")
    expect(page.get_by_label("Password")).to_have_value("")
    page.goto("/members")
    expect(page).to_have_url(re.compile(r"/sign-in"))


def test_the_members_page_fits_a_phone_screen(open_page, merchant, text_from_shopper):
    text_from_shopper("JOIN Ann Lee", sender="+14155550142")
    text_from_shopper("入会王芳", sender="+14155550143")
    page = open_page(viewport=PHONE_VIEWPORT)
    page.goto("/members")
    sign_in(page)
    expect(page.get_by_role("row").filter(has_text="王芳")).to_contain_text("中文")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_VIEWPORT["width"]
    expect(page.get_by_role("searchbox")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_be_in_viewport()
