"""Segments: named filters over a merchant's members, compiled to one SQL condition.

The filters of a segment combine with AND; a segment may also exclude the members of another
segment (which may exclude a third, and so on — never in a circle). An empty filter is everyone.

- value class, stage, language, birthday month: the member's is one of those chosen;
- points balance, visit count, total spend (minor units): between min and max, both included;
- days since last visit: between min and max whole days before `now`, both included; a member
  who never visited matches no visit-recency filter;
- joined between: calendar days in the merchant's timezone, both included;
- interests: the member likes at least one of the topics;
- at risk (N days): visited before, and the days since their last visit exceed
  max(N, 2 × their typical days between visits) — a regular who usually comes every 30 days is at
  risk after 60, a once-a-week regular after N.

Counting and fan-out run the compiled condition as one statement over `members`: no member is
ever looked at in Python. "Reachable" members are joined and not opted out: only they are sent
marketing.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, case, func, literal, not_, or_, select, true
from sqlalchemy.orm import Session

from smscrm.errors import N_, Conflict, NotFound, ValidationError
from smscrm.loyalty.members import (
    IS_MEMBER,
    MAX_TOPIC_CHARS,
    MemberStatus,
    clean_topic,
    count_by_status,
    topic_pattern,
)
from smscrm.models import (
    Campaign,
    Language,
    Member,
    MemberInterest,
    Merchant,
    Segment,
    Stage,
    ValueClass,
)

MAX_NAME_CHARS = 80
MAX_DAYS = 36500
MAX_EXCLUSION_DEPTH = 10

_LIKE_SPECIAL = re.compile(r"([/%_])")  # escaped with "/" in a LIKE pattern

REACHABLE = IS_MEMBER
"""Whom a campaign texts: the memberships `members.status` calls members (joined, not opted out)."""


@dataclass(frozen=True)
class SegmentFilter:
    """What a segment asks of a member. Unset fields (None, empty) do not filter."""

    value_classes: tuple[str, ...] = ()
    stages: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    birthday_months: tuple[int, ...] = ()
    interests: tuple[str, ...] = ()
    points_min: int | None = None
    points_max: int | None = None
    visits_min: int | None = None
    visits_max: int | None = None
    spend_min_minor: int | None = None
    spend_max_minor: int | None = None
    last_visit_days_min: int | None = None
    last_visit_days_max: int | None = None
    joined_from: date | None = None
    joined_to: date | None = None
    at_risk_days: int | None = None

    @classmethod
    def from_rules(cls, rules: dict | None) -> "SegmentFilter":
        """A checked filter from its stored or submitted form; ValidationError names the first bad value."""
        rules = dict(rules or {})
        unknown = set(rules) - {field.name for field in fields(cls)}
        if unknown:
            raise ValidationError(f"unknown segment filter {sorted(unknown)[0]!r}")
        return cls(
            value_classes=_choices(rules, "value_classes", ValueClass, "value class"),
            stages=_choices(rules, "stages", Stage, "stage"),
            languages=_choices(rules, "languages", Language, "language"),
            birthday_months=_months(rules.get("birthday_months")),
            interests=_topics(rules.get("interests")),
            points_min=_count(rules, "points_min", "points"),
            points_max=_count(rules, "points_max", "points"),
            visits_min=_count(rules, "visits_min", "visits"),
            visits_max=_count(rules, "visits_max", "visits"),
            spend_min_minor=_count(rules, "spend_min_minor", "spend"),
            spend_max_minor=_count(rules, "spend_max_minor", "spend"),
            last_visit_days_min=_count(rules, "last_visit_days_min", "days since the last visit", MAX_DAYS),
            last_visit_days_max=_count(rules, "last_visit_days_max", "days since the last visit", MAX_DAYS),
            joined_from=_date(rules.get("joined_from"), "joined from"),
            joined_to=_date(rules.get("joined_to"), "joined to"),
            at_risk_days=_at_risk(rules.get("at_risk_days")),
        )._checked()

    def _checked(self) -> "SegmentFilter":
        for low, high, label in (
            (self.points_min, self.points_max, "points"),
            (self.visits_min, self.visits_max, "visits"),
            (self.spend_min_minor, self.spend_max_minor, "spend"),
            (self.last_visit_days_min, self.last_visit_days_max, "days since the last visit"),
            (self.joined_from, self.joined_to, "joined dates"),
        ):
            if low is not None and high is not None and low > high:
                raise ValidationError(f"{label}: the lower bound is above the upper bound")
        return self

    def to_rules(self) -> dict:
        """The JSON form stored on a segment: only the fields that filter."""
        rules = {}
        for name, value in asdict(self).items():
            if value is None or value == ():
                continue
            rules[name] = value.isoformat() if isinstance(value, date) else list(value) if isinstance(value, tuple) else value
        return rules

    @property
    def is_everyone(self) -> bool:
        return not self.to_rules()


def _choices(rules: dict, key: str, enum, label: str) -> tuple[str, ...]:
    values = _as_list(rules.get(key))
    allowed = [item.value for item in enum]
    for value in values:
        if value not in allowed:
            raise ValidationError(f"{value!r} is not a {label} (choose from {', '.join(allowed)})")
    return tuple(sorted(set(values), key=allowed.index))


def _as_list(value) -> list:
    if value is None or value == "":
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _months(value) -> tuple[int, ...]:
    months = set()
    for item in _as_list(value):
        month = _integer(item, "birthday month")
        if not 1 <= month <= 12:
            raise ValidationError(f"birthday month must be 1 to 12, got {month}")
        months.add(month)
    return tuple(sorted(months))


def _topics(value) -> tuple[str, ...]:
    """Topics as members' interests are stored: trimmed, single-spaced, lower case."""
    topics = []
    for item in _as_list(value):
        topic = clean_topic(str(item))
        if len(topic) > MAX_TOPIC_CHARS:
            raise ValidationError(N_("an interest is at most %(count)s characters"), count=MAX_TOPIC_CHARS)
        if topic and topic not in topics:
            topics.append(topic)
    return tuple(topics)


