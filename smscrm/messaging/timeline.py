"""A member's texts both ways, newest first, for their page: what they sent us, our replies to those texts, and
every text we chose to send them (receipts, codes, care, campaigns) with its delivery status."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from smscrm.models import InboundMessage, Member, OutboundMessage
from smscrm.models.message import NOT_A_REPLY

TIMELINE_TEXTS = 50


@dataclass(frozen=True)
class TimelineText:
    """One text: `is_inbound` when the member sent it; `status` and `category` for ours."""

    at: datetime
    is_inbound: bool
    body: str
    status: str | None = None
    category: str | None = None
    error_message: str | None = None


def texts(session: Session, member: Member, *, limit: int = TIMELINE_TEXTS) -> list[TimelineText]:
    """The member's latest `limit` texts both ways, newest first. Each query reads its index by member
    (ix_inbound_messages_member_received, ix_outbound_messages_member_created); replies come with the text they
    answer."""
    inbound = session.execute(
        select(InboundMessage.received_at, InboundMessage.body, OutboundMessage)
        .outerjoin(OutboundMessage, OutboundMessage.id == InboundMessage.reply_id)
        .where(InboundMessage.member_id == member.id)
        .order_by(InboundMessage.received_at.desc())
        .limit(limit)
    )
    sent = session.scalars(
        select(OutboundMessage)
        .where(OutboundMessage.member_id == member.id, NOT_A_REPLY)
        .order_by(OutboundMessage.created_at.desc())
        .limit(limit)
    )
    lines = [_ours(message) for message in sent]
    for received_at, body, reply in inbound:
        lines.append(TimelineText(at=received_at, is_inbound=True, body=body))
        if reply is not None:
            lines.append(_ours(reply))
    lines.sort(key=lambda line: (line.at, not line.is_inbound), reverse=True)
    return lines[:limit]


def _ours(message: OutboundMessage) -> TimelineText:
    return TimelineText(
        at=message.sent_at or message.created_at, is_inbound=False, body=message.body, status=message.status,
        category=message.category, error_message=message.error_message,
    )
