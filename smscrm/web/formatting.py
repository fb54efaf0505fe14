"""Template filters: times in the merchant's timezone, phones as staff may see them."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Flask

from smscrm.messaging import phones

LANGUAGE_NAMES = {"en": "English", "zh": "中文"}


def local_date(moment: datetime | None, timezone: str) -> str:
    """2026-03-09: the calendar day `moment` fell on where the merchant is."""
    return moment.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d") if moment else ""


def local_datetime(moment: datetime | None, timezone: str) -> str:
    """2026-03-09 20:00 in the merchant's timezone."""
    return moment.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M") if moment else ""


def language_name(code: str) -> str:
    return LANGUAGE_NAMES.get(code, code)


def init_app(app: Flask) -> None:
    app.add_template_filter(local_date)
    app.add_template_filter(local_datetime)
    app.add_template_filter(language_name)
    app.add_template_filter(phones.mask_for_staff, "masked_phone")
