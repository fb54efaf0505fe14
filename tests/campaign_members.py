"""Members with chosen loyalty facts, for the segment and campaign tests."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, insert, select

from smscrm.loyalty import members
from smscrm.models import Member, MemberInterest, Merchant, Stage

_serial = iter(range(1, 10**6))


def add_member(session, merchant: Merchant, *, now: datetime, phone: str | None = None, interests=(), **fields) -> Member:
    """A joined, opted-in member (unless `fields` say otherwise) who joined 100 days before `now`."""
    values = {
        "name": None, "language": "en", "joined_at": now - timedelta(days=100), "is_opted_out": False,
        "points_balance": 0, "stage": Stage.JOINED, "visit_count": 0, "total_spend_minor": 0,
        "created_at": now - timedelta(days=100),
    }
    values.update(fields)
    if values["joined_at"] is None and "stage" not in fields:
        values["stage"] = Stage.PENDING
    member = Member(merchant_id=merchant.id, phone=phone or f"+1415555{next(_serial):04d}", **values)
    session.add(member)
    session.flush()
    members.write_interests(session, [member.id], [(member, topic) for topic in interests], now=now)
    return member


def add_many(session, merchant: Merchant, count: int, *, now: datetime, phone_prefix: str = "+1628555", **fields) -> None:
    """`count` joined, opted-in members in one INSERT, phones `phone_prefix` + 4 digits."""
    row = {
        "merchant_id": merchant.id, "language": "en", "joined_at": now - timedelta(days=100), "is_opted_out": False,
        "points_balance": 0, "stage": Stage.JOINED, "visit_count": 0, "total_spend_minor": 0,
        "created_at": now - timedelta(days=100), "name": None,
    }
    row.update(fields)
    session.execute(insert(Member), [{**row, "phone": f"{phone_prefix}{index:04d}"} for index in range(count)])
    session.flush()


def member_count(session, merchant: Merchant) -> int:
    return session.scalar(select(func.count()).select_from(Member).where(Member.merchant_id == merchant.id))


def topics_by_member(session) -> tuple[dict[int, set[str]], dict[int, set[str]]]:
    """Every member's topics as `Member.interest_topics` has them, and as member_interests has them."""
    on_rows = {id_: set(filter(None, topics.split(members.TOPIC_SEPARATOR)))
               for id_, topics in session.execute(select(Member.id, Member.interest_topics))}
    in_table = {id_: set() for id_ in on_rows}
    for id_, topic in session.execute(select(MemberInterest.member_id, MemberInterest.topic)):
        in_table[id_].add(topic)
    return on_rows, in_table
