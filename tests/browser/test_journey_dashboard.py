"""Dashboard journey: the owner signs in and reads Home — members over time, members who come back, value classes,
the loyalty ladder, satisfaction, texts this month and the last campaigns — in English and in Chinese, at a desk
(1280 px) and on a phone (390 px), with no axe-core violation; and Home of a merchant with nothing yet."""
from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import update

from smscrm import broadcast
from smscrm.broadcast import CampaignDraft
from smscrm.db.engine import utcnow
from smscrm.loyalty import classes, purchases
from smscrm.marketing import segments
from smscrm.messaging import consent, outbox
from smscrm.models import Category, ConsentAction, ConsentChannel, InboxItem, Member, VisitSurvey
from tests.browser.accessibility import check_page
from tests.browser.conftest import PHONE_VIEWPORT, sign_in
from tests.web.conftest import add_members

pytestmark = pytest.mark.browser
DESK_VIEWPORT = {"width": 1280, "height": 900}
MEMBERS = 40


def a_shop_with_a_year_behind_it(session, merchant) -> None:
    """Members who joined over 20 weeks, their purchases, ratings, an answered question, texts and a campaign."""
    now = utcnow()
    add_members(session, merchant, MEMBERS, first_joined=now - timedelta(weeks=20))
    for index in range(MEMBERS):  # member i joined 20 - i/2 weeks ago, and visits up to 3 times
        phone = f"+1415666{index:04d}"
        joined = now - timedelta(weeks=20 - index // 2)
        session.execute(update(Member).where(Member.phone == phone).values(joined_at=joined, created_at=joined))
        for visit in range(index % 4):
            at = joined + timedelta(days=3 + visit * (10 + index))
            if at < now:
                bought = purchases.record_purchase(session, merchant, phone=phone, amount_minor=1500 + 700 * index,
                                                   now=at)
                if visit == 0:
                    session.add(VisitSurvey(merchant_id=merchant.id, member_id=bought.member_id,
                                            purchase_id=bought.purchase_id, asked_at=at + timedelta(hours=2),
                                            rating=1 + index % 5, rated_at=at + timedelta(hours=3)))
    for index in (3, 17, 29):
        consent.record_consent(session, merchant_id=merchant.id, phone=f"+1415666{index:04d}",
                               action=ConsentAction.OPT_OUT, keyword="STOP", channel=ConsentChannel.SMS,
                               now=now - timedelta(days=index))
    opened = now - timedelta(days=2)
    session.add(InboxItem(merchant_id=merchant.id, phone="+14156660001", kind="question", opened_at=opened,
                          last_message_at=opened, first_response_at=opened + timedelta(minutes=42)))
    for index in range(5):
        outbox.queue_text(session, merchant, to_phone=f"+1415666{index:04d}", body="Happy birthday! 生日快乐",
                          category=Category.CARE, purpose="care_birthday", now=now)
    merchant.price_per_part_millis = 830
    classes.recompute(session, now=now)
    everyone = segments.save_segment(session, merchant, name="All", rules={}, now=now, is_saved=False)
    campaign = broadcast.save_draft(session, merchant, CampaignDraft(name="Spring teas", text_en="New teas, {name}!",
                                                                     holdout_pct=25), segment=everyone, now=now)
    session.flush()
    broadcast.send_now(session, merchant, campaign, now=now - timedelta(days=3))
    session.commit()


@pytest.mark.parametrize("viewport", [DESK_VIEWPORT, PHONE_VIEWPORT], ids=["1280", "390"])
def test_the_owner_reads_the_dashboard_in_english_and_chinese(open_page, session, merchant, viewport):
    a_shop_with_a_year_behind_it(session, merchant)
    page = open_page(viewport)
    page.goto("/sign-in")
    sign_in(page)
    width = viewport["width"]

    expect(page.get_by_role("heading", level=2, name="Members over time")).to_be_visible()
    chart = page.get_by_role("img", name="joined and 3 opted out in the last 52 weeks")
    expect(chart).to_be_visible()
    page.get_by_text("Numbers by week").click()
    expect(page.get_by_role("table").first).to_be_visible()
    expect(page.get_by_role("heading", level=2, name="The last campaigns")).to_be_visible()
    expect(page.get_by_role("link", name="Spring teas")).to_be_visible()
    expect(page.get_by_text("Inbox: half of the conversations")).to_contain_text("42 min")
    assert page.evaluate("document.documentElement.scrollWidth") <= width  # nothing wider than the screen
    check_page(page, f"dashboard-en-{width}")

    page.get_by_role("button", name="用中文显示页面").click()
    expect(page.get_by_role("heading", level=2, name="会员变化")).to_be_visible()
    expect(page.get_by_role("heading", level=2, name="最近的营销活动")).to_be_visible()
    expect(page.get_by_text("收件箱：")).to_contain_text("42 分钟")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    check_page(page, f"dashboard-zh-{width}")


def test_the_dashboard_of_a_merchant_with_nothing_yet(open_page, merchant):
    page = open_page(PHONE_VIEWPORT)
    page.goto("/sign-in")
    sign_in(page)
    expect(page.get_by_role("img", name="0 joined and 0 opted out in the last 52 weeks.")).to_be_visible()
    expect(page.get_by_text("No campaign has been sent yet.")).to_be_visible()
    check_page(page, "dashboard-empty-390")
