"""The outbox: every outbound text is a row here before anything is sent, written in the transaction of the
change that caused it.

Rows are written with a Core INSERT through the session (no ORM object): texts are queued on the busiest paths,
and nothing reads them back as objects there.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert
from sqlalchemy.orm import Session

from smscrm.models import Category, Merchant, OutboundMessage, Status
from smscrm.sending import parts

_INSERT = insert(OutboundMessage.__table__)  # built once (its cache key too): the busiest paths run it


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
    return _written(
        session, merchant_id=merchant.id, member_id=member_id, to_phone=to_phone, from_phone=merchant.primary_number,
        body=body, category=category, purpose=purpose, status=Status.QUEUED, dedupe_key=dedupe_key,
        send_after=send_after or now, created_at=now,
    )


def reply(
    session: Session, *, merchant_id: int, member_id: int | None, to_phone: str, from_phone: str, body: str,
    purpose: str, now: datetime,
) -> int:
    """Log a reply that goes back inside the webhook's TwiML response (no transport involved): it is sent
    as it is written. The new row's id."""
    return _written(
        session, merchant_id=merchant_id, member_id=member_id, to_phone=to_phone, from_phone=from_phone, body=body,
        category=Category.REPLY, purpose=purpose, status=Status.REPLIED, send_after=now, created_at=now, sent_at=now,
    )


def _written(session: Session, **row) -> int:
    row["parts"] = parts.count(row["body"]).parts
    return session.connection().execute(_INSERT, row).inserted_primary_key.id
