"""A member's points statement: their ledger, newest first, each entry with what caused it (`statement`, by
page for the web app; `ledger`, by the id of the last entry seen, for the API).

An entry's `balance_after` is the balance once it applied, so reading the statement from the oldest
entry up explains the balance entry by entry. Queries take the merchant's id and return only that
merchant's rows.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from smscrm.errors import ValidationError
from smscrm.loyalty.directory import Page, paginate
from smscrm.models import Member, PointsEntry, Purchase, Redemption, Reward

ENTRIES_PER_PAGE = 25
MAX_LEDGER_PAGE = 200


@dataclass(frozen=True)
class StatementLine:
    """One ledger entry; the purchase or redemption it belongs to, if any, named by its own fields."""

    id: int
    kind: str
    points: int
    balance_after: int
    note: str | None
    created_at: datetime
    purchase_amount_minor: int | None
    purchase_reference: str | None
    reward_name: str | None
    redemption_code: str | None
    redemption_status: str | None


def find_member(session: Session, merchant_id: int, member_id: int) -> Member | None:
    """The merchant's member `member_id`, or None (also for another merchant's member)."""
    member = session.get(Member, member_id)
    return member if member is not None and member.merchant_id == merchant_id else None


def statement(session: Session, merchant_id: int, member_id: int, *, page: int = 1) -> Page[StatementLine]:
    """Page `page` of the member's ledger entries, newest first."""
    query = (
        select(
            PointsEntry.id, PointsEntry.kind, PointsEntry.points, PointsEntry.balance_after, PointsEntry.note,
            PointsEntry.created_at, Purchase.amount_minor.label("purchase_amount_minor"),
            Purchase.reference.label("purchase_reference"), Reward.name.label("reward_name"),
            Redemption.code.label("redemption_code"), Redemption.status.label("redemption_status"),
        )
        .outerjoin(Purchase, Purchase.id == PointsEntry.purchase_id)
        .outerjoin(Redemption, Redemption.id == PointsEntry.redemption_id)
        .outerjoin(Reward, Reward.id == Redemption.reward_id)
        .where(PointsEntry.merchant_id == merchant_id, PointsEntry.member_id == member_id)
        .order_by(PointsEntry.id.desc())
    )
    rows = paginate(session, query, page, ENTRIES_PER_PAGE)
    return replace(rows, items=[StatementLine(**row._asdict()) for row in rows.items])


def held_points(session: Session, member_id: int) -> int:
    """Points from purchases made before the member joined, waiting for them to join."""
    held = select(func.coalesce(func.sum(Purchase.points_earned), 0)).where(
        Purchase.member_id == member_id, Purchase.is_points_held
    )
    return session.scalar(held)


def ledger(session: Session, member: Member, *, limit: int = 50, before_id: int | None = None) -> list[PointsEntry]:
    """The member's entries, newest first; pass the last id of a page as `before_id` for the next one."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LEDGER_PAGE:
        raise ValidationError(f"limit must be from 1 to {MAX_LEDGER_PAGE}")
    query = select(PointsEntry).where(PointsEntry.member_id == member.id)
    if before_id is not None:
        query = query.where(PointsEntry.id < before_id)
    return list(session.scalars(query.order_by(PointsEntry.id.desc()).limit(limit)))
