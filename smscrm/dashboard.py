"""The dashboard's figures: is the merchant's loyalty programme working?

Every figure is one set-based statement over one merchant's rows, read at `now`; periods are calendar weeks
(from Monday) and months in the merchant's timezone.

- Members over time: memberships that joined, and opt-outs received (consent events), per week for 52 weeks.
- Returning members: of the members whose first visit was in the 90 days that ended N days ago (so that each had
  N days to come back), the share whose second visit came within N days of the first (N = 30 and 90).
- Value classes: joined members per class and their share of the spend recorded on members (all purchases).
- The loyalty ladder as a funnel: how many memberships reached each stage or a later one.
- Satisfaction: per month, the visits rated, their average and the share rated 1 or 2; the inbox's median time
  from a conversation opening to its first response, over the conversations opened in the last 30 days.
- Texts this month, by kind (category): texts that were sent or wait to be (not suppressed, skipped, cancelled
  or failed), their SMS parts (counted when each was written) and what they cost at the merchant's price per part.
- The last campaigns that started, with their lift (`reports.outcome`: once a campaign's return window has closed,
  its return rates are read from the campaign row, where the first reading after that kept them).

JIT: on PostgreSQL the figures are read with JIT compilation off (for the request's transaction only). Their plans
cost enough to trigger it, and compiling took longer than the statements then ran (0.7 of 1.7 s for one campaign's
return rate, measured with bench/dashboard).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, and_, case, cast, func, select
from sqlalchemy.orm import Session

from smscrm.db.engine import without_jit
from smscrm.db.sqltime import days_from_epoch, epoch_days
from smscrm.loyalty import directory
from smscrm.loyalty.periods import months_before
from smscrm.marketing import campaign_texts, reports
from smscrm.marketing.segments import count_where
from smscrm.messaging.surveys import LOW_RATING
from smscrm.models import (
    Campaign,
    Category,
    ConsentAction,
    ConsentEvent,
    InboxItem,
    Member,
    Merchant,
    OutboundMessage,
    Purchase,
    Stage,
    Status,
    ValueClass,
    VisitSurvey,
)

WEEKS = 52
MONTHS = 12
RETURN_WINDOWS = (30, 90)  # days
COHORT = timedelta(days=90)  # the first visits a return window judges: the 90 days before it
RESPONSE_WINDOW = timedelta(days=30)
LAST_CAMPAIGNS = 3
NOT_SENT = (Status.SUPPRESSED, Status.SKIPPED, Status.CANCELLED, Status.FAILED)
KINDS = (Category.REPLY, Category.TRANSACTIONAL, Category.CARE, Category.MARKETING)
LADDER = (Stage.PENDING, Stage.JOINED, Stage.FIRST_PURCHASE, Stage.REPEAT, Stage.ADVOCATE)


@dataclass(frozen=True)
class Week:
    starts_on: date
    joined: int
    opted_out: int


@dataclass(frozen=True)
class Figures:
    """Everything the dashboard shows, read at one moment."""

    summary: directory.Summary
    weeks: list[Week]
    returning: list[Returning]
    value_classes: list[ClassShare]
    ladder: list[Rung]
    ratings: list[MonthRatings]
    median_first_response: timedelta | None
    conversations_answered: int
    texts: list[TextKind]
    campaigns: list[CampaignLift]


def figures(session: Session, merchant: Merchant, *, now: datetime) -> Figures:
    """The dashboard's figures for `merchant` at `now` (the member counts are the directory's)."""
    without_jit(session)
    median, answered = median_first_response(session, merchant, now=now)
    counted = memberships(session, merchant)
    return Figures(
        summary=directory.summarise(session, merchant.id, now=now),
        weeks=membership_weeks(session, merchant, now=now),
        returning=returning(session, merchant, now=now),
        value_classes=value_classes(counted),
        ladder=ladder(counted),
        ratings=ratings_by_month(session, merchant, now=now),
        median_first_response=median,
        conversations_answered=answered,
        texts=texts_this_month(session, merchant, now=now),
        campaigns=last_campaigns(session, merchant, now=now),
    )


@dataclass(frozen=True)
class Returning:
    """Of `members` whose first visit was in the 90 days that ended `days` ago, `returned` came back within `days`."""

    days: int
    members: int
    returned: int

    @property
    def share(self) -> float | None:
        return self.returned / self.members if self.members else None


@dataclass(frozen=True)
class ClassShare:
    value_class: ValueClass
    members: int
    spend_minor: int
    member_share: float | None
    spend_share: float | None


@dataclass(frozen=True)
class Rung:
    """Memberships at `stage` or a later one on the ladder."""

    stage: Stage
    members: int
    share: float | None  # of every membership, invited ones included


@dataclass(frozen=True)
class MonthRatings:
    month: date
    ratings: int
    average: float | None
    low_share: float | None  # rated 1 or 2


@dataclass(frozen=True)
class TextKind:
    category: Category
    texts: int
    parts: int
    cost_minor: float | None  # None when the merchant has set no price per part


@dataclass(frozen=True)
class CampaignLift:
    """What Home shows of a campaign that started, and its return rates and lift."""

    campaign_id: int
    name: str
    started_at: datetime
    outcome: reports.Outcome


def local_today(merchant: Merchant, now: datetime) -> date:
    return now.astimezone(ZoneInfo(merchant.timezone)).date()


def local_midnight(merchant: Merchant, day: date) -> datetime:
    """The moment `day` begins where the merchant is, in UTC."""
    return datetime.combine(day, time(), ZoneInfo(merchant.timezone)).astimezone(ZoneInfo("UTC"))


def membership_weeks(session: Session, merchant: Merchant, *, now: datetime) -> list[Week]:
    """Memberships joined and opt-outs received, per week, the oldest of the 52 weeks first (this one last)."""
    today = local_today(merchant, now)
    first_monday = today - timedelta(days=today.weekday(), weeks=WEEKS - 1)
    start = local_midnight(merchant, first_monday)

    def per_week(moment, *where):
        week = cast(func.floor((epoch_days(moment) - days_from_epoch(start)) / 7), Integer).label("week")
        rows = session.execute(select(week, func.count()).where(moment >= start, *where).group_by(week))
        return {index: number for index, number in rows}

    joined = per_week(Member.joined_at, Member.merchant_id == merchant.id)
    opted_out = per_week(
        ConsentEvent.created_at, ConsentEvent.merchant_id == merchant.id, ConsentEvent.action == ConsentAction.OPT_OUT
    )
    return [
        Week(first_monday + timedelta(weeks=index), joined.get(index, 0), opted_out.get(index, 0))
        for index in range(WEEKS)
    ]


def returning(session: Session, merchant: Merchant, *, now: datetime) -> list[Returning]:
    """Members who came back within 30 and 90 days of their first visit (see the module docstring)."""
    second_visit = (
        select(func.min(Purchase.created_at))
        .where(Purchase.member_id == Member.id, Purchase.created_at > Member.first_visit_at)
        .scalar_subquery()
    )
    windows = []
    for days in RETURN_WINDOWS:
        came_back = and_(Member.visit_count >= 2, epoch_days(second_visit) - epoch_days(Member.first_visit_at) <= days)
        members, returned = session.execute(
            select(func.count(), count_where(came_back)).where(
                Member.merchant_id == merchant.id,
                Member.first_visit_at >= now - timedelta(days=days) - COHORT,
                Member.first_visit_at < now - timedelta(days=days),
            )
        ).one()
        windows.append(Returning(days, members, returned))
    return windows


def memberships(session: Session, merchant: Merchant) -> list[tuple[str, str | None, int, int]]:
    """The merchant's memberships counted by stage and value class, with their recorded spend: (stage, class,
    memberships, spend), one scan for both the classes and the ladder."""
    rows = session.execute(
        select(Member.stage, Member.value_class, func.count(), func.coalesce(func.sum(Member.total_spend_minor), 0))
        .where(Member.merchant_id == merchant.id)
        .group_by(Member.stage, Member.value_class)
    )
    return [(stage, value_class, number, int(spend)) for stage, value_class, number, spend in rows]


def value_classes(counted: list[tuple[str, str | None, int, int]]) -> list[ClassShare]:
    """Joined members per value class (A, B, C) and their share of members' recorded spend (from `memberships`)."""
    found = {value_class: [0, 0] for value_class in ValueClass}
    for _stage, value_class, members, spend in counted:
        if value_class is not None:
            found[value_class][0] += members
            found[value_class][1] += spend
    all_members = sum(members for members, _ in found.values())
    all_spend = sum(spend for _, spend in found.values())
    return [
        ClassShare(value_class, members, spend, _share(members, all_members), _share(spend, all_spend))
        for value_class, (members, spend) in found.items()
    ]


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def ladder(counted: list[tuple[str, str | None, int, int]]) -> list[Rung]:
    """The ladder as a funnel: memberships at each stage or beyond, from invited to advocate (from `memberships`)."""
    at_stage = {stage: 0 for stage in LADDER}
    for stage, _value_class, members, _spend in counted:
        at_stage[stage] += members
    total = sum(at_stage.values())
    reached = [sum(at_stage[later] for later in LADDER[index:]) for index in range(len(LADDER))]
    return [Rung(stage, members, _share(members, total)) for stage, members in zip(LADDER, reached)]


