"""Opt-in and opt-out, kept as evidence: each change is a new ConsentEvent, never an edit."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select, tuple_, update
from sqlalchemy.orm import Session

from smscrm.models import ConsentAction, ConsentEvent, Member


def is_opted_out(session: Session, merchant_id: int, phone: str) -> bool:
    """True when the latest consent event for this phone at this merchant is an opt-out."""
    return (merchant_id, phone) in opted_out_among(session, [(merchant_id, phone)])


def opted_out_among(session: Session, pairs: Iterable[tuple[int, str]]) -> set[tuple[int, str]]:
    """The (merchant_id, phone) pairs whose latest consent event is an opt-out, in one query."""
    pairs = set(pairs)
    if not pairs:
        return set()
    latest = (
        select(func.max(ConsentEvent.id))
        .where(tuple_(ConsentEvent.merchant_id, ConsentEvent.phone).in_(pairs))
        .group_by(ConsentEvent.merchant_id, ConsentEvent.phone)
    )
    rows = session.execute(
        select(ConsentEvent.merchant_id, ConsentEvent.phone).where(
            ConsentEvent.id.in_(latest), ConsentEvent.action == ConsentAction.OPT_OUT
        )
    )
    return {(merchant_id, phone) for merchant_id, phone in rows}


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
    member: Member | None = None,
) -> ConsentEvent:
    """Store the event and mirror it on the membership, if the phone has one.

    `member` is the phone's membership when the caller already holds it (saves two statements).
    """
    is_opted_out = action == ConsentAction.OPT_OUT
    if member is None:
        member_id = session.scalar(select(Member.id).where(Member.merchant_id == merchant_id, Member.phone == phone))
        if member_id is not None:
            session.execute(
                update(Member).where(Member.id == member_id).values(is_opted_out=is_opted_out)
                .execution_options(synchronize_session="fetch")
            )
    else:
        member.is_opted_out = is_opted_out
        member_id = member.id
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
    session.flush()
    return event
