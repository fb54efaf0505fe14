"""Opt-in and opt-out, kept as evidence: each change is a new ConsentEvent, never an edit."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import ScalarSelect, bindparam, func, insert, select, tuple_, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from smscrm.models import ConsentAction, ConsentEvent, Member


def is_opted_out(session: Session, merchant_id: int, phone: str) -> bool:
    """True when the latest consent event for this phone at this merchant is an opt-out."""
    return session.scalar(select(latest_action(merchant_id, phone))) == ConsentAction.OPT_OUT


def latest_action(merchant_id, phone) -> ScalarSelect:
    """The action of the phone's latest consent event at the merchant (NULL when it has none), as a
    scalar subquery: `merchant_id` and `phone` may be values, bound parameters or correlated columns."""
    return (
        select(ConsentEvent.action)
        .where(ConsentEvent.merchant_id == merchant_id, ConsentEvent.phone == phone)
        .order_by(ConsentEvent.id.desc())
        .limit(1)
        .scalar_subquery()
    )


def evidence(session: Session, merchant_id: int, phone: str) -> list[ConsentEvent]:
    """Every opt-in and opt-out of the phone at the merchant, newest first (ix_consent_events_merchant_phone)."""
    return list(session.scalars(
        select(ConsentEvent)
        .where(ConsentEvent.merchant_id == merchant_id, ConsentEvent.phone == phone)
        .order_by(ConsentEvent.id.desc())
    ))


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


_INSERT_EVENT = insert(ConsentEvent.__table__)  # built once (its cache key too): the busiest paths run it


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
) -> None:
    """Keep the opt-in or opt-out as evidence (when, which keyword, through which channel, from which text) and
    mirror it on the phone's membership, if it has one: its opt-out flag, which a membership already loaded in
    the session sees too."""
    is_opted_out = action == ConsentAction.OPT_OUT
    session.flush()  # a membership the caller changed is written first, then mirrored
    member_id = session.connection().execute(
        _MIRROR, {"of_merchant": merchant_id, "of_phone": phone, "opted_out": is_opted_out}
    ).scalar()
    loaded = session.identity_map.get(identity_key(Member, member_id)) if member_id is not None else None
    if loaded is not None:
        set_committed_value(loaded, "is_opted_out", is_opted_out)
    session.connection().execute(_INSERT_EVENT, dict(
        merchant_id=merchant_id, phone=phone, member_id=member_id, action=action, keyword=keyword[:40],
        channel=channel, source_sid=source_sid, created_at=now,
    ))


_members = Member.__table__
_MIRROR = (
    update(_members)
    .where(_members.c.merchant_id == bindparam("of_merchant"), _members.c.phone == bindparam("of_phone"))
    .values(is_opted_out=bindparam("opted_out"))
    .returning(_members.c.id)
)
