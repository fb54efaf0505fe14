"""Engine, session factory and the declarative base shared by every model."""
from __future__ import annotations

import time
from datetime import datetime, timezone

from sqlalchemy import ColumnElement, DateTime, Index, MetaData, create_engine, event, literal, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, sessionmaker
from sqlalchemy.types import TypeDecorator

from smscrm import sqlite_writer

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


def index_where(name: str, *columns, where: ColumnElement[bool], unique: bool = False) -> Index:
    """A partial index: only the rows for which `where` holds have an entry, and the others are written without
    one. A query may read it when its own WHERE says `where` holds: the same condition, one branch of it when it
    is an OR, or (for `IS NOT NULL`) a comparison of that column. Conditions on values are built with `literally`."""
    return Index(name, *columns, unique=unique, postgresql_where=where, sqlite_where=where)


def index_where_set(name: str, *columns, unique: bool = False, set_column: str | None = None) -> Index:
    """An index of the rows whose `set_column` (by default the first column, given by name) is set. For a
    column most rows leave empty (the provider's id of a text not sent yet, the campaign of a reply, a
    member's birthday): those rows are written without an index entry, and a lookup by a value finds the
    same rows. `columns` are names, or columns for an index declared outside its table."""
    return index_where(name, *columns, unique=unique, where=text(f"{set_column or columns[0]} IS NOT NULL"))


def literally(column: ColumnElement, value) -> ColumnElement[bool]:
    """`column = value`, with the value written into the SQL rather than sent as a parameter: for a partial
    index's condition (`index_where`), and for a query that must be able to read such an index. A database
    proves a partial index's condition only from values it sees when it plans: PostgreSQL's generic plans,
    which psycopg's prepared statements come to use, see none of the parameters."""
    return column == literal(value, column.type, literal_execute=True)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}


PING_AFTER_IDLE_SECONDS = 5.0  # the app's, the worker's and the scheduler's engines: see make_engine
WAL_CHECKPOINT_PAGES = 4000  # SQLite's WAL is copied into the database once it holds this many pages: see make_engine


def make_engine(url: str, *, ping_after_idle: float | None = None, **kwargs) -> Engine:
    """An engine; SQLite gets WAL and a busy timeout so several processes can share the file.

    SQLite's writers queue on a lock file first (`smscrm.sqlite_writer`), so the next one starts the
    moment the last one commits instead of sleeping in SQLite's busy handler.

    SQLite also gets synchronous=NORMAL, the setting SQLite recommends with WAL: a commit no longer
    waits for an fsync (milliseconds on a disk, spent holding the one write lock), the file stays
    consistent, and a crashed process loses nothing; only a power cut or OS crash may undo the
    last transactions before the next checkpoint. PostgreSQL is the choice when that matters.

    The checkpoint (the committing connection copying the WAL's pages into the database file) runs
    every WAL_CHECKPOINT_PAGES pages (16 MB) instead of SQLite's default 1,000. An inbound text writes
    about seven pages, several of them the same from text to text (the last leaf of each table it adds
    a row to, the pages above), and a checkpoint copies a page once however often it changed since the
    last one: a longer interval copies the busy pages fewer times. Measured under `bench/webhook` on
    SQLite: 1.04x the webhook's requests/s, with its p99 latency 6 -> 13 ms (the commit that checkpoints
    takes longer).

    `ping_after_idle` (seconds, database servers only): a pooled connection that sat unused longer
    is tested before it is handed out, and replaced if the server dropped it (a restart, an idle
    timeout). One used moments ago is handed out as it is: under load that saves a round trip on
    every request, and should the server go away mid-load, the first failure replaces the whole pool.
    """
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"timeout": 30, "factory": sqlite_writer.Connection})
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _configure_sqlite)
    elif ping_after_idle is not None:
        _ping_after_idle(engine, ping_after_idle)
    return engine


def _ping_after_idle(engine: Engine, seconds: float) -> None:
    @event.listens_for(engine, "checkin")
    def note_last_use(_dbapi_connection, record) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def ping_if_idle(dbapi_connection, record, _proxy) -> None:
        idle_since = record.info.pop("idle_since", None)
        if idle_since is None or time.monotonic() - idle_since <= seconds:
            return  # a new connection, or one used moments ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error:
            raise DisconnectionError("the server dropped this pooled connection") from None  # the pool reconnects


def _configure_sqlite(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
    cursor.close()


_ALWAYS_AUTOCOMMIT = "smscrm_always_autocommit"  # the execution option that marks such an engine


def make_autocommit_engine(url: str, **kwargs) -> Engine:
    """`make_engine` for a pool whose connections are always in autocommit mode, for a process that opens
    many `autocommit_connection`s on a database server: its connections are not switched into autocommit
    mode when they are handed out and back when they are returned."""
    return make_engine(url, isolation_level="AUTOCOMMIT", execution_options={_ALWAYS_AUTOCOMMIT: True}, **kwargs)


def autocommit_connection(engine: Engine) -> Connection:
    """A connection outside any transaction, for `with`: each statement commits by itself. For a read, or a
    change made in one statement (atomic anyway); on PostgreSQL it saves a transaction's BEGIN and COMMIT
    round trips. Open one only where the caller holds no other connection, so a request never waits for a
    second one from the pool while holding the first."""
    connection = engine.connect()
    if engine.get_execution_options().get(_ALWAYS_AUTOCOMMIT):
        return connection
    return connection.execution_options(isolation_level="AUTOCOMMIT")


def make_sessionmaker(engine: Engine) -> sessionmaker:
    return sessionmaker(engine, expire_on_commit=False)


def utcnow() -> datetime:
    """The current time, timezone-aware UTC. Only edges call this; the domain takes `now`."""
    return datetime.now(timezone.utc)
