"""Campaign journey: the owner composes a campaign for a segment, watches the preview follow the text
(encoding, parts, a real member, the cost), sends a test, schedules it; the scheduler and the worker
send it; the owner reads the report."""
from __future__ import annotations

import re
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from smscrm import broadcast, delivery, points
from smscrm.broadcast import CampaignDraft
from smscrm.db.engine import make_sessionmaker, utcnow
from smscrm.marketing import segments
from smscrm.messaging.consent import record_consent
from smscrm.models import (
    Campaign,
    ConsentAction,
    ConsentChannel,
    OutboundMessage,
    Status,
)
from smscrm.sending.transports.console import ConsoleTransport
from tests.browser.conftest import PHONE_VIEWPORT, sign_in
from tests.campaign_members import add_member

pytestmark = pytest.mark.browser


@pytest.fixture
def regulars(session, merchant):
    now = utcnow()
    members = [
        add_member(session, merchant, now=now, name="Ann", phone="+14155550101", points_balance=120, value_class="A"),
        add_member(session, merchant, now=now, name="Bo", phone="+14155550102", points_balance=40, value_class="A"),
        add_member(session, merchant, now=now, name="小明", phone="+14155550103", points_balance=75, value_class="A",
                   language="zh"),
        add_member(session, merchant, now=now, name="Cy", phone="+14155550104", value_class="C"),
    ]
    session.commit()
    return members


def test_owner_composes_previews_schedules_and_reads_the_report(page, merchant, regulars, session, engine):
    page.goto("/campaigns")
    sign_in(page)
    page.get_by_role("link", name="Campaign settings").click()
    page.get_by_label("Price of one SMS part, in cents").fill("0.83")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_role("status")).to_have_text("Campaign settings saved.")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Campaigns").click()
    page.get_by_role("link", name="New campaign").click()
    page.get_by_label("Campaign name").fill("Spring teas")
    preview = page.locator("#preview")
    page.get_by_label("A — top spenders").check()
    expect(preview.locator('[data-field="recipients"]')).to_have_text("3")

    page.get_by_label("Text in English").fill("Hi {name}, it’s spring at the tea house: {points} points wait for you")
    english = preview.locator('article[data-language="en"]')
    expect(english.locator(".bubble")).to_have_text("Hi Ann, it’s spring at the tea house: 120 points wait for you Reply STOP to opt out.")
    expect(english.locator('[data-field="encoding"]')).to_have_text("UCS-2")
    expect(english.locator('[data-field="parts"]')).to_have_text("2")
    page.get_by_role("button", name=re.compile(r"Replace them with plain characters \(1 part instead of 2\)")).click()
    expect(page.get_by_label("Text in English")).to_have_value("Hi {name}, it's spring at the tea house: {points} points wait for you")
    expect(english.locator('[data-field="encoding"]')).to_have_text("GSM-7")
    expect(english.locator('[data-field="parts"]')).to_have_text("1")

    page.get_by_label("Text in Chinese (for members who speak Chinese)").fill("{name}您好，春茶上市，{points}积分等您来用")
    page.get_by_label("Preview for").select_option(label="小明 (•••• 0103, 中文)")
    chinese = preview.locator('article[data-language="zh"]')
    expect(chinese.locator(".bubble")).to_have_text("【绿叶茶馆】小明您好，春茶上市，75积分等您来用，回复TD退订")
    expect(chinese).to_contain_text("what 小明 reads")
    page.get_by_label("Holdout (percent of recipients not texted, to measure the effect)").fill("34")
    expect(preview.locator('[data-field="recipients"]')).to_have_text("2")
    expect(preview).to_contain_text("Estimated cost: ≈ 0.02")  # two texts of one part at 0.83 cents

    page.get_by_role("button", name="Save draft").click()
    expect(page).to_have_url(re.compile(r"/campaigns/\d+$"))
    expect(page.get_by_role("status").first).to_contain_text("Draft saved")

    page.get_by_label("Your phone").fill("415 555 0199")
    page.get_by_role("button", name="Send test").click()
    expect(page.get_by_role("status").first).to_contain_text("Test sent to +14155550199")

    day = (utcnow().astimezone(ZoneInfo("America/Los_Angeles")) + timedelta(days=1)).date()
    page.get_by_label("Date").fill(day.isoformat())
    page.get_by_label("Time").fill("10:30")
    page.get_by_role("button", name="Schedule", exact=True).click()
    expect(page.locator('[data-field="status"]')).to_have_text("Scheduled")
    expect(page.locator("main")).to_contain_text(f"It starts on {day:%b} {day.day}, {day.year} 10:30\u202fAM (America/Los_Angeles)")

    # 10:30 the next day: the scheduler starts it, a worker sends it; an hour later one recipient
    # replies STOP, the next day the other comes back and buys.
    factory = make_sessionmaker(engine)
    campaign = session.scalar(select(Campaign))
    at = campaign.scheduled_at
    assert broadcast.start_due_campaigns(factory, now=at) == [campaign.id]
    delivery.deliver_due(factory, ConsoleTransport(), now=at + timedelta(minutes=1), worker_id="journey")
    recipients = session.scalars(
        select(OutboundMessage).where(OutboundMessage.campaign_id == campaign.id).order_by(OutboundMessage.id)
    ).all()
    assert [row.status for row in recipients] == [Status.SENT, Status.SENT]
    record_consent(session, merchant_id=merchant.id, phone=recipients[0].to_phone, action=ConsentAction.OPT_OUT,
                   keyword="STOP", channel=ConsentChannel.SMS, now=at + timedelta(hours=1))
    points.record_purchase(session, merchant, phone=recipients[1].to_phone, amount_minor=2400, now=at + timedelta(days=1))
    session.commit()

    page.reload()
    expect(page.locator('[data-field="status"]')).to_have_text("Sent")
    progress = page.locator("section.progress")
    expect(progress).to_contain_text("Finished.")
    expect(progress.locator('[data-field="sent"]')).to_have_text("2")
    report = page.locator("section.report")
    expect(report.locator('[data-field="recipients"]')).to_have_text("2")
    expect(report.locator('[data-field="opt_outs"]')).to_have_text("1")
    texted = report.get_by_role("row", name=re.compile("^Texted"))
    expect(texted).to_contain_text("50.0%")
    expect(report.get_by_role("row", name=re.compile(r"^Held out \d"))).to_contain_text("0.0%")
    expect(report.locator('[data-field="targeted"]')).to_have_text("3")  # the preview's 3 match: 2 texted, 1 held out
    expect(report).to_contain_text("Lift: +50.0 points")


