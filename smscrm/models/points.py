"""The points ledger, the purchases that earn points, and a merchant's loyalty settings."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
    text,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from smscrm.db.indexes import index_where, index_where_set
from smscrm.db.types import Base


class EntryKind(StrEnum):
    EARN = "earn"  # points for a purchase
    REDEEM = "redeem"  # points spent on a reward (or reserved for a redemption code)
    BONUS = "bonus"  # welcome, birthday, referral
    ADJUST = "adjust"  # a correction by staff, with a note
    EXPIRE = "expire"  # unspent points older than the merchant's expiry period
    REVERSAL = "reversal"  # points given back, e.g. when a redemption code expires unused


class ValueClass(StrEnum):
    """Members by trailing-12-month spend: A brings most revenue, B the next tier, C the rest."""

    A = "A"
    B = "B"
    C = "C"


class Stage(StrEnum):
    """The loyalty ladder a membership climbs."""

    PENDING = "pending"  # invited (at the counter or by a friend), has not joined
    JOINED = "joined"  # joined, no purchase yet
    FIRST_PURCHASE = "first_purchase"
    REPEAT = "repeat"  # two purchases or more
    ADVOCATE = "advocate"  # someone they referred has joined and bought


class LoyaltySettings:
    """A merchant's earn rules and segmentation thresholds, mixed into `Merchant`.

    Points for a purchase = floor(amount_minor × points_per_unit × class multiplier % / (earn_unit_minor × 100)):
    with the defaults, 1 point per whole currency unit (100 minor units), fractions dropped.
    """

    points_per_unit: Mapped[int] = mapped_column(default=1, server_default="1")
    earn_unit_minor: Mapped[int] = mapped_column(default=100, server_default="100")
    multiplier_a_pct: Mapped[int] = mapped_column(default=100, server_default="100")
    multiplier_b_pct: Mapped[int] = mapped_column(default=100, server_default="100")
    multiplier_c_pct: Mapped[int] = mapped_column(default=100, server_default="100")
    welcome_bonus: Mapped[int] = mapped_column(default=0, server_default="0")
    birthday_bonus: Mapped[int] = mapped_column(default=50, server_default="50")
    referral_bonus: Mapped[int] = mapped_column(default=50, server_default="50")
    points_expiry_months: Mapped[int | None]  # None: points never expire
    redemption_code_days: Mapped[int] = mapped_column(default=7, server_default="7")
    has_receipt_texts: Mapped[bool] = mapped_column(default=True, server_default=true())
    class_a_revenue_pct: Mapped[int] = mapped_column(default=80, server_default="80")
    class_a_max_members_pct: Mapped[int] = mapped_column(default=20, server_default="20")
    class_b_members_pct: Mapped[int] = mapped_column(default=30, server_default="30")
    classes_computed_at: Mapped[datetime | None]


class Purchase(Base):
    """A purchase recorded at the counter or by a shop system; a retry with the same key or reference is a replay.

    `is_points_held`: the buyer has not joined yet, so the points wait for them to join.
    `balance_after`: the member's balance right after this purchase was recorded (what a replay answers).
    """

    __tablename__ = "purchases"
    __table_args__ = (
        UniqueConstraint("merchant_id", "idempotency_key"),
        UniqueConstraint("merchant_id", "reference"),
        # covers the recompute's per-member aggregate: read in member order from the index alone
        Index("ix_purchases_member_created_amount", "member_id", "created_at", "amount_minor"),
        # a merchant's purchases in a period, and who bought (a campaign's return window), from the index alone
        Index("ix_purchases_merchant_created", "merchant_id", "created_at", "member_id"),
        CheckConstraint("amount_minor > 0", name="amount_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    amount_minor: Mapped[int]  # at most points.MAX_AMOUNT_MINOR, so sums over a member stay 64-bit integers
    points_earned: Mapped[int]
    is_points_held: Mapped[bool] = mapped_column(default=False)
    balance_after: Mapped[int]
    reference: Mapped[str | None] = mapped_column(String(64))
    idempotency_key: Mapped[str | None] = mapped_column(String(80))
    channel: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime]


class PointsEntry(Base):
    """One line of a member's points ledger. Never updated, never deleted.

    `balance_after` is the member's balance once this entry applied, so a balance is explained line by line.
    `idempotency_key` is unique per merchant: a retried operation finds its entry instead of writing another.
    """

    __tablename__ = "points_entries"
    __table_args__ = (
        UniqueConstraint("merchant_id", "idempotency_key"),
        Index("ix_points_entries_member_id_id", "member_id", "id"),
        # the credits of a span of time (points expiring: who earned in the days before the expiry cutoff)
        index_where("ix_points_entries_merchant_credits_created", "merchant_id", "created_at", where=text("points > 0")),
        index_where_set("ix_points_entries_purchase_id", "purchase_id"),
        index_where_set("ix_points_entries_redemption_id", "redemption_id"),
        CheckConstraint("points <> 0", name="points_nonzero"),
        CheckConstraint("balance_after >= 0", name="balance_after_nonnegative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    kind: Mapped[str] = mapped_column(String(10))
    points: Mapped[int]
    balance_after: Mapped[int]
    idempotency_key: Mapped[str] = mapped_column(String(120))
    note: Mapped[str | None] = mapped_column(String(200))
    purchase_id: Mapped[int | None] = mapped_column(ForeignKey("purchases.id"))
    redemption_id: Mapped[int | None] = mapped_column(ForeignKey("redemptions.id"))
    created_at: Mapped[datetime]
