"""Memberships: joining, and what a member tells us about themselves."""
from __future__ import annotations

from collections import Counter
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ColumnElement, func, insert, select
from sqlalchemy.orm import Session

from smscrm.models import Member, MemberInterest, Merchant, Stage

MAX_NAME_CHARS = 80
MAX_TOPIC_CHARS = 40


_INSERT_MEMBER = insert(Member.__table__)  # built once (its cache key too): the busiest paths run it


class MemberStatus(StrEnum):
    """Where a phone stands with the merchant; every membership row has exactly one."""

    MEMBER = "member"  # joined, and takes the merchant's texts
    INVITED = "invited"  # never joined (a friend's REFER, a purchase before joining): never opted in
    OPTED_OUT = "opted_out"  # opted out of texts, whether or not it joined


def status(*, is_joined: bool, is_opted_out: bool) -> MemberStatus:
    """The one rule the member list, the dashboard, the API and campaign counts use: an opt-out wins; else a
    phone that joined is a member, and one that never joined is only invited."""
    if is_opted_out:
        return MemberStatus.OPTED_OUT
    return MemberStatus.MEMBER if is_joined else MemberStatus.INVITED


def status_of(member: Member) -> MemberStatus:
    return status(is_joined=member.is_joined, is_opted_out=member.is_opted_out)


def count_by_status(
    session: Session, condition: ColumnElement[bool], *, split: ColumnElement[bool] | None = None
) -> Counter:
    """How many memberships meeting `condition` have each status (every status a key, 0 when none), from one
    count grouped by the two facts `status` reads; with `split`, also (status, True) for those meeting it."""
    facts = [Member.joined_at.is_not(None).label("is_joined"), Member.is_opted_out]
    if split is not None:
        facts.append(split.label("is_split"))
    rows = session.execute(select(*facts, func.count()).select_from(Member).where(condition).group_by(*facts))
    counts = Counter(dict.fromkeys(MemberStatus, 0))
    for joined, opted_out, *in_split, number in rows:
        each = status(is_joined=bool(joined), is_opted_out=bool(opted_out))
        counts[each] += number
        if in_split and in_split[0]:
            counts[each, True] += number
    return counts


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


def set_birthday(session: Session, member: Member, month: int, day: int, *, year: int | None = None) -> None:
    """The member's birthday, for the birthday greeting; the year when they gave it."""
    member.birthday_month, member.birthday_day, member.birth_year = month, day, year
    session.flush()


def add_interest(session: Session, member: Member, topic: str, *, now: datetime) -> str | None:
    """Tag the member with a topic (`clean_topic`, cut at MAX_TOPIC_CHARS); None when there is no topic."""
    topic = clean_topic(topic)[:MAX_TOPIC_CHARS]
    if not topic:
        return None
    if topic not in {interest.topic for interest in member.interests}:
        member.interests.append(MemberInterest(topic=topic, created_at=now))
        session.flush()
    return topic



def clean_topic(topic: str | None) -> str:
    """A topic as interests keep it: single spaces, lower case; empty for no topic."""
    return " ".join((topic or "").split()).lower()
