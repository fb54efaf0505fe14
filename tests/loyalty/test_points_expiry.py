"""Expiry: unspent points older than the merchant's period expire, oldest first; the job is safe to run twice."""
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from smscrm import points
from smscrm.accounts.merchants import create_merchant
from smscrm.loyalty import members, rewards
from smscrm.loyalty.periods import months_before
from smscrm.models import EntryKind, PointsEntry

ANN = "+14155550100"
BOB = "+14155550101"


def at(year, month, day) -> datetime:
    return datetime(year, month, day, 12, 0, tzinfo=timezone.utc)


def expiries(session, member):
    return session.execute(
        select(PointsEntry.points, PointsEntry.balance_after, PointsEntry.created_at)
        .where(PointsEntry.member_id == member.id, PointsEntry.kind == EntryKind.EXPIRE)
        .order_by(PointsEntry.id)
    ).all()


@pytest.fixture
def yearly(session, merchant):
    points.update_settings(merchant, points_expiry_months=12)
    session.commit()
    return merchant


def spend(session, merchant, member, cost, when):
    reward = rewards.create_reward(session, merchant, code=f"R{cost}", name=f"Reward {cost}", points_cost=cost,
                                   now=when)
    points.redeem_at_counter(session, merchant, member, reward, now=when)
    session.commit()


class TestOldestFirst:
    def test_spending_uses_the_oldest_points_so_only_the_unspent_rest_of_a_batch_expires(
        self, session, yearly, join, buy
    ):
        member = join(ANN, at=at(2025, 1, 1))
        buy(ANN, 10000, at=at(2025, 1, 15))  # 100 points
        buy(ANN, 5000, at=at(2025, 6, 15))  # 50 points
        spend(session, yearly, member, 120, at(2025, 7, 1))  # all of January's and 20 of June's
        assert points.expire_points(session, now=at(2026, 1, 20)) == 0  # January's batch was spent
        assert points.expire_points(session, now=at(2026, 6, 20)) == 30
        session.commit()
        assert member.points_balance == 0
        assert expiries(session, member) == [(-30, 0, at(2026, 6, 20))]

    def test_what_is_left_of_an_old_batch_expires_and_newer_points_stay(self, session, yearly, join, buy):
        member = join(ANN, at=at(2025, 1, 1))
        buy(ANN, 10000, at=at(2025, 1, 15))
        buy(ANN, 10000, at=at(2025, 7, 15))
        spend(session, yearly, member, 50, at(2025, 8, 1))
        assert points.expire_points(session, now=at(2026, 1, 16)) == 50
        session.commit()
        assert member.points_balance == 100
        assert points.expire_points(session, now=at(2026, 7, 16)) == 100
        session.commit()
        assert member.points_balance == 0
        assert [row[:2] for row in expiries(session, member)] == [(-50, 100), (-100, 0)]

    def test_bonuses_and_adjustments_are_batches_too(self, session, yearly, join):
        member = join(ANN, at=at(2025, 1, 1))
        points.adjust(session, member, points=40, note="opening balance", now=at(2025, 1, 2), idempotency_key="a1")
        points.adjust(session, member, points=50, note="goodwill", now=at(2025, 5, 1), idempotency_key="a0")
        points.adjust(session, member, points=-30, note="typo", now=at(2025, 5, 2), idempotency_key="a2")
        session.commit()
        assert points.expire_points(session, now=at(2026, 1, 3)) == 10
        assert points.expire_points(session, now=at(2026, 5, 2)) == 50
        session.commit()
        assert member.points_balance == 0

    def test_points_younger_than_the_period_are_kept(self, session, yearly, join, buy):
        member = join(ANN, at=at(2025, 1, 1))
        buy(ANN, 10000, at=at(2025, 3, 10))
        assert points.expire_points(session, now=at(2026, 3, 10)) == 0  # exactly 12 months: not older
        assert points.expire_points(session, now=at(2026, 3, 10).replace(minute=1)) == 100
        session.commit()
        assert member.points_balance == 0


class TestSafeToRunTwice:
    def test_a_second_run_at_the_same_or_a_later_time_expires_nothing_more(self, session, yearly, join, buy):
        member = join(ANN, at=at(2025, 1, 1))
        buy(ANN, 10000, at=at(2025, 1, 15))
        assert points.expire_points(session, now=at(2026, 2, 1)) == 100
        session.commit()
        assert points.expire_points(session, now=at(2026, 2, 1)) == 0
        assert points.expire_points(session, now=at(2026, 2, 2)) == 0
        session.commit()
        assert len(expiries(session, member)) == 1 and member.points_balance == 0

    def test_points_earned_after_an_expiry_expire_on_their_own_date(self, session, yearly, join, buy):
        member = join(ANN, at=at(2025, 1, 1))
        buy(ANN, 10000, at=at(2025, 1, 15))
        points.expire_points(session, now=at(2026, 2, 1))
        buy(ANN, 2000, at=at(2026, 2, 5))
        assert points.expire_points(session, now=at(2027, 2, 4)) == 0
        assert points.expire_points(session, now=at(2027, 2, 6)) == 20
        session.commit()
        assert member.points_balance == 0


class TestPerMerchant:
    def test_merchants_without_an_expiry_period_keep_points_forever(self, session, merchant, join, buy):
        member = join(ANN, at=at(2015, 1, 1))
        buy(ANN, 10000, at=at(2015, 1, 15))
        assert points.expire_points(session, now=at(2026, 1, 1)) == 0
        assert member.points_balance == 100

    def test_each_merchant_has_its_own_period(self, session, merchant, join, buy):
        other = create_merchant(session, name="Quick Shop", number="+14155550999", email="q@q.example",
                                password="long enough password", now=at(2025, 1, 1))
        points.update_settings(other, points_expiry_months=3)
        points.update_settings(merchant, points_expiry_months=24)
        session.commit()
        join(ANN, at=at(2025, 1, 1))
        buy(ANN, 10000, at=at(2025, 1, 15))
        elsewhere = points.record_purchase(session, other, phone=ANN, amount_minor=7000, now=at(2025, 1, 15))
        members.join(session, other, ANN, name="", language="en", now=at(2025, 1, 16))
        points.on_join(session, other, elsewhere.member, now=at(2025, 1, 16))
        session.commit()
        assert elsewhere.member.points_balance == 70
        assert points.expire_points(session, now=at(2025, 6, 1)) == 70
        session.commit()
        assert elsewhere.member.points_balance == 0
        assert points.ledger(session, elsewhere.member)[0].note == "points earned before 2025-03-01 expired"


@pytest.mark.parametrize(
    "moment, months, expected",
    [
        (at(2026, 3, 31), 1, at(2026, 2, 28)),
        (at(2024, 3, 31), 1, at(2024, 2, 29)),
        (at(2024, 2, 29), 12, at(2023, 2, 28)),
        (at(2026, 1, 15), 13, at(2024, 12, 15)),
        (at(2026, 3, 10), 0, at(2026, 3, 10)),
    ],
)
def test_months_before_keeps_the_day_or_takes_the_last_of_a_shorter_month(moment, months, expected):
    assert months_before(moment, months) == expected
