"""Opt-in and opt-out, kept as evidence: each change is a new ConsentEvent, never an edit."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from smscrm.models import ConsentAction, ConsentEvent, Member


def is_opted_out(session: Session, merchant_id: int, phone: str) -> bool:
    """True when the latest consent event for this phone at this merchant is an opt-out."""
    latest = session.scalar(
        select(ConsentEvent.action)
        .where(ConsentEvent.merchant_id == merchant_id, ConsentEvent.phone == phone)
        .order_by(ConsentEvent.id.desc())
        .limit(1)
    )
    return latest == ConsentAction.OPT_OUT


def record_consent(
    session: Session,
    *,
    merchant_id: int,
    phone: str,
    action: ConsentAction,
    keyword: str,
    channel: str,
    now: datetime,
    source_sid: str | None = None,
) -> ConsentEvent:
    """Store the event and mirror it on the membership, if the phone has one."""
    member_id = session.scalar(select(Member.id).where(Member.merchant_id == merchant_id, Member.phone == phone))
    event = ConsentEvent(
        merchant_id=merchant_id,
        phone=phone,
        member_id=member_id,
        action=action,
        keyword=keyword[:40],
        channel=channel,
        source_sid=source_sid,
        created_at=now,
    )
    session.add(event)
    session.execute(
        update(Member)
        .where(Member.merchant_id == merchant_id, Member.phone == phone)
        .values(is_opted_out=action == ConsentAction.OPT_OUT)
        .execution_options(synchronize_session="fetch")
    )
    session.flush()
    return event
