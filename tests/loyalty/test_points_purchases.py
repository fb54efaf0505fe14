"""Recording purchases: the earn rule and its rounding, receipts, pending members and held points,
retries (idempotency key and reference), validation, visit statistics and the stage ladder."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from smscrm import points
from smscrm.errors import Conflict, InvalidPhone, ValidationError
from smscrm.messaging import consent
from smscrm.models import (
    Category,
    ConsentAction,
    ConsentChannel,
    EntryKind,
    Member,
    OutboundMessage,
    PointsEntry,
    Purchase,
    Stage,
)
from tests.loyalty.conftest import ledger_rows

ANN = "+14155550100"
BOB = "+14155550101"


def texts_to(session, phone, purpose=None):
    query = select(OutboundMessage).where(OutboundMessage.to_phone == phone)
    if purpose:
        query = query.where(OutboundMessage.purpose == purpose)
    return session.scalars(query.order_by(OutboundMessage.id)).all()


class TestEarnRule:
    @pytest.mark.parametrize(
        "amount, per_unit, unit, multiplier, expected",
        [
            (1250, 1, 100, 100, 12),  # 12.50 at 1 point per 1.00: the 0.50 is dropped
            (99, 1, 100, 100, 0),
            (100, 1, 100, 100, 1),
            (1250, 1, 100, 150, 18),  # 18.75 floored
            (1999, 3, 500, 100, 11),  # 3 points per 5.00: 11.994
            (1000, 0, 100, 100, 0),
        ],
    )
    def test_points_are_floored_once(self, merchant, amount, per_unit, unit, multiplier, expected):
        points.update_settings(merchant, points_per_unit=per_unit, earn_unit_minor=unit, multiplier_a_pct=multiplier)
        assert points.points_for(merchant, amount, "A") == expected

    def test_each_value_class_has_its_multiplier_and_no_class_earns_the_base_rate(self, merchant):
        points.update_settings(merchant, multiplier_a_pct=200, multiplier_b_pct=150, multiplier_c_pct=100)
        assert [points.points_for(merchant, 1000, c) for c in ("A", "B", "C", None)] == [20, 15, 10, 10]

    def test_a_class_a_member_earns_with_the_multiplier(self, session, merchant, join, buy):
        points.update_settings(merchant, multiplier_a_pct=150)
        member = join(ANN)
        member.value_class = "A"
        session.commit()
        assert buy(ANN, 1000).points_earned == 15


class TestJoinedMember:
    def test_a_purchase_earns_points_and_texts_a_receipt(self, session, merchant, join, buy, now):
        member = join(ANN)
        result = buy(ANN, 2350, reference="R-1")
        assert (result.points_earned, result.balance, result.is_pending, result.is_replay) == (23, 23, False, False)
        assert result.member.id == member.id and result.purchase.reference == "R-1"
        assert ledger_rows(session, member) == [(EntryKind.EARN, 23, 23)]
        [receipt] = texts_to(session, ANN, "purchase_receipt")
        assert receipt.category == Category.TRANSACTIONAL and receipt.send_after == now
        assert receipt.body == "Thanks for visiting Green Leaf Tea! +23 points, you now have 23 points."

    def test_a_members_purchase_counts_the_visit_moves_the_balance_and_queues_one_receipt(self, session, join, buy):
        member = join(ANN)
        result = buy(ANN, 2350)
        session.refresh(member)
        assert (member.points_balance, member.visit_count, member.stage) == (23, 1, Stage.FIRST_PURCHASE)
        assert ledger_rows(session, member) == [(EntryKind.EARN, 23, 23)]
        assert texts_to(session, ANN, "purchase_receipt")[0].dedupe_key == f"receipt:{result.purchase_id}"

    def test_receipts_are_in_the_members_language(self, session, merchant, join, buy):
        join(ANN, language="zh")
        buy(ANN, 1000)
        [receipt] = texts_to(session, ANN, "purchase_receipt")
        assert receipt.body == "【绿叶茶馆】感谢光临Green Leaf Tea！本次获得10积分，当前共10积分。"

    def test_the_merchants_own_receipt_wording_is_used_in_each_language(self, session, merchant, join, buy):
        merchant.texts = {"purchase_receipt": {"en": "{merchant}: {balance} points now, {points} today. {opt_out}",
                                               "zh": "积分{balance}（+{points}）"}}
        session.commit()
        join(ANN)
        join(BOB, language="zh")
        buy(ANN, 1200)
        buy(ANN, 800)
        buy(BOB, 500)
        assert [text.body for text in texts_to(session, ANN, "purchase_receipt")] == [
            "Green Leaf Tea: 12 points now, 12 today. Reply STOP to opt out.",
            "Green Leaf Tea: 20 points now, 8 today. Reply STOP to opt out.",
        ]
        assert [text.body for text in texts_to(session, BOB, "purchase_receipt")] == ["【绿叶茶馆】积分5（+5）"]

    def test_the_merchant_can_turn_receipts_off(self, session, merchant, join, buy):
        points.update_settings(merchant, has_receipt_texts=False)
        join(ANN)
        assert buy(ANN, 1000).balance == 10
        assert texts_to(session, ANN) == []

    def test_an_opted_out_member_earns_but_gets_no_receipt(self, session, merchant, join, buy, now):
        join(ANN)
        consent.record_consent(session, merchant_id=merchant.id, phone=ANN, action=ConsentAction.OPT_OUT,
                               keyword="STOP", channel=ConsentChannel.SMS, now=now)
        session.commit()
        assert buy(ANN, 1000).balance == 10
        assert texts_to(session, ANN) == []

    def test_a_purchase_too_small_for_a_point_is_recorded_without_an_entry(self, session, join, buy):
        member = join(ANN)
        result = buy(ANN, 50)
        assert (result.points_earned, result.balance) == (0, 0)
        assert ledger_rows(session, member) == [] and member.visit_count == 1

    def test_local_numbers_are_read_in_the_merchants_country(self, join, buy):
        member = join(ANN)
        assert buy("(415) 555-0100", 500).member.id == member.id


class TestPendingMember:
    def test_an_unknown_phone_becomes_a_pending_member_with_held_points_and_one_invitation(self, session, buy):
        first = buy(BOB, 1500)
        assert (first.is_pending, first.points_earned, first.balance) == (True, 15, 0)
        assert first.member.joined_at is None and first.member.stage == Stage.PENDING
        assert first.purchase.is_points_held
        buy(BOB, 700, days=1)
        [invite] = texts_to(session, BOB)
        assert invite.purpose == "purchase_invite"
        assert invite.body == ("Thanks for visiting Green Leaf Tea! 15 points are waiting for you: reply JOIN to "
                               "become a member and collect them. Reply STOP to opt out.")
        assert session.scalar(select(func.count()).select_from(PointsEntry)) == 0

    def test_an_unknown_phone_with_a_key_gets_a_pending_membership_and_an_invitation(self, session, buy):
        assert buy(BOB, 1500, idempotency_key="till-1-0001").is_pending
        [invite] = texts_to(session, BOB)
        assert invite.purpose == "purchase_invite" and not session.scalars(select(Member)).one().is_opted_out

    def test_an_opted_out_phone_is_not_invited(self, session, merchant, buy, now):
        consent.record_consent(session, merchant_id=merchant.id, phone=BOB, action=ConsentAction.OPT_OUT,
                               keyword="STOP", channel=ConsentChannel.SMS, now=now)
        session.commit()
        result = buy(BOB, 1500)
        assert result.is_pending and result.member.is_opted_out
        assert texts_to(session, BOB) == []

    def test_joining_grants_the_held_points_and_the_welcome_bonus(self, session, merchant, buy, join):
        points.update_settings(merchant, welcome_bonus=25)
        session.commit()
        buy(BOB, 1500)
        buy(BOB, 700, days=1)
        member = join(BOB)
        assert sorted(ledger_rows(session, member)) == sorted([(EntryKind.BONUS, 25, 25), (EntryKind.EARN, 15, 40),
                                                           (EntryKind.EARN, 7, 47)])
        assert member.points_balance == 47 and member.stage == Stage.REPEAT
        assert not session.scalar(select(func.count()).where(Purchase.is_points_held))
        assert buy(BOB, 1000, days=2).balance == 57

    def test_joining_after_a_purchase_too_small_for_points_grants_nothing_and_holds_nothing(self, session, buy,
                                                                                           join):
        assert buy(BOB, 50).is_pending
        member = join(BOB)
        assert ledger_rows(session, member) == [] and member.stage == Stage.FIRST_PURCHASE
        assert not session.scalar(select(func.count()).where(Purchase.is_points_held))

    def test_the_welcome_bonus_is_paid_once_however_often_someone_joins(self, session, merchant, join):
        points.update_settings(merchant, welcome_bonus=25)
        session.commit()
        join(ANN)
        member = join(ANN)
        assert ledger_rows(session, member) == [(EntryKind.BONUS, 25, 25)]


class TestRetries:
    def test_the_same_idempotency_key_returns_the_first_result(self, session, join, buy):
        join(ANN)
        first = buy(ANN, 1200, idempotency_key="till-1-0001")
        again = buy(ANN, 1200, idempotency_key="till-1-0001")
        assert again.is_replay and not first.is_replay
        assert (again.purchase.id, again.points_earned, again.balance) == (first.purchase.id, 12, 12)
        assert session.scalar(select(func.count()).select_from(Purchase)) == 1
        assert len(texts_to(session, ANN, "purchase_receipt")) == 1

    def test_a_replay_answers_the_balance_right_after_the_purchase_even_when_it_earned_nothing(self, join, buy):
        join(ANN)
        small = buy(ANN, 50, idempotency_key="small")
        earning = buy(ANN, 1200, idempotency_key="earning")
        buy(ANN, 3000)
        assert (small.balance, earning.balance) == (0, 12)
        assert buy(ANN, 50, idempotency_key="small").balance == 0
        assert buy(ANN, 1200, idempotency_key="earning").balance == 12

    def test_the_same_reference_is_a_retry_too(self, session, join, buy):
        join(ANN)
        buy(ANN, 1200, reference="R-77")
        assert buy(ANN, 1200, reference="R-77").is_replay
        assert session.scalar(select(func.count()).select_from(Purchase)) == 1

    def test_a_replay_of_a_pending_purchase_says_it_is_pending(self, buy):
        buy(BOB, 1200, idempotency_key="k1")
        again = buy(BOB, 1200, idempotency_key="k1")
        assert again.is_replay and again.is_pending and again.balance == 0

    @pytest.mark.parametrize("phone, amount", [(ANN, 1300), (BOB, 1200)])
    def test_a_key_reused_for_another_purchase_is_a_conflict(self, session, join, buy, phone, amount):
        join(ANN)
        buy(ANN, 1200, idempotency_key="k1")
        with pytest.raises(Conflict) as raised:
            buy(phone, amount, idempotency_key="k1")
        assert raised.value.code == "idempotency_key_reused"
        session.rollback()
        assert session.scalar(select(func.count()).select_from(Purchase)) == 1

    def test_keys_are_per_merchant(self, session, merchant, join, buy, now):
        from smscrm.accounts.merchants import create_merchant

        other = create_merchant(session, name="Other Shop", number="+14155550999", email="o@other.example",
                                password="long enough password", now=now)
        session.commit()
        join(ANN)
        buy(ANN, 1200, idempotency_key="k1")
        result = points.record_purchase(session, other, phone=ANN, amount_minor=1200, now=now, idempotency_key="k1")
        session.commit()
        assert not result.is_replay and result.member.merchant_id == other.id


class TestValidation:
    @pytest.mark.parametrize("amount", [0, -100, 12.5, "1200", True, None, points.MAX_AMOUNT_MINOR + 1])
    def test_amounts_must_be_positive_whole_minor_units(self, session, merchant, join, now, amount):
        join(ANN)
        with pytest.raises(ValidationError):
            points.record_purchase(session, merchant, phone=ANN, amount_minor=amount, now=now)
        assert session.scalar(select(func.count()).select_from(Purchase)) == 0

    def test_a_bad_phone_is_refused(self, session, merchant, now):
        with pytest.raises(InvalidPhone):
            points.record_purchase(session, merchant, phone="12", amount_minor=100, now=now)
        assert session.scalar(select(func.count()).select_from(Member)) == 0

    @pytest.mark.parametrize("field", ["reference", "idempotency_key"])
    def test_overlong_references_and_keys_are_refused(self, session, merchant, now, field):
        with pytest.raises(ValidationError):
            points.record_purchase(session, merchant, phone=ANN, amount_minor=100, now=now, **{field: "x" * 81})

    def test_an_unknown_channel_is_refused(self, session, merchant, now):
        with pytest.raises(ValidationError):
            points.record_purchase(session, merchant, phone=ANN, amount_minor=100, now=now, channel="fax")


class TestVisitsAndStages:
    def test_visit_statistics_and_the_ladder_follow_each_purchase(self, join, buy, now):
        member = join(ANN)
        assert member.stage == Stage.JOINED and member.visit_count == 0
        buy(ANN, 1000)
        assert (member.stage, member.visit_count, member.total_spend_minor) == (Stage.FIRST_PURCHASE, 1, 1000)
        assert member.typical_visit_gap_days is None
        buy(ANN, 2000, days=10)
        buy(ANN, 500, days=16)
        assert (member.stage, member.visit_count, member.total_spend_minor) == (Stage.REPEAT, 3, 3500)
        assert (member.first_visit_at, member.last_visit_at) == (now, now + timedelta(days=16))
        assert member.typical_visit_gap_days == pytest.approx(8.0)

    def test_visits_on_one_day_are_one_visit_day_so_the_gap_is_never_zero(self, join, buy, now):
        member = join(ANN)
        buy(ANN, 1000)
        buy(ANN, 500, at=now + timedelta(hours=3))  # the same day: still no gap
        assert (member.visit_count, member.typical_visit_gap_days) == (2, None)
        buy(ANN, 2000, days=10)
        buy(ANN, 700, at=now + timedelta(days=10, hours=2))
        assert (member.visit_count, member.typical_visit_gap_days) == (4, pytest.approx(10.0))  # 2 days 10 apart

    def test_a_pending_members_visits_count_and_they_stay_pending(self, buy):
        buy(BOB, 1000)
        result = buy(BOB, 1000, days=3)
        assert (result.member.stage, result.member.visit_count) == (Stage.PENDING, 2)


class TestSettings:
    @pytest.mark.parametrize(
        "changes",
        [{"points_per_unit": -1}, {"earn_unit_minor": 0}, {"multiplier_a_pct": 1001}, {"welcome_bonus": 1.5},
         {"points_expiry_months": 0}, {"redemption_code_days": 0}, {"class_a_revenue_pct": 0},
         {"has_receipt_texts": "yes"}, {"no_such_setting": 1}, {"points_per_unit": 2, "referral_bonus": -5},
         {"class_a_max_members_pct": 60, "class_b_members_pct": 50}],
    )
    def test_bad_settings_are_refused_and_none_applied(self, merchant, changes):
        before = (merchant.points_per_unit, merchant.referral_bonus, merchant.class_a_max_members_pct)
        with pytest.raises(ValidationError):
            points.update_settings(merchant, **changes)
        assert (merchant.points_per_unit, merchant.referral_bonus, merchant.class_a_max_members_pct) == before

    def test_settings_apply_and_expiry_can_be_switched_off(self, merchant):
        points.update_settings(merchant, points_expiry_months=18, welcome_bonus=20, has_receipt_texts=False)
        assert (merchant.points_expiry_months, merchant.welcome_bonus, merchant.has_receipt_texts) == (18, 20, False)
        points.update_settings(merchant, points_expiry_months=None)
        assert merchant.points_expiry_months is None
