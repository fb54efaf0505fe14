"""The campaign and segment pages and their JSON endpoints, through the real forms (CSRF on)."""
from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from smscrm import broadcast
from smscrm.broadcast import CampaignDraft
from smscrm.db.engine import utcnow
from smscrm.marketing import segments
from smscrm.models import (
    Campaign,
    CampaignStatus,
    Merchant,
    OutboundMessage,
    Segment,
    Status,
)
from tests.campaign_members import add_member
from tests.web.conftest import csrf_token, other_merchant, owner, sign_in  # noqa: F401  (fixtures)


@pytest.fixture
def members(session, merchant):
    """Three reachable members (one Chinese), one opted out; joined 100 days before now."""
    now = utcnow()
    found = {
        "ann": add_member(session, merchant, now=now, name="Ann", phone="+14155550101", points_balance=120,
                          value_class="A", visit_count=5, last_visit_at=now - timedelta(days=3)),
        "bo": add_member(session, merchant, now=now, name="Bo", phone="+14155550102", value_class="B"),
        "xiao": add_member(session, merchant, now=now, name="小明", phone="+14155550103", language="zh", points_balance=8),
        "out": add_member(session, merchant, now=now, name="Out", phone="+14155550104", is_opted_out=True),
    }
    session.commit()
    return found


def compose_form(token: str, **overrides) -> dict:
    form = {"csrf_token": token, "name": "Spring teas", "segment_id": "", "text_en": "Hi {name}, new teas are in!",
            "text_zh": "", "holdout_pct": "0", "return_window_days": "14", "action": "preview"}
    form.update(overrides)
    return form


def draft(session, merchant, *, rules=None, text_en="Hi {name}!", text_zh=None, holdout_pct=0) -> Campaign:
    now = utcnow()
    segment = segments.save_segment(session, merchant, name="All", rules=rules or {}, now=now, is_saved=False)
    campaign = broadcast.save_draft(
        session, merchant, CampaignDraft(name="Spring", text_en=text_en, text_zh=text_zh, holdout_pct=holdout_pct),
        segment=segment, now=now,
    )
    session.commit()
    return campaign


def test_campaigns_are_in_the_navigation_and_start_empty(owner):
    page = owner.get("/campaigns")
    assert page.status_code == 200
    assert re.search(r'<a href="/campaigns" aria-current="page">Campaigns</a>', page.text)
    assert "No campaigns yet" in page.text


def test_the_compose_form_previews_counts_encoding_and_a_real_member(owner, members):
    page = owner.get("/campaigns/new")
    assert "3</strong> members will get it" in page.text  # Ann, Bo, 小明; not the one who opted out

    preview = owner.post("/campaigns/new", data=compose_form(
        csrf_token(page.text), value_classes=["A", "B"], text_en="It’s here: {points} points for {name}",
        text_zh="{name}您好",
    ))
    assert preview.status_code == 200
    html = preview.text
    assert "2</strong> members will get it" in html
    assert "It’s here: 120 points for Ann Reply STOP to opt out." in html
    assert "【绿叶茶馆】Ann您好，回复TD退订" in html
    assert "Sent as UCS-2" in html and "<code>’</code>" in html
    assert "Replace them with plain characters (1 part instead of 1)" in html


def test_replacing_look_alikes_rewrites_the_english_text(owner, members):
    token = csrf_token(owner.get("/campaigns/new").text)
    page = owner.post("/campaigns/new", data=compose_form(token, text_en="“Fresh” teas — today", action="use_gsm"))
    assert '"Fresh" teas - today</textarea>' in page.text.replace("&#34;", '"')


def test_preview_json_follows_the_form(owner, members):
    response = owner.get("/campaigns/preview.json", query_string={
        "name": "x", "text_en": "€" * 70, "languages": "en", "holdout_pct": "50",
    })
    assert response.status_code == 200
    data = response.get_json()
    assert (data["matching"], data["reachable"], data["holdout"], data["recipients"]) == (3, 2, 1, 1)
    english = data["texts"][0]
    assert (english["encoding"], english["units"], english["parts"]) == ("GSM-7", 140 + 23, 2)
    assert "will get it" in data["html"]


