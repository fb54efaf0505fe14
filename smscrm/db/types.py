"""Column types and the declarative base every model shares: times are timezone-aware UTC on both databases."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import DateTime, MetaData
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC datetime on every backend (SQLite drops tzinfo)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        value = _as_utc(value)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def bind_processor(self, dialect):
        """On SQLite, straight to the text SQLAlchemy's DATETIME stores ('2026-03-10 15:00:00.000000'; a test
        holds the two equal) instead of through process_bind_param and then DATETIME's own step: every row
        written has a few datetimes, and the two steps cost twice what one does."""
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        return _sqlite_text

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


_last_text = (None, None)  # the datetime last stored on SQLite, and its text


def _sqlite_text(value: datetime | None) -> str | None:
    """SQLite's stored text for `value`. A text's rows hold the same `now` several times: it is converted once."""
    global _last_text
    seen, text = _last_text  # one tuple, read and written whole, so threads never see a value with another's text
    if value is not seen:
        text = None if value is None else _as_utc(value).replace(tzinfo=None).isoformat(" ", "microseconds")
        _last_text = (value, text)
    return text


def _as_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("naive datetimes are not stored; pass a timezone-aware UTC time")
    return value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}