def month_starts(merchant: Merchant, now: datetime) -> list[date]:
    """The first days of the last 12 months in the merchant's timezone, this month last."""
    this_month = local_today(merchant, now).replace(day=1)
    return [months_before(datetime.combine(this_month, time()), MONTHS - 1 - index).date() for index in range(MONTHS)]


def ratings_by_month(session: Session, merchant: Merchant, *, now: datetime) -> list[MonthRatings]:
    """Visits rated per month for 12 months: how many, the average rating, the share rated 1 or 2."""
    starts = month_starts(merchant, now)
    boundaries = [local_midnight(merchant, start) for start in starts]
    month = case(
        *((VisitSurvey.rated_at >= boundary, index) for index, boundary in reversed(list(enumerate(boundaries)))),
        else_=None,
    ).label("month")
    rows = session.execute(
        select(month, func.count(), func.avg(VisitSurvey.rating), count_where(VisitSurvey.rating <= LOW_RATING))
        .where(
            VisitSurvey.merchant_id == merchant.id,
            VisitSurvey.rating.is_not(None),
            VisitSurvey.rated_at >= boundaries[0],
        )
        .group_by(month)
    )
    found = {index: (number, average, low) for index, number, average, low in rows}
    months = []
    for index, start in enumerate(starts):
        number, average, low = found.get(index, (0, None, 0))
        months.append(MonthRatings(start, number, float(average) if average is not None else None, _share(low, number)))
    return months