@pytest.mark.parametrize(
    "query, message",
    [
        ({"text_en": "Hi {first}"}, "{first} is not a placeholder"),
        ({"text_en": "Hi", "points_min": "9", "points_max": "1"}, "lower bound is above"),
        ({"text_en": "Hi", "points_min": "many"}, "Points from"),
        ({"text_en": "Hi", "segment_id": "999"}, "no such segment"),
    ],
)
def test_preview_json_explains_what_is_wrong(owner, members, query, message):
    response = owner.get("/campaigns/preview.json", query_string={"name": "x", **query})
    assert response.status_code in (400, 404)
    assert message in response.get_json()["error"]["message"]


def test_saving_a_draft_keeps_its_own_filter_or_a_new_segment(owner, session, merchant, members):
    token = csrf_token(owner.get("/campaigns/new").text)
    response = owner.post("/campaigns/new", data=compose_form(token, action="save", value_classes=["A"]))
    assert response.status_code == 302
    campaign = session.scalar(select(Campaign))
    assert response.headers["Location"] == f"/campaigns/{campaign.id}"
    assert (campaign.status, campaign.text_en, campaign.segment.is_saved) == ("draft", "Hi {name}, new teas are in!", False)
    assert campaign.segment.rules == {"value_classes": ["A"]}

    response = owner.post(f"/campaigns/{campaign.id}/edit", data=compose_form(
        token, action="save", name="Spring teas", stages=["repeat"], save_segment_as="Repeat customers",
    ))
    assert response.status_code == 302
    session.expire_all()
    assert campaign.segment.name == "Repeat customers" and campaign.segment.is_saved


def test_a_draft_page_previews_for_a_chosen_member_and_sends_a_test(owner, session, merchant, members):
    campaign = draft(session, merchant, text_en="Hi {name}, {points} points", text_zh="{name}您好")
    page = owner.get(f"/campaigns/{campaign.id}", query_string={"member": members["xiao"].id})
    assert "【绿叶茶馆】小明您好，回复TD退订" in page.text and "what 小明 reads" in page.text

    response = owner.post(f"/campaigns/{campaign.id}/test", data={
        "csrf_token": csrf_token(page.text), "phone": "415 555 0199", "member_id": members["xiao"].id,
    })
    assert response.status_code == 302
    tests = session.scalars(select(OutboundMessage).where(OutboundMessage.purpose == "campaign_test")).all()
    assert [(m.to_phone, m.body) for m in tests] == [
        ("+14155550199", "Hi 小明, 8 points Reply STOP to opt out."), ("+14155550199", "【绿叶茶馆】小明您好，回复TD退订"),
    ]
    assert "Test sent to +14155550199" in owner.get(response.headers["Location"]).text


def test_scheduling_uses_the_merchants_clock(owner, session, merchant, members):
    campaign = draft(session, merchant)
    token = csrf_token(owner.get(f"/campaigns/{campaign.id}").text)
    tomorrow = (utcnow() + timedelta(days=2)).date()

    response = owner.post(f"/campaigns/{campaign.id}/schedule", data={
        "csrf_token": token, "when": "later", "date": tomorrow.isoformat(), "time": "10:30",
    })
    assert response.status_code == 302
    session.refresh(campaign)
    assert campaign.status == CampaignStatus.SCHEDULED
    local = campaign.scheduled_at.astimezone(ZoneInfo("America/Los_Angeles"))
    assert (local.date(), local.hour, local.minute) == (tomorrow, 10, 30)
    assert "It starts on" in owner.get(f"/campaigns/{campaign.id}").text


@pytest.mark.parametrize(
    "day, at, message",
    [
        ("2020-01-01", "10:00", "that time has passed"),
        ("2031-03-09", "02:30", "2:30\u202fAM does not exist on Mar 9, 2031"),  # clocks go forward in Los Angeles
        ("", "10:00", "choose the date and the time"),
    ],
)
def test_a_bad_schedule_is_refused(owner, session, merchant, members, day, at, message):
    campaign = draft(session, merchant)
    token = csrf_token(owner.get(f"/campaigns/{campaign.id}").text)
    response = owner.post(f"/campaigns/{campaign.id}/schedule", data={"csrf_token": token, "when": "later", "date": day,
                                                                       "time": at}, follow_redirects=True)
    assert message in response.text
    session.refresh(campaign)
    assert campaign.status == CampaignStatus.DRAFT


