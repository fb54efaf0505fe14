"""Every text in and out: the inbound log and the outbox."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ColumnElement, ForeignKey, Index, SmallInteger, String, Text, or_
from sqlalchemy.orm import Mapped, mapped_column, relationship

from smscrm.db.indexes import equals_constant, index_where, index_where_set
from smscrm.db.types import Base


class Intent(StrEnum):
    """What an inbound text was understood to ask for."""

    JOIN = "join"
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"
    BALANCE = "balance"
    BIRTHDAY = "birthday"
    INTEREST = "interest"
    REDEEM = "redeem"
    REFER = "refer"
    RATING = "rating"  # a bare 1-5: the answer to the after-visit question, if one is pending
    FEEDBACK = "feedback"


FILED_INTENTS = (Intent.FEEDBACK, Intent.RATING)  # the texts that go to the merchant's inbox


class Category(StrEnum):
    """Why a text is sent; marketing and care obey opt-out, quiet hours and caps."""

    REPLY = "reply"
    TRANSACTIONAL = "transactional"
    MARKETING = "marketing"
    CARE = "care"


class Status(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"  # claimed by a worker, the provider call may be in flight
    SENT = "sent"  # accepted by the provider
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    FAILED = "failed"
    SUPPRESSED = "suppressed"  # never sent: the member opted out before it left
    REPLIED = "replied"  # returned in the webhook's TwiML response, not through a transport
    HELD = "held"  # its campaign is paused: not claimed until the campaign resumes (back to queued)
    CANCELLED = "cancelled"  # its campaign was cancelled before it left: never sent
    SKIPPED = "skipped"  # never sent: a delivery rule said no (`skip_reason`, e.g. the weekly cap)


class OutboundMessage(Base):
    """An outbox row: written with the change that caused it, then delivered by a worker. `parts` is counted when
    it is written: by `sending.parts.count` for one text, by `parts_sql` for a campaign's or a care rule's."""

    __tablename__ = "outbound_messages"
    __table_args__ = (
        index_where_set(  # a reply or a one-off text has no key
            "uq_outbound_messages_merchant_id_dedupe_key", "merchant_id", "dedupe_key", unique=True,
            set_column="dedupe_key",
        ),
        # a campaign's progress by status, and its recipients (the member) for its return rate, from the index
        index_where_set("ix_outbound_messages_campaign_status", "campaign_id", "status", "member_id"),
        index_where_set("uq_outbound_messages_provider_sid", "provider_sid", unique=True),
        # the dashboard's texts this month by kind, with their parts, from the index alone
        Index("ix_outbound_messages_merchant_created", "merchant_id", "created_at", "category", "status", "parts"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"))  # smscrm.broadcast fan-out
    to_phone: Mapped[str] = mapped_column(String(20))
    from_phone: Mapped[str] = mapped_column(String(20))
    body: Mapped[str] = mapped_column(Text)
    parts: Mapped[int] = mapped_column(SmallInteger)  # the SMS parts `body` costs (smscrm.sending.parts)
    category: Mapped[str] = mapped_column(String(16))
    purpose: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default=Status.QUEUED)
    dedupe_key: Mapped[str | None] = mapped_column(String(120))
    send_after: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None]
    first_attempt_at: Mapped[datetime | None]  # a retry first asks the provider what it got since then
    deferrals: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")  # waits for quiet hours to end
    skip_reason: Mapped[str | None] = mapped_column(String(32))  # why a `skipped` row was not sent
    provider_sid: Mapped[str | None] = mapped_column(String(64))
    error_code: Mapped[int | None]
    error_message: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    status_updated_at: Mapped[datetime | None]


IS_QUEUED, IS_SENDING = (equals_constant(OutboundMessage.status, status) for status in (Status.QUEUED, Status.SENDING))
"""The rows waiting for a worker and the rows claimed by one: ix_outbound_messages_due_category holds these
alone, and a query that says one of them may read it (smscrm.delivery's claims, leases and look-ups)."""
index_where(
    "ix_outbound_messages_due_category", OutboundMessage.status, OutboundMessage.category, OutboundMessage.send_after,
    OutboundMessage.id, where=or_(IS_QUEUED, IS_SENDING),
)
NOT_A_REPLY = ~equals_constant(OutboundMessage.category, Category.REPLY)
"""Part of a query by member (smscrm.messaging.courtesy's caps): ix_outbound_messages_member_created holds the texts we
chose to send a member, not the replies to their texts, and only a query that says so may read it."""
index_where(
    "ix_outbound_messages_member_created", OutboundMessage.member_id, OutboundMessage.created_at, where=NOT_A_REPLY,
)

ONCE_A_DAY = ("feedback_ack", "join_hint")
"""The automatic replies a phone gets at most once a day (smscrm.inbound asks whether one went today):
ix_outbound_messages_once_a_day holds these replies alone, by phone, so that the question reads a few entries
rather than the merchant's whole outbox (a million campaign texts); a query saying which one
(`is_once_a_day(purpose)`) may read it."""


def is_once_a_day(purpose: str) -> ColumnElement[bool]:
    return equals_constant(OutboundMessage.purpose, purpose)


index_where(
    "ix_outbound_messages_once_a_day", OutboundMessage.merchant_id, OutboundMessage.to_phone, OutboundMessage.created_at,
    where=or_(*(is_once_a_day(purpose) for purpose in ONCE_A_DAY)),
)

DEDUPE_CONFLICT = {
    "index_elements": ["merchant_id", "dedupe_key"], "index_where": OutboundMessage.dedupe_key.is_not(None),
}
"""`on_conflict_do_nothing(**DEDUPE_CONFLICT)`: skip a text whose key the merchant's outbox holds already."""


class InboundMessage(Base):
    """A text a shopper sent. `message_sid` makes Twilio's retries harmless."""

    __tablename__ = "inbound_messages"
    __table_args__ = (  # a member's texts, for their page's timeline; a stranger's text writes no entry
        index_where_set("ix_inbound_messages_member_received", "member_id", "received_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    message_sid: Mapped[str] = mapped_column(String(64), unique=True)
    from_phone: Mapped[str] = mapped_column(String(40))
    to_phone: Mapped[str] = mapped_column(String(20))
    body: Mapped[str] = mapped_column(Text)
    intent: Mapped[str] = mapped_column(String(16))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    reply_id: Mapped[int | None] = mapped_column(ForeignKey("outbound_messages.id"))
    received_at: Mapped[datetime]

    reply: Mapped[OutboundMessage | None] = relationship()


IS_FILED = or_(*(equals_constant(InboundMessage.intent, intent) for intent in FILED_INTENTS))
"""A text for the merchant's inbox. Only these have an entry in ix_inbound_messages_merchant_intent: a keyword
answered at once (JOIN, BAL, ...) writes none. A query of the index says IS_FILED, or IS_FEEDBACK."""
IS_FEEDBACK = equals_constant(InboundMessage.intent, Intent.FEEDBACK)
index_where(
    "ix_inbound_messages_merchant_intent", InboundMessage.merchant_id, InboundMessage.intent, InboundMessage.received_at,
    where=IS_FILED,
)
