"""Care rules, one kind at a time, driven with an explicit `now`: who gets which text, when, in which
language, once — and what is skipped after downtime."""
from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from smscrm import care, points
from smscrm.accounts.merchants import create_merchant
from smscrm.errors import ValidationError
from smscrm.loyalty import expiry
from smscrm.marketing import care_days, care_rules
from smscrm.models import (
    CareKind,
    CareTouch,
    Category,
    ClassMark,
    EntryKind,
    Member,
    OutboundMessage,
    PointsEntry,
    VisitSurvey,
)
from tests.campaign_members import add_many, add_member

LA = ZoneInfo("America/Los_Angeles")
SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(zone: ZoneInfo, *parts: int) -> datetime:
    """A local wall-clock time, as the UTC moment the domain takes."""
    return datetime(*parts, tzinfo=zone).astimezone(timezone.utc)


def turn_on(session, merchant, kind: CareKind, *, now: datetime, holiday: str = "", wording=None, **settings):
    rule = care_rules.save_rule(
        session, merchant, kind, now=now, holiday=holiday, is_enabled=True, wording=wording, **settings
    )
    session.commit()
    return rule


def evaluate(session, now: datetime) -> dict[str, int]:
    queued = care.evaluate(session, now=now)
    session.commit()
    return queued


def care_texts(session, kind: CareKind | None = None) -> list[OutboundMessage]:
    query = select(OutboundMessage).where(OutboundMessage.category == Category.CARE).order_by(OutboundMessage.id)
    if kind is not None:
        query = query.where(OutboundMessage.purpose == care.purpose_of(kind))
    return list(session.scalars(query))


@pytest.fixture
def shanghai_merchant(session, now):
    merchant = create_merchant(
        session, name="Moon Tea", number="+8613800138000", email="owner@moon.example", password="a good long password",
        now=now, timezone="Asia/Shanghai", country="CN", language="zh", signature="月茶",
    )
    session.commit()
    return merchant


