"""Chinese texts are Chinese throughout (issue 21): the merchant's Chinese name fills {merchant} in every text to a
Chinese member — replies, receipts, care and campaigns — and a reward's Chinese name is shown and understood."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from smscrm import broadcast, care, points
from smscrm.broadcast import CampaignDraft
from smscrm.loyalty import rewards
from smscrm.marketing import care_rules, segments
from smscrm.models import CareKind, Category, Member, OutboundMessage
from smscrm.simulator import reply_text
from tests.campaign_members import add_member

ANN, LI = "+14155550100", "+14155550101"


@pytest.fixture
def named(session, merchant):
    merchant.name_zh = "绿叶"
    session.commit()
    return merchant


def say(text_in, body, sender=LI) -> str:
    return reply_text(text_in(body, sender=sender).get_data(as_text=True))


def test_replies_name_the_shop_in_the_members_language(named, text_in):
    assert say(text_in, "入会") == "【绿叶茶馆】欢迎加入绿叶会员！手机号即会员卡，发“帮助”了解更多。回复TD退订"
    assert say(text_in, "积分") == "【绿叶茶馆】您在绿叶的积分为0分。"
    assert say(text_in, "JOIN", sender=ANN).startswith("Welcome to Green Leaf Tea!")


def test_receipts_name_the_shop_in_chinese(session, named, text_in, now):
    say(text_in, "入会")
    points.record_purchase(session, named, phone=LI, amount_minor=1200, now=now)
    session.commit()
    receipt = session.scalar(select(OutboundMessage.body).where(OutboundMessage.purpose == "purchase_receipt"))
    assert receipt == "【绿叶茶馆】感谢光临绿叶！本次获得12积分，当前共12积分。"


def test_campaigns_fill_merchant_with_the_chinese_name(session, named, now):
    add_member(session, named, now=now, phone=ANN, language="en")
    add_member(session, named, now=now, phone=LI, language="zh")
    segment = segments.save_segment(session, named, name="Everyone", rules={}, now=now, is_saved=False)
    draft = CampaignDraft(name="Spring", text_en="Double points at {merchant}!", text_zh="{merchant}本周双倍积分！",
                          holdout_pct=0)
    campaign = broadcast.save_draft(session, named, draft, segment=segment, now=now)
    broadcast.start_campaign(session, named, campaign, now=now)
    session.commit()
    bodies = dict(session.execute(select(OutboundMessage.to_phone, OutboundMessage.body)
                                  .where(OutboundMessage.campaign_id == campaign.id)).all())
    assert bodies == {ANN: "Double points at Green Leaf Tea! Reply STOP to opt out.",
                      LI: "【绿叶茶馆】绿叶本周双倍积分！回复TD退订"}


def test_care_texts_name_the_shop_in_chinese(session, named, now):
    care_rules.save_rule(session, named, CareKind.BIRTHDAY, now=now, is_enabled=True, send_hour=10)
    add_member(session, named, now=now, phone=LI, language="zh", name="王芳", birthday_month=5, birthday_day=20)
    session.commit()
    care.evaluate(session, now=datetime(2026, 5, 20, 17, 0, tzinfo=timezone.utc))  # 10:00 in Los Angeles
    session.commit()
    body = session.scalar(select(OutboundMessage.body).where(OutboundMessage.category == Category.CARE))
    assert body.startswith("【绿叶茶馆】亲爱的王芳，绿叶全体员工祝您生日快乐！")


def test_rewards_are_named_and_found_in_chinese(session, named, text_in, now):
    rewards.create_reward(session, named, code="TEA", name="Free tea", name_zh="免费茶", points_cost=10, now=now)
    session.commit()
    say(text_in, "入会")
    points.record_purchase(session, named, phone=LI, amount_minor=2000, now=now)
    session.commit()
    assert say(text_in, "兑换") == "【绿叶茶馆】礼品（积分）：TEA 免费茶 (10)。发“兑换 TEA”即可兑换，您有20积分。"
    code = say(text_in, "兑换 免费茶")
    assert code.startswith("【绿叶茶馆】免费茶兑换码") and code.endswith("已预留10积分，余10。")
    assert say(text_in, "兑换tea").startswith("【绿叶茶馆】免费茶兑换码")
    say(text_in, "JOIN", sender=ANN)
    assert say(text_in, "REDEEM", sender=ANN).startswith("Rewards (points): TEA Free tea (10).")
    assert session.scalar(select(Member.points_balance).where(Member.phone == LI)) == 0
