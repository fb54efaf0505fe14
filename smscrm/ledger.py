"""The points ledger's only way in: every balance change is an entry, written with its idempotency key.

A member's `points_balance` always equals the sum of their entries. Every change takes the member's
row lock first (the balance UPDATE itself, or `lock_members` for set-based jobs), so changes to one
membership line up one after another: a debit is a conditional `UPDATE … WHERE points_balance >= cost`
and never takes a balance below zero, and entry ids follow the order the balance moved in.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from smscrm.errors import Conflict, InsufficientPoints
from smscrm.models import EntryKind, Member, PointsEntry


@dataclass(frozen=True)
class Posted:
    """The entry for an operation, and whether it was already there (a retry) rather than written now."""

    entry: PointsEntry
    is_replay: bool


def post(
    session: Session,
    member: Member,
    *,
    kind: EntryKind,
    points: int,
    key: str,
    now: datetime,
    note: str | None = None,
    purchase_id: int | None = None,
    redemption_id: int | None = None,
) -> Posted:
    """Add `points` (negative for a debit) to the member's balance and ledger, once per `key`.

    A key seen before returns its entry and changes nothing. Raises InsufficientPoints when a debit
    is larger than the balance, Conflict when the key was used for a different change.
    """
    if points < 0:  # a retried debit finds its entry before the balance check could refuse it
        existing = find_entry(session, member.merchant_id, key)
        if existing is not None:
            return _replayed(existing, member, kind, points)
    try:
        with session.begin_nested():
            balance = _move_balance(session, member, points)
            entry = PointsEntry(
                merchant_id=member.merchant_id, member_id=member.id, kind=kind, points=points,
                balance_after=balance, idempotency_key=key, note=note, purchase_id=purchase_id,
                redemption_id=redemption_id, created_at=now,
            )
            session.add(entry)
            session.flush()
    except IntegrityError:
        existing = find_entry(session, member.merchant_id, key)  # a retry, or a concurrent twin committed first
        if existing is None:
            raise
        return _replayed(existing, member, kind, points)
    set_committed_value(member, "points_balance", balance)
    return Posted(entry, False)


def find_entry(session: Session, merchant_id: int, key: str) -> PointsEntry | None:
    return session.scalar(
        select(PointsEntry).where(PointsEntry.merchant_id == merchant_id, PointsEntry.idempotency_key == key)
    )


def _replayed(entry: PointsEntry, member: Member, kind: EntryKind, points: int) -> Posted:
    if (entry.member_id, entry.kind, entry.points) != (member.id, kind, points):
        raise Conflict(
            "this idempotency key was already used for a different change", code="idempotency_key_reused"
        )
    return Posted(entry, True)


def _move_balance(session: Session, member: Member, points: int) -> int:
    """The new balance, moved in the database under the row lock; a debit needs enough points."""
    statement = (
        update(Member)
        .where(Member.id == member.id)
        .values(points_balance=Member.points_balance + points)
        .returning(Member.points_balance)
        .execution_options(synchronize_session=False)
    )
    if points < 0:
        statement = statement.where(Member.points_balance >= -points)
    balance = session.execute(statement).scalar()
    if balance is None:
        current = session.scalar(select(Member.points_balance).where(Member.id == member.id))
        set_committed_value(member, "points_balance", current)
        raise InsufficientPoints(f"this needs {-points} points and the member has {current}")
    return balance


def lock_members(session: Session, member_ids: Select) -> None:
    """Take the row locks of the members `member_ids` selects, before a set-based job reads their balances.

    PostgreSQL only: SQLite lets one writer at a time into the whole database anyway.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    locked = select(Member.id).where(Member.id.in_(member_ids.correlate(None))).order_by(Member.id).with_for_update()
    session.execute(select(func.count()).select_from(locked.subquery()))


def resum_balances(session: Session, member_ids: Select) -> None:
    """Set each selected member's balance to the sum of their entries, after a set-based job wrote entries.

    Members already loaded in the session read their new balance on next access.
    """
    ledger_sum = (
        select(func.coalesce(func.sum(PointsEntry.points), 0))
        .where(PointsEntry.member_id == Member.id)
        .scalar_subquery()
    )
    session.execute(
        update(Member)
        .where(Member.id.in_(member_ids.correlate(None)))
        .values(points_balance=ledger_sum)
        .execution_options(synchronize_session=False)
    )
    for loaded in list(session.identity_map.values()):
        if isinstance(loaded, Member):
            session.expire(loaded, ["points_balance"])