def test_send_now_then_pause_resume_cancel_and_watch_progress(owner, session, merchant, members):
    campaign = draft(session, merchant)
    token = csrf_token(owner.get(f"/campaigns/{campaign.id}").text)

    page = owner.post(f"/campaigns/{campaign.id}/schedule", data={"csrf_token": token, "when": "now"}, follow_redirects=True)
    assert "Sending: 3 texts queued, 0 members held out." in page.text
    assert 'data-progress-url="/campaigns/%d/progress.json"' % campaign.id in page.text
    assert owner.get(f"/campaigns/{campaign.id}/progress.json").get_json()["pending"] == 3

    page = owner.post(f"/campaigns/{campaign.id}/pause", data={"csrf_token": token}, follow_redirects=True)
    assert "Paused: 3 texts wait until you resume." in page.text
    assert owner.get(f"/campaigns/{campaign.id}/progress.json").get_json()["by_status"] == {"held": 3}
    page = owner.post(f"/campaigns/{campaign.id}/resume", data={"csrf_token": token}, follow_redirects=True)
    assert "Sending again: 3 texts back in the queue." in page.text

    session.execute(
        OutboundMessage.__table__.update()
        .where(OutboundMessage.to_phone == "+14155550101")
        .values(status=Status.DELIVERED, sent_at=utcnow())
    )
    session.commit()
    progress = owner.get(f"/campaigns/{campaign.id}/progress.json").get_json()
    assert (progress["delivered"], progress["done"], progress["percent_done"]) == (1, 1, 33)

    page = owner.post(f"/campaigns/{campaign.id}/cancel", data={"csrf_token": token}, follow_redirects=True)
    assert "Cancelled: 2 texts will not be sent." in page.text
    assert "Report" in page.text and "Finished." in page.text
    page = owner.post(f"/campaigns/{campaign.id}/resume", data={"csrf_token": token}, follow_redirects=True)
    assert "the campaign is cancelled; it cannot be started or resumed now" in page.text


def test_changing_a_campaign_needs_the_csrf_token(owner, session, merchant, members):
    campaign = draft(session, merchant)
    response = owner.post(f"/campaigns/{campaign.id}/schedule", data={"when": "now"})
    assert response.status_code == 400
    session.refresh(campaign)
    assert campaign.status == CampaignStatus.DRAFT


def test_another_merchants_campaigns_and_segments_are_not_found(owner, session, other_merchant):
    theirs = draft(session, other_merchant)
    their_segment = segments.save_segment(session, other_merchant, name="Theirs", rules={}, now=utcnow())
    session.commit()
    assert owner.get(f"/campaigns/{theirs.id}").status_code == 404
    assert owner.get(f"/campaigns/{theirs.id}/progress.json", headers={"Accept": "application/json"}).get_json() == {
        "error": {"code": "not_found", "message": "no such campaign"}
    }
    assert owner.get(f"/campaigns/segments/{their_segment.id}/edit").status_code == 404
    assert owner.get("/campaigns/preview.json", query_string={"exclude_segment_id": their_segment.id}).status_code == 404


def test_segments_are_listed_counted_saved_and_deleted(owner, session, merchant, members):
    page = owner.get("/campaigns/segments/new")
    assert "3</strong> can receive texts" in page.text

    count = owner.get("/campaigns/segments/count.json", query_string={"value_classes": ["A", "B"], "languages": "en"})
    assert count.get_json() == {"matching": 2, "reachable": 2}
    bad = owner.get("/campaigns/segments/count.json", query_string={"joined_from": "2026-13-01"})
    assert bad.status_code == 400 and "Joined from" in bad.get_json()["error"]["message"]

    response = owner.post("/campaigns/segments/new", data={
        "csrf_token": csrf_token(page.text), "name": "Top spenders", "value_classes": ["A"], "spend_min": "12.50",
        "at_risk_days": "30",
    })
    assert response.status_code == 302
    saved = session.scalar(select(Segment).where(Segment.name == "Top spenders"))
    assert saved.rules == {"value_classes": ["A"], "spend_min_minor": 1250, "at_risk_days": 30}
    listing = owner.get("/campaigns/segments").text
    assert "Class A · 12.5+ spent · At risk (away over 30 days, or twice their usual gap)" in listing

    edit = owner.get(f"/campaigns/segments/{saved.id}/edit").text
    assert 'value="12.50"' in edit and re.search(r'<input checked[^>]* value="A"', edit)

    draft(session, merchant)
    used = broadcast.save_draft(session, merchant, CampaignDraft(name="Uses it", text_en="Hi"), segment=saved, now=utcnow())
    session.commit()
    refused = owner.post(f"/campaigns/segments/{saved.id}/delete", data={"csrf_token": csrf_token(edit)}, follow_redirects=True)
    assert "is the audience of a campaign" in refused.text
    session.delete(used)
    session.commit()
    deleted = owner.post(f"/campaigns/segments/{saved.id}/delete", data={"csrf_token": csrf_token(edit)}, follow_redirects=True)
    assert "Segment “Top spenders” deleted." in deleted.text


