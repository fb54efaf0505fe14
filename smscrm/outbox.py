"""The outbox: every outbound text is a row here before anything is sent.

Rows are written with one Core INSERT (no ORM unit of work): texts are queued on the hottest paths,
inside the webhook and the purchase API.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert
from sqlalchemy.orm import Session

from smscrm.models import Category, Merchant, OutboundMessage, Status

_INSERT = insert(OutboundMessage.__table__).returning(OutboundMessage.__table__.c.id)


def queue_text(
    session: Session,
    merchant: Merchant,
    *,
    to_phone: str,
    body: str,
    category: Category,
    purpose: str,
    now: datetime,
    member_id: int | None = None,
    send_after: datetime | None = None,
    dedupe_key: str | None = None,
) -> int:
    """Queue a text for the delivery worker, in the caller's transaction; the new row's id."""
    return _insert(
        session, merchant_id=merchant.id, member_id=member_id, to_phone=to_phone,
        from_phone=merchant.primary_number, body=body, category=category, purpose=purpose,
        status=Status.QUEUED, dedupe_key=dedupe_key, send_after=send_after or now, created_at=now,
    )


def record_reply(
    session: Session,
    *,
    merchant_id: int,
    member_id: int | None,
    to_phone: str,
    from_phone: str,
    body: str,
    purpose: str,
    now: datetime,
) -> int:
    """Log a reply that goes back inside the webhook's TwiML response (no transport involved); its id."""
    return _insert(
        session, merchant_id=merchant_id, member_id=member_id, to_phone=to_phone, from_phone=from_phone,
        body=body, category=Category.REPLY, purpose=purpose, status=Status.REPLIED, send_after=now,
        created_at=now, sent_at=now,
    )


def _insert(session: Session, **values) -> int:
    return session.connection().execute(_INSERT, values).scalar_one()
