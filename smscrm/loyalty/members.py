"""Memberships: joining, and what a member tells us about themselves."""
from __future__ import annotations

from collections import Counter
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ColumnElement, Select, and_, delete, func, insert, literal, select, tuple_, update
from sqlalchemy.orm import Session

from smscrm.db.conflicts import insert_on_conflict
from smscrm.models import Member, MemberInterest, Merchant, Stage

MAX_NAME_CHARS = 80
MAX_TOPIC_CHARS = 40
TOPIC_SEPARATOR = "\n"  # around each topic in `Member.interest_topics`; never inside one (`clean_topic`)


_UNSYNCHRONISED = {"synchronize_session": False}  # `write_interests` expires what it changed itself
_INSERT_MEMBER = insert(Member.__table__)  # built once (its cache key too): the busiest paths run it


class MemberStatus(StrEnum):
    """Where a phone stands with the merchant; every membership row has exactly one."""

    MEMBER = "member"  # joined, and takes the merchant's texts
    INVITED = "invited"  # never joined (a friend's REFER, a purchase before joining): never opted in
    OPTED_OUT = "opted_out"  # opted out of texts, whether or not it joined


def status(*, is_joined: bool, is_opted_out: bool) -> MemberStatus:
    """The one rule the member list, the dashboard, the API and campaign counts use: an opt-out wins; else a
    phone that joined is a member, and one that never joined is only invited. `count_by_status` states it in SQL
    (tests/loyalty/test_directory.py checks that the two agree)."""
    if is_opted_out:
        return MemberStatus.OPTED_OUT
    return MemberStatus.MEMBER if is_joined else MemberStatus.INVITED


def status_of(member: Member) -> MemberStatus:
    return status(is_joined=member.is_joined, is_opted_out=member.is_opted_out)


IS_MEMBER = and_(Member.joined_at.is_not(None), Member.is_opted_out.is_(False))
"""`status` MEMBER as a condition: joined and not opted out."""


def count_by_status(
    session: Session, condition: ColumnElement[bool], *, split: ColumnElement[bool] | None = None
) -> Counter:
    """How many memberships meeting `condition` have each status (every status a key, 0 when none); with `split`,
    also (MEMBER, True), the members meeting it. One pass of counts with a filter each (`status`'s rule: the
    opted out, then the members; the rest are invited), cheaper than grouping every row by its facts. `split`
    comes first in its filter: PostgreSQL stops at the first false, and most rows counted are members while
    fewer meet the split."""
    counted = [func.count(), func.count().filter(Member.is_opted_out.is_(True)), func.count().filter(IS_MEMBER)]
    if split is not None:
        counted.append(func.count().filter(and_(split, IS_MEMBER)))
    total, opted_out, member, *in_split = session.execute(select(*counted).select_from(Member).where(condition)).one()
    counts = Counter({MemberStatus.MEMBER: member, MemberStatus.OPTED_OUT: opted_out,
                      MemberStatus.INVITED: total - member - opted_out})
    if in_split:
        counts[MemberStatus.MEMBER, True] = in_split[0]
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
    write_interests(session, [member.id], [(member, topic)], now=now)
    return topic


def write_interests(
    session: Session, member_ids: Select | list[int], topics: Select | list[tuple[Member, str]], *, now: datetime,
    is_replacing: bool = False,
) -> None:
    """The one way members' interests change (the SMS LIKE keyword, the member page, an import): the (member,
    clean topic) pairs `topics` lists, or the (member id, topic) pairs it selects, are added (a pair already there
    is kept); with `is_replacing`, the other interests of the members `member_ids` names are removed first. Then
    those members' `interest_topics` is rewritten from their interests, so the two always agree."""
    session.flush()
    if isinstance(topics, Select):
        added = topics.subquery()
        member_id, topic = added.c
        pairs = select(member_id, topic)
        rows = select(member_id, Member.merchant_id, topic, literal(now, MemberInterest.created_at.type)).join(
            Member, Member.id == member_id)
    else:
        pairs = [(member.id, topic) for member, topic in topics]
        rows = [{"member_id": member.id, "merchant_id": member.merchant_id, "topic": topic, "created_at": now}
                for member, topic in topics]
    if is_replacing:
        pair = tuple_(MemberInterest.member_id, MemberInterest.topic)
        session.execute(delete(MemberInterest).where(MemberInterest.member_id.in_(member_ids), pair.not_in(pairs)),
                        execution_options=_UNSYNCHRONISED)
    adding = insert_on_conflict(session, MemberInterest.__table__).on_conflict_do_nothing(
        index_elements=["member_id", "topic"])
    if isinstance(rows, Select):
        session.execute(adding.from_select(["member_id", "merchant_id", "topic", "created_at"], rows))
    elif rows:
        session.execute(adding, rows)
    listed = (select(func.aggregate_strings(MemberInterest.topic, TOPIC_SEPARATOR))
              .where(MemberInterest.member_id == Member.id).scalar_subquery())
    session.execute(update(Member).where(Member.id.in_(member_ids)).values(
        interest_topics=func.coalesce(TOPIC_SEPARATOR + listed + TOPIC_SEPARATOR, "")),
        execution_options=_UNSYNCHRONISED)
    for member in [each for each in session.identity_map.values() if isinstance(each, Member)]:
        session.expire(member, ["interests", "interest_topics"])  # read again when next used


def topic_pattern(topic: str) -> str:
    """What `interest_topics` contains when the member likes `topic` (a clean topic)."""
    return TOPIC_SEPARATOR + topic + TOPIC_SEPARATOR


def clean_topic(topic: str | None) -> str:
    """A topic as interests keep it: single spaces, lower case; empty for no topic."""
    return " ".join((topic or "").split()).lower()
