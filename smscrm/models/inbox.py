"""The merchant's inbox: conversations with shoppers that need a person, and the staff's replies."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from smscrm.db.types import Base
from smscrm.models.care import VisitSurvey
from smscrm.models.member import Member
from smscrm.models.merchant import StaffUser
from smscrm.models.message import OutboundMessage


class InboxKind(StrEnum):
    MESSAGE = "message"  # a free-text reply or comment
    QUESTION = "question"
    LOW_RATING = "low_rating"  # a visit rated 1 or 2


class InboxItem(Base):
    """A conversation with one phone, open until staff resolve it.

    Its messages are the texts from `phone` received since `opened_at` (until `resolved_at`).
    The time to first response is `first_response_at - opened_at`.
    """

    __tablename__ = "inbox_items"
    __table_args__ = (
        Index("ix_inbox_items_merchant_open", "merchant_id", "resolved_at", "last_message_at"),
        Index("ix_inbox_items_merchant_phone", "merchant_id", "phone"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"), index=True)
    phone: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(16))
    is_urgent: Mapped[bool] = mapped_column(default=False)
    survey_id: Mapped[int | None] = mapped_column(ForeignKey("visit_surveys.id"))
    opened_at: Mapped[datetime]
    last_message_at: Mapped[datetime]
    first_response_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))

    member: Mapped[Member | None] = relationship()
    survey: Mapped[VisitSurvey | None] = relationship()
    replies: Mapped[list["InboxReply"]] = relationship(back_populates="item", order_by="InboxReply.id")


class InboxReply(Base):
    """A text staff sent from the inbox; the outbox row carries it to the phone."""

    __tablename__ = "inbox_replies"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("inbox_items.id"), index=True)
    staff_user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    message_id: Mapped[int] = mapped_column(ForeignKey("outbound_messages.id"))
    created_at: Mapped[datetime]

    item: Mapped[InboxItem] = relationship(back_populates="replies")
    staff_user: Mapped[StaffUser] = relationship()
    message: Mapped[OutboundMessage] = relationship()
