"""Calendar arithmetic the loyalty rules need (expiry after N months, trailing 12 months)."""
from __future__ import annotations

import calendar
from datetime import datetime


def months_before(moment: datetime, months: int) -> datetime:
    """The same time of day `months` calendar months earlier; a day the month lacks becomes its last day.

    months_before(2026-03-31, 1) is 2026-02-28.
    """
    total = moment.year * 12 + (moment.month - 1) - months
    year, month = divmod(total, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)
