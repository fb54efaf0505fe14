"""Setting up care: the kinds of care rule, their defaults, checking and saving a merchant's choices,
the holidays it can pick, and what each rule has sent.

A kind's `settings` say which of a rule's columns the merchant chooses; the others keep their
defaults. The birthday bonus is the merchant's loyalty setting `birthday_bonus` (smscrm.points
grants it), so the care page and the points settings show one number.
"""
from __future__ import annotations

import string
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from smscrm import points
from smscrm.care import purpose_of
from smscrm.db.sqltime import epoch_days
from smscrm.errors import N_, NotFound, ValidationError
from smscrm.marketing import festivals
from smscrm.marketing.festivals import Festival
from smscrm.marketing.reports import Lift, ReturnRate, lift
from smscrm.models import (
    CareKind,
    CareRule,
    CareTouch,
    Language,
    Merchant,
    OutboundMessage,
    Purchase,
    ValueClass,
    VisitSurvey,
)

MAX_TEXT_CHARS = 480
REPORT_DAYS = 30
RETURN_DAYS = 30
COMMON_PLACEHOLDERS = ("name", "points", "class", "merchant", "bonus", "opt_out")
LIMITS = {
    "send_hour": (0, 23),
    "delay_hours": (0, 720),
    "days": (1, 365),
    "holdout_pct": (0, 50),
    "bonus_points": (0, 100_000),
    "grace_hours": (1, 168),
}


@dataclass(frozen=True)
class KindSpec:
    """What a kind of rule does, which settings the merchant chooses, and their defaults."""

    kind: CareKind
    title: str
    description: str
    settings: tuple[str, ...]
    defaults: dict = field(default_factory=dict)
    placeholders: tuple[str, ...] = ()

    @property
    def allowed_placeholders(self) -> tuple[str, ...]:
        return COMMON_PLACEHOLDERS + self.placeholders


def shown(text: str) -> str:
    """Marks a title or description the merchant pages show in the reader's language (`make messages` extracts
    it); the text itself is unchanged."""
    return text


SPECS = {
    spec.kind: spec
    for spec in (
        KindSpec(CareKind.WELCOME, shown("Welcome"), shown("A text soon after a member joins."),
                 ("delay_hours", "bonus_points"), {"delay_hours": 0, "grace_hours": 24}),
        KindSpec(CareKind.WELCOME_FOLLOW_UP, shown("Welcome follow-up"),
                 shown("A second text some days after joining, to members who have not visited yet."),
                 ("days", "bonus_points"), {"days": 7, "grace_hours": 24}),
        KindSpec(CareKind.BIRTHDAY, shown("Birthday"),
                 shown("A greeting on the member's birthday, at the hour you choose."),
                 ("send_hour", "bonus_points"), {"send_hour": 10, "grace_hours": 24}),
        KindSpec(CareKind.ANNIVERSARY, shown("Join anniversary"),
                 shown("A thank-you every year on the day the member joined."),
                 ("send_hour", "bonus_points"), {"send_hour": 10, "grace_hours": 24}),
        KindSpec(CareKind.HOLIDAY, shown("Holiday greeting"), shown("A greeting on a holiday you choose."),
                 ("send_hour", "bonus_points"), {"send_hour": 10, "grace_hours": 12}, ("holiday",)),
        KindSpec(CareKind.AFTER_VISIT, shown("After a visit"),
                 shown("A thank-you and a 1-5 satisfaction question some hours after a purchase. "
                       "A rating of 1 or 2 opens an urgent item in the inbox."),
                 ("delay_hours", "days"), {"delay_hours": 3, "days": 7, "grace_hours": 24}),
        KindSpec(CareKind.WIN_BACK, shown("Win-back"),
                 shown("A text to members who are at risk: no visit for more than the days you set, or twice their "
                       "usual interval if that is longer. At most once per that many days; a holdout shows whether "
                       "it works."),
                 ("value_class", "days", "holdout_pct", "send_hour", "bonus_points"),
                 {"send_hour": 11, "days": 60, "grace_hours": 24}),
        KindSpec(CareKind.POINTS_EXPIRING, shown("Points about to expire"),
                 shown("A reminder to members whose points expire within the days you set (when points expire at "
                       "all)."),
                 ("days", "send_hour"), {"days": 14, "send_hour": 11, "grace_hours": 24}, ("expiring", "date")),
        KindSpec(CareKind.CLASS_UPGRADE, shown("Class upgrade"),
                 shown("A congratulation when the nightly recompute moves a member up a value class."),
                 ("bonus_points",), {"grace_hours": 72}),
    )
}