def median_first_response(session: Session, merchant: Merchant, *, now: datetime) -> tuple[timedelta | None, int]:
    """The median time to first response of the inbox conversations opened in the last 30 days, and how many
    of them have had one."""
    waited = (epoch_days(InboxItem.first_response_at) - epoch_days(InboxItem.opened_at)).label("days")
    answered = (
        select(
            waited,
            func.row_number().over(order_by=waited).label("position"),
            func.count().over().label("answered"),
        )
        .where(
            InboxItem.merchant_id == merchant.id,
            InboxItem.opened_at >= now - RESPONSE_WINDOW,
            InboxItem.first_response_at.is_not(None),
        )
        .subquery()
    )
    c = answered.c
    middle = c.position.in_([(c.answered + 1) // 2, (c.answered + 2) // 2])  # integer division: one or two rows
    median, number = session.execute(select(func.avg(c.days), func.max(c.answered)).where(middle)).one()
    return (timedelta(days=float(median)) if median is not None else None), number or 0


def texts_this_month(session: Session, merchant: Merchant, *, now: datetime) -> list[TextKind]:
    """This calendar month's texts by kind: how many, their SMS parts and their estimated cost."""
    start = local_midnight(merchant, local_today(merchant, now).replace(day=1))
    rows = session.execute(
        select(OutboundMessage.category, func.count(), func.coalesce(func.sum(OutboundMessage.parts), 0))
        .where(
            OutboundMessage.merchant_id == merchant.id,
            OutboundMessage.created_at >= start,
            OutboundMessage.status.not_in(NOT_SENT),
        )
        .group_by(OutboundMessage.category)
    )
    found = {category: (number, int(parts)) for category, number, parts in rows}
    kinds = []
    for kind in KINDS:
        texts, parts = found.get(kind, (0, 0))
        kinds.append(TextKind(kind, texts, parts, campaign_texts.price_of_parts(merchant, parts)))
    return kinds


def last_campaigns(session: Session, merchant: Merchant, *, now: datetime) -> list[CampaignLift]:
    """The campaigns that started most recently, newest first, with their return rates and lift."""
    campaigns = session.scalars(
        select(Campaign)
        .where(Campaign.merchant_id == merchant.id, Campaign.started_at.is_not(None))
        .order_by(Campaign.started_at.desc(), Campaign.id.desc())
        .limit(LAST_CAMPAIGNS)
    )
    return [
        CampaignLift(campaign.id, campaign.name, campaign.started_at, reports.outcome(session, campaign, now=now))
        for campaign in campaigns
    ]