class TestBirthday:
    def test_greets_on_the_day_at_the_hour_once(self, session, merchant, now):
        turn_on(session, merchant, CareKind.BIRTHDAY, now=now, send_hour=10)
        ann = add_member(session, merchant, now=now, name="Ann", birthday_month=4, birthday_day=2)
        add_member(session, merchant, now=now, birthday_month=4, birthday_day=3)
        session.commit()

        assert evaluate(session, at(LA, 2026, 4, 2, 9, 55)) == {}
        assert evaluate(session, at(LA, 2026, 4, 2, 10, 0)) == {"birthday": 1}
        for later in (at(LA, 2026, 4, 2, 10, 5), at(LA, 2026, 4, 2, 18, 0), at(LA, 2026, 4, 3, 9, 0)):
            assert evaluate(session, later) == {}

        [text] = care_texts(session, CareKind.BIRTHDAY)
        assert text.member_id == ann.id and text.to_phone == ann.phone
        assert text.body.startswith("Happy birthday, Ann! Everyone at Green Leaf Tea")
        assert text.body.endswith("Reply STOP to opt out.")
        assert text.send_after == at(LA, 2026, 4, 2, 10, 0)
        assert text.dedupe_key == f"care:birthday:{ann.id}:2026"

    def test_downtime_within_the_grace_is_caught_up_beyond_it_skipped(self, session, merchant, now):
        turn_on(session, merchant, CareKind.BIRTHDAY, now=now, send_hour=10)
        late = add_member(session, merchant, now=now, birthday_month=4, birthday_day=1)
        add_member(session, merchant, now=now, birthday_month=3, birthday_day=31)
        session.commit()

        # the scheduler was down from Mar 30 until Apr 1, 18:00 local: Apr 1 is 8 hours late, Mar 31 32 hours
        assert evaluate(session, at(LA, 2026, 4, 1, 18, 0)) == {"birthday": 1}
        assert [text.member_id for text in care_texts(session)] == [late.id]
        assert care_texts(session)[0].send_after == at(LA, 2026, 4, 1, 18, 0)

    def test_a_greeting_missed_in_the_evening_waits_for_the_sending_window(self, session, merchant, now):
        turn_on(session, merchant, CareKind.BIRTHDAY, now=now, send_hour=10)
        add_member(session, merchant, now=now, birthday_month=4, birthday_day=2)
        session.commit()

        assert evaluate(session, at(LA, 2026, 4, 2, 22, 0)) == {"birthday": 1}
        assert care_texts(session)[0].send_after == at(LA, 2026, 4, 3, 9, 0)

    def test_february_29_is_celebrated_on_february_28_in_other_years(self, session, merchant, now):
        turn_on(session, merchant, CareKind.BIRTHDAY, now=now, send_hour=10)
        leapling = add_member(session, merchant, now=now, birthday_month=2, birthday_day=29)
        session.commit()

        assert evaluate(session, at(LA, 2027, 2, 28, 10, 0)) == {"birthday": 1}
        assert evaluate(session, at(LA, 2027, 3, 1, 10, 0)) == {}
        assert evaluate(session, at(LA, 2028, 2, 28, 10, 0)) == {}  # 2028 has a 29th
        assert evaluate(session, at(LA, 2028, 2, 29, 10, 0)) == {"birthday": 1}
        assert {text.dedupe_key for text in care_texts(session)} == {
            f"care:birthday:{leapling.id}:2027", f"care:birthday:{leapling.id}:2028",
        }

    def test_only_joined_members_who_have_not_opted_out(self, session, merchant, now):
        turn_on(session, merchant, CareKind.BIRTHDAY, now=now, send_hour=10)
        add_member(session, merchant, now=now, birthday_month=4, birthday_day=2, is_opted_out=True)
        add_member(session, merchant, now=now, birthday_month=4, birthday_day=2, joined_at=None)
        add_member(session, merchant, now=now, birthday_month=4, birthday_day=2, joined_at=at(LA, 2026, 4, 2, 11))
        session.commit()

        assert evaluate(session, at(LA, 2026, 4, 2, 12, 0)) == {}

    def test_chinese_members_get_the_chinese_text_with_signature(self, session, shanghai_merchant, now):
        turn_on(session, shanghai_merchant, CareKind.BIRTHDAY, now=now, send_hour=10)
        add_member(session, shanghai_merchant, now=now, phone="+8613900139000", language="zh", name="王芳",
                   birthday_month=5, birthday_day=20)
        add_member(session, shanghai_merchant, now=now, phone="+8613900139001", language="zh",
                   birthday_month=5, birthday_day=20)
        session.commit()

        assert evaluate(session, at(SHANGHAI, 2026, 5, 20, 10, 0)) == {"birthday": 2}
        named, unnamed = care_texts(session)
        assert named.body == "【月茶】亲爱的王芳，Moon Tea全体员工祝您生日快乐！已为您赠送50积分。回复TD退订"
        assert unnamed.body.startswith("【月茶】亲爱的会员，")

    def test_the_birthday_bonus_is_granted_once_with_the_greeting(self, session, merchant, now):
        turn_on(session, merchant, CareKind.BIRTHDAY, now=now, send_hour=10, bonus_points=30)
        ann = add_member(session, merchant, now=now, birthday_month=4, birthday_day=2)
        session.commit()

        evaluate(session, at(LA, 2026, 4, 2, 10, 0))
        evaluate(session, at(LA, 2026, 4, 2, 11, 0))

        assert merchant.birthday_bonus == 30
        bonuses = session.scalars(select(PointsEntry).where(PointsEntry.member_id == ann.id)).all()
        assert [(entry.kind, entry.points) for entry in bonuses] == [(EntryKind.BONUS, 30)]
        session.refresh(ann)
        assert ann.points_balance == 30
        assert "30 bonus points are on your card." in care_texts(session)[0].body

    def test_without_a_bonus_the_text_does_not_promise_one(self, session, merchant, now):
        turn_on(session, merchant, CareKind.BIRTHDAY, now=now, send_hour=10, bonus_points=0)
        add_member(session, merchant, now=now, birthday_month=4, birthday_day=2)
        session.commit()

        evaluate(session, at(LA, 2026, 4, 2, 10, 0))

        assert "bonus" not in care_texts(session)[0].body
        assert session.scalar(select(func.count()).select_from(PointsEntry)) == 0

    def test_a_turned_off_rule_sends_nothing(self, session, merchant, now):
        care_rules.save_rule(session, merchant, CareKind.BIRTHDAY, now=now, is_enabled=False)
        add_member(session, merchant, now=now, birthday_month=4, birthday_day=2)
        session.commit()

        assert evaluate(session, at(LA, 2026, 4, 2, 10, 0)) == {}


