"""Home's figures kept ahead of time (smscrm.dashboard_kept): kept as counted and read back the same, on Home too;
counted again when older than FRESH; the scheduler's job counts again the figures read in the last 7 days."""
from __future__ import annotations

import logging
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from smscrm import broadcast, dashboard, dashboard_kept
from smscrm.broadcast import CampaignDraft
from smscrm.db.engine import make_sessionmaker
from smscrm.loyalty import classes, members, purchases
from smscrm.marketing import segments
from smscrm.messaging import consent, outbox
from smscrm.models import (Category, ConsentAction, ConsentChannel, DashboardFigures, InboxItem, OutboundMessage,
                           VisitSurvey)
from smscrm.web import home
from tests.web.conftest import add_members, other_merchant, owner, sign_in  # noqa: F401  (fixtures)

FRESH = dashboard_kept.FRESH


def a_shop_with_every_figure(session, merchant, now) -> None:
    """Members who joined and came back, an opt-out, value classes, ratings, an answered question, texts this
    month at a price, and two campaigns with a holdout: one whose return window has closed, one still open."""
    add_members(session, merchant, 40, first_joined=now - timedelta(days=200))
    for index in range(12):  # first visits 100 days ago, back after 5 to 60 days
        phone = f"+1415666{index:04d}"
        first = purchases.record_purchase(session, merchant, phone=phone, amount_minor=1000 + 500 * index,
                                          now=now - timedelta(days=100))
        purchases.record_purchase(session, merchant, phone=phone, amount_minor=800,
                                  now=now - timedelta(days=100 - 5 * (index + 1)))
        session.add(VisitSurvey(merchant_id=merchant.id, member_id=first.member_id, purchase_id=first.purchase_id,
                                asked_at=now - timedelta(days=40), rating=1 + index % 5,
                                rated_at=now - timedelta(days=40 - index)))
    members.join(session, merchant, "+14155550900", name="New", language="en", now=now - timedelta(days=2))
    consent.record_consent(session, merchant_id=merchant.id, phone="+14156660003", action=ConsentAction.OPT_OUT,
                           keyword="STOP", channel=ConsentChannel.SMS, now=now - timedelta(days=3))
    opened = now - timedelta(days=2)
    session.add(InboxItem(merchant_id=merchant.id, phone="+14156660001", kind="question", opened_at=opened,
                          last_message_at=opened, first_response_at=opened + timedelta(minutes=42)))
    merchant.price_per_part_millis = 7500
    for index in range(3):
        outbox.queue_text(session, merchant, to_phone=f"+1415666{index:04d}", body="Happy birthday! 生日快乐",
                          category=Category.CARE, purpose="test", now=now)
    classes.recompute(session, now=now)
    everyone = segments.save_segment(session, merchant, name="All", rules={}, now=now, is_saved=False)
    for name, days_ago in (("Spring teas", 60), ("New cups", 10)):
        campaign = broadcast.save_draft(session, merchant, CampaignDraft(name=name, text_en="Hi {name}!",
                                                                         holdout_pct=25), segment=everyone, now=now)
        session.flush()
        broadcast.send_now(session, merchant, campaign, now=now - timedelta(days=days_ago))
    # one member texted by both campaigns (the holdouts are drawn at random) comes back after both
    texted_by_both = session.scalars(
        select(OutboundMessage.to_phone).where(OutboundMessage.campaign_id.is_not(None))
        .group_by(OutboundMessage.to_phone).having(func.count() == 2).order_by(OutboundMessage.to_phone)
    ).first()
    purchases.record_purchase(session, merchant, phone=texted_by_both, amount_minor=900, now=now - timedelta(days=5))
    session.commit()


def test_the_figures_read_back_are_the_figures_counted(session, merchant, now):
    a_shop_with_every_figure(session, merchant, now)

    counted = dashboard_kept.refresh(session, merchant, now=now)
    session.commit()
    shown, computed_at = dashboard_kept.kept(session, merchant, now=now + FRESH - timedelta(seconds=1))

    assert (shown, computed_at) == (counted, now)
    # every figure holds something, so that each kind of value went through JSON and back
    assert shown.summary.members and shown.summary.opted_out
    assert any(week.joined for week in shown.weeks) and any(week.opted_out for week in shown.weeks)
    assert all(window.returned for window in shown.returning)
    assert all(share.members for share in shown.value_classes) and shown.ladder[-2].members  # repeat
    assert any(month.average for month in shown.ratings)
    assert shown.median_first_response.total_seconds() == pytest.approx(42 * 60, abs=1)
    assert shown.conversations_answered == 1
    assert shown.texts[2].category == Category.CARE and shown.texts[2].cost_minor
    assert [(lift.name, lift.outcome.is_window_open) for lift in shown.campaigns] == [("New cups", True),
                                                                                      ("Spring teas", False)]
    assert all(lift.outcome.lift and lift.outcome.recipients.returned for lift in shown.campaigns)


