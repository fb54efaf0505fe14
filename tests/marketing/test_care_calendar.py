"""The calendar of upcoming texts is a dry run: it writes nothing, and what it foresees for each day is what
the scheduler's care evaluation then queues on that day (and a scheduled campaign what its start queues)."""
from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from smscrm import broadcast, care, points
from smscrm.db.types import Base
from smscrm.marketing import care_calendar, care_rules, segments
from smscrm.models import CareKind, CareRule, Category, Member, OutboundMessage, Status
from tests.campaign_members import add_many, add_member

LA = ZoneInfo("America/Los_Angeles")
DAYS = care_calendar.DAYS_AHEAD


def turn_on(session, merchant, kind: CareKind, *, now: datetime, holiday: str = "", **settings):
    care_rules.save_rule(session, merchant, kind, now=now, holiday=holiday, is_enabled=True, **settings)
    session.commit()


def row_counts(session) -> dict[str, int]:
    return {table.name: session.scalar(select(func.count()).select_from(table)) for table in Base.metadata.sorted_tables}


def foreseen(upcoming) -> Counter:
    return Counter({(item.day, item.rule.kind): item.members for item in upcoming if item.rule is not None})


@pytest.fixture
def care_merchant(session, merchant, now):
    """Every day-based kind turned on, and members due on various days of the next month (`now` is 08:00 in
    Los Angeles on Tue Mar 10, 2026)."""
    points.update_settings(merchant, points_expiry_months=12)
    turn_on(session, merchant, CareKind.BIRTHDAY, now=now, send_hour=10)
    turn_on(session, merchant, CareKind.ANNIVERSARY, now=now, send_hour=12)
    turn_on(session, merchant, CareKind.HOLIDAY, now=now, holiday="Saint Patrick's Day", send_hour=9)
    turn_on(session, merchant, CareKind.HOLIDAY, now=now, holiday="Easter Sunday", send_hour=9)
    turn_on(session, merchant, CareKind.WIN_BACK, now=now, days=10, send_hour=11)
    turn_on(session, merchant, CareKind.POINTS_EXPIRING, now=now, days=14, send_hour=11)
    for month, day in ((3, 10), (3, 13), (3, 13), (3, 30), (4, 9)):  # Apr 9 is past the calendar's 30 days
        add_member(session, merchant, now=now, birthday_month=month, birthday_day=day)
    add_member(session, merchant, now=now, birthday_month=3, birthday_day=13, is_opted_out=True)
    add_member(session, merchant, now=now, birthday_month=3, birthday_day=13, joined_at=None)
    for joined in (datetime(2025, 3, 12, 18, tzinfo=LA), datetime(2024, 3, 20, 9, tzinfo=LA)):
        add_member(session, merchant, now=now, joined_at=joined, created_at=joined)
    due = datetime(2026, 3, 10, 11, tzinfo=LA)
    for gap in (10.0, 20.0):  # at risk now, and from 5 days on; each again every 10 days
        add_member(session, merchant, now=now, visit_count=4, last_visit_at=due - timedelta(days=35),
                   typical_visit_gap_days=gap)
    add_many(session, merchant, 3, now=now, visit_count=2, last_visit_at=due - timedelta(days=12),
             typical_visit_gap_days=2.0)
    session.commit()
    for phone, days_ago in (("+14155550150", 360), ("+14155550151", 345), ("+14155550152", 320)):
        add_member(session, merchant, now=now, phone=phone)
        points.record_purchase(session, merchant, phone=phone, amount_minor=3000, now=due - timedelta(days=days_ago))
        points.record_purchase(session, merchant, phone=phone, amount_minor=500, now=now)  # visited: not at risk
    session.commit()
    return merchant


def test_the_calendar_writes_nothing(session, care_merchant, now):
    before = row_counts(session)

    upcoming = care_calendar.calendar(session, care_merchant, now=now)

    assert sum(item.members for item in upcoming) > 10
    assert not session.new and not session.dirty
    session.commit()
    assert row_counts(session) == before
    assert all(rule.evaluated_through is None for rule in care_rules.rules(session, care_merchant.id).values())


def test_each_day_the_evaluation_queues_what_the_calendar_foresaw(session, care_merchant, now):
    upcoming = care_calendar.calendar(session, care_merchant, now=now)
    expected = foreseen(upcoming)
    assert expected[(date(2026, 3, 13), CareKind.BIRTHDAY)] == 2  # not the opted-out member, nor the one not joined
    assert (date(2026, 4, 9), CareKind.BIRTHDAY) not in expected
    assert expected[(date(2026, 3, 17), CareKind.HOLIDAY)] == expected[(date(2026, 4, 5), CareKind.HOLIDAY)] > 10
    assert {day: count for (day, kind), count in expected.items() if kind == CareKind.WIN_BACK} == {
        date(2026, 3, 10): 4, date(2026, 3, 20): 4, date(2026, 3, 30): 4,  # at risk now: every 10 days
        date(2026, 3, 16): 1, date(2026, 3, 26): 1, date(2026, 4, 5): 1,  # at risk from the 16th (2 × 20 days)
    }
    assert {day for day, kind in expected if kind == CareKind.POINTS_EXPIRING}

    queued = Counter()
    for moment in sorted({item.send_at for item in upcoming}):  # the scheduler, moved on to each due moment
        for kind, count in care.evaluate(session, now=moment).items():
            queued[(moment.astimezone(LA).date(), kind)] += count
        session.commit()
    assert queued == expected


