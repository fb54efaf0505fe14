"""The database session of the current web request: opened on first use, closed at teardown.

Handlers commit; anything left uncommitted when the request ends is rolled back.
"""
from __future__ import annotations

from flask import Flask, current_app, g
from sqlalchemy.orm import Session

from smscrm.config import Settings
from smscrm.db import make_engine, make_sessionmaker


def init_app(app: Flask, settings: Settings) -> None:
    # A server's connections can go stale (restarts, idle timeouts): test each on checkout. A SQLite file cannot.
    engine = make_engine(settings.database_url, pool_pre_ping=not settings.database_url.startswith("sqlite"))
    app.extensions["smscrm.engine"] = engine
    app.extensions["smscrm.sessionmaker"] = make_sessionmaker(engine)
    app.teardown_appcontext(_close)


def db_session() -> Session:
    if "db_session" not in g:
        g.db_session = current_app.extensions["smscrm.sessionmaker"]()
    return g.db_session


def _close(_exc) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()