def test_the_compose_form_fits_a_phone(open_page, merchant, regulars):
    page = open_page(viewport=PHONE_VIEWPORT)
    page.goto("/campaigns/new")
    sign_in(page)
    expect(page.get_by_label("Text in English")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_VIEWPORT["width"]


def test_progress_updates_while_the_campaign_sends(page, merchant, regulars, session, engine):
    segment = segments.save_segment(session, merchant, name="Class A", rules={"value_classes": ["A"]}, now=utcnow())
    campaign = broadcast.save_draft(session, merchant, CampaignDraft(name="Tea tasting", text_en="Hi {name}!"),
                                    segment=segment, now=utcnow())
    start = utcnow()
    broadcast.start_campaign(session, merchant, campaign, now=start)
    session.commit()

    page.goto(f"/campaigns/{campaign.id}")
    sign_in(page)
    progress = page.locator("section.progress")
    expect(progress.locator('[data-field="pending"]')).to_have_text("3")
    expect(progress).to_contain_text("Sending… this page updates by itself.")

    # a worker sends them (at a moment inside the members' sending window), while the page stays open
    daytime = datetime.combine(start.date() + timedelta(days=1), time(19, 0), tzinfo=timezone.utc)  # 11:00 or 12:00 in California
    delivery.deliver_due(make_sessionmaker(engine), ConsoleTransport(), now=daytime, worker_id="progress")
    expect(progress.locator('[data-field="sent"]')).to_have_text("3", timeout=15000)
    expect(progress).to_contain_text("Finished.", timeout=15000)
    expect(page.locator('[data-field="status"]')).to_have_text("Sent")