class TestWelcome:
    def test_welcome_soon_after_joining_not_for_members_who_joined_long_ago(self, session, merchant, now):
        turn_on(session, merchant, CareKind.WELCOME, now=now, delay_hours=1)
        fresh = add_member(session, merchant, now=now, joined_at=now - timedelta(minutes=90))
        add_member(session, merchant, now=now, joined_at=now - timedelta(minutes=30))  # not yet
        add_member(session, merchant, now=now, joined_at=now - timedelta(days=3))  # before the grace
        session.commit()

        assert evaluate(session, now) == {"welcome": 1}
        assert evaluate(session, now + timedelta(minutes=5)) == {}
        assert care_texts(session)[0].member_id == fresh.id
        assert evaluate(session, now + timedelta(minutes=40)) == {"welcome": 1}

    def test_follow_up_only_to_members_who_have_not_visited(self, session, merchant, now):
        turn_on(session, merchant, CareKind.WELCOME_FOLLOW_UP, now=now, days=7)
        idle = add_member(session, merchant, now=now, joined_at=now - timedelta(days=7, hours=2))
        add_member(session, merchant, now=now, joined_at=now - timedelta(days=7, hours=2), visit_count=1,
                   last_visit_at=now - timedelta(days=2))
        add_member(session, merchant, now=now, joined_at=now - timedelta(days=6))
        session.commit()

        assert evaluate(session, now) == {"welcome_follow_up": 1}
        assert care_texts(session)[0].member_id == idle.id


class TestAnniversary:
    def test_every_year_on_the_local_day_of_joining(self, session, merchant, now):
        turn_on(session, merchant, CareKind.ANNIVERSARY, now=now, send_hour=10)
        # 23:30 in Los Angeles on Mar 11 is already Mar 12 in UTC: the local day counts
        late_evening = add_member(session, merchant, now=now, joined_at=at(LA, 2024, 3, 11, 23, 30))
        add_member(session, merchant, now=now, joined_at=at(LA, 2024, 3, 12, 0, 30))
        add_member(session, merchant, now=now, joined_at=at(LA, 2026, 3, 11, 9, 0))  # joined today: no anniversary
        session.commit()

        assert evaluate(session, at(LA, 2026, 3, 11, 10, 0)) == {"anniversary": 1}
        assert care_texts(session)[0].member_id == late_evening.id
        assert evaluate(session, at(LA, 2027, 3, 11, 10, 0)) == {"anniversary": 2}

    def test_members_who_joined_on_february_29(self, session, merchant, now):
        turn_on(session, merchant, CareKind.ANNIVERSARY, now=now, send_hour=10)
        add_member(session, merchant, now=now, joined_at=at(LA, 2024, 2, 29, 12, 0))
        session.commit()

        assert evaluate(session, at(LA, 2026, 2, 28, 10, 0)) == {"anniversary": 1}
        assert evaluate(session, at(LA, 2026, 3, 1, 10, 0)) == {}


