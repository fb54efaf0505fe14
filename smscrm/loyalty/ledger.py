"""The points ledger's only way in: every balance change is an entry, written with its idempotency key.

A member's `points_balance` always equals the sum of their entries. Every change takes the member's
row lock first (the balance UPDATE itself, or `lock_members` for set-based jobs), so changes to one
membership line up one after another: a debit is a conditional `UPDATE … WHERE points_balance >= cost`
and never takes a balance below zero, and entry ids follow the order the balance moved in.

`post` is the way in for one change, in the caller's transaction. Set-based jobs (expiry, care bonuses,
released reservations) take `lock_members` first, write their entries in one INSERT, and `resum_balances`.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Integer, Select, any_, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from smscrm.db.conflicts import insert_on_conflict
from smscrm.errors import N_, Conflict, InsufficientPoints
from smscrm.models import EntryKind, Member, PointsEntry

_MOVE = (  # under the member's row lock; a debit finds no row when the balance is too small
    update(Member.__table__)
    .where(Member.id == bindparam("member_id"), Member.points_balance + bindparam("points") >= 0)
    .values(points_balance=Member.points_balance + bindparam("points"))
    .returning(Member.points_balance)
)


@dataclass(frozen=True)
class Posted:
    """The entry for an operation (its id and the balance right after it), and whether it was already there
    (a retry) rather than written now."""

    entry_id: int
    balance_after: int
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
    balance = _move_balance(session, member, points)
    entry = insert_on_conflict(session, PointsEntry.__table__).on_conflict_do_nothing().returning(PointsEntry.id)
    entry_id = session.connection().execute(entry, dict(
        merchant_id=member.merchant_id, member_id=member.id, kind=kind, points=points, balance_after=balance,
        idempotency_key=key, note=note, purchase_id=purchase_id, redemption_id=redemption_id, created_at=now,
    )).scalar()
    if entry_id is None:  # the key was used before (a retry, or a twin that committed first): the move is undone
        session.connection().execute(_MOVE, {"member_id": member.id, "points": -points})
        return _replayed(find_entry(session, member.merchant_id, key), member, kind, points)
    set_committed_value(member, "points_balance", balance)
    return Posted(entry_id, balance, False)


def find_entry(session: Session, merchant_id: int, key: str) -> PointsEntry | None:
    return session.scalar(
        select(PointsEntry).where(PointsEntry.merchant_id == merchant_id, PointsEntry.idempotency_key == key)
    )


def _replayed(entry: PointsEntry, member: Member, kind: EntryKind, points: int) -> Posted:
    if (entry.member_id, entry.kind, entry.points) != (member.id, kind, points):
        raise Conflict(
            "this idempotency key was already used for a different change", code="idempotency_key_reused"
        )
    return Posted(entry.id, entry.balance_after, True)


def _move_balance(session: Session, member: Member, points: int) -> int:
    """The new balance, moved in the database under the row lock; a debit needs enough points."""
    balance = session.connection().execute(_MOVE, {"member_id": member.id, "points": points}).scalar()
    if balance is None:
        current = session.scalar(select(Member.points_balance).where(Member.id == member.id))
        set_committed_value(member, "points_balance", current)
        raise InsufficientPoints(N_("this needs %(needed)s points and the member has %(current)s"),
                                 needed=-points, current=current)
    return balance


def lock_members(session: Session, member_ids: Select) -> Select:
    """Take the row locks of the members `member_ids` selects, before a set-based job reads their balances;
    the members locked, for the job's later statements to write for them and no others.

    On PostgreSQL `member_ids` may select other members a moment later (a purchase gives one a balance,
    a visit takes one out of a care rule), and a statement that wrote for a member it had not locked would
    read a balance another transaction is changing. SQLite lets one writer at a time into the whole
    database: there nothing is locked and `member_ids` comes back as it is.
    """
    if session.get_bind().dialect.name != "postgresql":
        return member_ids
    locked = select(Member.id).where(Member.id.in_(member_ids.correlate(None))).order_by(Member.id).with_for_update()
    ids = session.scalars(locked).all()
    return select(Member.id).where(Member.id == any_(bindparam("locked_member_ids", ids, type_=ARRAY(Integer))))


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
