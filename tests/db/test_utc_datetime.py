"""UTCDateTime: times go in timezone-aware and come back in UTC, stored as each database stores a datetime."""
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, insert, select, text

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


def test_sqlite_holds_utc_text_that_sorts_as_time(engine, table):
    """On SQLite a time is stored as SQLAlchemy's DATETIME text in UTC, so rows written by either compare and
    sort in time order."""
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL stores a timestamptz")
    with engine.begin() as connection:
        connection.execute(insert(table), [{"at": at} for at in TIMES])
        stored = connection.scalars(text("SELECT at FROM test_utc_moments ORDER BY at")).all()
    assert stored == [
        "0999-01-01 00:00:00.000000", "2026-03-10 15:00:00.000000", "2026-03-10 15:00:00.123456",
        "2026-03-10 15:30:05.000007", "2026-12-31 15:59:59.999999",
    ]


def test_a_time_without_a_timezone_is_refused(engine, table):
    with pytest.raises(Exception, match="naive datetimes are not stored"):
        with engine.begin() as connection:
            connection.execute(insert(table), {"at": datetime(2026, 3, 10, 15, 0)})
    with engine.connect() as connection:
        assert connection.scalar(text("SELECT count(*) FROM test_utc_moments")) == 0