class TestHoliday:
    def test_mid_autumn_greeting_on_the_day_in_each_language(self, session, shanghai_merchant, now):
        turn_on(session, shanghai_merchant, CareKind.HOLIDAY, now=now, holiday="Mid-Autumn Festival", send_hour=10)
        add_member(session, shanghai_merchant, now=now, phone="+8613900139000", language="zh")
        add_member(session, shanghai_merchant, now=now, phone="+8613900139001", language="en")
        session.commit()

        assert evaluate(session, at(SHANGHAI, 2026, 9, 24, 10, 0)) == {}
        assert evaluate(session, at(SHANGHAI, 2026, 9, 25, 10, 0)) == {"holiday": 2}
        assert evaluate(session, at(SHANGHAI, 2026, 9, 25, 15, 0)) == {}
        chinese, english = care_texts(session)
        assert chinese.body == "【月茶】Moon Tea祝您中秋节快乐！回复TD退订"
        assert english.body == "Happy Mid-Autumn Festival from all of us at Moon Tea! Reply STOP to opt out."
        assert chinese.send_after == at(SHANGHAI, 2026, 9, 25, 10, 0)

    def test_a_lunar_holiday_moves_with_the_calendar(self, session, shanghai_merchant, now):
        turn_on(session, shanghai_merchant, CareKind.HOLIDAY, now=now, holiday="Mid-Autumn Festival", send_hour=10)
        add_member(session, shanghai_merchant, now=now, phone="+8613900139000", language="zh")
        session.commit()

        assert evaluate(session, at(SHANGHAI, 2027, 9, 15, 10, 0)) == {"holiday": 1}
        assert evaluate(session, at(SHANGHAI, 2027, 9, 25, 10, 0)) == {}

    def test_a_us_merchant_can_greet_on_spring_festival(self, session, merchant, now):
        choices = {festival.name for festival in care_rules.holiday_choices(merchant, now=now)}
        assert {"Thanksgiving Day", "Chinese New Year (Spring Festival)", "Mid-Autumn Festival"} <= choices

    def test_an_unknown_holiday_is_refused(self, session, merchant, now):
        with pytest.raises(ValidationError, match="not a holiday"):
            turn_on(session, merchant, CareKind.HOLIDAY, now=now, holiday="Boxing Day")

    def test_the_holiday_bonus_goes_to_the_ledger_once(self, session, shanghai_merchant, now):
        turn_on(session, shanghai_merchant, CareKind.HOLIDAY, now=now, holiday="Mid-Autumn Festival",
                send_hour=10, bonus_points=8)
        members = [
            add_member(session, shanghai_merchant, now=now, phone=f"+861390013900{index}", language="zh",
                       points_balance=0)
            for index in range(3)
        ]
        session.commit()

        evaluate(session, at(SHANGHAI, 2026, 9, 25, 10, 0))
        evaluate(session, at(SHANGHAI, 2026, 9, 25, 11, 0))

        for member in members:
            session.refresh(member)
            assert member.points_balance == 8
        keys = session.scalars(select(PointsEntry.idempotency_key).order_by(PointsEntry.id)).all()
        assert keys == [text.dedupe_key for text in care_texts(session)]
        assert points.verify_balances(session) == []
        assert "已为您赠送8积分" in care_texts(session)[0].body


class TestAfterVisit:
    def test_asks_once_some_hours_after_the_latest_purchase(self, session, merchant, now):
        turn_on(session, merchant, CareKind.AFTER_VISIT, now=now, delay_hours=3, days=7)
        member = add_member(session, merchant, now=now, phone="+14155550100")
        session.commit()
        first = points.record_purchase(session, merchant, phone=member.phone, amount_minor=1200, now=now).purchase
        second = points.record_purchase(
            session, merchant, phone=member.phone, amount_minor=800, now=now + timedelta(minutes=30)
        ).purchase
        session.commit()

        assert evaluate(session, now + timedelta(hours=2, minutes=59)) == {}
        assert evaluate(session, now + timedelta(hours=3)) == {}  # a later purchase is about to be asked about
        assert evaluate(session, now + timedelta(hours=3, minutes=30)) == {"after_visit": 1}
        assert evaluate(session, now + timedelta(hours=4)) == {}

        [text] = care_texts(session, CareKind.AFTER_VISIT)
        assert "How was your visit? Reply 1-5" in text.body
        assert text.dedupe_key == f"care:after_visit:{member.id}:p{second.id}"
        [survey] = session.scalars(select(VisitSurvey)).all()
        assert (survey.purchase_id, survey.member_id, survey.rating) == (second.id, member.id, None)
        assert first.id != second.id

    def test_at_most_once_per_days(self, session, merchant, now):
        turn_on(session, merchant, CareKind.AFTER_VISIT, now=now, delay_hours=3, days=7)
        member = add_member(session, merchant, now=now, phone="+14155550100")
        session.commit()
        for day in (0, 2, 8):
            points.record_purchase(
                session, merchant, phone=member.phone, amount_minor=1000, now=now + timedelta(days=day)
            )
            session.commit()
            evaluate(session, now + timedelta(days=day, hours=4))

        assert len(care_texts(session, CareKind.AFTER_VISIT)) == 2
        assert session.scalar(select(func.count()).select_from(VisitSurvey)) == 2


