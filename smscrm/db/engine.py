"""Engines and sessions: SQLite set up for several processes, pooled connections checked after idling."""
from __future__ import annotations

import time
from datetime import datetime, timezone

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import sessionmaker

from smscrm.db import sqlite_writer

PING_AFTER_IDLE_SECONDS = 5.0  # the app's, the worker's and the scheduler's engines: see make_engine
WAL_CHECKPOINT_PAGES = 4000  # SQLite's WAL is copied into the database once it holds this many pages: see make_engine


def make_engine(url: str, *, ping_after_idle: float | None = None, **kwargs) -> Engine:
    """An engine; SQLite gets WAL and a busy timeout so several processes can share the file.

    SQLite's writers queue on a lock file first (`smscrm.db.sqlite_writer`), so the next one starts the
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
