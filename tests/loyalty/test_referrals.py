"""Referrals by SMS: REFER <phone> / 推荐 <号码> invites a friend (never one who opted out), a personal code
works with JOIN <code>, and the referral bonus is paid to both once the friend has joined and bought."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from smscrm import inbound, points
from smscrm.loyalty import referrals
from smscrm.messaging import consent
from smscrm.models import (
    Category,
    ConsentAction,
    ConsentChannel,
    EntryKind,
    Intent,
    Member,
    OutboundMessage,
    PointsEntry,
    Referral,
    ReferralChannel,
    ReferralStatus,
    Stage,
)
from smscrm.sending import parts
from smscrm.simulator import reply_text
from tests.conftest import MERCHANT_NUMBER

ANN = "+14155550100"
FRIEND = "+14155550123"
OTHER = "+14155550124"


def say(text_in, body, sender=ANN) -> str:
    response = text_in(body, sender=sender)
    assert response.status_code == 200
    return reply_text(response.get_data(as_text=True))


def member(session, phone) -> Member:
    session.expire_all()
    return session.scalar(select(Member).where(Member.phone == phone))


def bonuses(session, phone):
    return session.scalars(
        select(PointsEntry.points).join(Member, Member.id == PointsEntry.member_id)
        .where(Member.phone == phone, PointsEntry.kind == EntryKind.BONUS, PointsEntry.note.like("referral%"))
    ).all()


@pytest.fixture
def ann(text_in, session, merchant):
    say(text_in, "JOIN Ann")
    return member(session, ANN)


class TestRefer:
    @pytest.mark.parametrize(
        "body, argument, language",
        [("REFER 415 555 0123", "415 555 0123", "en"), ("refer", "", "en"), ("推荐13800138000", "13800138000", "zh")],
    )
    def test_the_keyword_is_understood(self, body, argument, language):
        command = inbound.parse(body)
        assert (command.intent, command.argument, command.language) == (Intent.REFER, argument, language)

    def test_help_mentions_it(self, merchant, text_in):
        assert "推荐 手机号 邀好友" in say(text_in, "帮助")
        assert "REFER <phone> to invite" in say(text_in, "HELP")

    def test_refer_invites_the_friend_once_as_a_pending_member(self, session, text_in, ann):
        reply = say(text_in, "REFER (415) 555-0123")
        assert reply == ("Thanks! We invited +14155550123. When they join and make a first purchase, you both get "
                         "50 points.")
        friend = member(session, FRIEND)
        assert friend.stage == Stage.PENDING and friend.joined_at is None
        [invitation] = session.scalars(select(OutboundMessage).where(OutboundMessage.to_phone == FRIEND)).all()
        assert invitation.category == Category.MARKETING and invitation.purpose == "referral_invitation"
        assert invitation.body == (
            f"Ann (phone ending 0100) invites you to Green Leaf Tea: reply JOIN {ann.referral_code} to earn points "
            f"on every visit. Reply STOP to opt out.")
        referral = session.scalar(select(Referral))
        assert (referral.referrer_id, referral.referred_id, referral.channel, referral.status) == (
            ann.id, friend.id, ReferralChannel.SMS, ReferralStatus.INVITED)
        assert "We cannot send an invitation" in say(text_in, "REFER 4155550123")
        assert session.scalar(select(func.count()).where(OutboundMessage.to_phone == FRIEND)) == 1

    def test_a_friend_who_opted_out_gets_nothing(self, session, text_in, merchant, ann, now):
        consent.record_consent(session, merchant_id=merchant.id, phone=FRIEND, action=ConsentAction.OPT_OUT,
                               keyword="STOP", channel=ConsentChannel.SMS, now=now)
        session.commit()
        reply = say(text_in, f"REFER {FRIEND}")
        assert reply == (f"Thanks! We cannot send an invitation to {FRIEND}, but your friend can text JOIN "
                         f"{ann.referral_code} to {MERCHANT_NUMBER}.")
        assert session.scalar(select(func.count()).where(OutboundMessage.to_phone == FRIEND)) == 0
        assert session.scalar(select(func.count()).select_from(Referral)) == 0

    def test_an_existing_member_is_not_invited(self, session, text_in, ann):
        say(text_in, "JOIN", sender=FRIEND)
        assert "We cannot send an invitation" in say(text_in, f"REFER {FRIEND}")
        assert session.scalar(select(func.count()).select_from(Referral)) == 0

    def test_refer_without_a_number_explains_and_shares_the_code(self, session, text_in, ann):
        assert say(text_in, "REFER") == (
            f"Invite a friend: text REFER and their phone number, e.g. REFER 415 555 0123. Or share your code "
            f"{ann.referral_code}: friends text JOIN {ann.referral_code} to {MERCHANT_NUMBER}.")
        assert say(text_in, "REFER my sister").startswith("Invite a friend")

    @pytest.mark.parametrize("joined_with", ["JOIN", "入会"])
    def test_a_number_no_region_issues_is_refused_and_nothing_is_sent(self, session, merchant, text_in, joined_with):
        say(text_in, joined_with)
        invalid = "+14151234567"  # a possible length, but 123 is no exchange of area code 415
        reply = say(text_in, "REFER 415 123 4567" if joined_with == "JOIN" else "推荐4151234567")
        assert reply == {
            "JOIN": f"{invalid} is not a number we can text. Text REFER and your friend's mobile number, "
                    "e.g. REFER 415 555 0123.",
            "入会": f"【绿叶茶馆】{invalid}不是可以接收短信的号码，请发送“推荐 好友手机号”。",
        }[joined_with]
        assert parts.count(reply).parts == 1
        assert session.scalar(select(func.count()).where(OutboundMessage.to_phone == invalid)) == 0
        assert session.scalar(select(func.count()).select_from(Referral)) == 0
        assert member(session, invalid) is None

    def test_referring_yourself_is_refused(self, text_in, ann):
        assert say(text_in, f"REFER {ANN}") == "That is your own number. Text REFER and a friend's phone number."

    def test_at_most_five_invitations_a_day(self, session, text_in, ann):
        for n in range(referrals.MAX_INVITES_PER_DAY):
            assert say(text_in, f"REFER +1415555020{n}").startswith("Thanks! We invited")
        assert say(text_in, "REFER +14155550299") == "You have sent 5 invitations today; please try again tomorrow."
        assert session.scalar(select(func.count()).select_from(Referral)) == 5

    def test_chinese_refer(self, session, merchant, text_in):
        say(text_in, "入会")
        reply = say(text_in, "推荐4155550123")
        assert reply == "【绿叶茶馆】谢谢推荐！我们已邀请+14155550123。对方入会并首次消费后，您和对方各得50积分。"
        invitation = session.scalar(select(OutboundMessage.body).where(OutboundMessage.to_phone == FRIEND))
        assert invitation.startswith("【绿叶茶馆】尾号0100的好友邀您加入Green Leaf Tea会员")
        assert invitation.endswith("回复TD退订")

    def test_non_members_cannot_refer(self, session, merchant, text_in):
        assert say(text_in, f"REFER {FRIEND}").startswith("Text JOIN to become a member")
        assert session.scalar(select(func.count()).select_from(Referral)) == 0


class TestBonus:
    def test_both_get_the_bonus_once_when_the_friend_joins_and_buys(self, session, text_in, buy, ann):
        say(text_in, f"REFER {FRIEND}")
        say(text_in, "JOIN", sender=FRIEND)
        assert session.scalar(select(Referral.status)) == ReferralStatus.JOINED
        assert bonuses(session, ANN) == [] and bonuses(session, FRIEND) == []
        buy(FRIEND, 1000)
        buy(FRIEND, 1000, days=1)
        assert bonuses(session, ANN) == [50] and bonuses(session, FRIEND) == [50]
        referrer = member(session, ANN)
        assert referrer.stage == Stage.ADVOCATE and referrer.points_balance == 50
        assert member(session, FRIEND).points_balance == 10 + 10 + 50
        [note] = session.scalars(select(OutboundMessage.body).where(OutboundMessage.purpose == "referral_rewarded"))
        assert note == ("A friend you invited made their first purchase at Green Leaf Tea: +50 bonus points, "
                        "you now have 50 points.")

    def test_each_text_tells_the_bonus_with_the_balance_after_it(self, session, text_in, buy, ann):
        """Issue 21: the friend's first receipt says the bonus its balance includes (one text, so no later text
        contradicts it, whatever order texts arrive in); the referrer's text shows their balance after the bonus."""
        say(text_in, f"REFER {FRIEND}")
        say(text_in, "JOIN", sender=FRIEND)
        buy(FRIEND, 1000)
        buy(FRIEND, 1000, days=1)
        texts_to = lambda phone: session.scalars(  # noqa: E731
            select(OutboundMessage.body).where(OutboundMessage.to_phone == phone, OutboundMessage.category != "reply")
            .order_by(OutboundMessage.id)).all()
        assert texts_to(FRIEND)[-2:] == [
            "Thanks for visiting Green Leaf Tea! +10 points and a 50-point friend bonus: you now have 60 points.",
            "Thanks for visiting Green Leaf Tea! +10 points, you now have 70 points.",
        ]
        assert texts_to(ANN) == [
            "A friend you invited made their first purchase at Green Leaf Tea: +50 bonus points, you now have 50 points."
        ]
        assert (member(session, FRIEND).points_balance, member(session, ANN).points_balance) == (70, 50)

    def test_join_with_a_personal_code_counts_and_the_code_is_not_taken_for_a_name(self, session, text_in, buy, ann):
        say(text_in, f"JOIN {ann.referral_code.lower()}", sender=FRIEND)
        friend = member(session, FRIEND)
        assert friend.is_joined and friend.name is None
        referral = session.scalar(select(Referral))
        assert (referral.referrer_id, referral.channel, referral.status) == (
            ann.id, ReferralChannel.CODE, ReferralStatus.JOINED)
        buy(FRIEND, 500)
        assert bonuses(session, ANN) == [50] and bonuses(session, FRIEND) == [50]

    def test_a_friend_who_bought_before_joining_gets_the_bonus_on_joining(self, session, text_in, buy, ann):
        say(text_in, f"REFER {FRIEND}")
        buy(FRIEND, 1000)
        assert bonuses(session, FRIEND) == []
        say(text_in, "JOIN", sender=FRIEND)
        assert bonuses(session, ANN) == [50] and bonuses(session, FRIEND) == [50]
        assert member(session, FRIEND).points_balance == 60

    def test_the_first_referral_wins(self, session, text_in, ann):
        say(text_in, "JOIN", sender=OTHER)
        other = member(session, OTHER)
        say(text_in, f"REFER {FRIEND}")
        say(text_in, f"JOIN {other.referral_code}", sender=FRIEND)
        assert session.scalars(select(Referral.referrer_id)).all() == [ann.id]

    def test_an_existing_member_texting_join_with_a_code_is_not_referred(self, session, text_in, ann):
        say(text_in, "JOIN", sender=FRIEND)
        assert say(text_in, f"JOIN {ann.referral_code}", sender=FRIEND).startswith("You are already a member")
        assert session.scalar(select(func.count()).select_from(Referral)) == 0
        assert member(session, FRIEND).name is None

    def test_no_bonus_when_the_merchant_sets_none(self, session, merchant, text_in, buy, ann):
        points.update_settings(merchant, referral_bonus=0)
        session.commit()
        assert say(text_in, f"REFER {FRIEND}") == f"Thanks! We invited {FRIEND} to join Green Leaf Tea."
        say(text_in, "JOIN", sender=FRIEND)
        buy(FRIEND, 1000)
        assert bonuses(session, ANN) == [] and session.scalar(select(Referral.status)) == ReferralStatus.REWARDED
        assert member(session, ANN).stage == Stage.ADVOCATE