class TestWinBack:
    def test_at_risk_members_of_the_chosen_class_once_per_days(self, session, merchant, now):
        turn_on(session, merchant, CareKind.WIN_BACK, now=now, value_class="A", days=30, send_hour=11)
        due = at(LA, 2026, 3, 10, 11, 0)
        lapsed = add_member(session, merchant, now=now, value_class="A", visit_count=5,
                            last_visit_at=due - timedelta(days=35), typical_visit_gap_days=10.0)
        add_member(session, merchant, now=now, value_class="A", visit_count=5,  # 2 × 20 days: at risk 6 days later
                   last_visit_at=due - timedelta(days=35), typical_visit_gap_days=20.0)
        add_member(session, merchant, now=now, value_class="B", visit_count=5,
                   last_visit_at=due - timedelta(days=35), typical_visit_gap_days=10.0)
        add_member(session, merchant, now=now, value_class="A", visit_count=0)  # never visited
        session.commit()

        queued = {day: evaluate(session, due + timedelta(days=day)).get("win_back", 0) for day in range(40)}

        # day 0: 35 days > 30 and > 2 × 10; day 6: 41 days > 2 × 20 (day 5 is exactly 40); each again 30 days on
        assert {day: count for day, count in queued.items() if count} == {0: 1, 6: 1, 30: 1, 36: 1}
        first = care_texts(session)[0]
        assert first.member_id == lapsed.id
        assert "We miss you at Green Leaf Tea" in first.body

    def test_a_holdout_is_recorded_instead_of_texted_and_counts_as_a_time(self, session, merchant, now):
        turn_on(session, merchant, CareKind.WIN_BACK, now=now, days=30, holdout_pct=20, send_hour=11)
        due = at(LA, 2026, 3, 10, 11, 0)
        add_many(session, merchant, 100, now=now, value_class="C", visit_count=2,
                 last_visit_at=due - timedelta(days=40), typical_visit_gap_days=5.0)
        session.commit()

        texted = evaluate(session, due)["win_back"]
        held = session.scalars(select(CareTouch).where(CareTouch.is_holdout.is_(True))).all()
        assert texted + len(held) == 100
        assert len(held) == 20
        assert not {hold.member_id for hold in held} & {text.member_id for text in care_texts(session)}
        assert evaluate(session, due + timedelta(days=10)) == {}

    def test_the_report_compares_returns_against_the_holdout(self, session, merchant, now):
        turn_on(session, merchant, CareKind.WIN_BACK, now=now, days=30, holdout_pct=50, send_hour=11)
        due = at(LA, 2026, 3, 10, 11, 0)
        add_many(session, merchant, 20, now=now, value_class="C", visit_count=2,
                 last_visit_at=due - timedelta(days=40), typical_visit_gap_days=5.0)
        session.commit()
        evaluate(session, due)
        for text in care_texts(session)[:3]:
            points.record_purchase(session, merchant, phone=text.to_phone, amount_minor=500,
                                   now=due + timedelta(days=3))
        session.commit()

        report = care_rules.report(session, merchant.id, now=due + timedelta(days=5))
        assert report.win_back_sent.returned == 3
        assert report.win_back_held_out.returned == 0
        assert report.win_back_sent.members + report.win_back_held_out.members == 20
        assert report.sent["care_win_back"] == report.win_back_sent.members
        assert report.win_back_lift.difference == report.win_back_sent.rate


