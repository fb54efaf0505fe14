"""Value classes, lifecycle stages and visit statistics: as each event updates them, and as the nightly
set-based recompute rebuilds them from the purchases."""
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update

from smscrm import points
from smscrm.accounts.merchants import create_merchant
from smscrm.loyalty import classes
from smscrm.models import (
    Member,
    Merchant,
    Referral,
    ReferralChannel,
    ReferralStatus,
    Stage,
)

PHONES = [f"+1415555{n:04d}" for n in range(1, 13)]


def value_classes(session, phones):
    session.expire_all()
    found = dict(session.execute(select(Member.phone, Member.value_class)).all())
    return [found[phone] for phone in phones]


def spenders(join, buy, spends, *, days_ago=10):
    """Joined members, one per amount (0: joined, never bought); returns their phones in order."""
    phones = PHONES[: len(spends)]
    for phone, spend in zip(phones, spends):
        join(phone)
        if spend:
            buy(phone, spend, days=-days_ago)
    return phones


class TestStageLadder:
    @pytest.mark.parametrize(
        "is_joined, visits, is_advocate, stage",
        [
            (False, 0, False, Stage.PENDING),
            (False, 3, True, Stage.PENDING),
            (True, 0, False, Stage.JOINED),
            (True, 1, False, Stage.FIRST_PURCHASE),
            (True, 2, False, Stage.REPEAT),
            (True, 9, False, Stage.REPEAT),
            (True, 0, True, Stage.ADVOCATE),
            (True, 5, True, Stage.ADVOCATE),
        ],
    )
    def test_stage_for(self, is_joined, visits, is_advocate, stage):
        assert classes.stage_for(is_joined=is_joined, visit_count=visits, is_advocate=is_advocate) == stage


class TestValueClasses:
    def test_a_is_capped_at_the_top_fifth_and_b_is_the_next_thirty_percent(self, session, merchant, join, buy, now):
        phones = spenders(join, buy, [5000, 2000, 1000, 800, 500, 300, 200, 100, 100, 0])
        classes.recompute(session, now=now)
        assert value_classes(session, phones) == list("AABBBCCCCC")

    def test_a_stops_once_eighty_percent_of_revenue_is_reached(self, session, merchant, join, buy, now):
        phones = spenders(join, buy, [9000] + [100] * 9)
        classes.recompute(session, now=now)
        assert value_classes(session, phones) == list("ABBBCCCCCC")  # equal spend: earlier members rank first

    def test_the_thresholds_are_merchant_settings(self, session, merchant, join, buy, now):
        phones = spenders(join, buy, [5000, 2000, 1000, 800, 500, 300, 200, 100, 100, 0])
        points.update_settings(merchant, class_a_revenue_pct=50, class_a_max_members_pct=40, class_b_members_pct=10)
        session.commit()
        classes.recompute(session, now=now)
        assert value_classes(session, phones) == list("ABCCCCCCCC")

    def test_members_who_spent_nothing_are_c_however_few_spent(self, session, merchant, join, buy, now):
        phones = spenders(join, buy, [100, 0, 0, 0, 0])
        classes.recompute(session, now=now)
        assert value_classes(session, phones) == list("ACCCC")

    def test_only_the_trailing_twelve_months_count(self, session, merchant, join, buy, now):
        phones = spenders(join, buy, [100, 200, 300, 400, 500])
        buy(phones[0], 1_000_000, days=-370)  # long ago: counts for lifetime spend, not for the class
        classes.recompute(session, now=now)
        assert value_classes(session, phones) == list("CCCBA")
        session.expire_all()
        assert session.scalar(select(Member.total_spend_minor).where(Member.phone == phones[0])) == 1_000_100

    def test_pending_members_have_no_class_and_do_not_take_a_place(self, session, merchant, join, buy, now):
        phones = spenders(join, buy, [500, 400, 300, 200, 100])
        buy(PHONES[-1], 99_999)  # a big spender who never joined
        classes.recompute(session, now=now)
        assert value_classes(session, phones + [PHONES[-1]]) == list("ABCCC") + [None]

    def test_each_merchant_is_ranked_on_its_own_and_stamped_with_the_date(self, session, merchant, join, buy, now):
        other = create_merchant(session, name="Other", number="+14155550999", email="o@o.example",
                                password="long enough password", now=now)
        session.commit()
        phones = spenders(join, buy, [500, 400, 300, 200, 100])
        points.record_purchase(session, other, phone=PHONES[6], amount_minor=100_000, now=now)
        session.commit()
        classes.recompute(session, now=now)
        assert value_classes(session, phones) == list("ABCCC")
        assert {m.classes_computed_at for m in session.scalars(select(Merchant))} == {now}