def spec_for(kind: str) -> KindSpec:
    try:
        return SPECS[CareKind(kind)]
    except ValueError:
        raise NotFound(N_("there is no care rule %(kind)r"), kind=kind) from None


def rules(session: Session, merchant_id: int) -> dict[tuple[str, str], CareRule]:
    """The merchant's saved rules by (kind, holiday)."""
    saved = session.scalars(select(CareRule).where(CareRule.merchant_id == merchant_id))
    return {(rule.kind, rule.holiday): rule for rule in saved}


def rule_for(session: Session, merchant: Merchant, kind: str, holiday: str = "", *, now: datetime) -> CareRule:
    """The saved rule, or a new one (turned off, not yet in the database) with the kind's defaults."""
    spec = spec_for(kind)
    if (spec.kind == CareKind.HOLIDAY) != bool(holiday):
        raise NotFound(N_("a holiday rule needs a holiday, and only a holiday rule has one"))
    saved = rules(session, merchant.id).get((spec.kind.value, holiday))
    if saved is not None:
        return saved
    defaults = {"send_hour": None, "delay_hours": None, "days": None, **spec.defaults}
    return CareRule(
        merchant_id=merchant.id, kind=spec.kind.value, holiday=holiday, is_enabled=False, texts={},
        bonus_points=0, value_class=None, holdout_pct=0, created_at=now, updated_at=now, **defaults,
    )


def save_rule(
    session: Session,
    merchant: Merchant,
    kind: str,
    *,
    now: datetime,
    holiday: str = "",
    is_enabled: bool,
    wording: dict[str, str] | None = None,
    **settings,
) -> CareRule:
    """Check and store a rule; every value is checked before any is applied.

    `wording` maps a language to the merchant's own text (empty: the default text). `settings` may only
    name the kind's settings (and `grace_hours`).
    """
    spec = spec_for(kind)
    if holiday and not _is_known_holiday(merchant, holiday, now):
        raise ValidationError(N_("%(holiday)r is not a holiday in the calendar for %(country)s"), holiday=holiday,
                              country=merchant.country)
    rule = rule_for(session, merchant, kind, holiday, now=now)
    checked = _checked_settings(merchant, spec, settings)
    wording = _checked_texts(spec, wording if wording is not None else rule.texts)
    if spec.kind == CareKind.BIRTHDAY and "bonus_points" in checked:
        points.update_settings(merchant, birthday_bonus=checked.pop("bonus_points"))
    for name, value in checked.items():
        setattr(rule, name, value)
    rule.texts = wording
    rule.is_enabled = bool(is_enabled)
    rule.updated_at = now
    if rule.id is None:
        session.add(rule)
    session.flush()
    return rule


def _checked_settings(merchant: Merchant, spec: KindSpec, settings: dict) -> dict:
    checked = {}
    for name, value in settings.items():
        if name not in spec.settings and name != "grace_hours":
            raise ValidationError(f"{name} is not a setting of the {spec.title.lower()} rule")
        if name == "value_class":
            if value not in (None, "", *ValueClass):
                raise ValidationError(N_("the class must be A, B, C or empty for every class"))
            checked[name] = value or None
            continue
        low, high = LIMITS[name]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValidationError(f"{name.replace('_', ' ')} must be a whole number from {low} to {high}")
        checked[name] = value
    hour = checked.get("send_hour")
    if hour is not None and not merchant.sending_window_opens.hour <= hour < merchant.sending_window_closes.hour:
        raise ValidationError(
            N_("the hour must be inside your sending window, %(opens)s–%(closes)s, so that nobody is woken by a "
               "greeting"),
            opens=f"{merchant.sending_window_opens:%H:%M}", closes=f"{merchant.sending_window_closes:%H:%M}",
        )
    return checked


