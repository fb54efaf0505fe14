"""The ledger itself: staff adjustments, the birthday bonus, reading a member's entries page by page,
idempotency keys, and `verify_balances` catching a balance the entries do not explain."""
import pytest
from sqlalchemy import select, update

from smscrm import points
from smscrm.errors import Conflict, InsufficientPoints, ValidationError
from smscrm.loyalty.ledger import post
from smscrm.models import EntryKind, Member, PointsEntry

ANN = "+14155550100"


class TestAdjust:
    def test_staff_add_and_remove_points_with_a_note(self, session, join, now):
        member = join(ANN)
        added = points.adjust(session, member, points=120, note=" moved   from the old card ", now=now,
                              idempotency_key="adj-1")
        removed = points.adjust(session, member, points=-20, note="double entry", now=now, idempotency_key="adj-2")
        session.commit()
        assert (added.kind, added.points, added.balance_after, added.note) == (
            EntryKind.ADJUST, 120, 120, "moved from the old card")
        assert (removed.points, removed.balance_after) == (-20, 100)
        assert member.points_balance == 100

    def test_an_adjustment_cannot_take_a_balance_below_zero(self, session, join, now):
        member = join(ANN)
        points.adjust(session, member, points=10, note="gift", now=now, idempotency_key="adj-1")
        with pytest.raises(InsufficientPoints) as raised:
            points.adjust(session, member, points=-11, note="too much", now=now, idempotency_key="adj-2")
        assert raised.value.message == "this needs 11 points and the member has 10"
        session.commit()
        assert member.points_balance == 10 and len(points.ledger(session, member)) == 1

    def test_a_retried_adjustment_counts_once_and_a_reused_key_is_a_conflict(self, session, join, now):
        member = join(ANN)
        first = points.adjust(session, member, points=30, note="gift", now=now, idempotency_key="adj-1")
        again = points.adjust(session, member, points=30, note="gift", now=now, idempotency_key="adj-1")
        assert again.id == first.id and member.points_balance == 30
        with pytest.raises(Conflict):
            points.adjust(session, member, points=31, note="gift", now=now, idempotency_key="adj-1")

    @pytest.mark.parametrize(
        "change, note, key",
        [(0, "n", "k"), (2.5, "n", "k"), (True, "n", "k"), (points.MAX_ADJUST_POINTS + 1, "n", "k"),
         (5, "  ", "k"), (5, "x" * 201, "k"), (5, "n", None), (5, "n", " "), (5, "n", "k" * 81)],
    )
    def test_bad_adjustments_are_refused(self, session, join, now, change, note, key):
        member = join(ANN)
        with pytest.raises(ValidationError):
            points.adjust(session, member, points=change, note=note, now=now, idempotency_key=key)
        assert member.points_balance == 0

    def test_a_staff_key_cannot_collide_with_the_systems_own_keys(self, session, join, buy, now):
        member = join(ANN)
        purchase = buy(ANN, 1000).purchase
        points.adjust(session, member, points=5, note="n", now=now, idempotency_key=f"purchase:{purchase.id}")
        session.commit()
        assert member.points_balance == 15


class TestReading:
    def test_entries_newest_first_page_by_page(self, session, join, now):
        member = join(ANN)
        for n in range(1, 6):
            points.adjust(session, member, points=n, note=f"#{n}", now=now, idempotency_key=f"k{n}")
        session.commit()
        first = points.ledger(session, member, limit=2)
        second = points.ledger(session, member, limit=2, before_id=first[-1].id)
        last = points.ledger(session, member, limit=2, before_id=second[-1].id)
        assert [e.note for e in first + second + last] == ["#5", "#4", "#3", "#2", "#1"]
        assert points.ledger(session, member, before_id=last[-1].id) == []

    @pytest.mark.parametrize("limit", [0, 201, "10", True])
    def test_the_page_size_is_checked(self, session, join, limit):
        with pytest.raises(ValidationError):
            points.ledger(session, join(ANN), limit=limit)

    def test_only_the_members_own_entries(self, session, join, now):
        ann, bob = join(ANN), join("+14155550101")
        points.adjust(session, bob, points=5, note="n", now=now, idempotency_key="k")
        assert points.ledger(session, ann) == []


class TestVerify:
    def test_a_consistent_database_has_no_mismatch(self, session, join, buy):
        join(ANN)
        buy(ANN, 1000)
        assert points.verify_balances(session) == []

    def test_a_balance_changed_behind_the_ledgers_back_is_reported(self, session, join, buy):
        member = join(ANN)
        buy(ANN, 1000)
        session.execute(update(Member).where(Member.id == member.id).values(points_balance=999))
        assert points.verify_balances(session) == [points.BalanceMismatch(member.id, member.merchant_id, 999, 10)]
        session.execute(update(Member).where(Member.id == member.id).values(points_balance=10))
        session.commit()

    def test_an_entry_whose_balance_after_is_off_is_reported(self, session, join, buy):
        member = join(ANN)
        buy(ANN, 1000)
        entry_id = session.scalar(select(PointsEntry.id))
        session.execute(update(PointsEntry).values(balance_after=7))
        assert points.verify_balances(session) == [
            points.BalanceMismatch(member.id, member.merchant_id, 7, 10, entry_id=entry_id)]
        session.execute(update(PointsEntry).values(balance_after=10))
        session.commit()

    def test_posting_refuses_a_key_used_for_another_member(self, session, join, now):
        ann, bob = join(ANN), join("+14155550101")
        post(session, ann, kind=EntryKind.BONUS, points=5, key="k", now=now)
        with pytest.raises(Conflict):
            post(session, bob, kind=EntryKind.BONUS, points=5, key="k", now=now)