class TestRecompute:
    def test_it_rebuilds_what_the_events_maintained(self, session, merchant, join, buy, now):
        phones = spenders(join, buy, [1000, 0, 700, 400])
        buy(phones[0], 500, days=3)
        buy(phones[0], 900, days=13)
        buy(phones[2], 250, days=2)
        buy(PHONES[-1], 800)  # pending
        session.expire_all()
        columns = (Member.phone, Member.stage, Member.visit_count, Member.total_spend_minor, Member.first_visit_at,
                   Member.last_visit_at, Member.typical_visit_gap_days)
        maintained = sorted(session.execute(select(*columns)).all())
        session.execute(update(Member).values(stage=Stage.JOINED, visit_count=0, total_spend_minor=0,
                                              first_visit_at=None, last_visit_at=None, typical_visit_gap_days=None))
        session.commit()
        assert classes.recompute(session, now=now) == 5
        rebuilt = sorted(session.execute(select(*columns)).all())
        assert [row[:6] for row in rebuilt] == [row[:6] for row in maintained]
        assert [row[6] for row in rebuilt] == pytest.approx([row[6] for row in maintained])
        by_phone = {row.phone: row for row in rebuilt}
        assert by_phone[phones[0]].typical_visit_gap_days == pytest.approx(11.5)  # -10, +3, +13 days
        assert (by_phone[phones[1]].stage, by_phone[PHONES[-1]].stage) == (Stage.JOINED, Stage.PENDING)

    def test_visits_on_one_day_are_one_visit_day(self, session, merchant, join, buy, now):
        join(PHONES[0])
        join(PHONES[1])
        for hours in (0, 1, 5):
            buy(PHONES[0], 100, at=now + timedelta(hours=hours))
        for days in (0, 0, 4, 4, 6):
            buy(PHONES[1], 100, days=days)
        maintained = session.execute(select(Member.phone, Member.typical_visit_gap_days).order_by(Member.phone)).all()
        session.execute(update(Member).values(typical_visit_gap_days=99.0))
        session.commit()
        classes.recompute(session, now=now)
        rebuilt = session.execute(select(Member.phone, Member.typical_visit_gap_days).order_by(Member.phone)).all()
        assert [gap for _, gap in rebuilt] == [None, pytest.approx(3.0)]  # days 0, 4, 6: 6 / 2
        assert [gap for _, gap in maintained] == [None, pytest.approx(3.0)]

    def test_a_second_run_changes_nothing(self, session, merchant, join, buy, now):
        spenders(join, buy, [1000, 0, 700, 400])
        assert classes.recompute(session, now=now) > 0
        session.commit()
        assert classes.recompute(session, now=now + timedelta(minutes=5)) == 0

    def test_advocates_are_members_whose_referred_friend_joined_and_bought(self, session, merchant, join, buy, now):
        ann, bob, cid = join(PHONES[0]), join(PHONES[1]), join(PHONES[2])
        buy(PHONES[1], 1000)
        for referrer, friend in ((ann, bob), (cid, buy(PHONES[3], 1000).member)):  # cid's friend never joined
            session.add(Referral(merchant_id=merchant.id, referrer_id=referrer.id, referred_id=friend.id,
                                 channel=ReferralChannel.SMS, status=ReferralStatus.INVITED, created_at=now))
        session.commit()
        classes.recompute(session, now=now)
        session.expire_all()
        stages = dict(session.execute(select(Member.phone, Member.stage)).all())
        assert [stages[p] for p in PHONES[:4]] == [Stage.ADVOCATE, Stage.FIRST_PURCHASE, Stage.JOINED, Stage.PENDING]

    def test_the_new_class_changes_what_a_purchase_earns(self, session, merchant, join, buy, now):
        points.update_settings(merchant, multiplier_a_pct=200)
        phones = spenders(join, buy, [5000, 100, 100, 100, 100])
        classes.recompute(session, now=now)
        session.commit()
        assert buy(phones[0], 1000).points_earned == 20
        assert buy(phones[1], 1000).points_earned == 10


class TestAtRiskFrom:
    """`members.at_risk_from` (what the at-risk filter reads) is twice the typical gap after the last visit, NULL
    without a gap, however the two are written: each purchase, the recompute, the ORM, an UPDATE."""

    @staticmethod
    def assert_agrees(session) -> list[datetime | None]:
        session.expire_all()
        rows = session.execute(select(Member.last_visit_at, Member.typical_visit_gap_days, Member.at_risk_from)
                               .order_by(Member.phone)).all()
        precision = timedelta(0) if session.get_bind().dialect.name == "postgresql" else timedelta(milliseconds=1)
        for last, gap, at_risk_from in rows:
            if last is None or gap is None:
                assert at_risk_from is None
            else:
                assert abs(at_risk_from - (last + timedelta(days=2 * gap))) <= precision, (last, gap, at_risk_from)
        return [at_risk_from for *_, at_risk_from in rows]

    def test_it_follows_each_purchase_and_the_recompute(self, session, merchant, join, buy, now):
        join(PHONES[0])
        join(PHONES[1])
        assert self.assert_agrees(session) == [None, None]
        buy(PHONES[0], 100)
        buy(PHONES[0], 100, at=now + timedelta(hours=3))  # one visit day: no gap yet
        assert self.assert_agrees(session) == [None, None]
        for days in (3, 7):
            buy(PHONES[0], 100, days=days)
            self.assert_agrees(session)
        buy(PHONES[0], 100, at=now + timedelta(days=10, minutes=7))  # days 0, 3, 7, 10: a gap of 10 / 3 days
        buy(PHONES[1], 100, days=-4)
        buy(PHONES[1], 100, days=1)
        maintained = ann, bob = self.assert_agrees(session)
        assert abs(ann - (now + timedelta(days=10 + 20 / 3, minutes=7))) <= timedelta(milliseconds=1)
        assert bob == now + timedelta(days=11)  # days -4 and 1
        session.execute(update(Member).values(last_visit_at=None, typical_visit_gap_days=None))
        session.commit()
        assert self.assert_agrees(session) == [None, None]
        classes.recompute(session, now=now)
        session.commit()
        assert self.assert_agrees(session) == maintained

    def test_it_follows_the_columns_written_by_the_orm(self, session, merchant, now):
        from tests.campaign_members import add_member

        member = add_member(session, merchant, now=now, last_visit_at=now - timedelta(days=5),
                            typical_visit_gap_days=11.5)
        session.commit()
        assert self.assert_agrees(session) == [now + timedelta(days=18)]
        member.typical_visit_gap_days = 2.25
        session.commit()
        assert self.assert_agrees(session) == [now - timedelta(days=0.5)]
        assert member.at_risk_from == now - timedelta(days=0.5)
        member.last_visit_at = None
        session.commit()
        assert self.assert_agrees(session) == [None]