def test_campaign_settings_are_saved_and_checked(owner, session, merchant):
    page = owner.get("/campaigns/settings")
    assert 'value="09:00"' in page.text and 'value="20:00"' in page.text
    token = csrf_token(page.text)
    response = owner.post("/campaigns/settings", data={
        "csrf_token": token, "sending_window_opens": "10:00", "sending_window_closes": "19:30",
        "weekly_marketing_cap": "3", "price_per_part": "0.83", "test_phone": "4155550199",
    })
    assert response.status_code == 302
    session.refresh(merchant)
    assert (merchant.sending_window_opens.hour, merchant.sending_window_closes.minute) == (10, 30)
    assert (merchant.weekly_marketing_cap, merchant.price_per_part_millis, merchant.test_phone) == (3, 830, "+14155550199")

    refused = owner.post("/campaigns/settings", data={
        "csrf_token": token, "sending_window_opens": "21:00", "sending_window_closes": "08:00", "weekly_marketing_cap": "2",
    })
    assert "must open before it closes" in refused.text
    session.refresh(merchant)
    assert merchant.sending_window_opens.hour == 10


def test_the_cost_estimate_uses_the_price_per_part(owner, session, merchant, members):
    merchant_row = session.get(Merchant, merchant.id)
    merchant_row.price_per_part_millis = 1000  # one cent a part
    session.commit()
    data = owner.get("/campaigns/preview.json", query_string={"name": "x", "text_en": "a" * 200}).get_json()
    # Ann and Bo get the English text (200 + 23 characters: 2 parts), 小明 too (no Chinese text): 3 × 2 cents
    assert data["cost_minor"] == 6.0
    assert "Estimated cost: ≈ <strong>0.06</strong>" in data["html"]


def test_the_list_shows_a_campaign_with_nothing_left_to_send_as_sent(owner, session, merchant, members):
    finished, sending = draft(session, merchant), draft(session, merchant)
    for campaign in (finished, sending):
        broadcast.start_campaign(session, merchant, campaign, now=utcnow())
    session.execute(
        OutboundMessage.__table__.update().where(OutboundMessage.campaign_id == finished.id).values(status=Status.DELIVERED)
    )
    session.commit()
    badges = re.findall(r'href="/campaigns/(\d+)" class="campaign-name">Spring</a>\s*<span class="badge badge-(\w+)">',
                        owner.get("/campaigns").text)
    assert sorted(badges) == sorted([(str(finished.id), "sent"), (str(sending.id), "sending")])


def test_the_report_and_home_keep_the_return_rates_of_a_window_that_has_closed(owner, session, merchant, members):
    reported, on_home, still_open = (draft(session, merchant) for _ in range(3))
    for campaign, days_ago in ((reported, 16), (on_home, 15), (still_open, 1)):  # return windows of 14 days
        broadcast.start_campaign(session, merchant, campaign, now=utcnow() - timedelta(days=days_ago))
    session.commit()

    assert owner.get(f"/campaigns/{reported.id}").status_code == 200
    session.expire_all()
    assert (reported.recipient_members, reported.recipients_returned, on_home.recipients_returned) == (3, 0, None)
    assert owner.get("/").status_code == 200
    session.expire_all()
    assert (on_home.recipient_members, on_home.recipients_returned, still_open.recipients_returned) == (3, 0, None)