def _integer(value, label: str) -> int:
    if isinstance(value, bool):
        raise ValidationError(f"{label} must be a whole number")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValidationError(f"{label} must be a whole number, got {value!r}") from None


def _count(rules: dict, key: str, label: str, maximum: int = 2**31 - 1) -> int | None:
    value = rules.get(key)
    if value is None or value == "":
        return None
    number = _integer(value, label)
    if not 0 <= number <= maximum:
        raise ValidationError(f"{label} must be between 0 and {maximum}, got {number}")
    return number


def _at_risk(value) -> int | None:
    if value is None or value == "":
        return None
    days = _integer(value, "at risk after")
    if not 1 <= days <= MAX_DAYS:
        raise ValidationError(f"at risk after must be 1 to {MAX_DAYS} days, got {days}")
    return days


def _date(value, label: str) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValidationError(f"{label} must be a date such as 2026-03-31, got {value!r}") from None


def filter_condition(segment_filter: SegmentFilter, *, now: datetime, timezone: str) -> ColumnElement[bool]:
    """The filter as a condition on the member's own row, without the merchant: callers add it. The cheapest
    tests come first, as PostgreSQL tries a row's conditions in the order written and stops at the first false:
    comparisons of numbers and times, then choices among texts (IN lists), then interests (a pattern)."""
    f = segment_filter
    conditions = []
    for column, low, high in (
        (Member.points_balance, f.points_min, f.points_max),
        (Member.visit_count, f.visits_min, f.visits_max),
        (Member.total_spend_minor, f.spend_min_minor, f.spend_max_minor),
    ):
        if low is not None:
            conditions.append(column >= low)
        if high is not None:
            conditions.append(column <= high)
    if f.last_visit_days_min is not None:  # at least N days ago: on or before the same time N days back
        conditions.append(Member.last_visit_at <= now - timedelta(days=f.last_visit_days_min))
    if f.last_visit_days_max is not None:  # at most N whole days ago: after the same time N+1 days back
        conditions.append(Member.last_visit_at > now - timedelta(days=f.last_visit_days_max + 1))
    if f.joined_from is not None:
        conditions.append(Member.joined_at >= _joined_bound(f.joined_from, timezone))
    if f.joined_to is not None:
        conditions.append(Member.joined_at < _joined_bound(f.joined_to + timedelta(days=1), timezone))
    if f.at_risk_days is not None:
        conditions.append(_at_risk_condition(f.at_risk_days, now))
    for column, chosen in (
        (Member.value_class, f.value_classes),
        (Member.stage, f.stages),
        (Member.language, f.languages),
        (Member.birthday_month, f.birthday_months),
    ):
        if chosen:
            conditions.append(column.in_(chosen))
    if f.interests:
        conditions.append(_likes_any(f.interests))
    return and_(true(), *conditions)


