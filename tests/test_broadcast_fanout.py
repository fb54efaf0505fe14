"""Starting a campaign: who gets a row in the outbox, what it says, the holdout, and the campaign's life."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from smscrm import broadcast, delivery
from smscrm.accounts.merchants import create_merchant
from smscrm.broadcast import CampaignDraft
from smscrm.db.engine import make_sessionmaker
from smscrm.errors import Conflict, InvalidPhone, ValidationError
from smscrm.marketing import segments
from smscrm.models import (
    Campaign,
    CampaignHoldout,
    CampaignStatus,
    Category,
    OutboundMessage,
    Stage,
    Status,
)
from tests.campaign_members import add_many, add_member
from tests.conftest import MERCHANT_NUMBER


def make_campaign(session, merchant, now, *, rules=None, text_en="Hi {name}, double points this week at {merchant}!",
                  text_zh=None, holdout_pct=0, exclude=None) -> Campaign:
    segment = segments.save_segment(
        session, merchant, name="Everyone", rules=rules or {}, now=now, is_saved=False,
        exclude_segment_id=exclude.id if exclude else None,
    )
    draft = CampaignDraft(name="Spring", text_en=text_en, text_zh=text_zh, holdout_pct=holdout_pct)
    return broadcast.save_draft(session, merchant, draft, segment=segment, now=now)


def outbox(session, campaign) -> list[OutboundMessage]:
    return list(session.scalars(
        select(OutboundMessage).where(OutboundMessage.campaign_id == campaign.id).order_by(OutboundMessage.to_phone)
    ))


def test_fan_out_queues_one_text_per_reachable_member(session, merchant, now):
    ann = add_member(session, merchant, now=now, name="Ann", phone="+14155550101", points_balance=40, value_class="A")
    add_member(session, merchant, now=now, name="Out", phone="+14155550102", is_opted_out=True)
    add_member(session, merchant, now=now, name="Pending", phone="+14155550103", joined_at=None)
    nameless = add_member(session, merchant, now=now, phone="+14155550104")
    other = create_merchant(session, name="Blue Door", number="+14155559999", email="o@blue.example",
                            password="another good password", now=now)
    add_member(session, other, now=now, name="Stranger", phone="+14155550105")
    campaign = make_campaign(session, merchant, now, text_en="{name}: {points} points, class {class}, at {merchant}")

    result = broadcast.start_campaign(session, merchant, campaign, now=now)
    session.commit()

    rows = outbox(session, campaign)
    assert [(row.member_id, row.to_phone) for row in rows] == [(ann.id, ann.phone), (nameless.id, nameless.phone)]
    assert [row.body for row in rows] == [
        "Ann: 40 points, class A, at Green Leaf Tea Reply STOP to opt out.",
        "friend: 0 points, class , at Green Leaf Tea Reply STOP to opt out.",
    ]
    for row in rows:
        assert (row.merchant_id, row.from_phone, row.category, row.purpose, row.status) == (
            merchant.id, MERCHANT_NUMBER, Category.MARKETING, "campaign", Status.QUEUED)
        assert row.send_after == now and row.created_at == now and row.attempts == 0
        assert row.dedupe_key == f"campaign:{campaign.id}:{row.to_phone}"
    assert result == broadcast.FanOut(matched=4, not_joined=1, opted_out=1, holdout=0, duplicates=0, queued=2)
    session.refresh(campaign)
    assert campaign.status == CampaignStatus.SENDING and campaign.started_at == now
    assert (campaign.matched_count, campaign.not_joined_count, campaign.opted_out_count, campaign.queued_count) == (4, 1, 1, 2)
    assert campaign.audience == {"segment_id": campaign.segment_id, "name": "Everyone", "rules": {}}


def test_members_get_the_text_in_their_language(session, merchant, now):
    add_member(session, merchant, now=now, name="Ann", phone="+14155550101")
    add_member(session, merchant, now=now, name="小明", phone="+14155550102", language="zh", points_balance=88)
    campaign = make_campaign(session, merchant, now, text_en="Hi {name}!", text_zh="{name}您好，您有{points}积分")

    broadcast.start_campaign(session, merchant, campaign, now=now)

    assert [row.body for row in outbox(session, campaign)] == [
        "Hi Ann! Reply STOP to opt out.",
        "【绿叶茶馆】小明您好，您有88积分，回复TD退订",
    ]


def test_a_text_in_one_language_goes_to_everyone(session, merchant, now):
    add_member(session, merchant, now=now, phone="+14155550101")
    add_member(session, merchant, now=now, phone="+14155550102", language="zh")
    campaign = make_campaign(session, merchant, now, text_en=None, text_zh="{name}，新茶到店。")

    broadcast.start_campaign(session, merchant, campaign, now=now)

    assert {row.body for row in outbox(session, campaign)} == {"【绿叶茶馆】会员，新茶到店。回复TD退订"}


def test_a_members_name_is_not_read_as_a_placeholder(session, merchant, now):
    add_member(session, merchant, now=now, name="{points}", phone="+14155550101", points_balance=7)
    campaign = make_campaign(session, merchant, now, text_en="Hi {name}, you have {points}")

    broadcast.start_campaign(session, merchant, campaign, now=now)

    assert outbox(session, campaign)[0].body == "Hi {points}, you have 7 Reply STOP to opt out."


def test_the_segment_and_its_exclusion_decide_who_is_texted(session, merchant, now):
    add_member(session, merchant, now=now, name="Tea", phone="+14155550101", interests=["green tea", "oolong"])
    add_member(session, merchant, now=now, name="Tea A", phone="+14155550102", interests=["green tea"], value_class="A")
    add_member(session, merchant, now=now, name="Cake", phone="+14155550103", interests=["cakes"])
    a_class = segments.save_segment(session, merchant, name="A", rules={"value_classes": ["A"]}, now=now)
    campaign = make_campaign(session, merchant, now, rules={"interests": ["green tea", "oolong"]}, exclude=a_class)

    result = broadcast.start_campaign(session, merchant, campaign, now=now)

    # "Tea" likes both topics and still gets one text; "Tea A" is excluded; "Cake" does not match.
    assert [row.to_phone for row in outbox(session, campaign)] == ["+14155550101"]
    assert (result.matched, result.queued) == (1, 1)
    assert campaign.audience["exclude"]["rules"] == {"value_classes": ["A"]}


def test_a_phone_already_queued_for_the_campaign_is_not_queued_again(session, merchant, now):
    first = add_member(session, merchant, now=now, phone="+14155550101")
    add_member(session, merchant, now=now, phone="+14155550102")
    campaign = make_campaign(session, merchant, now)
    earlier = OutboundMessage(
        merchant_id=merchant.id, member_id=first.id, campaign_id=campaign.id, to_phone=first.phone,
        from_phone=MERCHANT_NUMBER, body="earlier", parts=1, category=Category.MARKETING, purpose="campaign",
        status=Status.SENT, dedupe_key=f"campaign:{campaign.id}:{first.phone}", send_after=now, created_at=now,
    )
    session.add(earlier)
    session.flush()

    result = broadcast.start_campaign(session, merchant, campaign, now=now)

    assert [row.body for row in outbox(session, campaign)] == ["earlier", "Hi friend, double points this week at Green Leaf Tea! Reply STOP to opt out."]
    assert (result.queued, result.duplicates) == (1, 1)


def test_a_campaign_starts_once(session, merchant, now):
    add_member(session, merchant, now=now, phone="+14155550101")
    campaign = make_campaign(session, merchant, now)
    broadcast.start_campaign(session, merchant, campaign, now=now)
    session.commit()

    with pytest.raises(Conflict, match="is sending"):
        broadcast.start_campaign(session, merchant, campaign, now=now + timedelta(minutes=1))
    assert len(outbox(session, campaign)) == 1


def test_a_failed_fan_out_leaves_nothing_behind(session, merchant, now, monkeypatch):
    add_many(session, merchant, 20, now=now)
    campaign = make_campaign(session, merchant, now, holdout_pct=10)
    session.commit()

    def broken(*args, **kwargs):
        raise RuntimeError("the database went away mid fan-out")

    monkeypatch.setattr(broadcast, "_queue_messages", broken)
    with pytest.raises(RuntimeError):
        broadcast.start_campaign(session, merchant, campaign, now=now)
    session.rollback()

    session.refresh(campaign)
    assert campaign.status == CampaignStatus.DRAFT
    assert session.scalar(select(func.count()).select_from(CampaignHoldout)) == 0
    assert outbox(session, campaign) == []


def test_the_holdout_is_drawn_from_reachable_members_recorded_and_not_sent(session, merchant, now):
    add_many(session, merchant, 47, now=now, phone_prefix="+1628555")
    add_many(session, merchant, 3, now=now, phone_prefix="+1628666", is_opted_out=True)
    campaign = make_campaign(session, merchant, now, holdout_pct=10)

    result = broadcast.start_campaign(session, merchant, campaign, now=now)

    held = set(session.scalars(select(CampaignHoldout.member_id).where(CampaignHoldout.campaign_id == campaign.id)))
    sent = {row.member_id for row in outbox(session, campaign)}
    assert len(held) == result.holdout == 5  # 10 % of the 47 reachable, rounded
    assert held.isdisjoint(sent)
    assert len(held | sent) == 47 and result.queued == 42
    assert session.get(Campaign, campaign.id).holdout_count == 5


def test_each_campaign_draws_its_own_holdout(session, merchant, now):
    add_many(session, merchant, 60, now=now)
    draws = []
    for _ in range(2):
        campaign = make_campaign(session, merchant, now, holdout_pct=25)
        broadcast.start_campaign(session, merchant, campaign, now=now)
        draws.append(set(session.scalars(select(CampaignHoldout.member_id).where(CampaignHoldout.campaign_id == campaign.id))))
    assert len(draws[0]) == len(draws[1]) == 15
    assert draws[0] != draws[1]  # the same 15 of 60 twice by chance: about 1 in 5 × 10^13


def test_pause_holds_queued_texts_resume_releases_them_cancel_drops_them(session, merchant, now, engine):
    add_many(session, merchant, 6, now=now)
    campaign = make_campaign(session, merchant, now)
    broadcast.start_campaign(session, merchant, campaign, now=now)
    session.commit()
    daytime = now + timedelta(hours=3)  # 11:00 in San Francisco, where the members' numbers are: no quiet hours
    claimed = delivery.claim_due(session, now=daytime, worker_id="w1", batch_size=2, lease=timedelta(minutes=5))
    session.commit()
    assert len(claimed) == 2

    assert broadcast.pause_campaign(session, campaign, now=now) == 4
    session.commit()
    assert campaign.status == CampaignStatus.PAUSED
    assert delivery.claim_due(session, now=daytime, worker_id="w2", batch_size=10, lease=timedelta(minutes=5)) == []
    assert sorted(row.status for row in outbox(session, campaign)) == ["held"] * 4 + ["sending"] * 2

    assert broadcast.resume_campaign(session, campaign, now=now) == 4
    session.commit()
    assert campaign.status == CampaignStatus.SENDING
    assert len(delivery.claim_due(session, now=daytime, worker_id="w2", batch_size=1, lease=timedelta(minutes=5))) == 1
    session.commit()

    assert broadcast.cancel_campaign(session, campaign, now=now) == 3
    session.commit()
    assert campaign.status == CampaignStatus.CANCELLED and campaign.cancelled_at == now
    assert sorted(row.status for row in outbox(session, campaign)) == ["cancelled"] * 3 + ["sending"] * 3
    assert delivery.claim_due(session, now=daytime, worker_id="w3", batch_size=10, lease=timedelta(minutes=5)) == []
    with pytest.raises(Conflict):
        broadcast.resume_campaign(session, campaign, now=now)


def test_only_a_sending_campaign_pauses(session, merchant, now):
    campaign = make_campaign(session, merchant, now)
    with pytest.raises(Conflict, match="draft"):
        broadcast.pause_campaign(session, campaign, now=now)


def test_a_scheduled_campaign_starts_when_due_and_only_once(session, merchant, now, engine):
    add_many(session, merchant, 3, now=now)
    campaign = make_campaign(session, merchant, now)
    broadcast.schedule_campaign(session, campaign, at=now + timedelta(hours=2), now=now)
    session.commit()
    factory = make_sessionmaker(engine)

    assert broadcast.start_due_campaigns(factory, now=now + timedelta(hours=1)) == []
    assert broadcast.start_due_campaigns(factory, now=now + timedelta(hours=2)) == [campaign.id]
    assert broadcast.start_due_campaigns(factory, now=now + timedelta(hours=3)) == []

    session.refresh(campaign)
    assert campaign.status == CampaignStatus.SENDING and campaign.started_at == now + timedelta(hours=2)
    assert len(outbox(session, campaign)) == 3


def test_scheduling_checks_the_time_and_can_be_undone(session, merchant, now):
    campaign = make_campaign(session, merchant, now)
    with pytest.raises(ValidationError, match="has passed"):
        broadcast.schedule_campaign(session, campaign, at=now - timedelta(hours=1), now=now)
    broadcast.schedule_campaign(session, campaign, at=now + timedelta(days=1), now=now)
    with pytest.raises(Conflict):
        broadcast.save_draft(session, merchant, CampaignDraft(name="x", text_en="y"), segment=None, now=now, campaign=campaign)
    broadcast.unschedule_campaign(session, campaign, now=now)
    assert (campaign.status, campaign.scheduled_at) == (CampaignStatus.DRAFT, None)


@pytest.mark.parametrize(
    "draft, message",
    [
        (CampaignDraft(name="", text_en="Hi"), "needs a name"),
        (CampaignDraft(name="Spring", text_en="  ", text_zh=None), "write the text"),
        (CampaignDraft(name="Spring", text_en="Hi {first_name}"), r"\{first_name\} is not a placeholder"),
        (CampaignDraft(name="Spring", text_en="Hi", holdout_pct=60), "holdout is 0 to 50"),
        (CampaignDraft(name="Spring", text_en="Hi", return_window_days=0), "within 1 to 90 days"),
        (CampaignDraft(name="Spring", text_en="x" * 1001), "keep it under 1000"),
    ],
)
def test_a_draft_is_checked(session, merchant, now, draft, message):
    with pytest.raises(ValidationError, match=message):
        broadcast.save_draft(session, merchant, draft, segment=None, now=now)


def test_a_campaign_without_an_audience_does_not_start(session, merchant, now):
    campaign = broadcast.save_draft(session, merchant, CampaignDraft(name="Spring", text_en="Hi"), segment=None, now=now)
    with pytest.raises(ValidationError, match="choose who receives"):
        broadcast.start_campaign(session, merchant, campaign, now=now)


def test_the_preview_uses_real_members_of_each_language(session, merchant, now):
    for index in range(4):
        add_member(session, merchant, now=now, name=f"en{index}", phone=f"+1415555010{index}")
    add_member(session, merchant, now=now, name="zh0", phone="+14155550200", language="zh")
    add_member(session, merchant, now=now, name="out", phone="+14155550201", language="zh", is_opted_out=True)
    both = make_campaign(session, merchant, now, text_en="Hi", text_zh="您好")
    english = make_campaign(session, merchant, now, text_en="Hi")

    def sample(campaign):
        condition = broadcast.audience(session, merchant, campaign, now=now)
        found = broadcast.sample_members(session, condition, languages=broadcast.written_languages(campaign), limit=3)
        return [member.name for member in found]

    assert sample(both) == ["en0", "zh0", "en1"]
    assert sample(english) == ["en0", "en1", "en2"]


def test_a_test_text_goes_to_the_merchants_phone_in_each_language(session, merchant, now):
    member = add_member(session, merchant, now=now, name="Ann", points_balance=12)
    campaign = make_campaign(session, merchant, now, text_en="Hi {name}, {points} points", text_zh="{name}您好")

    queued = broadcast.send_test(session, merchant, campaign, to_phone="(415) 555-0199", member=member, now=now)

    assert [(m.to_phone, m.body, m.category, m.purpose) for m in (session.get(OutboundMessage, id_) for id_ in queued)] == [
        ("+14155550199", "Hi Ann, 12 points Reply STOP to opt out.", Category.TRANSACTIONAL, "campaign_test"),
        ("+14155550199", "【绿叶茶馆】Ann您好，回复TD退订", Category.TRANSACTIONAL, "campaign_test"),
    ]
    assert merchant.test_phone == "+14155550199"
    with pytest.raises(InvalidPhone):
        broadcast.send_test(session, merchant, campaign, to_phone="12", now=now)


@pytest.mark.postgres_only("row locks between two connections: PostgreSQL only")
def test_two_concurrent_starts_fan_out_once(engine, merchant, now):
    import threading

    factory = make_sessionmaker(engine)
    with factory() as setup:
        add_many(setup, merchant, 200, now=now)
        campaign_id = make_campaign(setup, setup.merge(merchant), now).id
        setup.commit()
    outcomes, barrier = [], threading.Barrier(2)

    def start():
        with factory() as session:
            campaign = session.get(Campaign, campaign_id)
            barrier.wait()
            try:
                broadcast.start_campaign(session, session.merge(merchant), campaign, now=now)
                session.commit()
                outcomes.append("started")
            except Conflict:
                session.rollback()
                outcomes.append("conflict")

    threads = [threading.Thread(target=start) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["conflict", "started"]
    with factory() as check:
        assert check.scalar(select(func.count()).where(OutboundMessage.campaign_id == campaign_id)) == 200


def test_stage_filters_reach_only_joined_members(session, merchant, now):
    add_member(session, merchant, now=now, phone="+14155550101", stage=Stage.PENDING, joined_at=None)
    campaign = make_campaign(session, merchant, now, rules={"stages": ["pending"]})
    result = broadcast.start_campaign(session, merchant, campaign, now=now)
    assert (result.matched, result.not_joined, result.queued) == (1, 1, 0)


def test_send_now_fans_out_a_small_audience_at_once_and_leaves_a_large_one_to_the_scheduler(
    session, merchant, now, engine, monkeypatch
):
    add_many(session, merchant, 3, now=now)
    small = make_campaign(session, merchant, now)
    assert broadcast.send_now(session, merchant, small, now=now).queued == 3
    assert small.status == CampaignStatus.SENDING

    monkeypatch.setattr(broadcast, "SEND_NOW_IN_REQUEST", 2)
    large = make_campaign(session, merchant, now)
    assert broadcast.send_now(session, merchant, large, now=now) is None
    assert (large.status, large.scheduled_at, outbox(session, large)) == (CampaignStatus.SCHEDULED, now, [])
    session.commit()
    assert broadcast.start_due_campaigns(make_sessionmaker(engine), now=now + timedelta(seconds=30)) == [large.id]


def test_a_text_in_flight_when_paused_waits_for_resume_and_never_goes_after_cancel(session, merchant, now):
    add_many(session, merchant, 2, now=now)
    campaign = make_campaign(session, merchant, now)
    broadcast.start_campaign(session, merchant, campaign, now=now)
    session.commit()
    daytime = now + timedelta(hours=3)
    lease = timedelta(minutes=5)
    assert len(delivery.claim_due(session, now=daytime, worker_id="w1", batch_size=2, lease=lease)) == 2
    session.commit()
    broadcast.pause_campaign(session, campaign, now=now)
    session.commit()

    # The worker died mid-send: its lease runs out and the rows go back to the queue...
    later = daytime + timedelta(hours=1)
    assert delivery.recover_expired_leases(session, now=later) == 2
    session.commit()
    # ...but a paused campaign's texts are not claimed until it is resumed.
    assert delivery.claim_due(session, now=later, worker_id="w2", batch_size=10, lease=lease) == []
    broadcast.resume_campaign(session, campaign, now=later)
    session.commit()
    assert len(delivery.claim_due(session, now=later, worker_id="w2", batch_size=1, lease=lease)) == 1
    session.commit()

    broadcast.cancel_campaign(session, campaign, now=later)
    session.commit()
    assert delivery.recover_expired_leases(session, now=later + timedelta(hours=1)) == 1
    session.commit()
    assert delivery.claim_due(session, now=later + timedelta(hours=1), worker_id="w3", batch_size=10, lease=lease) == []
