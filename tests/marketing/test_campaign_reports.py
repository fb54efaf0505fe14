"""A campaign's progress and report: statuses, skips, failures, opt-outs within 48 h, return rate and lift."""
from __future__ import annotations

import math
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from smscrm import broadcast, points
from smscrm.broadcast import CampaignDraft
from smscrm.marketing import previews, reports, segments
from smscrm.marketing.reports import ReturnRate
from smscrm.messaging import courtesy
from smscrm.messaging.consent import record_consent
from smscrm.models import (
    CampaignHoldout,
    ConsentAction,
    ConsentChannel,
    Member,
    OutboundMessage,
    Status,
)
from tests.campaign_members import add_many, add_member


def started_campaign(session, merchant, now, *, holdout_pct=0, return_window_days=14):
    segment = segments.save_segment(session, merchant, name="All", rules={}, now=now, is_saved=False)
    draft = CampaignDraft(name="Spring", text_en="Hi {name}", holdout_pct=holdout_pct, return_window_days=return_window_days)
    campaign = broadcast.save_draft(session, merchant, draft, segment=segment, now=now)
    broadcast.start_campaign(session, merchant, campaign, now=now)
    session.commit()
    return campaign


def set_status(session, campaign, phones_and_values: dict[str, dict]):
    for phone, values in phones_and_values.items():
        session.execute(
            update(OutboundMessage)
            .where(OutboundMessage.campaign_id == campaign.id, OutboundMessage.to_phone == phone)
            .values(**values)
        )
    session.commit()


def test_progress_counts_texts_by_status_until_nothing_is_left(session, merchant, now):
    add_many(session, merchant, 4, now=now, phone_prefix="+1415555")
    campaign = started_campaign(session, merchant, now)

    before = reports.progress(session, campaign)
    assert (before.queued, before.pending, before.percent_done, before.is_finished) == (4, 4, 0, False)

    set_status(session, campaign, {
        "+14155550000": {"status": Status.DELIVERED, "sent_at": now},
        "+14155550001": {"status": Status.SENT, "sent_at": now},
        "+14155550002": {"status": Status.SENDING},
    })
    during = reports.progress(session, campaign)
    assert during.by_status == {"delivered": 1, "sent": 1, "sending": 1, "queued": 1}
    assert (during.done, during.percent_done, during.is_finished) == (2, 50, False)
    assert during.as_json()["sent"] == 2 and during.as_json()["delivered"] == 1

    set_status(session, campaign, {
        "+14155550002": {"status": Status.FAILED, "error_code": 30006, "error_message": "Landline or unreachable carrier"},
        "+14155550003": {"status": Status.SUPPRESSED},
    })
    after = reports.progress(session, campaign)
    assert (after.percent_done, after.is_finished) == (100, True)


def test_a_paused_campaign_is_not_finished(session, merchant, now):
    add_many(session, merchant, 2, now=now)
    campaign = started_campaign(session, merchant, now)
    broadcast.pause_campaign(session, campaign, now=now)
    session.commit()
    paused = reports.progress(session, campaign)
    assert paused.by_status == {"held": 2} and paused.pending == 2 and not paused.is_finished


def test_report_lists_skips_and_failures_by_error_code(session, merchant, now):
    add_many(session, merchant, 6, now=now, phone_prefix="+1415555")
    add_member(session, merchant, now=now, phone="+14155559001", is_opted_out=True)
    add_member(session, merchant, now=now, phone="+14155559002", joined_at=None)
    campaign = started_campaign(session, merchant, now)
    set_status(session, campaign, {
        "+14155550000": {"status": Status.FAILED, "error_code": 21211, "error_message": "Invalid 'To' Phone Number"},
        "+14155550001": {"status": Status.FAILED, "error_code": 30006, "error_message": "Landline or unreachable carrier"},
        "+14155550002": {"status": Status.UNDELIVERED, "error_code": 30006, "error_message": "Landline or unreachable carrier",
                         "sent_at": now},
        "+14155550003": {"status": Status.SUPPRESSED},
        "+14155550004": {"status": Status.DELIVERED, "sent_at": now, "deferrals": 1},
        "+14155550005": {"status": Status.SKIPPED, "skip_reason": courtesy.FREQUENCY_CAP},
    })

    result = reports.report(session, campaign, now=now)

    assert [(f.error_code, f.message, f.count) for f in result.failures] == [
        (30006, "Landline or unreachable carrier", 2), (21211, "Invalid 'To' Phone Number", 1),
    ]
    reach = result.reach
    assert (reach.targeted, reach.not_joined, reach.opted_out, reach.duplicates, reach.queued) == (8, 1, 1, 0, 6)
    assert reach.skipped == {"weekly cap reached": 1}
    assert (reach.sent, reach.delivered, reach.undelivered, reach.failed, reach.opted_out_at_send) == (2, 1, 1, 2, 1)
    assert reach.deferred == 1
    assert (result.progress.as_json()["failed"], result.progress.as_json()["undelivered"]) == (2, 1)


