"""The rewards catalog and the redemptions made from it."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from smscrm.db.types import Base


class Reward(Base):
    """Something members can get for points. `code` is what a shopper texts (REDEEM <code>); `stock` None is unlimited.
    `name_zh` is its name in Chinese texts (None: `name`)."""

    __tablename__ = "rewards"
    __table_args__ = (
        UniqueConstraint("merchant_id", "code"),
        CheckConstraint("points_cost > 0", name="points_cost_positive"),
        CheckConstraint("stock >= 0", name="stock_nonnegative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    code: Mapped[str] = mapped_column(String(12))
    name: Mapped[str] = mapped_column(String(80))
    name_zh: Mapped[str | None] = mapped_column(String(80))
    points_cost: Mapped[int]
    is_active: Mapped[bool] = mapped_column(default=True)
    stock: Mapped[int | None]
    created_at: Mapped[datetime]


class RedemptionStatus(StrEnum):
    RESERVED = "reserved"  # points held for a one-time code the member shows at the counter
    CONFIRMED = "confirmed"  # the member got the reward
    EXPIRED = "expired"  # the code was not used in time; the points went back


class RedemptionChannel(StrEnum):
    SMS = "sms"  # REDEEM <code>: a one-time code, confirmed later by staff
    COUNTER = "counter"  # staff redeemed for a member at the counter, confirmed at once


class Redemption(Base):
    """A reward taken (or reserved) for points; the points left the balance through a `redeem` ledger entry."""

    __tablename__ = "redemptions"
    __table_args__ = (
        UniqueConstraint("merchant_id", "code"),
        UniqueConstraint("merchant_id", "idempotency_key"),
        Index("ix_redemptions_status_expires", "status", "expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    reward_id: Mapped[int] = mapped_column(ForeignKey("rewards.id"), index=True)
    points_cost: Mapped[int]
    channel: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(10))
    code: Mapped[str | None] = mapped_column(String(12))
    idempotency_key: Mapped[str | None] = mapped_column(String(80))
    expires_at: Mapped[datetime | None]
    confirmed_at: Mapped[datetime | None]
    released_at: Mapped[datetime | None]
    created_at: Mapped[datetime]

    reward: Mapped[Reward] = relationship()
