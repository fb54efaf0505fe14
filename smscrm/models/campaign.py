"""Segments (saved filters over a merchant's members), campaigns, and the holdout groups they draw."""
from __future__ import annotations

from datetime import datetime, time
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, SmallInteger, String, Text, Time, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from smscrm.db.types import Base


class CampaignStatus(StrEnum):
    """draft → scheduled → sending ⇄ paused; draft, scheduled, sending and paused may be cancelled.

    A campaign that is sending has written its outbox rows; it is finished when none is left to send.
    """

    DRAFT = "draft"
    SCHEDULED = "scheduled"
    SENDING = "sending"
    PAUSED = "paused"
    CANCELLED = "cancelled"


class Segment(Base):
    """A named filter over a merchant's members; `rules` is `smscrm.marketing.segments.SegmentFilter` as a dict.

    Members of `exclude_segment` are left out. A segment built inside the campaign form and not
    saved by name has `is_saved` false: it belongs to that campaign and is not listed.
    """

    __tablename__ = "segments"

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    rules: Mapped[dict] = mapped_column(JSON, default=dict)
    exclude_segment_id: Mapped[int | None] = mapped_column(ForeignKey("segments.id"), index=True)
    is_saved: Mapped[bool] = mapped_column(default=True, server_default=true())
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    exclude_segment: Mapped["Segment | None"] = relationship(remote_side=[id])


class Campaign(Base):
    """A marketing text for a segment, sent now or at `scheduled_at`.

    The texts hold placeholders ({name}, {points}, {class}, {merchant}); members get the text in
    their language when there is one, else the other. The opt-out line and, for Chinese, the
    【signature】 are added when it is sent. The `*_count` columns are recorded when it starts:
    who matched, who was left out and why, who was held out, and how many texts were queued.
    The return rates (`smscrm.marketing.reports.outcome`) are kept in the `recipient_members` … `holdout_returned`
    columns once the return window has closed, as they cannot change then; None before.
    """

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(String(12), default=CampaignStatus.DRAFT)
    segment_id: Mapped[int | None] = mapped_column(ForeignKey("segments.id"), index=True)
    text_en: Mapped[str | None] = mapped_column(Text)
    text_zh: Mapped[str | None] = mapped_column(Text)
    holdout_pct: Mapped[int] = mapped_column(SmallInteger, default=0)
    return_window_days: Mapped[int] = mapped_column(SmallInteger, default=14)
    scheduled_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    paused_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    audience: Mapped[dict | None] = mapped_column(JSON)  # the segment's rules as they were when it started
    matched_count: Mapped[int | None]
    not_joined_count: Mapped[int | None]
    opted_out_count: Mapped[int | None]
    holdout_count: Mapped[int | None]
    duplicate_count: Mapped[int | None]
    queued_count: Mapped[int | None]
    recipient_members: Mapped[int | None]
    recipients_returned: Mapped[int | None]
    holdout_members: Mapped[int | None]
    holdout_returned: Mapped[int | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    segment: Mapped[Segment | None] = relationship()


class CampaignHoldout(Base):
    """A member drawn at random into a campaign's holdout group: not sent, compared against in the report."""

    __tablename__ = "campaign_holdouts"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True, index=True)


class CampaignSettings:
    """A merchant's campaign settings, mixed into `Merchant`.

    Marketing and care texts arrive only between `sending_window_opens` and `sending_window_closes`
    in the recipient's local time, and no member gets more than `weekly_marketing_cap` of them in
    any 7 days. `price_per_part_millis` is what one SMS part costs, in thousandths of a minor unit
    (830 = 0.83 cents); 0 means not set. `test_phone` receives the merchant's test texts.
    """

    sending_window_opens: Mapped[time] = mapped_column(Time, default=time(9, 0), server_default="09:00:00")
    sending_window_closes: Mapped[time] = mapped_column(Time, default=time(20, 0), server_default="20:00:00")
    weekly_marketing_cap: Mapped[int] = mapped_column(SmallInteger, default=2, server_default="2")
    price_per_part_millis: Mapped[int] = mapped_column(default=0, server_default="0")
    test_phone: Mapped[str | None] = mapped_column(String(20))
