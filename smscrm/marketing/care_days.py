"""Who is due a day-based care text on a local day: birthdays, anniversaries of joining, holidays,
win-back and points about to expire. Each kind gives the members due the day's occurrence and how
to text them (`care_batches.Due`), or None when nothing is due that day; a birthday or an anniversary
is once a year, a holiday once on its day, win-back and expiring points at most once per `days` days.
A birthday, an anniversary and expiring points have an occasion (`OCCASIONS`: born, joined or earned on
the right days): one condition per day that the day's selection is built on, so the calendar finds the
days one member can be due by it alone.
"""
from __future__ import annotations

import re
from calendar import isleap
from datetime import date, datetime, time, timedelta

from sqlalchemy import ColumnElement, and_, exists, literal, or_

from smscrm.loyalty.expiry import member_unspent_before
from smscrm.loyalty.periods import months_before
from smscrm.marketing import care_audience, care_texts, festivals, segments
from smscrm.marketing.care_batches import Due
from smscrm.marketing.care_evaluation import RuleEvaluation
from smscrm.models import CareKind, Language, Member, PointsEntry

_SLUG = re.compile(r"[^a-z0-9]+")


def birthday(evaluation: RuleEvaluation, day: date, due_at: datetime) -> Due:
    """Members born on `day` (on February 28 of a common year, those born on the 29th too), once a year."""
    return Due(
        care_audience.members(evaluation).where(born_on(evaluation, day, due_at), Member.joined_at <= due_at),
        lambda members: care_texts.queue(evaluation, members, literal(str(day.year))),
    )


def born_on(evaluation: RuleEvaluation, day: date, due_at: datetime) -> ColumnElement[bool]:
    """Born on `day` (on February 28 of a common year, on the 29th too): the birthday's occasion."""
    born = [and_(Member.birthday_month == day.month, Member.birthday_day == day.day)]
    if (day.month, day.day) == (2, 28) and not isleap(day.year):
        born.append(and_(Member.birthday_month == 2, Member.birthday_day == 29))
    return or_(*born)


def anniversary(evaluation: RuleEvaluation, day: date, due_at: datetime) -> Due | None:
    """Members who joined on this local day in an earlier year, once a year."""
    joined = joined_on(evaluation, day, due_at)
    if joined is None:
        return None
    return Due(
        care_audience.members(evaluation).where(joined),
        lambda members: care_texts.queue(evaluation, members, literal(str(day.year))),
    )


def joined_on(evaluation: RuleEvaluation, day: date, due_at: datetime) -> ColumnElement[bool] | None:
    """Joined on this local day in an earlier year: the anniversary's occasion (None when nobody can have)."""
    first = evaluation.first_joined_at
    if first is None:
        return None
    joined = [
        and_(Member.joined_at >= start, Member.joined_at < end)
        for start, end in _anniversary_days(evaluation, day, first.astimezone(evaluation.zone).year)
    ]
    return or_(*joined) if joined else None


def holiday(evaluation: RuleEvaluation, day: date, due_at: datetime) -> Due | None:
    """Every member who joined before it, on the day of the rule's festival in the merchant's country."""
    festival = festivals.festival_on(evaluation.merchant.country, evaluation.rule.holiday, day)
    if festival is None:
        return None
    occurrence = literal(f"{_slug(festival.name)}:{day.isoformat()}")
    names = {Language.EN: festival.greeting_name, Language.ZH: festival.name_zh}
    return Due(
        care_audience.members(evaluation).where(Member.joined_at <= due_at),
        lambda members: care_texts.queue(evaluation, members, occurrence, holiday=names),
    )


def win_back(evaluation: RuleEvaluation, day: date, due_at: datetime) -> Due:
    """At-risk members of the chosen class, at most once per `days` days (a holdout counts as a time)."""
    rule, merchant = evaluation.rule, evaluation.merchant
    chosen = segments.SegmentFilter(
        value_classes=(rule.value_class,) if rule.value_class else (), at_risk_days=rule.days
    )
    at_risk = segments.filter_condition(chosen, now=due_at, timezone=merchant.timezone)

    return Due(
        care_audience.members(evaluation).where(at_risk, care_audience.not_touched_since(evaluation, day)),
        lambda touched: care_texts.queue(evaluation, touched, literal(day.isoformat())),
        touches=True,
    )


def points_expiring(evaluation: RuleEvaluation, day: date, due_at: datetime) -> Due | None:
    """Members with points that expire within `days` days, reminded at most once per `days` days: of the
    members who earned lately (`earned_lately`, found by the ledger's index of credits by time), only their
    own ledgers are read."""
    earned = earned_lately(evaluation, day, due_at)
    if earned is None:
        return None
    expiring = member_unspent_before(_expiry_cutoff(evaluation, due_at))
    local = (due_at + timedelta(days=evaluation.rule.days)).astimezone(evaluation.zone)
    date_text = {Language.EN: f"{local:%b} {local.day}", Language.ZH: f"{local.month}月{local.day}日"}
    holders = care_audience.members(evaluation).where(
        earned, Member.points_balance > 0, expiring > 0, care_audience.not_touched_since(evaluation, day)
    )
    occurrence = literal(day.isoformat())
    return Due(
        holders,
        lambda touched: care_texts.queue(evaluation, touched, occurrence, expiring=expiring, date=date_text),
        touches=True,
    )


def earned_lately(evaluation: RuleEvaluation, day: date, due_at: datetime) -> ColumnElement[bool] | None:
    """Earned points in the `days` (and one more) days before the occurrence's expiry cutoff: the occasion
    of expiring points (None when points do not expire). Points older than the expiry period are expired
    every night (`points.expire_points`), so only these members can be due."""
    if not evaluation.merchant.points_expiry_months:
        return None
    cutoff = _expiry_cutoff(evaluation, due_at)
    return exists().where(
        PointsEntry.member_id == Member.id,
        PointsEntry.merchant_id == evaluation.merchant.id,
        PointsEntry.points > 0,
        PointsEntry.created_at >= cutoff - timedelta(days=evaluation.rule.days + 1),
        PointsEntry.created_at < cutoff,
    )


def _expiry_cutoff(evaluation: RuleEvaluation, due_at: datetime) -> datetime:
    """Points earned before it expire within `days` days of `due_at`."""
    return months_before(due_at + timedelta(days=evaluation.rule.days), evaluation.merchant.points_expiry_months)


def _anniversary_days(evaluation: RuleEvaluation, day: date, first_year: int) -> list[tuple[datetime, datetime]]:
    """The local days, in earlier years, whose joiners have their anniversary on `day`."""
    zone = evaluation.zone
    same_days = [(day.month, day.day)]
    if (day.month, day.day) == (2, 28) and not isleap(day.year):
        same_days.append((2, 29))
    ranges = []
    for year in range(first_year, day.year):
        for month, day_of_month in same_days:
            if (month, day_of_month) == (2, 29) and not isleap(year):
                continue
            start = datetime.combine(date(year, month, day_of_month), time(0), tzinfo=zone)
            ranges.append((start, datetime.combine(start.date() + timedelta(days=1), time(0), tzinfo=zone)))
    return ranges


def _slug(name: str) -> str:
    return _SLUG.sub("-", name.lower()).strip("-")[:40]


# The kinds whose selection of a day is built on an occasion: who can be among that day's members at all.
OCCASIONS = {
    CareKind.BIRTHDAY: born_on,
    CareKind.ANNIVERSARY: joined_on,
    CareKind.POINTS_EXPIRING: earned_lately,
}
