"""Memberships: one phone number at one merchant is one member, the phone number is the card."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Computed,
    Float,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    column,
    func,
    literal,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from smscrm.db.indexes import postgresql_only
from smscrm.db.sqltime import days_after
from smscrm.db.types import Base
from smscrm.models.points import Stage


class Member(Base):
    """A shopper's membership at a merchant.

    `is_opted_out` mirrors the latest consent event for the phone; the consent table is the
    evidence, this column lets segment queries filter without a join. `interest_topics` mirrors the
    member's interests the same way (written only by `loyalty.members.write_interests`).
    """

    __tablename__ = "members"
    __table_args__ = (
        UniqueConstraint("merchant_id", "phone"),
        UniqueConstraint("merchant_id", "referral_code"),
        CheckConstraint("points_balance >= 0", name="points_balance_nonnegative"),
        Index("ix_members_merchant_first_visit", "merchant_id", "first_visit_at"),  # the dashboard's return windows
        Index("ix_members_merchant_created", "merchant_id", "created_at", "id"),  # the member list, newest first
    )

    # the columns in the table's order on PostgreSQL (migration 0029), the one its scans read best: fixed widths
    # first, widest first, then the short texts segment filters test, then the free texts. A column added later
    # comes last (ALTER TABLE appends), here too: tests/db/test_migrations.py compares the two orders
    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))  # leads the unique keys here and the indexes in care.py
    joined_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    # loyalty (smscrm.points, smscrm.loyalty.classes): visit statistics, the value class, the ladder stage
    first_visit_at: Mapped[datetime | None]
    last_visit_at: Mapped[datetime | None]
    # the moment the member is at risk by their own rhythm: twice their typical gap after their last visit (NULL
    # without a gap); the database writes it whenever either changes, so no writer can leave it behind (the
    # at-risk filter, `marketing.segments`, compares it with `now` instead of converting every row's times).
    # Stored on PostgreSQL, computed when read on SQLite (which cannot add a stored one): migration 0027
    at_risk_from: Mapped[datetime | None] = mapped_column(
        Computed(days_after(column("last_visit_at"), column("typical_visit_gap_days"), times=2))
    )
    total_spend_minor: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    typical_visit_gap_days: Mapped[float | None] = mapped_column(Float)
    points_balance: Mapped[int] = mapped_column(default=0)
    visit_count: Mapped[int] = mapped_column(default=0, server_default="0")
    birthday_month: Mapped[int | None] = mapped_column(SmallInteger)
    birthday_day: Mapped[int | None] = mapped_column(SmallInteger)
    birth_year: Mapped[int | None] = mapped_column(SmallInteger)  # when the member gave it (BDAY 1990-03-08)
    is_opted_out: Mapped[bool] = mapped_column(default=False)
    language: Mapped[str] = mapped_column(String(2))
    value_class: Mapped[str | None] = mapped_column(String(1))
    stage: Mapped[str] = mapped_column(String(16), default=Stage.JOINED, server_default=Stage.JOINED.value)
    # the topics of `interests`, each between newlines ("\ngreen tea\nmatcha\n"), "" for none: a segment's
    # interest test is a pattern on the member's own row, not a join (bench/segment_count)
    interest_topics: Mapped[str] = mapped_column(Text, default="", server_default="")
    phone: Mapped[str] = mapped_column(String(20))
    name: Mapped[str | None] = mapped_column(String(80))
    referral_code: Mapped[str | None] = mapped_column(String(12))
    notes: Mapped[str | None] = mapped_column(String(1000))  # the staff's own notes on the member page

    interests: Mapped[list["MemberInterest"]] = relationship(  # read-only: `write_interests` changes both
        back_populates="member", order_by="MemberInterest.topic", viewonly=True
    )

    @property
    def is_joined(self) -> bool:
        return self.joined_at is not None


class MemberInterest(Base):
    """A topic a member said they like (`LIKE green tea`), for segments."""

    __tablename__ = "member_interests"
    __table_args__ = (
        UniqueConstraint("member_id", "topic"),
        Index("ix_member_interests_merchant_topic", "merchant_id", "topic"),  # the topics a merchant's members like
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))  # the member's
    topic: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime]

    member: Mapped[Member] = relationship(back_populates="interests", viewonly=True)


NAME_ORDER = (Member.name.is_(None), func.coalesce(Member.name, literal("", literal_execute=True)))
"""The member list's order by name, the unnamed last (false before true), as keys that are never NULL
(`loyalty.member_list`); '' is a constant in the SQL, so PostgreSQL matches the index below in any plan."""
# PostgreSQL only (SQLite scans the merchant's members): the member list by name (names change rarely: purchases
# still update members in place), and trigram indexes (pg_trgm, migration 0024) for its searches by a part of a
# name or the last digits of a phone (`loyalty.member_list.matches`)
postgresql_only(Index("ix_members_merchant_name", Member.merchant_id, *NAME_ORDER, Member.id))
for _column in (Member.name, Member.phone):
    postgresql_only(Index(f"ix_members_{_column.key}_trigrams", _column, postgresql_using="gin",
                          postgresql_ops={_column.key: "gin_trgm_ops"}))
