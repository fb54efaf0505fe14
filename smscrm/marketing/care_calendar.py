"""The calendar of upcoming texts: which care rules and scheduled campaigns will text how many members on
each of the coming days — a dry run that writes nothing.

A day-based care rule's count is the scheduler's own selection (`care.DAY_BASED`: joined, not opted out,
the rule's occasion) taken at the occurrence's due moment and counted instead of written. Occurrences the
scheduler has already looked at are left out (the rest of an unfinished one is counted). A repeating rule
(win-back, points expiring) reaches a member at most once per `days`: across the calendar a member counts
on the first day they are due and then every `days` days while still due; win-back's members stay due
(no visit is foreseen), so one pass over the members finds the day each is first due. Its holdout (a
share of them, drawn when it sends) is among the members counted. Care texts do not count toward the
weekly cap. A scheduled campaign counts its reachable audience at its time, less the holdout (for one
member: unless drawn into it) and the members already at the weekly cap by the texts sent so far. Texts
go out when the merchant's sending window is open (`send_at`); the recipient's own quiet hours may hold
them later. Care kinds that follow an event (joining, a purchase, a class recompute) cannot be foreseen
by day. One member's next texts (the member page) ask the same selections of that member on fewer days:
win-back's first day by halving the days, the other kinds only on the days whose occasion the member has
(`care_days.OCCASIONS`: born, joined or earned on the right days) — a handful of small statements.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Select, case, func, literal, select, union_all
from sqlalchemy.orm import Session

from smscrm import broadcast
from smscrm.care import DAY_BASED
from smscrm.db.engine import without_jit
from smscrm.marketing import segments
from smscrm.marketing.care_days import OCCASIONS
from smscrm.marketing.care_evaluation import RuleEvaluation
from smscrm.messaging.courtesy import SendingWindow, members_at_cap
from smscrm.models import Campaign, CampaignStatus, CareKind, CareRule, Member, Merchant

DAYS_AHEAD = 30
REPEATING = {CareKind.WIN_BACK, CareKind.POINTS_EXPIRING}  # once per `days` (care_audience.not_touched_since)
# at risk until the next visit (none is foreseen), and a touch only ages out: the members due only grow
GROWING = {CareKind.WIN_BACK}


@dataclass(frozen=True)
class Upcoming:
    """Texts one care rule or one campaign will send on a local day, from `send_at` (UTC)."""

    day: date
    send_at: datetime
    members: int
    rule: CareRule | None = None
    campaign: Campaign | None = None
    at_cap: int = 0  # a campaign's members left out by the weekly cap


def calendar(session: Session, merchant: Merchant, *, now: datetime, days: int = DAYS_AHEAD,
             member_id: int | None = None) -> list[Upcoming]:
    """What the merchant's enabled day-based rules and scheduled campaigns will send on the next `days`
    local days (today first), in time order; with `member_id`, only what that member will get. On PostgreSQL
    without JIT compilation for the rest of the transaction (it cost seconds: more than the statements then ran)."""
    without_jit(session)
    upcoming = []
    for rule in session.scalars(
        select(CareRule).where(
            CareRule.merchant_id == merchant.id, CareRule.is_enabled.is_(True), CareRule.kind.in_(list(DAY_BASED))
        ).order_by(CareRule.id)
    ):
        upcoming += _rule_days(session, merchant, rule, now=now, days=days, member_id=member_id)
    for campaign in scheduled_campaigns(session, merchant, now=now, days=days):
        upcoming += _campaign(session, merchant, campaign, now=now, member_id=member_id)
    return sorted(upcoming, key=lambda item: (item.send_at, item.rule is None))


@dataclass(frozen=True)
class DueToday:
    """Who a day-based rule texts on today's occurrence: how many, and the first few."""

    day: date
    send_at: datetime
    count: int
    members: list[Member]


def due_today(session: Session, merchant: Merchant, rule: CareRule, *, now: datetime, shown: int = 20) -> DueToday | None:
    """Today's occurrence of a day-based rule (whether it is on, and whether sent yet), as the scheduler selects
    its members; None for a kind that follows an event."""
    if rule.kind not in DAY_BASED:
        return None
    day = _today(merchant, now)
    send_at = _window(merchant).next_open(due_moment(merchant, rule, day), merchant.timezone)
    due = due_on(session, merchant, rule, day)
    if due is None:
        return DueToday(day, send_at, 0, [])
    count = session.scalar(select(func.count()).select_from(due.with_only_columns(Member.id).subquery()))
    return DueToday(day, send_at, count, list(session.scalars(due.order_by(Member.id).limit(shown))))


