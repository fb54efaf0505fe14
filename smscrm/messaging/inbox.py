"""The inbox: conversations with shoppers that need a person — free-text replies, questions, low ratings.

Texts from one phone gather in its open conversation (an `InboxItem`) until staff resolve it; the
next text opens a new one. A rating of 1 or 2 makes the conversation urgent. Staff answer by SMS
(a reply the member asked for: no quiet hours, no weekly cap, but never to a phone that opted out),
and the time from the first text to the first answer is kept for each conversation. A conversation
is answered while staff's latest answer is not older than the shopper's latest text (`IS_ANSWERED`):
a new text makes it unanswered again.
"""
from __future__ import annotations

import logging
import re
import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, case, exists, func, select
from sqlalchemy.orm import Session

from smscrm.errors import N_, NotFound, ValidationError
from smscrm.loyalty.directory import Page, paginate
from smscrm.messaging import consent, outbox, phones, texts
from smscrm.models import (
    Category,
    InboundMessage,
    InboxItem,
    InboxKind,
    InboxReply,
    Member,
    Merchant,
    StaffUser,
    VisitSurvey,
)
from smscrm.models.message import IS_FILED

log = logging.getLogger(__name__)

MAX_REPLY_CHARS = 480
RESPONSE_WINDOW = timedelta(days=30)
IS_ANSWERED = exists().where(
    InboxReply.item_id == InboxItem.id, InboxReply.created_at >= InboxItem.last_message_at
).correlate(InboxItem)
"""Of a conversation (an `InboxItem` in the query): staff answered after the shopper's latest text."""
_QUESTION = re.compile(r"[?？]|吗|怎么|几点|多少|能不能|可以.*[吗么]")


def looks_like_a_question(body: str) -> bool:
    return bool(_QUESTION.search(body or ""))


def _open_item(session: Session, merchant_id: int, phone: str) -> InboxItem | None:
    return session.scalar(
        select(InboxItem)
        .where(InboxItem.merchant_id == merchant_id, InboxItem.phone == phone, InboxItem.resolved_at.is_(None))
        .order_by(InboxItem.id.desc())
        .limit(1)
    )


def file_message(
    session: Session, merchant_id: int, *, phone: str, member_id: int | None, body: str, now: datetime
) -> InboxItem:
    """Put a text that needs a person into the phone's open conversation, or open one."""
    item = _open_item(session, merchant_id, phone)
    kind = InboxKind.QUESTION if looks_like_a_question(body) else InboxKind.MESSAGE
    if item is None:
        item = InboxItem(merchant_id=merchant_id, phone=phone, kind=kind, is_urgent=False, opened_at=now,
                         last_message_at=now)
        session.add(item)
    elif item.kind == InboxKind.MESSAGE:
        item.kind = kind
    item.member_id = member_id or item.member_id
    item.last_message_at = now
    session.flush()
    return item


def file_low_rating(
    session: Session, merchant: Merchant, *, member: Member, survey: VisitSurvey, body: str, now: datetime,
) -> InboxItem:
    """A visit rated 1 or 2: the conversation with the member becomes urgent and names the visit."""
    item = file_message(session, merchant.id, phone=member.phone, member_id=member.id, body=body, now=now)
    item.kind, item.is_urgent, item.survey_id = InboxKind.LOW_RATING, True, survey.id
    session.flush()
    log.info("visit rated %d by %s: urgent inbox item %s", survey.rating, phones.mask(member.phone), item.id)
    return item


def reply(session: Session, merchant: Merchant, item: InboxItem, *, staff: StaffUser, body: str,
          now: datetime) -> InboxReply:
    """Text `body` to the conversation's phone (a Chinese member's begins with the 【signature】, like every text to
    them); the first answer stamps the time to first response."""
    body = (body or "").strip()
    if not body:
        raise ValidationError(N_("write a reply before sending it"))
    if len(body) > MAX_REPLY_CHARS:
        raise ValidationError(N_("a reply must be at most %(count)s characters"), count=MAX_REPLY_CHARS)
    if is_opted_out(session, item):
        raise ValidationError(N_("this phone has opted out of your texts, so a reply cannot be sent"))
    member = session.get(Member, item.member_id) if item.member_id else None
    language = member.language if member else merchant.default_language
    message_id = outbox.queue_text(
        session, merchant, to_phone=item.phone, body=texts.with_signature(merchant, body, language),
        category=Category.REPLY, purpose="inbox_reply", now=now, member_id=item.member_id,
    )
    answer = InboxReply(item_id=item.id, staff_user_id=staff.id, message_id=message_id, created_at=now)
    session.add(answer)
    item.first_response_at = item.first_response_at or now
    session.flush()
    return answer


def is_answered(session: Session, item: InboxItem) -> bool:
    session.flush()
    return session.scalar(select(IS_ANSWERED).where(InboxItem.id == item.id))


def is_opted_out(session: Session, item: InboxItem) -> bool:
    return consent.is_opted_out(session, item.merchant_id, item.phone)


def resolve(session: Session, item: InboxItem, *, staff: StaffUser, now: datetime) -> None:
    """Close the conversation; the phone's next text opens a new one."""
    if item.resolved_at is None:
        item.resolved_at, item.resolved_by_id = now, staff.id
        session.flush()


