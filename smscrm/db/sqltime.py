"""Time arithmetic in SQL that reads the same on SQLite and PostgreSQL.

Both backends store UTC (SQLite as naive text, PostgreSQL as timestamptz), so a moment's distance
from the Unix epoch in days is comparable across rows and with a moment computed in Python.
"""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.types import Float, Integer

from smscrm.db.types import UTCDateTime

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


class days_after(FunctionElement):
    """`days_after(moment, days, times)`: the moment `times` × `days` (a number per row, fractional allowed) of
    24 hours after the time column `moment`, as such a column holds it. Immutable, so a generated column can be
    one (`timestamptz + interval` is only stable: PostgreSQL adds the hours to the UTC wall-clock time, which
    daylight saving never moves); SQLite's time arithmetic keeps milliseconds. Written as PostgreSQL gives a
    generated column's expression back, so the migrations test compares it with the model's."""

    type = UTCDateTime()
    inherit_cache = True
    name = "days_after"
    _traverse_internals = FunctionElement._traverse_internals + [("times", InternalTraversal.dp_plain_obj)]

    def __init__(self, moment, days, times: int):
        self.times = times
        super().__init__(moment, days)


@compiles(days_after, "postgresql")
def _days_after_postgresql(element, compiler, **kw):
    moment, days = (compiler.process(clause, **kw) for clause in element.clauses)
    hours = f"'{24 * element.times}:00:00'::interval"
    return f"timezone('UTC'::text, (timezone('UTC'::text, {moment}) + ({days} * {hours})))"


@compiles(days_after, "sqlite")
def _days_after_sqlite(element, compiler, **kw):
    moment, days = (compiler.process(clause, **kw) for clause in element.clauses)
    # the text SQLAlchemy stores a time as (six digits of seconds' fraction), so times compare as text
    return f"strftime('%Y-%m-%d %H:%M:%f000', julianday({moment}) + {element.times} * {days})"
