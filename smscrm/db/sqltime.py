"""Time arithmetic in SQL that reads the same on SQLite and PostgreSQL.

Both backends store UTC (SQLite as naive text, PostgreSQL as timestamptz), so a moment's distance
from the Unix epoch in days is comparable across rows and with a moment computed in Python.
"""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import Boolean, Float, Integer

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
SECONDS_PER_DAY = 86400.0
_JULIAN_DAY_OF_EPOCH = 2440587.5


class epoch_days(FunctionElement):
    """Days (fractional) from 1970-01-01 UTC to a timestamp column: `epoch_days(b) - epoch_days(a)` is
    the number of days from a to b."""

    type = Float()
    inherit_cache = True
    name = "epoch_days"


class epoch_day(epoch_days):
    """The UTC calendar day of a timestamp column, as a whole number of days from 1970-01-01: two moments of
    one day give the same number, `epoch_day(b) - epoch_day(a)` counts the midnights between them."""

    type = Integer()
    inherit_cache = True
    name = "epoch_day"


@compiles(epoch_days, "postgresql")
def _epoch_days_postgresql(element, compiler, **kw):
    # date_part gives double precision; EXTRACT gives numeric, several times slower over a million rows
    days = f"(date_part('epoch', {compiler.process(element.clauses, **kw)}) / {SECONDS_PER_DAY})"
    return f"floor{days}::integer" if isinstance(element, epoch_day) else days


@compiles(epoch_days, "sqlite")
def _epoch_days_sqlite(element, compiler, **kw):
    days = f"(julianday({compiler.process(element.clauses, **kw)}) - {_JULIAN_DAY_OF_EPOCH})"
    # the days since 1970 are positive, so the cast's truncation is a floor
    return f"CAST({days} AS INTEGER)" if isinstance(element, epoch_day) else days


def days_from_epoch(moment: datetime) -> float:
    """The Python side of `epoch_days`, for a moment such as `now`."""
    return (moment - EPOCH).total_seconds() / SECONDS_PER_DAY


class is_before_days_ago(FunctionElement):
    """`is_before_days_ago(column, now, days)`: the moment in `column` is more than `days` (a number per row,
    fractional allowed) of 24 hours before `now`. A comparison of timestamps on PostgreSQL (`now - days × 24 h`:
    an interval of hours, untouched by daylight saving), which costs a fraction of `epoch_days` per row."""

    type = Boolean()
    inherit_cache = True
    name = "is_before_days_ago"


@compiles(is_before_days_ago, "postgresql")
def _is_before_days_ago_postgresql(element, compiler, **kw):
    column, now, days = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"({column} < {now} - ({days}) * interval '24 hours')"


@compiles(is_before_days_ago, "sqlite")
def _is_before_days_ago_sqlite(element, compiler, **kw):
    column, now, days = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"(julianday({column}) < julianday({now}) - ({days}))"
