"""Rewards and redemption: the catalog, redeeming at the counter, REDEEM codes by SMS, confirming,
expired codes giving the points (and stock) back, and retries."""
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from smscrm import inbound, points
from smscrm.accounts.merchants import create_merchant
from smscrm.errors import (
    Conflict,
    InsufficientPoints,
    NotFound,
    RedemptionCodeExpired,
    RedemptionCodeInvalid,
    RedemptionCodeUsed,
    RewardUnavailable,
    ValidationError,
)
from smscrm.loyalty import rewards
from smscrm.models import EntryKind, Intent, Redemption, RedemptionStatus, Reward
from tests.loyalty.conftest import ledger_rows

ANN = "+14155550100"


@pytest.fixture
def tea(session, merchant, now) -> Reward:
    reward = rewards.create_reward(session, merchant, code="tea", name="Free pot of tea", points_cost=100, now=now)
    session.commit()
    return reward


@pytest.fixture
def ann(session, join, buy):
    """A member with 250 points."""
    member = join(ANN)
    buy(ANN, 25000)
    return member


class TestCatalog:
    def test_codes_are_normalised_and_unique_per_merchant(self, session, merchant, tea, now):
        assert tea.code == "TEA" and tea.stock is None and tea.is_active
        assert rewards.find_reward(session, merchant, " t-e-a ") == tea
        assert rewards.find_reward(session, merchant, "ｔｅａ") == tea  # full-width, as phones type it
        with pytest.raises(Conflict):
            rewards.create_reward(session, merchant, code="Tea", name="Another", points_cost=5, now=now)

    @pytest.mark.parametrize(
        "field, value",
        [("code", ""), ("code", "TOO-LONG-CODE-123"), ("code", "茶"), ("name", ""), ("name", "x" * 81),
         ("points_cost", 0), ("points_cost", 2.5), ("points_cost", True), ("stock", -1), ("stock", "10")],
    )
    def test_bad_rewards_are_refused(self, session, merchant, now, field, value):
        fields = {"code": "CAKE", "name": "Cake", "points_cost": 50, field: value}
        with pytest.raises(ValidationError):
            rewards.create_reward(session, merchant, now=now, **fields)
        session.rollback()
        assert session.scalar(select(func.count()).select_from(Reward)) == 0

    def test_the_catalog_lists_cheapest_first_and_can_hide_inactive_rewards(self, session, merchant, tea, now):
        cake = rewards.create_reward(session, merchant, code="CAKE", name="Cake", points_cost=50, now=now)
        rewards.update_reward(session, tea, is_active=False)
        assert rewards.list_rewards(session, merchant) == [cake, tea]
        assert rewards.list_rewards(session, merchant, active_only=True) == [cake]

    def test_another_merchants_reward_is_not_found(self, session, merchant, tea, now):
        other = create_merchant(session, name="Other", number="+14155550999", email="o@o.example",
                                password="long enough password", now=now)
        with pytest.raises(NotFound):
            rewards.get_reward(session, other, tea.id)
        assert rewards.get_reward(session, merchant, tea.id) == tea


