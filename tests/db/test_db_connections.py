"""Pooled connections to a database server: one that sat idle is tested before use and replaced when
the server dropped it (a restart, an idle timeout); one used moments ago goes out without a round trip."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from smscrm import create_app
from smscrm.db.engine import make_engine
from smscrm.simulator import reply_text
from smscrm.web import request_db
from tests.conftest import MERCHANT_NUMBER, PUBLIC_URL, twilio_signature

pytestmark = pytest.mark.postgres_only("the idle ping is for database servers: a SQLite file cannot drop a connection")


def backend_pid(engine) -> int:
    with engine.connect() as connection:
        return connection.scalar(text("SELECT pg_backend_pid()"))


def drop(session, pid: int) -> None:
    """What a server restart does to one connection: the server ends it."""
    assert session.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    session.commit()


@pytest.fixture
def pings(monkeypatch):
    def counting(engine):
        calls = []
        real = engine.dialect.do_ping
        monkeypatch.setattr(engine.dialect, "do_ping", lambda dbapi_connection: calls.append(1) or real(dbapi_connection))
        return calls

    return counting


def test_a_connection_used_moments_ago_goes_out_without_a_ping(database_url, pings):
    engine = make_engine(database_url, ping_after_idle=60)
    calls = pings(engine)
    pids = {backend_pid(engine) for _ in range(3)}
    assert len(pids) == 1 and calls == []
    engine.dispose()


def test_a_connection_idle_too_long_is_pinged(database_url, pings):
    engine = make_engine(database_url, ping_after_idle=0)
    calls = pings(engine)
    backend_pid(engine)  # a new connection needs no test
    backend_pid(engine)
    assert calls == [1]
    engine.dispose()


def test_an_idle_connection_the_server_dropped_is_replaced(database_url, session):
    engine = make_engine(database_url, ping_after_idle=0)
    dropped = backend_pid(engine)
    drop(session, dropped)

    assert backend_pid(engine) != dropped  # no error: the ping found it dead and the pool reconnected
    engine.dispose()


def test_a_text_after_the_database_dropped_the_apps_connection_is_answered(
    engine, settings, merchant, session, monkeypatch
):
    monkeypatch.setattr(request_db, "PING_AFTER_IDLE_SECONDS", 0)
    app = create_app(settings)
    client = app.test_client()

    def text_in(sid: str):
        form = {"MessageSid": sid, "From": "+14155550100", "To": MERCHANT_NUMBER, "Body": "JOIN Ann"}
        signature = twilio_signature(PUBLIC_URL + "/sms/inbound", form)
        return client.post("/sms/inbound", data=form, headers={"X-Twilio-Signature": signature})

    assert text_in("SMfirst").status_code == 200
    app_engine = app.extensions["smscrm.engine"]
    drop(session, backend_pid(app_engine))  # the pool's one connection: the server ends it

    response = text_in("SMafter")
    assert response.status_code == 200
    assert "already a member" in reply_text(response.get_data(as_text=True))
    app_engine.dispose()
