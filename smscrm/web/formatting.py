"""Template filters, formatted by Babel for the language of the page: times in the merchant's timezone,
numbers and shares, phones as staff may see them."""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_skeleton, format_time
from babel.numbers import format_decimal, format_percent
from flask import Flask
from flask_babel import get_locale, gettext

from smscrm.loyalty import members
from smscrm.messaging import phones

LANGUAGE_NAMES = {"en": "English", "zh": "中文"}


def local_date(moment: datetime | None, timezone: str) -> str:
    """The calendar day `moment` fell on where the merchant is: Mar 9, 2026 / 2026年3月9日."""
    if not moment:
        return ""
    return format_date(moment.astimezone(ZoneInfo(timezone)), "medium", locale=get_locale())


def local_datetime(moment: datetime | None, timezone: str) -> str:
    """Mar 9, 2026 8:00 PM / 2026年3月9日 20:00, in the merchant's timezone."""
    if not moment:
        return ""
    local = moment.astimezone(ZoneInfo(timezone))
    locale = get_locale()
    return f"{format_date(local, 'medium', locale=locale)} {format_time(local, 'short', locale=locale)}"


def day(value) -> str:
    """A calendar day (a `date`): Mar 9, 2026 / 2026年3月9日."""
    return format_date(value, "medium", locale=get_locale())


def full_day(value) -> str:
    """A calendar day with its weekday (a `date`): Tuesday, March 10, 2026 / 2026年3月10日星期二."""
    return format_date(value, "full", locale=get_locale())


def local_clock(moment: datetime, timezone: str) -> str:
    """The time of day `moment` is where the merchant is: 9:00 AM / 09:00."""
    return clock(moment.astimezone(ZoneInfo(timezone)).time())


def short_day(value) -> str:
    """A calendar day without its year: Mar 9 / 3月9日."""
    return format_skeleton("MMMd", value, locale=get_locale())


def month(value) -> str:
    """A month (any `date` in it): Mar 2026 / 2026年3月."""
    return format_skeleton("yMMM", value, locale=get_locale())


def duration(span: timedelta | None) -> str:
    """A waiting time as staff say it: under a minute, 12 min, 3 h 5 min, 2 d 4 h; a dash for None."""
    if span is None:
        return "—"
    minutes = int(round(span.total_seconds()) // 60)  # to the second first: SQL medians come back as 41.99999… min
    if minutes < 1:
        return gettext("under a minute")
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return gettext("%(days)d d %(hours)d h", days=days, hours=hours) if hours else gettext("%(days)d d", days=days)
    if hours:
        return (gettext("%(hours)d h %(minutes)d min", hours=hours, minutes=minutes) if minutes
                else gettext("%(hours)d h", hours=hours))
    return gettext("%(minutes)d min", minutes=minutes)


def clock(value) -> str:
    """A time of day (a `time`): 9:00 AM / 09:00."""
    return format_time(value, "short", locale=get_locale())


def number(value: int | float | None) -> str:
    """12,345 with the page language's separators; nothing for None."""
    return "" if value is None else format_decimal(value, locale=get_locale())


def percent(share: float | None, digits: int = 1) -> str:
    """A share (0.123) as a percentage: 12.3%; a dash for None."""
    if share is None:
        return "—"
    return format_percent(share, "#,##0." + "0" * digits + "%" if digits else "#,##0%", locale=get_locale())


def signed_percent(share: float | None) -> str:
    """A difference of two shares with its sign: +3.2% / -0.5%; a dash for None."""
    if share is None:
        return "—"
    return format_percent(share, "+#,##0.0%;-#,##0.0%", locale=get_locale())


def language_name(code: str) -> str:
    return LANGUAGE_NAMES.get(code, code)


def init_app(app: Flask) -> None:
    for template_filter in (
        local_date, local_datetime, day, full_day, local_clock, short_day, month, duration, clock, number, percent,
        signed_percent, language_name,
    ):
        app.add_template_filter(template_filter)
    app.add_template_filter(phones.mask_for_staff, "masked_phone")
    app.add_template_filter(members.status_of, "member_status")