class TestPointsExpiring:
    def test_reminds_members_whose_points_expire_within_the_days(self, session, merchant, now):
        points.update_settings(merchant, points_expiry_months=12)
        turn_on(session, merchant, CareKind.POINTS_EXPIRING, now=now, days=14, send_hour=11)
        soon = add_member(session, merchant, now=now, phone="+14155550100", name="Bo")
        later = add_member(session, merchant, now=now, phone="+14155550101")
        session.commit()
        due = at(LA, 2026, 3, 10, 11, 0)
        points.record_purchase(session, merchant, phone=soon.phone, amount_minor=4000, now=due - timedelta(days=360))
        points.record_purchase(session, merchant, phone=soon.phone, amount_minor=1000, now=due - timedelta(days=10))
        points.record_purchase(session, merchant, phone=later.phone, amount_minor=4000, now=due - timedelta(days=300))
        session.commit()

        assert evaluate(session, due) == {"points_expiring": 1}
        [text] = care_texts(session)
        assert text.member_id == soon.id
        assert text.body.startswith("Bo, 40 of your points at Green Leaf Tea expire on Mar 24.")
        assert evaluate(session, due + timedelta(days=1)) == {}

    def test_nothing_when_points_never_expire(self, session, merchant, now):
        turn_on(session, merchant, CareKind.POINTS_EXPIRING, now=now, days=14, send_hour=11)
        member = add_member(session, merchant, now=now, phone="+14155550100")
        session.commit()
        points.record_purchase(session, merchant, phone=member.phone, amount_minor=4000, now=now - timedelta(days=700))
        session.commit()

        assert evaluate(session, at(LA, 2026, 3, 10, 11, 0)) == {}


class TestClassUpgrade:
    def test_congratulates_a_move_up_after_a_recompute(self, session, merchant, now):
        turn_on(session, merchant, CareKind.CLASS_UPGRADE, now=now)
        riser = add_member(session, merchant, now=now, value_class="C")
        faller = add_member(session, merchant, now=now, value_class="A")
        merchant.classes_computed_at = now - timedelta(hours=1)
        session.commit()

        assert evaluate(session, now) == {}  # the first look only notes the classes
        assert session.scalar(select(func.count()).select_from(ClassMark)) == 2

        riser.value_class, faller.value_class = "B", "B"
        merchant.classes_computed_at = now + timedelta(days=1)
        session.commit()
        assert evaluate(session, now + timedelta(days=1, minutes=5)) == {"class_upgrade": 1}
        assert evaluate(session, now + timedelta(days=1, minutes=10)) == {}
        [text] = care_texts(session)
        assert text.member_id == riser.id
        assert "You are now a class B member of Green Leaf Tea." in text.body

    def test_a_recompute_older_than_the_grace_only_notes_the_classes(self, session, merchant, now):
        turn_on(session, merchant, CareKind.CLASS_UPGRADE, now=now)
        member = add_member(session, merchant, now=now, value_class="C")
        merchant.classes_computed_at = now
        session.commit()
        evaluate(session, now)
        member.value_class = "A"
        merchant.classes_computed_at = now + timedelta(days=1)
        session.commit()

        assert evaluate(session, now + timedelta(days=5)) == {}
        assert session.get(ClassMark, member.id).value_class == "A"


