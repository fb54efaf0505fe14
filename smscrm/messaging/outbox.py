"""The outbox: every outbound text is a row here before anything is sent.

Rows are written with Core INSERTs (no ORM unit of work): texts are queued on the hottest paths,
inside the webhook and the purchase API.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from smscrm.db.insert_chain import NewRow, insert_one
from smscrm.models import Category, Merchant, OutboundMessage, Status


def queue_text(session: Session, merchant: Merchant, **text) -> int:
    """Queue a text for the delivery worker, in the caller's transaction; the new row's id.
    Takes `queued`'s arguments."""
    return insert_one(session.connection(), queued(merchant, **text))


def queued(
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
) -> NewRow:
    """A text for the delivery worker as a row to write, for a caller that writes it with other rows."""
    return NewRow(OutboundMessage.__table__, {
        "merchant_id": merchant.id, "member_id": member_id, "to_phone": to_phone, "from_phone": merchant.primary_number,
        "body": body, "category": category, "purpose": purpose, "status": Status.QUEUED, "dedupe_key": dedupe_key,
        "send_after": send_after or now, "created_at": now,
    })


def reply(
    *, merchant_id: int, member_id: int | NewRow | None, to_phone: str, from_phone: str, body: str, purpose: str,
    now: datetime,
) -> NewRow:
    """A reply that goes back inside the webhook's TwiML response (no transport involved), as a row to write
    with the rest of what the text changed."""
    return NewRow(OutboundMessage.__table__, {
        "merchant_id": merchant_id, "member_id": member_id, "to_phone": to_phone, "from_phone": from_phone,
        "body": body, "category": Category.REPLY, "purpose": purpose, "status": Status.REPLIED,
        "send_after": now, "created_at": now, "sent_at": now,
    })

