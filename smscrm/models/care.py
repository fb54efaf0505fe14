"""Care: the rules a merchant turns on, whom the repeating ones reached (or held out), the visit surveys."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, Index, SmallInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from smscrm.db.indexes import index_where_set
from smscrm.db.types import Base
from smscrm.models.member import Member

# how care finds members: by the day they joined (welcome, anniversaries) and by their birthday
Index("ix_members_merchant_joined", Member.merchant_id, Member.joined_at)
index_where_set(  # most members never text their birthday
    "ix_members_merchant_birthday", Member.merchant_id, Member.birthday_month, Member.birthday_day,
    set_column="birthday_month",
)


class CareKind(StrEnum):
    """What a care rule remembers a member for."""

    WELCOME = "welcome"  # on joining
    WELCOME_FOLLOW_UP = "welcome_follow_up"  # N days after joining, if they have not visited yet
    BIRTHDAY = "birthday"
    ANNIVERSARY = "anniversary"  # of joining
    HOLIDAY = "holiday"  # one rule per holiday the merchant chose
    AFTER_VISIT = "after_visit"  # thank-you and a 1-5 satisfaction question
    WIN_BACK = "win_back"  # a member of a chosen class who is at risk
    POINTS_EXPIRING = "points_expiring"
    CLASS_UPGRADE = "class_upgrade"


class CareRule(Base):
    """One kind of care a merchant sends, with its texts per language and its timing.

    Which settings apply depends on the kind: `send_hour` (local hour of day-based greetings),
    `delay_hours` (after joining or a purchase), `days` (follow-up after, win-back at most once per,
    expiry reminder before, survey at most once per), `value_class` and `holdout_pct` (win-back).
    `grace_hours`: how late an occurrence missed during downtime is still sent; later ones are skipped.
    `holiday` names the holiday of a holiday rule ("" for every other kind).
    `evaluated_through`: the last occurrence the rule looked at (a day-based rule's due moment, the
    class recompute it compared with), so later evaluations do not look again; `resume_after`: while
    that occurrence is unfinished (it had more members than one evaluation takes), the last member id done.
    """

    __tablename__ = "care_rules"
    __table_args__ = (UniqueConstraint("merchant_id", "kind", "holiday"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    kind: Mapped[str] = mapped_column(String(20))
    holiday: Mapped[str] = mapped_column(String(80), default="")
    is_enabled: Mapped[bool] = mapped_column(default=False)
    texts: Mapped[dict] = mapped_column(JSON, default=dict)  # {language: the merchant's wording}
    bonus_points: Mapped[int] = mapped_column(default=0)
    send_hour: Mapped[int | None] = mapped_column(SmallInteger)
    delay_hours: Mapped[int | None]
    days: Mapped[int | None]
    value_class: Mapped[str | None] = mapped_column(String(1))
    holdout_pct: Mapped[int] = mapped_column(SmallInteger, default=0)
    grace_hours: Mapped[int]
    evaluated_through: Mapped[datetime | None]
    resume_after: Mapped[int | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class CareTouch(Base):
    """A member a repeating rule (win-back, points expiring) reached for one occurrence, or drew into
    its holdout (recorded, not texted): the rule skips members it touched in its last `days` days.

    `dedupe_key` is the key of the text in the outbox, so a member is touched once per occurrence.
    """

    __tablename__ = "care_touches"
    __table_args__ = (
        UniqueConstraint("merchant_id", "dedupe_key"),
        Index("ix_care_touches_merchant_purpose_created", "merchant_id", "purpose", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    purpose: Mapped[str] = mapped_column(String(32))
    dedupe_key: Mapped[str] = mapped_column(String(120))
    is_holdout: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]


class ClassMark(Base):
    """The value class a member was last seen in by the class-upgrade rule, to notice a move up."""

    __tablename__ = "care_class_marks"

    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    value_class: Mapped[str | None] = mapped_column(String(1))
    seen_at: Mapped[datetime]


class VisitSurvey(Base):
    """The satisfaction question about one purchase, and the member's 1-5 answer (the visit's rating)."""

    __tablename__ = "visit_surveys"
    __table_args__ = (
        Index("ix_visit_surveys_member_asked", "member_id", "asked_at"),
        # the dashboard's ratings by month, from the index alone; a question not answered has no entry
        index_where_set("ix_visit_surveys_merchant_rated", "merchant_id", "rated_at", "rating", set_column="rated_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    purchase_id: Mapped[int] = mapped_column(ForeignKey("purchases.id"), unique=True)
    asked_at: Mapped[datetime]
    rating: Mapped[int | None] = mapped_column(SmallInteger)
    rated_at: Mapped[datetime | None]