class TestRuleSettings:
    def test_unknown_placeholders_and_stray_braces_are_refused(self, session, merchant, now):
        with pytest.raises(ValidationError, match=r"unknown placeholder \{nmae\}"):
            turn_on(session, merchant, CareKind.BIRTHDAY, now=now, wording={"en": "Hi {nmae}"})
        with pytest.raises(ValidationError, match="not part of a placeholder"):
            turn_on(session, merchant, CareKind.BIRTHDAY, now=now, wording={"en": "Hi {name"})

    def test_the_hour_must_be_inside_the_sending_window(self, session, merchant, now):
        with pytest.raises(ValidationError, match="inside your sending window, 09:00–20:00"):
            turn_on(session, merchant, CareKind.BIRTHDAY, now=now, send_hour=7)

    def test_settings_of_another_kind_are_refused(self, session, merchant, now):
        with pytest.raises(ValidationError, match="not a setting of the birthday rule"):
            turn_on(session, merchant, CareKind.BIRTHDAY, now=now, holdout_pct=10)

    def test_the_merchants_own_wording_is_used_with_the_opt_out_line(self, session, merchant, now):
        turn_on(session, merchant, CareKind.BIRTHDAY, now=now, send_hour=10, bonus_points=0,
                wording={"en": "  Many happy returns, {name}!  You have {points} points. "})
        add_member(session, merchant, now=now, name="Cy", birthday_month=4, birthday_day=2, points_balance=0)
        session.commit()

        evaluate(session, at(LA, 2026, 4, 2, 10, 0))

        assert care_texts(session)[0].body == "Many happy returns, Cy! You have 0 points. Reply STOP to opt out."

    def test_every_texts_merchant_is_its_own(self, session, merchant, shanghai_merchant, now):
        turn_on(session, merchant, CareKind.BIRTHDAY, now=now, send_hour=10)
        add_member(session, shanghai_merchant, now=now, phone="+8613900139000", birthday_month=4, birthday_day=2)
        session.commit()

        assert evaluate(session, at(LA, 2026, 4, 2, 10, 0)) == {}


def test_the_day_of_an_occurrence_is_the_merchants_local_day(session, shanghai_merchant, now):
    turn_on(session, shanghai_merchant, CareKind.BIRTHDAY, now=now, send_hour=9)
    add_member(session, shanghai_merchant, now=now, phone="+8613900139000", birthday_month=4, birthday_day=2)
    session.commit()

    # 09:00 on Apr 2 in Shanghai is 01:00 UTC on Apr 2 — and still Apr 1 in most of the world
    assert evaluate(session, datetime.combine(datetime(2026, 4, 2).date(), time(1, 0), tzinfo=timezone.utc)) == {
        "birthday": 1
    }


class TestBoundedEvaluations:
    """An occurrence with more members than one evaluation takes goes on at the next one, exactly once each."""

    @pytest.fixture
    def mid_autumn(self, session, shanghai_merchant, now):
        turn_on(session, shanghai_merchant, CareKind.HOLIDAY, now=now, holiday="Mid-Autumn Festival", send_hour=10)
        add_many(session, shanghai_merchant, 7, now=now, phone_prefix="+861390013", language="zh")
        session.commit()
        return shanghai_merchant

    def batches(self, session, moments, budget: int) -> list[int]:
        counts = []
        for moment in moments:
            counts.append(care.evaluate(session, now=moment, budget=budget).get("holiday", 0))
            session.commit()
        return counts

    def test_a_large_occurrence_continues_where_the_last_evaluation_stopped(self, session, mid_autumn):
        start = at(SHANGHAI, 2026, 9, 25, 10, 0)
        moments = [start + timedelta(minutes=5 * step) for step in range(5)]

        assert self.batches(session, moments, budget=3) == [3, 3, 1, 0, 0]
        texts = care_texts(session)
        assert len({text.member_id for text in texts}) == len(texts) == 7
        assert [text.created_at for text in texts] == [moments[0]] * 3 + [moments[1]] * 3 + [moments[2]]

    def test_what_is_left_when_the_grace_runs_out_is_skipped(self, session, mid_autumn):
        assert self.batches(session, [at(SHANGHAI, 2026, 9, 25, 10, 0), at(SHANGHAI, 2026, 9, 25, 23, 0)],
                            budget=3) == [3, 0]

    def test_the_budget_is_shared_by_every_rule_of_an_evaluation(self, session, mid_autumn, now):
        turn_on(session, mid_autumn, CareKind.BIRTHDAY, now=now, send_hour=10)
        add_member(session, mid_autumn, now=now, phone="+8613900139999", birthday_month=9, birthday_day=25)
        session.commit()

        first = care.evaluate(session, now=at(SHANGHAI, 2026, 9, 25, 10, 0), budget=5)
        session.commit()
        second = care.evaluate(session, now=at(SHANGHAI, 2026, 9, 25, 10, 5), budget=5)
        assert (first, second) == ({"holiday": 5}, {"holiday": 3, "birthday": 1})  # 8 members in all

    def test_class_comparisons_wait_for_an_evaluation_with_room(self, session, merchant, shanghai_merchant, now):
        for owner in (merchant, shanghai_merchant):
            turn_on(session, owner, CareKind.CLASS_UPGRADE, now=now)
            owner.classes_computed_at = now - timedelta(hours=1)
        add_many(session, merchant, 3, now=now, value_class="C")
        add_many(session, shanghai_merchant, 3, now=now, phone_prefix="+861390013", value_class="C")
        session.commit()

        care.evaluate(session, now=now, budget=4)  # room for one merchant's three members
        session.commit()
        assert session.scalar(select(func.count()).select_from(ClassMark)) == 3
        care.evaluate(session, now=now + timedelta(minutes=5), budget=4)
        assert session.scalar(select(func.count()).select_from(ClassMark)) == 6


