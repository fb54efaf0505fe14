"""The database session of the current web request: opened on first use, closed at teardown.

One engine (so one pool of connections) per app, that is per process. Handlers commit; anything left uncommitted
when the request ends is rolled back.
"""
from __future__ import annotations

from flask import Flask, current_app, g
from sqlalchemy.orm import Session

from smscrm.config import Settings
from smscrm.db.engine import PING_AFTER_IDLE_SECONDS, make_engine, make_sessionmaker


def init_app(app: Flask, settings: Settings) -> None:
    engine = make_engine(settings.database_url, ping_after_idle=PING_AFTER_IDLE_SECONDS)
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
