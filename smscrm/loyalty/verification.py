"""Checking the ledger's invariant over the whole database: each balance is the sum of its entries."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from smscrm.models import Member, PointsEntry


@dataclass(frozen=True)
class BalanceMismatch:
    """A member whose balance is not explained by their ledger: the stored balance against the entries' sum,
    or (with `entry_id`) an entry whose balance_after is not the running sum up to it."""

    member_id: int
    merchant_id: int
    balance: int
    ledger_sum: int
    entry_id: int | None = None


def verify_balances(session: Session) -> list[BalanceMismatch]:
    """Check the whole database: each balance is the sum of its entries, each balance_after the running sum."""
    sums = (
        select(PointsEntry.member_id, func.sum(PointsEntry.points).label("total"))
        .group_by(PointsEntry.member_id)
        .subquery("sums")
    )
    ledger_sum = func.coalesce(sums.c.total, 0)
    mismatches = [
        BalanceMismatch(row.id, row.merchant_id, row.points_balance, row.ledger_sum)
        for row in session.execute(
            select(Member.id, Member.merchant_id, Member.points_balance, ledger_sum.label("ledger_sum"))
            .outerjoin(sums, sums.c.member_id == Member.id)
            .where(Member.points_balance != ledger_sum)
            .order_by(Member.id)
        )
    ]
    running = select(
        PointsEntry.id,
        PointsEntry.member_id,
        PointsEntry.merchant_id,
        PointsEntry.balance_after,
        func.sum(PointsEntry.points).over(partition_by=PointsEntry.member_id, order_by=PointsEntry.id).label("running"),
    ).subquery("running")
    mismatches += [
        BalanceMismatch(row.member_id, row.merchant_id, row.balance_after, row.running, entry_id=row.id)
        for row in session.execute(
            select(running).where(running.c.balance_after != running.c.running).order_by(running.c.id)
        )
    ]
    return mismatches