def test_the_report_adds_up_and_agrees_with_the_preview(session, merchant, now):
    """Every member the audience matched is in exactly one line of the report, and the lines counted at the
    start are the preview's: not joined (a REFER, a purchase before joining), opted out (joined or not), held
    out, recipients. An undelivered text is sent, not failed."""
    add_many(session, merchant, 10, now=now, phone_prefix="+1415555")
    add_member(session, merchant, now=now, phone="+14155559001", is_opted_out=True)
    add_member(session, merchant, now=now, phone="+14155559002", joined_at=None)
    add_member(session, merchant, now=now, phone="+14155559003", joined_at=None, is_opted_out=True)
    segment = segments.save_segment(session, merchant, name="All", rules={}, now=now, is_saved=False)
    draft = CampaignDraft(name="Spring", text_en="Hi {name}", holdout_pct=20)
    campaign = broadcast.save_draft(session, merchant, draft, segment=segment, now=now)
    shown = previews.preview(session, merchant, condition=broadcast.audience(session, merchant, campaign, now=now),
                             text_en="Hi {name}", text_zh=None, holdout_pct=20)
    broadcast.start_campaign(session, merchant, campaign, now=now)
    session.commit()
    rows = session.scalars(select(OutboundMessage.id).where(OutboundMessage.campaign_id == campaign.id)
                           .order_by(OutboundMessage.id)).all()
    outcomes = [
        {"status": Status.DELIVERED, "sent_at": now, "deferrals": 1}, {"status": Status.SENT, "sent_at": now},
        {"status": Status.UNDELIVERED, "sent_at": now, "error_code": 30006},
        {"status": Status.FAILED, "error_code": 21211}, {"status": Status.SUPPRESSED},
        {"status": Status.SKIPPED, "skip_reason": courtesy.FREQUENCY_CAP}, {"status": Status.CANCELLED},
    ]
    for message_id, values in zip(rows, outcomes):
        session.execute(update(OutboundMessage).where(OutboundMessage.id == message_id).values(**values))
    session.commit()

    reach = reports.report(session, campaign, now=now).reach
    assert (shown.audience.matching, shown.audience.invited, shown.audience.opted_out, shown.holdout,
            shown.recipients) == (reach.targeted, reach.not_joined, reach.opted_out, reach.held_out, reach.queued)
    assert (reach.targeted, reach.not_joined, reach.opted_out, reach.held_out, reach.queued) == (13, 1, 2, 2, 8)
    assert reach.targeted == reach.not_joined + reach.opted_out + reach.held_out + reach.duplicates + reach.queued
    assert reach.queued == (reach.sent + reach.failed + sum(reach.skipped.values()) + reach.opted_out_at_send
                            + reach.cancelled + reach.waiting)
    assert (reach.sent, reach.delivered, reach.undelivered, reach.failed, reach.skipped, reach.opted_out_at_send,
            reach.cancelled, reach.waiting, reach.deferred) == (3, 1, 1, 1, {"weekly cap reached": 1}, 1, 1, 1, 1)


def test_opt_outs_within_48_hours_of_the_text(session, merchant, now):
    phones = [f"+1415555{index:04d}" for index in range(5)]
    add_many(session, merchant, 5, now=now, phone_prefix="+1415555")
    campaign = started_campaign(session, merchant, now)
    set_status(session, campaign, {phone: {"status": Status.DELIVERED, "sent_at": now} for phone in phones})
    # 0: 47 h after (counts), 1: 49 h after (too late), 2: an hour before the text (not caused by it),
    # 3: opted out twice within 48 h (one member), 4: stays.
    for phone, hours in ((phones[0], 47), (phones[1], 49), (phones[2], -1), (phones[3], 1), (phones[3], 30)):
        record_consent(session, merchant_id=merchant.id, phone=phone, action=ConsentAction.OPT_OUT, keyword="STOP",
                       channel=ConsentChannel.SMS, now=now + timedelta(hours=hours))
    session.commit()

    assert reports.report(session, campaign, now=now + timedelta(days=3)).opt_outs_48h == 2


