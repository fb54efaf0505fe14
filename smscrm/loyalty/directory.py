"""What the merchant's screens list: members (newest first, searchable), feedback texts, and counts.

Every query takes the merchant's id and returns only that merchant's rows.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from sqlalchemy import Row, Select, and_, func, select
from sqlalchemy.orm import Session

from smscrm.loyalty import member_list
from smscrm.loyalty.members import MemberStatus, count_by_status
from smscrm.models import InboundMessage, Member
from smscrm.models.message import IS_FEEDBACK

PER_PAGE = 50
FEEDBACK_WINDOW = timedelta(days=7)

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing; `number` counts from 1 and is always within 1..pages."""

    items: list[T]
    number: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return _page_count(self.total, self.per_page)

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages


def _page_count(total: int, per_page: int) -> int:
    return max(1, -(-total // per_page))


def paginate(session: Session, statement: Select, number: int, per_page: int = PER_PAGE) -> Page[Row]:
    """The rows of an ordered `statement` on page `number`; a number past either end gives the nearest page."""
    total = session.scalar(select(func.count()).select_from(statement.order_by(None).subquery())) or 0
    number = min(max(1, number), _page_count(total, per_page))
    rows = session.execute(statement.limit(per_page).offset((number - 1) * per_page)).all()
    return Page(items=list(rows), number=number, per_page=per_page, total=total)


def list_members(
    session: Session, merchant_id: int, *, search: str = "", page: int = 1, per_page: int = PER_PAGE,
    country: str = "US",
) -> Page[Member]:
    """The merchant's members, newest first, `per_page` a page (the API's list). `search`: `member_list.matches`."""
    statement = select(Member).where(Member.merchant_id == merchant_id)
    if search.strip():
        statement = statement.where(member_list.matches(search, country))
    rows = paginate(session, statement.order_by(Member.created_at.desc(), Member.id.desc()), page, per_page)
    return replace(rows, items=[row.Member for row in rows.items])


@dataclass(frozen=True)
class Feedback:
    """A feedback text for the inbox: who sent it (the member, if they are one) and when."""

    id: int
    body: str
    received_at: datetime
    phone: str
    member_id: int | None
    member_name: str | None


def list_feedback(session: Session, merchant_id: int, *, page: int = 1) -> Page[Feedback]:
    """Texts that were not a keyword (questions, comments, ratings), newest first."""
    statement = (
        select(InboundMessage, Member)
        .outerjoin(Member, and_(Member.id == InboundMessage.member_id, Member.merchant_id == merchant_id))
        .where(InboundMessage.merchant_id == merchant_id, IS_FEEDBACK)
        .order_by(InboundMessage.received_at.desc(), InboundMessage.id.desc())
    )
    rows = paginate(session, statement, page)
    return replace(rows, items=[_feedback(message, member) for message, member in rows.items])


def _feedback(message: InboundMessage, member: Member | None) -> Feedback:
    return Feedback(
        id=message.id,
        body=message.body,
        received_at=message.received_at,
        phone=member.phone if member else message.from_phone,
        member_id=member.id if member else None,
        member_name=member.name if member else None,
    )


@dataclass(frozen=True)
class Summary:
    """Everyone the member list shows, by status (`members.status`: the three add up to the list's total), and
    feedback texts in the last 7 days."""

    members: int
    invited: int
    opted_out: int
    recent_feedback: int


def member_counts(session: Session, merchant_id: int) -> Counter:
    """The merchant's memberships by status: everyone the member list shows, each counted once."""
    return count_by_status(session, Member.merchant_id == merchant_id)


def summarise(session: Session, merchant_id: int, *, now: datetime) -> Summary:
    counts = member_counts(session, merchant_id)
    recent_feedback = session.scalar(
        select(func.count(InboundMessage.id)).where(
            InboundMessage.merchant_id == merchant_id,
            IS_FEEDBACK,
            InboundMessage.received_at >= now - FEEDBACK_WINDOW,
        )
    )
    return Summary(
        members=counts[MemberStatus.MEMBER], invited=counts[MemberStatus.INVITED],
        opted_out=counts[MemberStatus.OPTED_OUT], recent_feedback=recent_feedback or 0,
    )
