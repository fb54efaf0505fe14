"""UTCDateTime: times go in timezone-aware and come back in UTC, stored as each database stores a datetime."""
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, insert, select, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.types import DateTime

from smscrm.db.types import UTCDateTime

metadata = MetaData()
moments = Table("test_utc_moments", metadata, Column("id", Integer, primary_key=True), Column("at", UTCDateTime()))
TIMES = [
    datetime(2026, 3, 10, 15, 0, tzinfo=timezone.utc),
    datetime(2026, 3, 10, 15, 0, 0, 123456, tzinfo=timezone.utc),
    datetime(2026, 3, 10, 8, 30, 5, 7, tzinfo=ZoneInfo("America/Los_Angeles")),
    datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=8))),
    datetime(999, 1, 1, tzinfo=timezone.utc),
]


@pytest.fixture
def table(engine):
    metadata.create_all(engine)
    yield moments
    metadata.drop_all(engine)


def test_times_come_back_as_the_same_moment_in_utc(engine, table):
    with engine.begin() as connection:
        connection.execute(insert(table), [{"at": at} for at in TIMES])
        stored = connection.scalars(select(table.c.at).order_by(table.c.id)).all()
    assert stored == TIMES
    assert all(at.tzinfo == timezone.utc for at in stored)


def test_sqlite_stores_the_text_sqlalchemys_datetime_stores():
    """UTCDateTime writes SQLite's text in one step; it must be the text DATETIME writes, or comparisons and
    ordering against rows written before (or by SQLAlchemy directly) would break."""
    dialect = sqlite.dialect()
    ours = UTCDateTime().bind_processor(dialect)
    sqlalchemys = DateTime().dialect_impl(dialect).bind_processor(dialect)
    for at in TIMES:
        assert ours(at) == sqlalchemys(at.astimezone(timezone.utc).replace(tzinfo=None))
    assert ours(None) is None


def test_a_time_bound_again_gets_its_own_text_not_the_last_ones():
    """The last time's text is kept for the next bind of the same time: every other value is converted."""
    to_text = UTCDateTime().bind_processor(sqlite.dialect())
    first, second = TIMES[1], TIMES[1] + timedelta(microseconds=1)
    assert [to_text(first), to_text(first), to_text(second), to_text(None), to_text(first)] == [
        "2026-03-10 15:00:00.123456", "2026-03-10 15:00:00.123456", "2026-03-10 15:00:00.123457", None,
        "2026-03-10 15:00:00.123456",
    ]
    with pytest.raises(ValueError, match="naive datetimes are not stored"):
        to_text(first.replace(tzinfo=None))


def test_a_time_without_a_timezone_is_refused(engine, table):
    with pytest.raises(Exception, match="naive datetimes are not stored"):
        with engine.begin() as connection:
            connection.execute(insert(table), {"at": datetime(2026, 3, 10, 15, 0)})
    with engine.connect() as connection:
        assert connection.scalar(text("SELECT count(*) FROM test_utc_moments")) == 0