def test_kept_figures_are_read_until_they_are_older_than_fresh_then_counted_again(session, merchant, now):
    first, computed_at = dashboard_kept.kept(session, merchant, now=now)  # never counted: counted now
    assert (first.summary.members, computed_at) == (0, now)
    add_members(session, merchant, 2, first_joined=now)

    still, computed_at = dashboard_kept.kept(session, merchant, now=now + FRESH - timedelta(seconds=1))
    assert (still.summary.members, computed_at) == (0, now)
    later, computed_at = dashboard_kept.kept(session, merchant, now=now + FRESH)
    assert (later.summary.members, computed_at) == (2, now + FRESH)
    assert session.scalar(select(DashboardFigures.read_at)) == now + FRESH


def test_figures_kept_in_another_shape_are_counted_again_not_read(session, merchant, now):
    dashboard_kept.kept(session, merchant, now=now)
    add_members(session, merchant, 2, first_joined=now)
    old = session.scalar(select(DashboardFigures))
    old.figures = {**old.figures, "shape": "Figures(members: int)"}  # as an earlier release would have kept them
    session.flush()

    shown, computed_at = dashboard_kept.kept(session, merchant, now=now + timedelta(seconds=1))
    assert (shown.summary.members, computed_at) == (2, now + timedelta(seconds=1))
    assert session.scalar(select(DashboardFigures.figures))["shape"] == dashboard_kept.SHAPE


def test_home_shows_the_same_figures_kept_as_counted_and_when_they_were_counted(
    owner, session, merchant, now, monkeypatch  # noqa: F811
):
    a_shop_with_every_figure(session, merchant, now)
    dashboard_inside = re.compile(r'<div class="dashboard">.*</div>', re.S)

    monkeypatch.setattr(home, "utcnow", lambda: now)
    counted = owner.get("/").text  # nothing kept yet: counted for the page
    monkeypatch.setattr(home, "utcnow", lambda: now + FRESH - timedelta(seconds=1))
    kept = owner.get("/").text

    assert dashboard_inside.search(kept).group() == dashboard_inside.search(counted).group()
    assert "New cups" in kept and "Lift " in kept
    assert "Figures as of 8:00\u202fAM" in kept  # 15:00 UTC in Los Angeles


@pytest.fixture
def sessions(engine):
    return make_sessionmaker(engine)


def kept_at(session, merchant, *, computed_at, read_at) -> None:
    dashboard_kept.refresh(session, merchant, now=computed_at)
    session.execute(update(DashboardFigures).where(DashboardFigures.merchant_id == merchant.id)
                    .values(read_at=read_at))
    session.commit()


def test_the_job_counts_again_the_figures_read_in_the_last_7_days_once_half_stale(
    sessions, session, merchant, other_merchant, now  # noqa: F811
):
    kept_at(session, merchant, computed_at=now - FRESH / 2, read_at=now - timedelta(days=6))
    kept_at(session, other_merchant, computed_at=now - FRESH / 2 + timedelta(seconds=1), read_at=now)
    assert dashboard_kept.refresh_read(sessions, now=now) == [merchant.id]
    with sessions() as fresh:  # the job's count is not a read: the figures stop being counted 7 days after it
        assert fresh.scalar(select(DashboardFigures.read_at)
                            .where(DashboardFigures.merchant_id == merchant.id)) == now - timedelta(days=6)

    kept_at(session, merchant, computed_at=now - FRESH, read_at=now - timedelta(days=7, seconds=1))
    assert dashboard_kept.refresh_read(sessions, now=now) == []
    assert dashboard_kept.refresh_read(sessions, now=now + timedelta(seconds=1)) == [other_merchant.id]
    with sessions() as fresh:
        assert fresh.scalar(select(DashboardFigures.computed_at)
                            .where(DashboardFigures.merchant_id == other_merchant.id)) == now + timedelta(seconds=1)


def test_a_merchant_whose_figures_fail_is_logged_and_the_others_counted(
    sessions, session, merchant, other_merchant, now, monkeypatch, caplog  # noqa: F811
):
    for shop in (merchant, other_merchant):
        kept_at(session, shop, computed_at=now - FRESH, read_at=now)
    counted = dashboard.figures

    def figures(session, shop, *, now):
        if shop.id == merchant.id:
            raise RuntimeError("broken")
        return counted(session, shop, now=now)

    monkeypatch.setattr(dashboard, "figures", figures)
    with caplog.at_level(logging.ERROR, logger="smscrm.dashboard_kept"):
        assert dashboard_kept.refresh_read(sessions, now=now) == [other_merchant.id]
    assert f"the dashboard figures of merchant {merchant.id} could not be counted" in caplog.text