class TestAtTheCounter:
    def test_redeeming_takes_the_points_at_once(self, session, merchant, ann, tea, now):
        redemption = points.redeem_at_counter(session, merchant, ann, tea, now=now)
        session.commit()
        assert (redemption.status, redemption.channel, redemption.points_cost) == ("confirmed", "counter", 100)
        assert redemption.confirmed_at == now and redemption.code is None
        assert ann.points_balance == 150
        assert ledger_rows(session, ann)[-1] == (EntryKind.REDEEM, -100, 150)

    def test_not_enough_points_changes_nothing(self, session, merchant, ann, now):
        feast = rewards.create_reward(session, merchant, code="FEAST", name="Feast", points_cost=251, stock=3, now=now)
        with pytest.raises(InsufficientPoints):
            points.redeem_at_counter(session, merchant, ann, feast, now=now)
        session.commit()
        assert (ann.points_balance, feast.stock) == (250, 3)
        assert session.scalar(select(func.count()).select_from(Redemption)) == 0

    def test_stock_runs_out(self, session, merchant, ann, now):
        mug = rewards.create_reward(session, merchant, code="MUG", name="Mug", points_cost=10, stock=2, now=now)
        points.redeem_at_counter(session, merchant, ann, mug, now=now)
        points.redeem_at_counter(session, merchant, ann, mug, now=now)
        with pytest.raises(RewardUnavailable):
            points.redeem_at_counter(session, merchant, ann, mug, now=now)
        session.commit()
        assert (mug.stock, ann.points_balance) == (0, 230)

    def test_a_switched_off_reward_cannot_be_redeemed(self, session, merchant, ann, tea, now):
        rewards.update_reward(session, tea, is_active=False)
        with pytest.raises(RewardUnavailable):
            points.redeem_at_counter(session, merchant, ann, tea, now=now)
        assert ann.points_balance == 250

    def test_a_retry_with_the_same_key_redeems_once(self, session, merchant, ann, tea, now):
        first = points.redeem_at_counter(session, merchant, ann, tea, now=now, idempotency_key="pos-42")
        again = points.redeem_at_counter(session, merchant, ann, tea, now=now, idempotency_key="pos-42")
        session.commit()
        assert again.id == first.id and ann.points_balance == 150

    def test_a_key_reused_for_another_reward_is_a_conflict(self, session, merchant, ann, tea, now):
        cake = rewards.create_reward(session, merchant, code="CAKE", name="Cake", points_cost=50, now=now)
        points.redeem_at_counter(session, merchant, ann, tea, now=now, idempotency_key="pos-42")
        with pytest.raises(Conflict):
            points.redeem_at_counter(session, merchant, ann, cake, now=now, idempotency_key="pos-42")

    def test_another_merchants_member_is_not_found(self, session, merchant, ann, now):
        other = create_merchant(session, name="Other", number="+14155550999", email="o@o.example",
                                password="long enough password", now=now)
        theirs = rewards.create_reward(session, other, code="TEA", name="Tea", points_cost=1, now=now)
        with pytest.raises(NotFound):
            points.redeem_at_counter(session, other, ann, theirs, now=now)
        with pytest.raises(NotFound):
            points.request_redemption(session, other, ann, "TEA", now=now)

    def test_a_pending_member_cannot_redeem(self, session, merchant, buy, tea, now):
        pending = buy("+14155550177", 50000).member
        with pytest.raises(InsufficientPoints):
            points.redeem_at_counter(session, merchant, pending, tea, now=now)


class TestByCode:
    def test_redeem_reserves_the_points_and_issues_a_code_valid_for_n_days(self, session, merchant, ann, tea, now):
        points.update_settings(merchant, redemption_code_days=3)
        redemption = points.request_redemption(session, merchant, ann, "tea", now=now)
        session.commit()
        assert redemption.status == RedemptionStatus.RESERVED and redemption.channel == "sms"
        assert len(redemption.code) == rewards.REDEMPTION_CODE_LENGTH
        assert set(redemption.code) <= set("23456789ABCDEFGHJKLMNPQRSTUVWXYZ")
        assert redemption.expires_at == now + timedelta(days=3)
        assert ann.points_balance == 150 and ledger_rows(session, ann)[-1] == (EntryKind.REDEEM, -100, 150)

    def test_staff_confirm_the_code_once(self, session, merchant, ann, tea, now):
        code = points.request_redemption(session, merchant, ann, "TEA", now=now).code
        later = now + timedelta(days=2)
        confirmed = points.confirm_redemption(session, merchant, code.lower(), now=later)
        session.commit()
        assert (confirmed.status, confirmed.confirmed_at) == (RedemptionStatus.CONFIRMED, later)
        assert ann.points_balance == 150
        with pytest.raises(RedemptionCodeUsed):
            points.confirm_redemption(session, merchant, code, now=later)

    def test_an_unknown_code_or_another_merchants_code_is_invalid(self, session, merchant, ann, tea, now):
        code = points.request_redemption(session, merchant, ann, "TEA", now=now).code
        other = create_merchant(session, name="Other", number="+14155550999", email="o@o.example",
                                password="long enough password", now=now)
        with pytest.raises(RedemptionCodeInvalid):
            points.confirm_redemption(session, other, code, now=now)
        with pytest.raises(RedemptionCodeInvalid):
            points.confirm_redemption(session, merchant, "ZZZZZZ", now=now)

    def test_an_expired_code_is_refused_and_its_points_and_stock_come_back(self, session, merchant, ann, now):
        mug = rewards.create_reward(session, merchant, code="MUG", name="Mug", points_cost=100, stock=1, now=now)
        redemption = points.request_redemption(session, merchant, ann, "MUG", now=now)
        session.commit()
        assert (ann.points_balance, mug.stock) == (150, 0)
        too_late = redemption.expires_at
        with pytest.raises(RedemptionCodeExpired):
            points.confirm_redemption(session, merchant, redemption.code, now=too_late)
        session.commit()
        assert (ann.points_balance, mug.stock, redemption.status) == (250, 1, RedemptionStatus.EXPIRED)
        assert ledger_rows(session, ann)[-1] == (EntryKind.REVERSAL, 100, 250)
        with pytest.raises(RedemptionCodeExpired):
            points.confirm_redemption(session, merchant, redemption.code, now=too_late)

    def test_the_release_job_returns_expired_reservations_and_is_safe_to_run_twice(
        self, session, merchant, ann, tea, now
    ):
        first = points.request_redemption(session, merchant, ann, "TEA", now=now)
        second = points.request_redemption(session, merchant, ann, "TEA", now=now + timedelta(days=1))
        session.commit()
        assert ann.points_balance == 50
        assert points.release_expired_redemptions(session, now=first.expires_at - timedelta(seconds=1)) == 0
        assert points.release_expired_redemptions(session, now=second.expires_at) == 2
        assert points.release_expired_redemptions(session, now=second.expires_at) == 0
        session.commit()
        assert ann.points_balance == 250
        assert ledger_rows(session, ann)[-2:] == [(EntryKind.REVERSAL, 100, 150), (EntryKind.REVERSAL, 100, 250)]
        assert {first.status, second.status} == {RedemptionStatus.EXPIRED}

    def test_redeeming_again_first_gives_back_what_expired(self, session, merchant, ann, now):
        big = rewards.create_reward(session, merchant, code="BIG", name="Big", points_cost=200, now=now)
        first = points.request_redemption(session, merchant, ann, "BIG", now=now)
        with pytest.raises(InsufficientPoints):
            points.request_redemption(session, merchant, ann, "BIG", now=now + timedelta(days=1))
        second = points.request_redemption(session, merchant, ann, "BIG", now=first.expires_at)
        session.commit()
        assert first.status == RedemptionStatus.EXPIRED and second.status == RedemptionStatus.RESERVED
        assert ann.points_balance == 50 and big.stock is None

    def test_an_unknown_reward_code_is_not_found(self, session, merchant, ann, now):
        with pytest.raises(NotFound) as raised:
            points.request_redemption(session, merchant, ann, "NOPE", now=now)
        assert raised.value.code == "reward_not_found"