class TestCodes:
    def test_every_member_gets_a_personal_code_on_joining(self, session, merchant, join):
        first, second = join(ANN), join(FRIEND)
        assert len(first.referral_code) == referrals.REFERRAL_CODE_LENGTH
        assert any(ch.isdigit() for ch in first.referral_code)
        assert first.referral_code != second.referral_code
        assert referrals.referrer_for_code(session, merchant.id, f" {first.referral_code.lower()} ") == first

    def test_names_and_pending_members_codes_are_not_referrers(self, session, merchant, join, now):
        pending = points.record_purchase(session, merchant, phone=ANN, amount_minor=100, now=now).member
        pending.referral_code = "ABCDE2"
        join(FRIEND).referral_code = "HANNAH"  # not a code we make: codes have a digit, names rarely do
        session.commit()
        assert referrals.referrer_for_code(session, merchant.id, "ABCDE2") is None
        assert referrals.referrer_for_code(session, merchant.id, "Hannah") is None
        assert referrals.referrer_for_code(session, merchant.id, "Annabelle") is None
        assert referrals.referrer_for_code(session, merchant.id, "") is None

    def test_a_code_is_kept_for_good(self, session, join, now):
        member_ = join(ANN)
        code = member_.referral_code
        assert referrals.ensure_referral_code(session, member_) == code
        assert code == join(ANN, at=now + timedelta(days=1)).referral_code
