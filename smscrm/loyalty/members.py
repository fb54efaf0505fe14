"""Memberships: joining, and what a member tells us about themselves."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from smscrm.models import Member, MemberInterest, Merchant, Stage

MAX_NAME_CHARS = 80
MAX_TOPIC_CHARS = 40


_INSERT_MEMBER = insert(Member.__table__)  # built once (its cache key too): the busiest paths run it


def find(session: Session, merchant_id: int, phone: str) -> Member | None:
    return session.scalar(select(Member).where(Member.merchant_id == merchant_id, Member.phone == phone))


def join(
    session: Session, merchant: Merchant, phone: str, *, name: str, language: str, now: datetime,
    member: Member | None = None,
) -> Member:
    """Make `phone` a member (or finish a pending membership). Joining again only updates the name.

    `member` is the phone's membership when the caller has already looked it up.
    """
    member = member or find(session, merchant.id, phone)
    name = clean_name(name)
    if member is None:
        member = Member(
            merchant_id=merchant.id, phone=phone, language=language or merchant.default_language,
            created_at=now, points_balance=0, is_opted_out=False,
        )
        session.add(member)
    if member.joined_at is None:
        member.joined_at = now
        member.language = language or member.language
    if name:
        member.name = name
    session.flush()
    return member


def enrol(
    session: Session, merchant_id: int, phone: str, *, name: str | None, language: str, referral_code: str,
    now: datetime,
) -> int:
    """A phone without a membership joins: the joined membership, with its personal referral code; its id.
    A concurrent join of the same phone breaks the (merchant, phone) unique key: IntegrityError.

    The webhook's JOIN from a stranger, its commonest write, is one Core INSERT (no ORM object is needed to
    answer it); `join` covers everything else (pending members, joining again).
    """
    row = dict(
        merchant_id=merchant_id, phone=phone, name=name, language=language, joined_at=now, created_at=now,
        is_opted_out=False, points_balance=0, stage=Stage.JOINED, referral_code=referral_code,
    )
    return session.connection().execute(_INSERT_MEMBER, row).inserted_primary_key.id


def clean_name(name: str | None) -> str | None:
    """The name as we keep it: single spaces, at most MAX_NAME_CHARS; None for no name."""
    return " ".join((name or "").split())[:MAX_NAME_CHARS] or None


def set_birthday(session: Session, member: Member, month: int, day: int) -> None:
    """The member's birthday (no year: it is for the birthday greeting)."""
    member.birthday_month, member.birthday_day = month, day
    session.flush()


def add_interest(session: Session, member: Member, topic: str, *, now: datetime) -> str | None:
    """Tag the member with a topic (lower-cased, trimmed); None when there is no topic."""
    topic = clean_topic(topic)[:MAX_TOPIC_CHARS]
    if not topic:
        return None
    if topic not in {interest.topic for interest in member.interests}:
        member.interests.append(MemberInterest(topic=topic, created_at=now))
        session.flush()
    return topic


def clean_topic(topic: str | None) -> str:
    """A topic as interests keep it: single spaces, lower case."""
    return " ".join((topic or "").split()).lower()