def due_on(session: Session, merchant: Merchant, rule: CareRule, day: date) -> Select | None:
    """The members a day-based `rule` would text on the local `day` (whether or not it is on), as the
    scheduler selects them at the occurrence's due moment; None when the rule has no occurrence that day."""
    return _due_on(RuleEvaluation(session, merchant, rule, due_moment(merchant, rule, day)), day)


def _due_on(evaluation: RuleEvaluation, day: date) -> Select | None:
    due = DAY_BASED[evaluation.rule.kind](evaluation, day, due_moment(evaluation.merchant, evaluation.rule, day))
    return None if due is None else due.members


def due_moment(merchant: Merchant, rule: CareRule, day: date) -> datetime:
    """When a day-based rule's occurrence on the local `day` falls due: at `send_hour` there."""
    return datetime.combine(day, time(rule.send_hour), tzinfo=ZoneInfo(merchant.timezone))


def scheduled_campaigns(session: Session, merchant: Merchant, *, now: datetime, days: int) -> list[Campaign]:
    """The merchant's scheduled campaigns due before the end of the `days`-th local day (an overdue one
    starts at the scheduler's next pass)."""
    return list(session.scalars(
        select(Campaign).where(
            Campaign.merchant_id == merchant.id, Campaign.status == CampaignStatus.SCHEDULED,
            Campaign.scheduled_at < _day_start(merchant, _today(merchant, now) + timedelta(days=days)),
        ).order_by(Campaign.scheduled_at, Campaign.id)
    ))


def _rule_days(session: Session, merchant: Merchant, rule: CareRule, *, now: datetime, days: int,
               member_id: int | None) -> list[Upcoming]:
    """The rule's texts on each of the calendar's days (see the module docstring): for the merchant, counted in
    one statement. For one member, a handful of small statements: a rule whose due members only grow finds
    the first day they are due by halving the days; a kind with an occasion (`care_days.OCCASIONS`) is
    counted on the days whose occasion the member has, found in one statement."""
    today, window = _today(merchant, now), _window(merchant)
    evaluation = RuleEvaluation(session, merchant, rule, now)  # one per rule: what it looks up, it looks up once
    if member_id is None:
        branches = _branches(evaluation, today, range(days), now=now)
        if rule.kind in GROWING:
            counted = _growing_texts(session, branches, rule.days)
        else:
            counted = session.execute(_grouped_texts(rule, branches)).all() if branches else []
    elif rule.kind in GROWING:
        counted = _growing_member_texts(evaluation, today, days, member_id, now=now)
    else:
        offsets = _occasion_days(evaluation, today, days, member_id) if rule.kind in OCCASIONS else range(days)
        branches = [(offset, members.where(Member.id == member_id))
                    for offset, members in _branches(evaluation, today, offsets, now=now)]
        counted = session.execute(_grouped_texts(rule, branches)).all() if branches else []
    return [
        Upcoming(day, window.next_open(max(due_moment(merchant, rule, day), now), merchant.timezone), count,
                 rule=rule)
        for offset, count in counted if count
        for day in [today + timedelta(days=offset)]
    ]


def _branches(evaluation: RuleEvaluation, today: date, offsets, *, now: datetime) -> list[tuple[int, Select]]:
    """(day, the members the scheduler will text that day) for the days of `offsets` (from today) it will."""
    return [
        (offset, members) for offset in offsets
        for members in [_foreseen(evaluation, today + timedelta(days=offset), now=now)] if members is not None
    ]


def _foreseen(evaluation: RuleEvaluation, day: date, *, now: datetime) -> Select | None:
    """The members the scheduler will text on the rule's occurrence of the local `day`: None when there is none,
    when it is too late (the scheduler skips it) or when the scheduler has done it; the rest of an unfinished one."""
    rule = evaluation.rule
    due_at = due_moment(evaluation.merchant, rule, day)
    if due_at + timedelta(hours=rule.grace_hours) <= now:
        return None
    done = rule.evaluated_through is not None and due_at <= rule.evaluated_through
    if done and (due_at < rule.evaluated_through or rule.resume_after is None):
        return None
    members = _due_on(evaluation, day)
    return members.where(Member.id > rule.resume_after) if done and members is not None else members


