"""Referrals: a member brings a friend, by texting REFER <phone> or by sharing their personal code."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from smscrm.db.types import Base


class ReferralChannel(StrEnum):
    SMS = "sms"  # the member texted REFER <phone>; we invited the friend
    CODE = "code"  # the friend texted JOIN <the member's code>


class ReferralStatus(StrEnum):
    INVITED = "invited"
    JOINED = "joined"
    REWARDED = "rewarded"  # the friend joined and bought; both got the referral bonus


class Referral(Base):
    """Who brought whom. A membership is referred at most once (the first referral wins)."""

    __tablename__ = "referrals"

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    referrer_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    referred_id: Mapped[int] = mapped_column(ForeignKey("members.id"), unique=True)
    channel: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime]
    joined_at: Mapped[datetime | None]
    rewarded_at: Mapped[datetime | None]
