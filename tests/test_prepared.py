"""smscrm.db.prepared: a statement run on the driver's cursor stores and reads values exactly as
`Connection.execute` does, in the connection's transaction, with SQLAlchemy's errors and events."""
from datetime import timedelta

import pytest
from sqlalchemy import bindparam, event, insert, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError, NoResultFound

from smscrm.db import prepared
from smscrm.models import ConsentAction, ConsentEvent, InboundMessage, Intent, Merchant

_inbound = InboundMessage.__table__
_INSERT = insert(_inbound).values(
    merchant_id=bindparam("merchant_id"), message_sid=bindparam("sid"), from_phone=bindparam("phone"),
    to_phone=bindparam("to", "+14155550000"), body=bindparam("body"),
    intent=bindparam("intent", type_=_inbound.c.intent.type),
    received_at=bindparam("at", type_=_inbound.c.received_at.type),
).returning(_inbound.c.id, _inbound.c.intent, _inbound.c.received_at, _inbound.c.to_phone)
_INSERT_COLUMNS = [_inbound.c[name] for name in (
    "merchant_id", "message_sid", "from_phone", "to_phone", "body", "intent", "received_at")]
_READ = select(
    _inbound.c.body, _inbound.c.intent, _inbound.c.received_at, Merchant.__table__.c.texts,
    Merchant.__table__.c.name.label("merchant_name"),
).join(Merchant.__table__).where(_inbound.c.message_sid == bindparam("sid"))


def _text(merchant, now, sid="SM1", **overrides):
    return {"merchant_id": merchant.id, "sid": sid, "phone": "+14155550101", "body": "BAL 😀 积分",
            "intent": Intent.BALANCE, "at": now, **overrides}


def test_values_are_stored_and_read_back_as_through_sqlalchemy(session, merchant, now):
    merchant.texts = {"welcome": "Hi {name_suffix}"}
    session.commit()
    returned = prepared.first(session.connection(), _INSERT, _text(merchant, now))
    assert (returned.intent, returned.received_at, returned.to_phone) == (Intent.BALANCE, now, "+14155550000")

    row = prepared.first(session.connection(), _READ, {"sid": "SM1"})
    assert row == session.connection().execute(_READ, {"sid": "SM1"}).one()
    assert (row.body, row.intent, row.received_at, row.texts, row.merchant_name) == (
        "BAL 😀 积分", Intent.BALANCE, now, {"welcome": "Hi {name_suffix}"}, "Green Leaf Tea")
    assert row.received_at.utcoffset() == timedelta(0)
    assert prepared.first(session.connection(), _READ, {"sid": "SM2"}) is None
    assert prepared.one(session.connection(), _READ, {"sid": "SM1"}) == row
    with pytest.raises(NoResultFound):
        prepared.one(session.connection(), _READ, {"sid": "SM2"})


def test_an_insert_gives_the_new_rows_id_where_the_driver_reads_it_back(session, engine, merchant, now):
    if engine.dialect.name != "sqlite":
        pytest.skip("psycopg gives no lastrowid: on PostgreSQL an INSERT returns its id with RETURNING")
    plain_insert = insert(_inbound).values(**{column.name: bindparam(column.name) for column in _INSERT_COLUMNS})
    values = {"merchant_id": merchant.id, "message_sid": "SM1", "from_phone": "+14155550101",
              "to_phone": "+14155550000", "body": "BAL", "intent": Intent.BALANCE, "received_at": now}
    first = prepared.inserted_id(session.connection(), plain_insert, values)
    second = prepared.inserted_id(session.connection(), plain_insert, {**values, "message_sid": "SM2"})
    assert second == first + 1
    assert session.get(InboundMessage, second).message_sid == "SM2"
    with pytest.raises(IntegrityError):
        prepared.inserted_id(session.connection(), plain_insert, values)  # the same MessageSid again


def test_it_runs_in_the_connections_transaction(session, merchant, now):
    prepared.run(session.connection(), _INSERT, _text(merchant, now))
    session.rollback()
    assert session.query(InboundMessage).count() == 0


def test_a_broken_constraint_is_sqlalchemys_integrity_error_and_the_connection_goes_on(session, merchant, now):
    prepared.run(session.connection(), _INSERT, _text(merchant, now))
    session.commit()
    with pytest.raises(IntegrityError) as raised:
        prepared.run(session.connection(), _INSERT, _text(merchant, now))  # the same MessageSid
    assert "INSERT INTO inbound_messages" in raised.value.statement
    session.rollback()
    assert [row.body for row in prepared.run(session.connection(), _READ, {"sid": "SM1"})] == ["BAL 😀 积分"]


def test_cursor_listeners_see_the_statement(session, engine, merchant, now):
    seen = []

    def note(_connection, _cursor, statement, parameters, _context, _executemany):
        seen.append((statement.split()[0], parameters))

    event.listen(engine, "before_cursor_execute", note)
    try:
        prepared.run(session.connection(), _INSERT, _text(merchant, now))
    finally:
        event.remove(engine, "before_cursor_execute", note)
    assert len(seen) == 1 and seen[0][0] == "INSERT"


def test_statements_with_expanding_parameters_are_refused(session):
    listed = select(ConsentEvent.id).where(ConsentEvent.action.in_([ConsentAction.OPT_IN, ConsentAction.OPT_OUT]))
    with pytest.raises(ValueError, match="expanding"):
        prepared.run(session.connection(), listed, {})


@pytest.mark.postgres_only("a server to lose: SQLite has none")
def test_a_lost_server_connection_is_invalidated(engine):
    with engine.connect() as lost, engine.connect() as other:
        backend = lost.execute(text("SELECT pg_backend_pid()")).scalar_one()
        other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
        other.commit()
        with pytest.raises(DBAPIError) as raised:
            prepared.run(lost, _READ, {"sid": "SM1"})
        assert raised.value.connection_invalidated and lost.invalidated