def _likes_any(topics: tuple[str, ...]) -> ColumnElement[bool]:
    """A pattern on the member's own row (`Member.interest_topics`), not a join: as cheap as the other filters.
    The pattern is a constant in the SQL (`literal_execute`), so PostgreSQL prepares it once in any plan, not for
    every row as it would a parameter in a generic plan."""
    patterns = ("%" + _LIKE_SPECIAL.sub(r"/\1", topic_pattern(topic)) + "%" for topic in topics)
    return or_(*(Member.interest_topics.like(literal(pattern, literal_execute=True), escape="/") for pattern in patterns))


def _at_risk_condition(days: int, now: datetime) -> ColumnElement[bool]:
    """Days since the last visit > max(days, 2 × typical gap): the last visit over `days` ago, and the moment the
    member's own rhythm makes them at risk (`Member.at_risk_from`, kept on the row) passed. Two comparisons with
    constants per row."""
    return and_(
        Member.last_visit_at < now - timedelta(days=days),
        or_(Member.at_risk_from.is_(None), Member.at_risk_from < now),
    )


def _joined_bound(day: date, timezone: str) -> ColumnElement[datetime]:
    """Midnight of `day` in the merchant's timezone, a constant in the SQL: the only range a segment tests on an
    indexed column (`ix_members_merchant_joined`), so the plan PostgreSQL keeps for a count run often (a generic
    plan, made without the parameters' values) is made knowing how many members it holds. With the bounds as
    parameters it guessed a few and read half a million members through the index, 10 × the time of a scan."""
    return literal(datetime.combine(day, time(0), tzinfo=ZoneInfo(timezone)), Member.joined_at.type,
                   literal_execute=True)


def segment_condition(session: Session, segment: Segment, *, now: datetime, timezone: str) -> ColumnElement[bool]:
    """The segment's filter AND NOT the segment it excludes (recursively), as one condition."""
    condition = filter_condition(SegmentFilter.from_rules(segment.rules), now=now, timezone=timezone)
    excluded = _excluded_segment(session, segment)
    if excluded is None:
        return condition
    return and_(condition, _not_in(session, excluded, now=now, timezone=timezone))


def _not_in(session: Session, excluded: Segment, *, now: datetime, timezone: str) -> ColumnElement[bool]:
    """Members not in `excluded`: its condition (which looks only at the member's own row) negated in place,
    null-safely (a member for whom it is unknown, e.g. no last visit, is not in it, so is not left out)."""
    inside = segment_condition(session, excluded, now=now, timezone=timezone)
    return not_(case((inside, True), else_=False))


def audience_condition(
    session: Session, merchant: Merchant, segment_filter: SegmentFilter, exclude: Segment | None, *, now: datetime
) -> ColumnElement[bool]:
    """Members of `merchant` matching a filter not (yet) saved as a segment, minus `exclude`."""
    condition = and_(
        Member.merchant_id == merchant.id,
        filter_condition(segment_filter, now=now, timezone=merchant.timezone),
    )
    if exclude is None:
        return condition
    return and_(condition, _not_in(session, exclude, now=now, timezone=merchant.timezone))


def members_condition(session: Session, segment: Segment, *, merchant: Merchant, now: datetime) -> ColumnElement[bool]:
    """The saved segment's members: the merchant's members that match it."""
    return and_(Member.merchant_id == merchant.id, segment_condition(session, segment, now=now, timezone=merchant.timezone))


def _excluded_segment(session: Session, segment: Segment) -> Segment | None:
    if segment.exclude_segment_id is None:
        return None
    excluded = session.get(Segment, segment.exclude_segment_id)
    if excluded is None or excluded.merchant_id != segment.merchant_id:
        raise NotFound(N_("the segment to exclude no longer exists"))
    return excluded


@dataclass(frozen=True)
class SegmentCount:
    """A segment's memberships by status (`members.status`); the preview and a campaign's start both count so."""

    matching: int  # members that match, whatever their consent
    reachable: int  # of them, members (joined and not opted out): who a campaign would text
    reachable_chinese: int = 0  # of those, members whose language is Chinese
    invited: int = 0  # never joined
    opted_out: int = 0

    @property
    def reachable_by_language(self) -> dict[str, int]:
        return {Language.EN: self.reachable - self.reachable_chinese, Language.ZH: self.reachable_chinese}


def count(session: Session, condition: ColumnElement[bool]) -> SegmentCount:
    """The members of a compiled segment by status (and the Chinese speakers among the reachable, whose text
    may differ), in one statement."""
    counts = count_by_status(session, condition, split=Member.language == Language.ZH)
    return SegmentCount(
        matching=sum(counts[each] for each in MemberStatus), reachable=counts[MemberStatus.MEMBER],
        reachable_chinese=counts[MemberStatus.MEMBER, True], invited=counts[MemberStatus.INVITED],
        opted_out=counts[MemberStatus.OPTED_OUT],
    )


