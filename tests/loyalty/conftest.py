"""Fixtures for the points domain, and the ledger invariant, checked after every test in this folder:
each member's balance is the sum of their entries, each entry's balance_after is the running sum up to
it, and no balance is below zero. Computed here from the raw rows, independently of `points.verify_balances`."""
from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

import pytest
from sqlalchemy import select

from smscrm import points
from smscrm.loyalty import members
from smscrm.models import Member, PointsEntry


def ledger_rows(session, member) -> list[tuple]:
    """The member's ledger, oldest first, as (kind, points, balance_after)."""
    return session.execute(
        select(PointsEntry.kind, PointsEntry.points, PointsEntry.balance_after)
        .where(PointsEntry.member_id == member.id)
        .order_by(PointsEntry.id)
    ).all()


def assert_ledger_consistent(session) -> None:
    session.flush()
    entries = session.execute(
        select(PointsEntry.id, PointsEntry.member_id, PointsEntry.points, PointsEntry.balance_after)
        .order_by(PointsEntry.member_id, PointsEntry.id)
    ).all()
    running: dict[int, int] = defaultdict(int)
    for entry in entries:
        running[entry.member_id] += entry.points
        assert entry.balance_after == running[entry.member_id], f"entry {entry.id}: balance_after is off"
        assert entry.balance_after >= 0, f"entry {entry.id} left a negative balance"
    for member_id, balance in session.execute(select(Member.id, Member.points_balance)):
        assert balance == running[member_id], f"member {member_id}: {balance} against {running[member_id]} in entries"
    assert points.verify_balances(session) == []


@pytest.fixture(autouse=True)
def ledger_invariant(session):
    yield
    assert_ledger_consistent(session)


@pytest.fixture
def join(session, merchant, now):
    """Join a phone the way the JOIN keyword does (membership, then what joining earns); commits."""

    def join_(phone: str, *, name: str = "", at=None, referrer=None, language: str = "en") -> Member:
        at = at or now
        member = members.join(session, merchant, phone, name=name, language=language, now=at)
        points.on_join(session, merchant, member, referrer=referrer, now=at)
        session.commit()
        return member

    return join_


@pytest.fixture
def buy(session, merchant, now):
    """Record a purchase; commits and returns the PurchaseResult."""

    def buy_(phone: str, amount_minor: int, *, at=None, days: int = 0, **kwargs):
        at = (at or now) + timedelta(days=days)
        result = points.record_purchase(session, merchant, phone=phone, amount_minor=amount_minor, now=at, **kwargs)
        session.commit()
        return result

    return buy_