def test_return_rate_of_recipients_against_the_holdout_with_lift(session, merchant, now):
    add_many(session, merchant, 40, now=now)
    campaign = started_campaign(session, merchant, now, holdout_pct=50, return_window_days=7)
    held = list(session.scalars(select(CampaignHoldout.member_id).where(CampaignHoldout.campaign_id == campaign.id)))
    sent = list(session.scalars(select(OutboundMessage.member_id).where(OutboundMessage.campaign_id == campaign.id)))
    assert len(held) == len(sent) == 20

    def buy(member_id, after):
        points.record_purchase(session, merchant, phone=session.get(Member, member_id).phone, amount_minor=1500,
                               now=now + after)

    for member_id in sent[:12]:
        buy(member_id, timedelta(days=2))
    buy(sent[0], timedelta(days=3))  # a second purchase: still one member who returned
    for member_id in held[:6]:
        buy(member_id, timedelta(days=6, hours=23))
    buy(held[10], timedelta(days=7))  # the window has closed
    buy(held[11], -timedelta(hours=1))  # before the campaign
    session.commit()

    result = reports.report(session, campaign, now=now + timedelta(days=8))

    assert (result.recipients.members, result.recipients.returned) == (20, 12)
    assert (result.holdout.members, result.holdout.returned) == (20, 6)
    margin = 1.959964 * math.sqrt(0.6 * 0.4 / 20 + 0.3 * 0.7 / 20)
    assert result.lift.difference == pytest.approx(0.3)
    assert (result.lift.low, result.lift.high) == (pytest.approx(0.3 - margin), pytest.approx(0.3 + margin))
    assert result.lift.is_significant  # 0.3 ± 0.294
    assert not result.is_window_open and result.window_ends_at == now + timedelta(days=7)
    assert reports.report(session, campaign, now=now + timedelta(days=1)).is_window_open


def test_lift_needs_both_groups_and_enough_outcomes_for_an_interval():
    assert reports.lift(ReturnRate(100, 30), ReturnRate(0, 0)) is None
    small = reports.lift(ReturnRate(100, 30), ReturnRate(10, 2))
    assert small.difference == pytest.approx(0.1) and small.low is None and not small.is_significant
    wide = reports.lift(ReturnRate(100, 30), ReturnRate(100, 20))
    assert wide.low == pytest.approx(0.1 - 0.11922, abs=1e-4) and not wide.is_significant


def test_a_draft_has_an_empty_report(session, merchant, now):
    segment = segments.save_segment(session, merchant, name="All", rules={}, now=now, is_saved=False)
    campaign = broadcast.save_draft(session, merchant, CampaignDraft(name="Later", text_en="Hi"), segment=segment, now=now)
    result = reports.report(session, campaign, now=now)
    assert result.progress.queued == 0 and result.recipients == ReturnRate(0, 0) and result.lift is None
    assert not result.is_window_open


def test_the_return_rates_are_kept_once_the_window_has_closed_and_then_read_from_the_campaign(session, merchant, now):
    add_many(session, merchant, 40, now=now)
    campaign = started_campaign(session, merchant, now, holdout_pct=50, return_window_days=7)
    held = list(session.scalars(select(CampaignHoldout.member_id).where(CampaignHoldout.campaign_id == campaign.id)))
    sent = list(session.scalars(select(OutboundMessage.member_id).where(OutboundMessage.campaign_id == campaign.id)))

    def buy(member_id, after):
        points.record_purchase(session, merchant, phone=session.get(Member, member_id).phone, amount_minor=1500,
                               now=now + after)

    for member_id in sent[:9]:
        buy(member_id, timedelta(days=1))
    for member_id in held[:4]:
        buy(member_id, timedelta(days=5))
    session.commit()
    closes = now + timedelta(days=7)
    for at in (now + timedelta(days=2), closes, closes + reports.SETTLED - timedelta(seconds=1)):
        counted = reports.outcome(session, campaign, now=at)  # the window is open, or closed under an hour ago
        assert (counted.recipients, counted.holdout) == (ReturnRate(20, 9), ReturnRate(20, 4))
        assert campaign.recipients_returned is None

    settled = reports.outcome(session, campaign, now=closes + reports.SETTLED)
    session.commit()
    session.expire_all()

    assert (campaign.recipient_members, campaign.recipients_returned, campaign.holdout_members,
            campaign.holdout_returned) == (20, 9, 20, 4)
    assert settled == counted  # the same as counted before it was kept, lift and all
    assert reports.outcome(session, campaign, now=closes) == settled  # now read from the campaign
    buy(sent[15], timedelta(days=3))  # in the window by the test's clock: a purchase the kept figures do not see
    session.commit()
    assert reports.report(session, campaign, now=closes + timedelta(days=30)).recipients == ReturnRate(20, 9)
