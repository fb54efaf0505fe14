"""Switch to Chinese and back, at a desk (1280 px) and on a phone (390 px): every page of the app passes axe-core's
WCAG A/AA rules with no focus ring clipped (a check below holds the list to every page the app serves); on the phone
the navigation is a menu; after a mistake the cursor is on the field in error and its message is an alert."""
from __future__ import annotations

from urllib.parse import quote, urlsplit

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from smscrm import broadcast, points
from smscrm.accounts import logins
from smscrm.broadcast import CampaignDraft
from smscrm.db.engine import utcnow
from smscrm.loyalty import rewards
from smscrm.marketing import care_rules, segments
from smscrm.models import InboxItem, Member, Role
from smscrm.web import MACHINE_PATHS
from tests.browser.accessibility import check_page
from tests.browser.conftest import PHONE_VIEWPORT, sign_in

pytestmark = pytest.mark.browser
DESK_VIEWPORT = {"width": 1280, "height": 900}
PAGES = ["/", "/counter", "/counter/redeem", "/counter/code", "/members", "/members/new", "/members/import",
         "/members/export", "/inbox", "/care", "/calendar", "/campaigns", "/campaigns/new", "/campaigns/segments",
         "/campaigns/settings", "/rewards", "/rewards/new", "/loyalty", "/settings", "/settings/numbers",
         "/settings/api-keys", "/settings/staff", "/account/password"]
# Pages checked by another journey, and what a browser does not show as a page (data for scripts, files, machines).
ELSEWHERE = {"auth.sign_in": "here, before signing in", "member_import.show": "test_journey_member_import"}
NOT_PAGES = {"static", "campaigns.preview_json", "campaigns.progress_json", "campaigns.segment_count",
             "member_import.progress", "member_export.members_csv", "member_export.consent_csv"}


def a_shop_with_a_day_behind_it(session, merchant, text_from_shopper) -> list[str]:
    """A member with a purchase, a question in the inbox, a reward, a draft and a sent campaign: the pages with
    tables, ledgers and reports to check, besides those of the navigation."""
    text_from_shopper("JOIN Ann")
    text_from_shopper("BDAY 03-15")
    text_from_shopper("Do you have oolong?")
    text_from_shopper("JOIN 王芳", sender="+14155550101")
    now = utcnow()
    purchase = points.record_purchase(session, merchant, phone="+14155550100", amount_minor=123450, now=now,
                                      reference="R-1").purchase
    reward = rewards.create_reward(session, merchant, code="TEA", name="Free tea", points_cost=100, now=now, stock=5)
    audience = segments.save_segment(session, merchant, name="All", rules={}, now=now, is_saved=False)
    draft = broadcast.save_draft(session, merchant, CampaignDraft(name="Spring teas", text_en="New teas, {name}!",
                                                                  text_zh="新茶上市，{name}！"), segment=audience, now=now)
    sent = broadcast.save_draft(session, merchant, CampaignDraft(name="Thank you", text_en="Thank you, {name}!",
                                                                 holdout_pct=10), segment=audience, now=now)
    saved = segments.save_segment(session, merchant, name="Regulars", rules={"visits_min": 2}, now=now)
    session.flush()
    broadcast.send_now(session, merchant, sent, now=now)
    item = session.scalar(select(InboxItem.id))
    ann = session.scalar(select(Member).where(Member.phone == "+14155550100"))
    redemption = rewards.redeem_at_counter(session, merchant, ann, reward, now=now)
    colleague = logins.create_staff_user(session, merchant, email="mei@tea.example", password="jasmine ladder quietly",
                                         role=Role.STAFF, now=now)
    holiday = care_rules.holiday_choices(merchant, now=now)[0].name
    session.commit()
    return ["/members/1", f"/rewards/{reward.id}/edit", f"/campaigns/{draft.id}", f"/campaigns/{draft.id}/edit",
            f"/campaigns/{sent.id}", f"/inbox/{item}", "/care/birthday", f"/care/holiday?holiday={quote(holiday)}",
            "/campaigns/segments/new", f"/campaigns/segments/{saved.id}/edit", f"/counter/purchases/{purchase.id}",
            f"/counter/redemptions/{redemption.id}", f"/settings/staff/{colleague.id}/password"]


def endpoints(app, paths: list[str]) -> set[str]:
    adapter = app.url_map.bind("localhost")
    return {adapter.match(urlsplit(path).path, method="GET")[0] for path in paths}


def test_the_journey_below_reaches_every_page_the_app_serves(app, session, merchant, text_from_shopper):
    pages = PAGES + a_shop_with_a_day_behind_it(session, merchant, text_from_shopper)
    served = {rule.endpoint for rule in app.url_map.iter_rules()
              if "GET" in rule.methods and not rule.rule.startswith(MACHINE_PATHS)}
    assert served - NOT_PAGES - set(ELSEWHERE) - endpoints(app, pages) == set()


@pytest.mark.parametrize("viewport", [DESK_VIEWPORT, PHONE_VIEWPORT], ids=["1280", "390"])
def test_every_page_in_chinese_and_english_passes_axe(open_page, session, merchant, text_from_shopper, viewport):
    pages = PAGES + a_shop_with_a_day_behind_it(session, merchant, text_from_shopper)
    page = open_page(viewport)
    page.goto("/sign-in")
    check_page(page, f"sign-in-{viewport['width']}")
    sign_in(page)
    width = viewport["width"]
    if width < 600:
        members = page.get_by_role("navigation", name="Main").get_by_role("link", name="Members", exact=True)
        assert members.is_hidden()  # folded into the menu
        page.get_by_text("Menu", exact=True).click()
        assert members.is_visible()
    page.get_by_role("button", name="用中文显示页面").click()
    assert page.locator("html").get_attribute("lang") == "zh-Hans"
    assert page.get_by_role("heading", level=1).inner_text() == "Green Leaf Tea 今日概况"
    for path in pages:
        page.goto(path)
        check_page(page, f"zh{path.replace('/', '-') or '-home'}-{width}")
    page.goto("/members")
    page.get_by_role("button", name="Read the pages in English").click()
    assert page.locator("html").get_attribute("lang") == "en"
    for path in pages:
        page.goto(path)
        check_page(page, f"en{path.replace('/', '-') or '-home'}-{width}")


def test_skip_link_and_after_a_mistake_the_cursor_is_on_the_field_with_its_alert(page, merchant):
    page.goto("/sign-in")
    sign_in(page)
    page.goto("/members")
    page.keyboard.press("Tab")  # the first stop: the link past the header and the navigation
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    page.goto("/counter")
    page.get_by_label("Shopper's phone").fill("12")
    page.get_by_label("Amount paid").fill("12.50")
    page.get_by_role("button", name="Record purchase").click()
    expect(page.locator("#phone")).to_be_focused()
    alert = page.get_by_role("alert")
    assert "That is not a phone number" in alert.inner_text()
    assert page.locator("#phone").get_attribute("aria-describedby") == "phone-error"
    check_page(page, "en-counter-error-1280")
