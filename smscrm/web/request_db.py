"""The database session of the current web request: opened on first use, closed at teardown.

Handlers commit; anything left uncommitted when the request ends is rolled back. `autocommit` gives a
connection outside the session for a read that must not open the session's transaction.
"""
from __future__ import annotations

from flask import Flask, current_app, g
from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

from smscrm.config import Settings
from smscrm.db.engine import (
    PING_AFTER_IDLE_SECONDS,
    autocommit_connection,
    make_autocommit_engine,
    make_engine,
    make_sessionmaker,
)


def init_app(settings: Settings, *apps: Flask) -> None:
    """The database for `apps`, which share its engines (and so their pools of connections)."""
    engine = make_engine(settings.database_url, ping_after_idle=PING_AFTER_IDLE_SECONDS)
    engines = {
        "smscrm.engine": engine,
        "smscrm.sessionmaker": make_sessionmaker(engine),
        "smscrm.autocommit_engine": (  # on SQLite, switching a connection's mode costs no round trip
            make_autocommit_engine(settings.database_url, ping_after_idle=PING_AFTER_IDLE_SECONDS)
            if engine.dialect.name == "postgresql" else engine
        ),
    }
    for app in apps:
        app.extensions.update(engines)
        app.teardown_appcontext(_close)


def db_session() -> Session:
    if "db_session" not in g:
        g.db_session = current_app.extensions["smscrm.sessionmaker"]()
    return g.db_session


def autocommit_engine() -> Engine:
    """The engine for the webhook's texts answered on a connection of their own (`inbound.handle_at_once`).
    On PostgreSQL its pool's connections are always in autocommit mode (see `smscrm.db.engine.make_autocommit_engine`):
    a web worker keeps up to two server connections, one in each pool. On SQLite it is the app's engine."""
    return current_app.extensions["smscrm.autocommit_engine"]


def autocommit() -> Connection:
    """A connection outside any transaction, for `with` (see `smscrm.db.engine.autocommit_connection`), from the
    app's engine: the API's key check, whose request goes on with the session on the same pool."""
    return autocommit_connection(current_app.extensions["smscrm.engine"])


def _close(_exc) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()