def test_a_member_sees_the_texts_coming_to_them(session, care_merchant, now):
    birthday = care_rules.rule_for(session, care_merchant, CareKind.BIRTHDAY, now=now)
    [member] = session.scalars(care_calendar.due_on(session, care_merchant, birthday, date(2026, 3, 30))).all()

    upcoming = care_calendar.calendar(session, care_merchant, now=now, member_id=member.id)

    assert [(item.day, item.rule.kind, item.members) for item in upcoming] == [
        (date(2026, 3, 17), CareKind.HOLIDAY, 1), (date(2026, 3, 30), CareKind.BIRTHDAY, 1),
        (date(2026, 4, 5), CareKind.HOLIDAY, 1),
    ]


def per_rule(upcoming) -> Counter:
    return Counter({(item.day, item.send_at, item.rule.id): item.members for item in upcoming})


def test_each_members_next_texts_add_up_to_the_calendar(session, care_merchant, now):
    """Every member's next texts are the calendar's entries for that member: over the 30 days, each (day, rule)
    of the calendar is the sum of the members' (win-back's first day found by halving the days included)."""
    members = session.scalars(select(Member.id).where(Member.merchant_id == care_merchant.id)).all()

    added = Counter()
    for member_id in members:
        mine = care_calendar.calendar(session, care_merchant, now=now, member_id=member_id)
        assert all(item.members == 1 for item in mine)
        added.update(per_rule(mine))

    everyone = per_rule(care_calendar.calendar(session, care_merchant, now=now))
    assert added == everyone
    assert {kind for (_day, _at, rule_id), _count in everyone.items()
            for kind in [session.get(CareRule, rule_id).kind]} == set(care.DAY_BASED)


def test_a_member_is_foreseen_what_is_left_of_an_occurrence_the_scheduler_has_begun(session, care_merchant, now):
    win_back = care_rules.rule_for(session, care_merchant, CareKind.WIN_BACK, now=now)
    eleven = datetime(2026, 3, 10, 11, tzinfo=LA)
    due = session.scalars(care_calendar.due_on(session, care_merchant, win_back, eleven.date())
                          .with_only_columns(Member.id).order_by(Member.id)).all()
    care.evaluate(session, now=eleven, budget=2)  # a touch and a text: the first member only
    session.commit()
    assert (win_back.evaluated_through, win_back.resume_after) == (eleven, due[0])

    later = eleven + timedelta(minutes=5)
    everyone = per_rule(care_calendar.calendar(session, care_merchant, now=later))
    added = Counter()
    for member_id in session.scalars(select(Member.id).where(Member.merchant_id == care_merchant.id)):
        added.update(per_rule(care_calendar.calendar(session, care_merchant, now=later, member_id=member_id)))
    assert {key: count for key, count in everyone.items() if key[2] == win_back.id} == {
        key: count for key, count in added.items() if key[2] == win_back.id}
    assert everyone[(eleven.date(), later, win_back.id)] == len(due) - 1


def test_an_occurrence_the_scheduler_has_done_is_not_foreseen_again(session, care_merchant, now):
    ten = datetime(2026, 3, 10, 10, tzinfo=LA)
    care.evaluate(session, now=ten)
    session.commit()

    after = care_calendar.calendar(session, care_merchant, now=ten + timedelta(minutes=5))

    assert (date(2026, 3, 10), CareKind.BIRTHDAY) not in foreseen(after)
    assert foreseen(after)[(date(2026, 3, 13), CareKind.BIRTHDAY)] == 2


def test_a_scheduled_campaign_counts_its_reachable_audience_less_holdout_and_cap(session, merchant, now):
    add_many(session, merchant, 40, now=now)
    capped = add_member(session, merchant, now=now, phone="+14155550199")
    add_member(session, merchant, now=now, phone="+14155550198", is_opted_out=True)
    merchant.weekly_marketing_cap = 1
    session.add(OutboundMessage(
        merchant_id=merchant.id, member_id=capped.id, to_phone=capped.phone, from_phone=merchant.primary_number,
        body="Spring sale", parts=1, category=Category.MARKETING, purpose=broadcast.PURPOSE, status=Status.SENT,
        attempts=1, created_at=now - timedelta(days=2), sent_at=now - timedelta(days=2), send_after=now,
    ))
    segment = segments.save_segment(session, merchant, name="Everyone", rules={}, now=now)
    campaign = broadcast.save_draft(session, merchant, broadcast.CampaignDraft(name="Tea week", text_en="New teas!",
                                    holdout_pct=10), segment=segment, now=now)
    at = now + timedelta(days=3)
    broadcast.schedule_campaign(session, campaign, at=at, now=now)
    session.commit()

    [item] = care_calendar.calendar(session, merchant, now=now)
    opens = datetime(2026, 3, 13, 9, tzinfo=LA)  # scheduled at 08:00 there: the texts go when the window opens
    assert (item.campaign, item.day, item.send_at, item.at_cap) == (campaign, date(2026, 3, 13), opens, 1)
    assert item.members == 41 - 4 - 1

    fanned_out = broadcast.start_campaign(session, merchant, campaign, now=at)
    assert fanned_out.queued - item.at_cap == item.members  # the worker skips the capped member at send time