def test_the_expiring_points_are_the_old_credits_the_debits_have_not_used_up(session, merchant, now):
    """Both readings of the ledger (one member's, care's; every member's at once, the nightly expiry's) give what
    is left of the credits before the cutoff once each debit has taken the oldest points first, replayed here."""
    points.update_settings(merchant, points_expiry_months=12)
    phones = [add_member(session, merchant, now=now, phone=f"+1415555{index:04d}",
                         joined_at=now - timedelta(days=500)).phone for index in range(4)]
    for days_ago, phone, amount in ((400, 0, 3000), (380, 0, 2000), (200, 0, 1000), (370, 1, 500), (10, 2, 4000),
                                    (360, 3, 800), (100, 3, 800)):
        points.record_purchase(session, merchant, phone=phones[phone], amount_minor=amount,
                               now=now - timedelta(days=days_ago))
    session.commit()
    points.expire_points(session, now=now - timedelta(days=20))
    member = session.scalar(select(Member).where(Member.phone == phones[0]))
    points.adjust(session, member, points=-15, note="spent at the counter", now=now - timedelta(days=5),
                  idempotency_key="spend-1")
    session.commit()

    cutoff = now - timedelta(days=350)
    ids = select(Member.id).where(Member.merchant_id == merchant.id)
    replayed = {}
    for member_id in session.scalars(ids):
        credits = []  # [created_at, points left], oldest first
        for entry in session.scalars(select(PointsEntry).where(PointsEntry.member_id == member_id)
                                     .order_by(PointsEntry.id)):
            if entry.points > 0:
                credits.append([entry.created_at, entry.points])
                continue
            debit = -entry.points
            for credit in credits:
                taken = min(debit, credit[1])
                credit[1], debit = credit[1] - taken, debit - taken
        replayed[member_id] = sum(left for created_at, left in credits if created_at < cutoff)
    one_by_one = dict(session.execute(ids.add_columns(expiry.member_unspent_before(cutoff))).all())
    all_at_once = {row.member_id: row.points for row in session.execute(points.unspent_before(ids, cutoff))}

    assert {member_id: max(0, value or 0) for member_id, value in one_by_one.items()} == replayed
    assert {member_id: max(0, all_at_once.get(member_id, 0)) for member_id in replayed} == replayed
    # 50 old points, 30 expired, 15 spent; 5 old; 40 new; 8 old and 8 new
    assert sorted(replayed.values()) == [0, 5, 5, 8]
