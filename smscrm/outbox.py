"""The outbox: every outbound text is a row here before anything is sent."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from smscrm.models import Category, Member, Merchant, OutboundMessage, Status


def queue_text(
    session: Session,
    merchant: Merchant,
    *,
    to_phone: str,
    body: str,
    category: Category,
    purpose: str,
    now: datetime,
    member: Member | None = None,
    send_after: datetime | None = None,
    dedupe_key: str | None = None,
) -> OutboundMessage:
    """Queue a text for the delivery worker, in the caller's transaction."""
    message = OutboundMessage(
        merchant_id=merchant.id,
        member_id=member.id if member else None,
        to_phone=to_phone,
        from_phone=merchant.primary_number,
        body=body,
        category=category,
        purpose=purpose,
        status=Status.QUEUED,
        dedupe_key=dedupe_key,
        send_after=send_after or now,
        created_at=now,
    )
    session.add(message)
    session.flush()
    return message


def record_reply(
    session: Session,
    merchant: Merchant,
    *,
    to_phone: str,
    from_phone: str,
    body: str,
    purpose: str,
    now: datetime,
    member: Member | None = None,
) -> OutboundMessage:
    """Log a reply that goes back inside the webhook's TwiML response (no transport involved)."""
    message = OutboundMessage(
        merchant_id=merchant.id,
        member_id=member.id if member else None,
        to_phone=to_phone,
        from_phone=from_phone,
        body=body,
        category=Category.REPLY,
        purpose=purpose,
        status=Status.REPLIED,
        send_after=now,
        created_at=now,
        sent_at=now,
    )
    session.add(message)
    session.flush()
    return message