def count_where(condition: ColumnElement[bool]):
    """An aggregate: how many rows meet `condition` (COUNT(*) FILTER (WHERE …))."""
    return func.count().filter(condition)


def save_segment(
    session: Session,
    merchant: Merchant,
    *,
    name: str,
    rules: dict,
    now: datetime,
    exclude_segment_id: int | None = None,
    segment: Segment | None = None,
    is_saved: bool = True,
) -> Segment:
    """Create `segment` (or update it) after checking the filter, the name and the exclusion."""
    name = " ".join((name or "").split())
    if not name or len(name) > MAX_NAME_CHARS:
        raise ValidationError(N_("a segment needs a name of 1 to %(count)s characters"), count=MAX_NAME_CHARS)
    segment_filter = SegmentFilter.from_rules(rules)
    if is_saved and _name_taken(session, merchant, name, segment):
        raise Conflict(N_("there is already a segment called %(name)r"), name=name)
    _check_exclusion(session, merchant, segment, exclude_segment_id)
    if segment is None:
        segment = Segment(merchant_id=merchant.id, created_at=now)
        session.add(segment)
    segment.name = name
    segment.rules = segment_filter.to_rules()
    segment.is_saved = is_saved
    segment.updated_at = now
    segment.exclude_segment_id = exclude_segment_id
    session.flush()
    return segment


def _name_taken(session: Session, merchant: Merchant, name: str, segment: Segment | None) -> bool:
    others = select(Segment.id).where(
        Segment.merchant_id == merchant.id, Segment.is_saved.is_(True), func.lower(Segment.name) == name.lower()
    )
    if segment is not None and segment.id is not None:
        others = others.where(Segment.id != segment.id)
    return session.scalar(others.limit(1)) is not None


def _check_exclusion(session: Session, merchant: Merchant, segment: Segment | None, exclude_segment_id: int | None) -> None:
    """The excluded segment is the merchant's, and following exclusions from it never comes back here."""
    seen = {segment.id} if segment is not None and segment.id is not None else set()
    current_id = exclude_segment_id
    depth = 0
    while current_id is not None:
        excluded = session.get(Segment, current_id)
        if excluded is None or excluded.merchant_id != merchant.id:
            raise ValidationError(N_("the segment to exclude does not exist"))
        if excluded.id in seen:
            raise ValidationError(N_("a segment cannot exclude itself, even through %(name)r"), name=excluded.name)
        depth += 1
        if depth > MAX_EXCLUSION_DEPTH:
            raise ValidationError(N_("exclusions may chain at most %(count)s segments deep"), count=MAX_EXCLUSION_DEPTH)
        seen.add(excluded.id)
        current_id = excluded.exclude_segment_id


def saved_segments(session: Session, merchant_id: int) -> list[Segment]:
    return list(
        session.scalars(
            select(Segment).where(Segment.merchant_id == merchant_id, Segment.is_saved.is_(True)).order_by(func.lower(Segment.name))
        )
    )


def get_segment(session: Session, merchant_id: int, segment_id: int) -> Segment:
    segment = session.get(Segment, segment_id)
    if segment is None or segment.merchant_id != merchant_id:
        raise NotFound(N_("no such segment"))
    return segment


def delete_segment(session: Session, segment: Segment) -> None:
    """Delete a saved segment no campaign and no other segment refers to."""
    if session.scalar(select(Campaign.id).where(Campaign.segment_id == segment.id).limit(1)) is not None:
        raise Conflict(N_("%(name)r is the audience of a campaign and stays on record"), name=segment.name)
    excluding = session.scalar(select(Segment.name).where(Segment.exclude_segment_id == segment.id).limit(1))
    if excluding is not None:
        raise Conflict(N_("%(name)r is excluded by the segment %(other)r; change that one first"), name=segment.name,
                       other=excluding)
    session.delete(segment)
    session.flush()


def known_interests(session: Session, merchant_id: int, limit: int = 200) -> list[str]:
    """The topics the merchant's members have named, most common first, for the filter form (read from
    ix_member_interests_merchant_topic alone)."""
    rows = session.execute(
        select(MemberInterest.topic, func.count().label("members"))
        .where(MemberInterest.merchant_id == merchant_id)
        .group_by(MemberInterest.topic)
        .order_by(func.count().desc(), MemberInterest.topic)
        .limit(limit)
    )
    return [topic for topic, _members in rows]
