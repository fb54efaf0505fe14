"""Engines and sessions: SQLite set up for several processes, pooled connections checked after idling."""
from __future__ import annotations

import time
from datetime import datetime, timezone

from sqlalchemy import create_engine, event, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

PING_AFTER_IDLE_SECONDS = 5.0  # the app's, the worker's and the scheduler's engines: see make_engine
SQLITE_PRAGMAS = ("busy_timeout=30000", "journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON")


def make_engine(url: str, *, ping_after_idle: float | None = None, **kwargs) -> Engine:
    """An engine. SQLite, the zero-set-up database, gets SQLITE_PRAGMAS on every connection: a writer that finds the
    write lock taken waits up to 30 s for it; WAL, so readers never wait for the writer and several processes share
    the file; foreign keys are enforced; and synchronous=NORMAL, the setting SQLite recommends with WAL: a commit
    does not wait for an fsync, the file stays consistent and a crashed process loses nothing; only a power cut or
    an OS crash may undo the last transactions. PostgreSQL is the database for production.

    `ping_after_idle` (seconds, database servers only): a pooled connection that sat unused longer
    is tested before it is handed out, and replaced if the server dropped it (a restart, an idle
    timeout). One used moments ago is handed out as it is: under load that saves a round trip on
    every request, and should the server go away mid-load, the first failure replaces the whole pool.

    Statement parameters (phone numbers among them) are kept out of error messages and SQL logs.
    """
    engine = create_engine(url, hide_parameters=True, **kwargs)
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
    for pragma in SQLITE_PRAGMAS:
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def make_sessionmaker(engine: Engine) -> sessionmaker:
    return sessionmaker(engine, expire_on_commit=False)


def without_jit(session: Session) -> None:
    """PostgreSQL: no JIT compilation for the rest of the transaction — for statements whose plans cost enough to
    trigger it while compiling takes longer than they then run (the care evaluation, the calendar, the dashboard)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.set_config("jit", "off", True)))  # SET LOCAL, the value bound


def utcnow() -> datetime:
    """The current time, timezone-aware UTC. Only edges call this; the domain takes `now`."""
    return datetime.now(timezone.utc)