def _checked_texts(spec: KindSpec, wording: dict) -> dict[str, str]:
    """The merchant's wording per language, trimmed; unknown placeholders and stray braces are refused."""
    checked = {}
    for language, text in (wording or {}).items():
        if language not in tuple(Language):
            raise ValidationError(f"texts exist in {', '.join(Language)}, not {language!r}")
        text = " ".join((text or "").split())
        if not text:
            continue
        if len(text) > MAX_TEXT_CHARS:
            raise ValidationError(N_("a text must be at most %(count)s characters"), count=MAX_TEXT_CHARS)
        try:
            names = [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]
        except ValueError:
            raise ValidationError(N_("a text has a { or } that is not part of a placeholder such as {name}")) from None
        unknown = sorted(set(names) - set(spec.allowed_placeholders))
        if unknown:
            allowed = ", ".join("{" + name + "}" for name in spec.allowed_placeholders)
            raise ValidationError(N_("unknown placeholder %(placeholder)s; you can use %(allowed)s"),
                                  placeholder="{" + unknown[0] + "}", allowed=allowed)
        checked[language] = text
    return checked


def holiday_choices(merchant: Merchant, *, now: datetime) -> list[Festival]:
    """Each holiday of the merchant's calendar once, at its next date (today included), for a year ahead."""
    today = now.astimezone(ZoneInfo(merchant.timezone)).date()
    upcoming: dict[str, Festival] = {}
    for year in (today.year, today.year + 1):
        for festival in festivals.festivals(merchant.country, year):
            if today <= festival.day < today + timedelta(days=366):
                upcoming.setdefault(festival.name, festival)
    return sorted(upcoming.values(), key=lambda festival: festival.day)


def _is_known_holiday(merchant: Merchant, name: str, now: datetime) -> bool:
    return any(festival.name == name for festival in holiday_choices(merchant, now=now))


@dataclass(frozen=True)
class CareReport:
    """`win_back_*`: members texted (or held out) in the last REPORT_DAYS days, and how many came back
    within RETURN_DAYS of it; the lift compares the two as a campaign report does."""

    sent: dict[str, int]  # texts queued per purpose in the last REPORT_DAYS days
    win_back_sent: ReturnRate
    win_back_held_out: ReturnRate
    win_back_lift: Lift | None
    ratings: int
    average_rating: float | None


def report(session: Session, merchant_id: int, *, now: datetime) -> CareReport:
    """What care did in the last REPORT_DAYS days: texts per rule, win-back against its holdout, ratings."""
    since = now - timedelta(days=REPORT_DAYS)
    sent = dict(
        session.execute(
            select(OutboundMessage.purpose, func.count())
            .where(
                OutboundMessage.merchant_id == merchant_id,
                OutboundMessage.purpose.startswith("care_"),
                OutboundMessage.created_at >= since,
            )
            .group_by(OutboundMessage.purpose)
        ).all()
    )
    win_back = purpose_of(CareKind.WIN_BACK)
    rated = session.execute(
        select(func.count(VisitSurvey.rating), func.avg(VisitSurvey.rating)).where(
            VisitSurvey.merchant_id == merchant_id, VisitSurvey.rated_at >= since
        )
    ).one()
    texted = _touches(session, merchant_id, win_back, since, is_holdout=False)
    held_out = _touches(session, merchant_id, win_back, since, is_holdout=True)
    return CareReport(
        sent=sent,
        win_back_sent=texted,
        win_back_held_out=held_out,
        win_back_lift=lift(texted, held_out),
        ratings=rated[0],
        average_rating=float(rated[1]) if rated[1] is not None else None,
    )


def _touches(session: Session, merchant_id: int, purpose: str, since: datetime, *, is_holdout: bool) -> ReturnRate:
    """Members a repeating rule texted (or held out) since `since`, and how many bought within RETURN_DAYS."""
    came_back = (
        select(Purchase.id)
        .where(
            Purchase.member_id == CareTouch.member_id,
            Purchase.created_at > CareTouch.created_at,
            epoch_days(Purchase.created_at) <= epoch_days(CareTouch.created_at) + RETURN_DAYS,
        )
        .exists()
    )
    count, returned = session.execute(
        select(func.count(CareTouch.id), func.count(CareTouch.id).filter(came_back)).where(
            CareTouch.merchant_id == merchant_id, CareTouch.purpose == purpose, CareTouch.created_at >= since,
            CareTouch.is_holdout.is_(is_holdout),
        )
    ).one()
    return ReturnRate(count, returned)