def _grouped_texts(rule: CareRule, branches: list[tuple[int, Select]]) -> Select:
    """(day, texts) in one grouped statement over every day's due members; a member of a repeating rule
    counts on their first day and every `days` days after it on which they are due."""
    due = union_all(*(
        members.with_only_columns(literal(offset).label("day"), Member.id.label("member_id"))
        for offset, members in branches
    )).cte("due")  # read twice (every due day, and each member's first), selected once
    counted = select(due.c.day, func.count()).group_by(due.c.day)
    if rule.kind not in REPEATING:
        return counted
    first = select(due.c.member_id, func.min(due.c.day).label("day")).group_by(due.c.member_id).subquery("first")
    return counted.join(first, first.c.member_id == due.c.member_id).where((due.c.day - first.c.day) % rule.days == 0)


def _growing_texts(session: Session, branches: list[tuple[int, Select]], every: int) -> list[tuple[int, int]]:
    """(day, texts) for a repeating rule whose due members only grow from one day to the next (each day's
    selection reads the members' rows alone): one pass over the members due on the last day (the others are
    due on none) finds the first day each is due; they are texted that day and every `every` days after."""
    if not branches:
        return []
    first_day = case(*((members.whereclause, offset) for offset, members in branches))
    new = dict(session.execute(
        select(first_day, func.count()).where(branches[-1][1].whereclause).group_by(first_day)
    ).all())
    return [(day, sum(count for first, count in new.items() if first <= day and (day - first) % every == 0))
            for day, _ in branches]


def _occasion_days(evaluation: RuleEvaluation, today: date, days: int, member_id: int) -> list[int]:
    """The days (from today) whose occasion the member has (`care_days.OCCASIONS`), read in one statement:
    the only days the rule can text them, as its selection of each day is built on that day's occasion."""
    merchant, rule = evaluation.merchant, evaluation.rule
    occasions = [
        (offset, occasion) for offset in range(days)
        for day in [today + timedelta(days=offset)]
        for occasion in [OCCASIONS[rule.kind](evaluation, day, due_moment(merchant, rule, day))]
        if occasion is not None
    ]
    if not occasions:
        return []
    has = evaluation.session.execute(
        select(*(occasion.label(f"day_{offset}") for offset, occasion in occasions)).where(Member.id == member_id)
    ).one_or_none()
    return [offset for (offset, _occasion), is_had in zip(occasions, has or ()) if is_had]


def _growing_member_texts(evaluation: RuleEvaluation, today: date, days: int, member_id: int, *,
                          now: datetime) -> list[tuple[int, int]]:
    """(day, 1) for one member of a repeating rule whose due members only grow (`_growing_texts`): the first
    day the member is due, found by halving the days, and every `days` days after it."""
    def is_due(offset: int) -> bool:
        members = _foreseen(evaluation, today + timedelta(days=offset), now=now)
        return members is not None and evaluation.session.scalar(
            select(members.where(Member.id == member_id).exists())
        )

    low, high = 0, days  # the first day due is in [low, high]; `days` for none
    while low < high:
        middle = (low + high) // 2
        if is_due(middle):
            high = middle
        else:
            low = middle + 1
    return [(offset, 1) for offset in range(low, days, evaluation.rule.days)]


def _campaign(session: Session, merchant: Merchant, campaign: Campaign, *, now: datetime,
              member_id: int | None) -> list[Upcoming]:
    """The campaign's texts at its time: its reachable audience then, less the holdout and the weekly cap."""
    at = max(campaign.scheduled_at, now)
    reachable = select(Member.id).where(
        broadcast.audience(session, merchant, campaign, now=at), segments.REACHABLE
    )
    if member_id is not None:
        reachable = reachable.where(Member.id == member_id)
    audience, at_cap = session.execute(select(
        select(func.count()).select_from(reachable.subquery()).scalar_subquery(),
        select(func.count()).select_from(
            members_at_cap(reachable, merchant.weekly_marketing_cap, now=at).subquery()
        ).scalar_subquery(),
    )).one()
    if not audience:
        return []
    held_out = broadcast.holdout_size(audience, campaign.holdout_pct) if member_id is None else 0  # drawn at random
    texts = max(0, audience - held_out - at_cap)
    send_at = _window(merchant).next_open(at, merchant.timezone)
    return [Upcoming(send_at.astimezone(ZoneInfo(merchant.timezone)).date(), send_at, texts, campaign=campaign,
                     at_cap=at_cap)]


def _today(merchant: Merchant, now: datetime) -> date:
    return now.astimezone(ZoneInfo(merchant.timezone)).date()


def _day_start(merchant: Merchant, day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(merchant.timezone))


def _window(merchant: Merchant) -> SendingWindow:
    return SendingWindow(merchant.sending_window_opens, merchant.sending_window_closes)
