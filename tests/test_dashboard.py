"""The dashboard's figures (smscrm.dashboard), each for one merchant only, at a chosen `now`.

`now` is Tuesday 2026-03-10 15:00 UTC: 08:00 on Tuesday March 10 in Los Angeles, the merchant's timezone."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import insert, update

from smscrm import broadcast, dashboard
from smscrm.broadcast import CampaignDraft
from smscrm.loyalty import members, purchases
from smscrm.marketing import segments
from smscrm.messaging import consent, outbox
from smscrm.models import (
    Category,
    ConsentAction,
    ConsentChannel,
    InboxItem,
    Member,
    Stage,
    Status,
    VisitSurvey,
)
from smscrm.sending import parts
from tests.web.conftest import add_members, other_merchant  # noqa: F401  (a fixture)


def join(session, merchant, phone: str, *, at: datetime) -> Member:
    return members.join(session, merchant, phone, name="", language="en", now=at)


def buy(session, merchant, phone: str, *, at: datetime, amount_minor: int = 1000):
    return purchases.record_purchase(session, merchant, phone=phone, amount_minor=amount_minor, now=at)


def test_members_over_time_count_joins_and_opt_outs_per_local_week(session, merchant, other_merchant, now):  # noqa: F811
    # Monday March 9, 00:30 in Los Angeles is 07:30 UTC; Sunday March 8, 23:30 there is 06:30 UTC on the 9th
    join(session, merchant, "+14155550101", at=datetime(2026, 3, 9, 7, 30, tzinfo=timezone.utc))
    join(session, merchant, "+14155550102", at=datetime(2026, 3, 9, 6, 30, tzinfo=timezone.utc))
    join(session, merchant, "+14155550103", at=now - timedelta(weeks=60))  # before the 52 weeks
    join(session, other_merchant, "+14155550104", at=now)
    consent.record_consent(session, merchant_id=merchant.id, phone="+14155550101", action=ConsentAction.OPT_OUT,
                           keyword="STOP", channel=ConsentChannel.SMS, now=now)
    consent.record_consent(session, merchant_id=merchant.id, phone="+14155550102", action=ConsentAction.OPT_IN,
                           keyword="START", channel=ConsentChannel.SMS, now=now)

    weeks = dashboard.membership_weeks(session, merchant, now=now)

    assert len(weeks) == 52
    assert weeks[-1] == dashboard.Week(date(2026, 3, 9), joined=1, opted_out=1)
    assert weeks[-2] == dashboard.Week(date(2026, 3, 2), joined=1, opted_out=0)
    assert weeks[0].starts_on == date(2025, 3, 17)
    assert sum(week.joined for week in weeks) == 2


def test_returning_members_came_back_within_30_and_90_days_of_a_first_visit_90_days_before(session, merchant, now):
    visits = {
        "+14155550201": [100, 80],  # back after 20 days: within 30 and 90
        "+14155550202": [100, 40],  # after 60 days: within 90 only
        "+14155550203": [100],  # never back
        "+14155550204": [50, 10],  # after 40 days; first visit too recent to judge 90 days
        "+14155550205": [20, 10],  # first visit too recent for either
        "+14155550207": [150, 140],  # after 10 days; first visit too old for the 30 days' cohort (30-120 days ago)
        "+14155550206": [400, 390],  # first visit too old for both
    }
    for phone, days_ago in visits.items():
        join(session, merchant, phone, at=now - timedelta(days=500))
        for days in days_ago:
            buy(session, merchant, phone, at=now - timedelta(days=days))

    assert dashboard.returning(session, merchant, now=now) == [
        dashboard.Returning(30, members=4, returned=1),
        dashboard.Returning(90, members=4, returned=3),
    ]


def test_value_classes_and_the_ladder_as_a_funnel(session, merchant, other_merchant, now):  # noqa: F811
    add_members(session, merchant, 6, first_joined=now)
    add_members(session, other_merchant, 3, first_joined=now)
    rows = [  # stage, class, spend
        (Stage.PENDING, None, 0), (Stage.JOINED, "C", 0), (Stage.FIRST_PURCHASE, "B", 2000),
        (Stage.REPEAT, "A", 6000), (Stage.REPEAT, "A", 1000), (Stage.ADVOCATE, "B", 1000),
    ]
    ids = sorted(member.id for member in session.query(Member).filter_by(merchant_id=merchant.id))
    for member_id, (stage, value_class, spend) in zip(ids, rows):
        session.execute(update(Member).where(Member.id == member_id).values(
            stage=stage, value_class=value_class, total_spend_minor=spend,
            joined_at=None if stage == Stage.PENDING else now,
        ))

    counted = dashboard.memberships(session, merchant)
    classes = {share.value_class: share for share in dashboard.value_classes(counted)}
    assert (classes["A"].members, classes["A"].spend_minor, classes["A"].spend_share) == (2, 7000, 0.7)
    assert (classes["B"].members, classes["B"].member_share) == (2, 0.4)
    assert (classes["C"].members, classes["C"].spend_share) == (1, 0.0)

    ladder = dashboard.ladder(counted)
    assert [(rung.stage, rung.members) for rung in ladder] == [
        (Stage.PENDING, 6), (Stage.JOINED, 5), (Stage.FIRST_PURCHASE, 4), (Stage.REPEAT, 3), (Stage.ADVOCATE, 1),
    ]
    assert ladder[-1].share == pytest.approx(1 / 6)


def test_ratings_by_local_month_with_the_share_of_ones_and_twos(session, merchant, now):
    join(session, merchant, "+14155550301", at=now - timedelta(days=400))
    rated = [  # rated at, rating
        (datetime(2026, 3, 1, 7, 0, tzinfo=timezone.utc), 5),  # 23:00 on Feb 28 in Los Angeles
        (datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc), 2),
        (datetime(2026, 3, 3, 9, 0, tzinfo=timezone.utc), 4),
        (datetime(2026, 3, 4, 9, 0, tzinfo=timezone.utc), None),  # asked, never answered
        (datetime(2025, 1, 4, 9, 0, tzinfo=timezone.utc), 1),  # over 12 months ago
    ]
    for index, (at, rating) in enumerate(rated):
        purchase = buy(session, merchant, "+14155550301", at=at - timedelta(hours=3))
        session.add(VisitSurvey(merchant_id=merchant.id, member_id=purchase.member_id, purchase_id=purchase.purchase_id,
                                asked_at=at - timedelta(hours=1), rating=rating, rated_at=at if rating else None))
    session.flush()

    months = dashboard.ratings_by_month(session, merchant, now=now)

    assert [month.month for month in months[-2:]] == [date(2026, 2, 1), date(2026, 3, 1)]
    assert months[0].month == date(2025, 4, 1)
    assert months[-1] == dashboard.MonthRatings(date(2026, 3, 1), ratings=2, average=3.0, low_share=0.5)
    assert months[-2] == dashboard.MonthRatings(date(2026, 2, 1), ratings=1, average=5.0, low_share=0.0)
    assert sum(month.ratings for month in months) == 3


@pytest.mark.parametrize("minutes, median", [([10, 20, 40], 20), ([10, 20, 40, 80], 30), ([], None)])
def test_the_inbox_median_time_to_first_response(session, merchant, now, minutes, median):
    opened = now - timedelta(days=2)
    for index, waited in enumerate(minutes):
        session.add(InboxItem(merchant_id=merchant.id, phone=f"+1415555040{index}", kind="question", opened_at=opened,
                              last_message_at=opened, first_response_at=opened + timedelta(minutes=waited)))
    session.add(InboxItem(merchant_id=merchant.id, phone="+14155550490", kind="question", opened_at=opened,
                          last_message_at=opened))  # not answered yet
    session.add(InboxItem(merchant_id=merchant.id, phone="+14155550491", kind="question",
                          opened_at=now - timedelta(days=40), last_message_at=now,
                          first_response_at=now - timedelta(days=35)))  # opened over 30 days ago
    session.flush()

    found, answered = dashboard.median_first_response(session, merchant, now=now)

    assert answered == len(minutes)
    if median is None:
        assert found is None
    else:
        assert found.total_seconds() == pytest.approx(median * 60, abs=1)


def test_texts_this_month_by_kind_with_parts_and_cost(session, merchant, now):
    merchant.price_per_part_millis = 7500  # 7.5 cents a part
    long_text = "a" * 200  # two parts
    chinese = "【绿叶茶馆】感谢光临！" * 8  # 88 UCS-2 characters: two parts
    queued = [  # body, category, status, created
        ("Hi", Category.REPLY, Status.REPLIED, now),
        (long_text, Category.TRANSACTIONAL, Status.DELIVERED, now),
        (chinese, Category.CARE, Status.QUEUED, now),
        ("Sale!", Category.MARKETING, Status.SENT, now),
        ("Sale!", Category.MARKETING, Status.SUPPRESSED, now),  # never sent
        ("Sale!", Category.MARKETING, Status.SKIPPED, now),
        ("Old", Category.REPLY, Status.REPLIED, datetime(2026, 3, 1, 7, 0, tzinfo=timezone.utc)),  # Feb 28 there
    ]
    for index, (body, category, status, at) in enumerate(queued):
        row = outbox.queue_text(session, merchant, to_phone=f"+1415555050{index}", body=body, category=category,
                                purpose="test", now=at)
        session.execute(update(outbox.OutboundMessage).where(outbox.OutboundMessage.id == row).values(status=status))

    kinds = {kind.category: kind for kind in dashboard.texts_this_month(session, merchant, now=now)}

    assert [(kinds[c].texts, kinds[c].parts) for c in dashboard.KINDS] == [(1, 1), (1, 2), (1, 2), (1, 1)]
    assert parts.count(chinese).parts == 2
    assert kinds[Category.TRANSACTIONAL].cost_minor == 15.0
    merchant.price_per_part_millis = 0
    assert all(kind.cost_minor is None for kind in dashboard.texts_this_month(session, merchant, now=now))


def test_the_last_three_campaigns_that_started_newest_first_with_their_lift(session, merchant, now):
    add_members(session, merchant, 40, first_joined=now - timedelta(days=30))
    everyone = segments.save_segment(session, merchant, name="All", rules={}, now=now, is_saved=False)
    started = []
    for days_ago in (40, 30, 20, 10):
        campaign = broadcast.save_draft(session, merchant, CampaignDraft(name=f"{days_ago} days ago", text_en="Hi",
                                                                         holdout_pct=25), segment=everyone, now=now)
        session.flush()
        broadcast.send_now(session, merchant, campaign, now=now - timedelta(days=days_ago))
        started.append(campaign)
    broadcast.save_draft(session, merchant, CampaignDraft(name="draft", text_en="Hi"), segment=everyone, now=now)
    session.flush()

    shown = dashboard.last_campaigns(session, merchant, now=now)

    assert [lift.name for lift in shown] == ["10 days ago", "20 days ago", "30 days ago"]
    newest = shown[0].outcome
    assert newest.recipients.members + newest.holdout.members == 40
    assert newest.lift is not None and newest.is_window_open


def test_every_figure_of_a_merchant_with_nothing_yet(session, merchant, now):
    shown = dashboard.figures(session, merchant, now=now)

    assert shown.summary.members == 0
    assert {(week.joined, week.opted_out) for week in shown.weeks} == {(0, 0)}
    assert [window.share for window in shown.returning] == [None, None]
    assert [share.member_share for share in shown.value_classes] == [None, None, None]
    assert [rung.members for rung in shown.ladder] == [0] * 5
    assert {month.average for month in shown.ratings} == {None}
    assert (shown.median_first_response, shown.conversations_answered) == (None, 0)
    assert [kind.texts for kind in shown.texts] == [0, 0, 0, 0]
    assert shown.campaigns == []


def test_a_purchase_by_a_stranger_counts_them_invited_on_the_ladder(session, merchant, now):
    buy(session, merchant, "+14155550601", at=now)  # an unknown phone: a pending member, invited to join
    session.execute(insert(Member).values(merchant_id=merchant.id, phone="+14155550602", language="en",
                                          joined_at=now, created_at=now, is_opted_out=False, points_balance=0))
    assert [rung.members for rung in dashboard.ladder(dashboard.memberships(session, merchant))][:2] == [2, 1]