def get_item(session: Session, merchant_id: int, item_id: int) -> InboxItem:
    item = session.get(InboxItem, item_id)
    if item is None or item.merchant_id != merchant_id:
        raise NotFound(N_("there is no such conversation in your inbox"))
    return item


@dataclass(frozen=True)
class Entry:
    """One line of a conversation: a text from the shopper, or an answer from staff."""

    at: datetime
    body: str
    is_from_shopper: bool
    author: str  # the staff member's email for answers
    status: str = ""  # the outbox status of an answer


def conversation(session: Session, item: InboxItem) -> list[Entry]:
    """The texts of the conversation and the answers, in the order they happened."""
    texts = session.scalars(
        select(InboundMessage).where(
            InboundMessage.merchant_id == item.merchant_id,
            InboundMessage.from_phone == item.phone,
            IS_FILED,
            InboundMessage.received_at >= item.opened_at,
            *([InboundMessage.received_at <= item.resolved_at] if item.resolved_at else []),
        )
    )
    entries = [Entry(text.received_at, text.body, True, "") for text in texts]
    entries += [
        Entry(answer.created_at, answer.message.body, False, answer.staff_user.email, answer.message.status)
        for answer in item.replies
    ]
    return sorted(entries, key=lambda entry: (entry.at, not entry.is_from_shopper))


@dataclass(frozen=True)
class ItemSummary:
    """An open conversation as the inbox lists it, with the member's context."""

    item: InboxItem
    member: Member | None
    last_text: str
    rating: int | None
    is_answered: bool


def open_items(session: Session, merchant_id: int, *, page: int = 1) -> Page[ItemSummary]:
    """Conversations waiting for staff: urgent first, then the unanswered (the longest open first), then the rest."""
    last_text = (
        select(InboundMessage.body)
        .where(
            InboundMessage.merchant_id == InboxItem.merchant_id,
            InboundMessage.from_phone == InboxItem.phone,
            IS_FILED,
            InboundMessage.received_at >= InboxItem.opened_at,
        )
        .order_by(InboundMessage.received_at.desc(), InboundMessage.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    statement = (
        select(InboxItem, Member, last_text.label("last_text"), VisitSurvey.rating, IS_ANSWERED.label("is_answered"))
        .outerjoin(Member, and_(Member.id == InboxItem.member_id, Member.merchant_id == merchant_id))
        .outerjoin(VisitSurvey, VisitSurvey.id == InboxItem.survey_id)
        .where(InboxItem.merchant_id == merchant_id, InboxItem.resolved_at.is_(None))
        .order_by(
            InboxItem.is_urgent.desc(),
            case((IS_ANSWERED, 1), else_=0),
            InboxItem.opened_at,
            InboxItem.id,
        )
    )
    rows = paginate(session, statement, page)
    return Page(
        items=[
            ItemSummary(row.InboxItem, row.Member, row.last_text or "", row.rating, bool(row.is_answered))
            for row in rows.items
        ],
        number=rows.number, per_page=rows.per_page, total=rows.total,
    )


def conversations_of(session: Session, merchant_id: int, texts: list) -> dict[int, InboxItem]:
    """The conversation each listed text (with `id`, `phone`, `received_at`) was filed in, by the text's id."""
    phones_listed = {text.phone for text in texts}
    if not phones_listed:
        return {}
    candidates = session.scalars(
        select(InboxItem)
        .where(InboxItem.merchant_id == merchant_id, InboxItem.phone.in_(phones_listed))
        .order_by(InboxItem.id.desc())
    ).all()
    found = {}
    for text in texts:
        found_item = next((
            item for item in candidates
            if item.phone == text.phone and item.opened_at <= text.received_at
            and (item.resolved_at is None or text.received_at <= item.resolved_at)
        ), None)
        if found_item is not None:
            found[text.id] = found_item
    return found


@dataclass(frozen=True)
class ResponseTimes:
    """How quickly staff answer: over conversations opened in the last 30 days."""

    answered: int
    waiting: int  # open and not answered since the shopper's latest text
    urgent: int  # open and urgent
    median: timedelta | None
    slowest: timedelta | None


def response_times(session: Session, merchant_id: int, *, now: datetime) -> ResponseTimes:
    recent = session.execute(
        select(InboxItem.opened_at, InboxItem.first_response_at, InboxItem.resolved_at, InboxItem.is_urgent).where(
            InboxItem.merchant_id == merchant_id, InboxItem.opened_at >= now - RESPONSE_WINDOW
        )
    ).all()
    waits = [row.first_response_at - row.opened_at for row in recent if row.first_response_at is not None]
    still_open = session.execute(
        select(
            func.count().filter(~IS_ANSWERED),
            func.count().filter(InboxItem.is_urgent.is_(True)),
        ).where(InboxItem.merchant_id == merchant_id, InboxItem.resolved_at.is_(None))
    ).one()
    return ResponseTimes(
        answered=len(waits),
        waiting=still_open[0],
        urgent=still_open[1],
        median=statistics.median(waits) if waits else None,
        slowest=max(waits) if waits else None,
    )
