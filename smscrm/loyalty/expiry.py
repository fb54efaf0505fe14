"""Points expiry: unspent points older than the merchant's expiry period expire, oldest first, set-based."""
from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import (
    ColumnElement,
    ScalarSelect,
    Select,
    String,
    and_,
    case,
    cast,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
)
from sqlalchemy.orm import Session

from smscrm.db.types import UTCDateTime
from smscrm.loyalty.ledger import lock_members, resum_balances
from smscrm.loyalty.periods import months_before
from smscrm.models import EntryKind, Member, Merchant, PointsEntry

log = logging.getLogger(__name__)


def expire_points(session: Session, *, now: datetime) -> int:
    """Expire unspent points older than each merchant's expiry period, oldest first; the points expired.

    Spending consumes the oldest points first (see `unspent_before`). Safe to run twice: expired points
    count as spent, and each expiry entry's key names the newest credit it covers.
    """
    expired = 0
    merchants = session.scalars(select(Merchant).where(Merchant.points_expiry_months > 0).order_by(Merchant.id))
    for merchant in merchants.all():
        expired += _expire_for(session, merchant, cutoff=months_before(now, merchant.points_expiry_months), now=now)
    if expired:
        log.info("expired %d points", expired)
    return expired


def _expire_for(session: Session, merchant: Merchant, *, cutoff: datetime, now: datetime) -> int:
    old_credit = exists().where(
        PointsEntry.member_id == Member.id, PointsEntry.points > 0, PointsEntry.created_at < cutoff
    )
    candidates = lock_members(
        session, select(Member.id).where(Member.merchant_id == merchant.id, Member.points_balance > 0, old_credit)
    )
    expiring = unspent_before(candidates, cutoff).subquery("expiring")
    key = literal("expire:").concat(cast(expiring.c.member_id, String)).concat(":").concat(
        cast(expiring.c.through_id, String)
    )
    rows = session.execute(
        insert(PointsEntry)
        .from_select(
            ["merchant_id", "member_id", "kind", "points", "balance_after", "idempotency_key", "note", "created_at"],
            select(
                literal(merchant.id), expiring.c.member_id, literal(EntryKind.EXPIRE.value), -expiring.c.points,
                Member.points_balance - expiring.c.points, key,
                literal(f"points earned before {cutoff:%Y-%m-%d} expired"), literal(now, UTCDateTime()),
            )
            .join(Member, Member.id == expiring.c.member_id)
            .where(expiring.c.points > 0),
        )
        .returning(PointsEntry.points)
    ).scalars().all()
    resum_balances(session, candidates)
    return -sum(rows)


def unspent_before(member_ids: Select, cutoff: datetime) -> Select:
    """Per member of `member_ids`: `points`, what is still unspent of the credits made before `cutoff`
    (`unspent_sum`), and `through_id`, the newest such credit; one pass over their ledgers together."""
    is_old_credit = and_(PointsEntry.points > 0, PointsEntry.created_at < cutoff)
    return (
        select(
            PointsEntry.member_id,
            unspent_sum(cutoff).label("points"),
            func.max(case((is_old_credit, PointsEntry.id))).label("through_id"),
        )
        .where(PointsEntry.member_id.in_(member_ids))
        .group_by(PointsEntry.member_id)
    )


def member_unspent_before(cutoff: datetime) -> ScalarSelect[int]:
    """`unspent_sum` for the member of the enclosing query, read from their own ledger alone (by its index): for
    a few members among many, whose ledgers a pass over every entry would mostly read for nothing."""
    return select(unspent_sum(cutoff)).where(PointsEntry.member_id == Member.id).scalar_subquery()


def unspent_sum(cutoff: datetime) -> ColumnElement[int]:
    """Summed over a member's ledger: what is still unspent of the credits made before `cutoff`, <= 0 when they
    are all spent. Every debit (redeem, expire, a negative adjustment) takes the oldest points first, so the
    debits use up the old credits before any newer one: what is left of them is their sum plus every debit."""
    return func.sum(case((or_(PointsEntry.points < 0, PointsEntry.created_at < cutoff), PointsEntry.points), else_=0))