class TestRedeemText:
    """REDEEM / 兑换 through the signed webhook, as a shopper's phone sends it."""

    @pytest.mark.parametrize(
        "body, argument, language",
        [("REDEEM tea", "tea", "en"), ("redeem", "", "en"), ("ＲＥＤＥＥＭ　Ａ１", "A1", "en"), ("兑换A1", "A1", "zh"),
         ("兑换 tea。", "tea", "zh")],
    )
    def test_the_keyword_is_understood(self, body, argument, language):
        command = inbound.parse(body)
        assert (command.intent, command.argument, command.language) == (Intent.REDEEM, argument, language)

    def test_help_mentions_it(self, merchant, text_in):
        assert "REDEEM for rewards" in text_in("HELP").get_data(as_text=True)

    @pytest.fixture
    def member_by_sms(self, session, text_in, buy):
        text_in("JOIN Ann")
        buy(ANN, 25000)

    def test_redeem_alone_lists_the_catalog(self, text_in, tea, member_by_sms):
        assert "TEA Free pot of tea (100)" in text_in("REDEEM").get_data(as_text=True)

    def test_redeem_a_code_texts_the_one_time_code(self, session, text_in, tea, member_by_sms):
        body = text_in("redeem tea").get_data(as_text=True)
        redemption = session.scalar(select(Redemption))
        last_day = redemption.expires_at.astimezone(ZoneInfo("America/Los_Angeles")).date()  # the webhook's clock
        assert redemption.expires_at - redemption.created_at == timedelta(days=7)
        assert f"Your code for Free pot of tea is {redemption.code}: show it at Green Leaf Tea by {last_day}." in body
        assert "100 points set aside, 150 left." in body

    def test_chinese_keyword_and_reply(self, session, text_in, tea):
        text_in("入会")
        session.commit()
        assert "兑换Free pot of tea需要100积分，您目前有0积分。" in text_in("兑换 TEA").get_data(as_text=True)

    def test_an_unknown_reward_gets_the_catalog(self, text_in, tea, member_by_sms):
        assert "There is no reward CAKE. Rewards (points): TEA Free pot of tea (100)." in text_in(
            "REDEEM cake").get_data(as_text=True)

    def test_no_rewards_at_all(self, text_in, member_by_sms):
        assert "has no rewards to redeem right now" in text_in("REDEEM TEA").get_data(as_text=True)

    def test_non_members_are_told_to_join_first(self, session, text_in, tea):
        assert "Text JOIN to become a member" in text_in("REDEEM TEA").get_data(as_text=True)
        assert session.scalar(select(func.count()).select_from(Redemption)) == 0
