"""Rows written together (smscrm.db.insert_chain): ids passed on, whole or nothing, on SQLite and PostgreSQL."""
import pytest
from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import IntegrityError

from smscrm.db.insert_chain import NewRow, RowChange, insert_all
from smscrm.db.types import Base
from smscrm.models import (
    ConsentEvent,
    InboundMessage,
    Member,
    Merchant,
    OutboundMessage,
)
from tests.statement_log import statements_of


def _member(merchant, phone, now, code="AB12CD34"):
    return NewRow(Member.__table__, {
        "merchant_id": merchant.id, "phone": phone, "name": "Ann", "language": "en", "joined_at": now,
        "created_at": now, "referral_code": code,
    })


def _reply(merchant, member, now):
    return NewRow(OutboundMessage.__table__, {
        "merchant_id": merchant.id, "member_id": member, "to_phone": "+14155550101", "from_phone": "+14155550000",
        "body": "Welcome", "category": "reply", "purpose": "welcome", "status": "replied", "send_after": now,
        "created_at": now,
    })


def _chain(merchant, now, sid="SM1"):
    member = _member(merchant, "+14155550101", now)
    consent = NewRow(ConsentEvent.__table__, {
        "merchant_id": merchant.id, "phone": "+14155550101", "member_id": member, "action": "opt_in",
        "keyword": "JOIN", "channel": "sms", "source_sid": sid, "created_at": now,
    })
    reply = _reply(merchant, member, now)
    inbound = NewRow(InboundMessage.__table__, {
        "merchant_id": merchant.id, "message_sid": sid, "from_phone": "+14155550101", "to_phone": "+14155550000",
        "body": "JOIN Ann", "intent": "join", "member_id": member, "reply_id": reply, "received_at": now,
    })
    return member, consent, reply, inbound


def test_each_row_gets_its_id_and_later_rows_hold_the_ids_of_earlier_ones(session, merchant, now):
    member, consent, reply, inbound = _chain(merchant, now)
    insert_all(session.connection(), [member, consent, reply, inbound])

    stored = session.get(Member, member.id)
    assert (stored.phone, stored.name, stored.visit_count, stored.is_opted_out) == ("+14155550101", "Ann", 0, False)
    assert session.get(ConsentEvent, consent.id).member_id == member.id
    assert session.get(OutboundMessage, reply.id).member_id == member.id
    text = session.get(InboundMessage, inbound.id)
    assert (text.member_id, text.reply_id, text.body) == (member.id, reply.id, "JOIN Ann")


def test_postgresql_gets_the_rows_in_one_statement_and_sqlite_one_insert_each(session, engine, merchant, now):
    statements = statements_of(engine, lambda: insert_all(session.connection(), list(_chain(merchant, now))))
    inserts = [statement for statement in statements if "INSERT" in statement]
    assert len(inserts) == (1 if engine.dialect.name == "postgresql" else 4)


def test_on_sqlite_every_tables_id_is_its_rowid():
    """insert_all reads a new row's id from the driver's lastrowid on SQLite: that is the id only where the
    id is an INTEGER PRIMARY KEY, which SQLite makes the rowid."""
    dialect = sqlite.dialect()
    for table in Base.metadata.sorted_tables:
        if "id" in table.c and table.c.id.primary_key:
            assert [column.name for column in table.primary_key] == ["id"], table.name
            assert table.c.id.type.compile(dialect=dialect) == "INTEGER", table.name


_RENAME = update(Member.__table__).where(Member.__table__.c.id == bindparam("p_id")).values(name=bindparam("p_name"))


def test_an_update_goes_with_the_rows_in_the_one_statement_on_postgresql(session, engine, merchant, now):
    member = _member(merchant, "+14155550101", now)
    insert_all(session.connection(), [member])
    reply = _reply(merchant, member, now)
    statements = statements_of(engine, lambda: insert_all(
        session.connection(), [RowChange(_RENAME, {"p_id": member.id, "p_name": "Bo"}), reply],
    ))
    assert len(statements) == (1 if engine.dialect.name == "postgresql" else 2)
    session.expire_all()
    assert session.get(Member, member.id).name == "Bo"
    assert session.get(OutboundMessage, reply.id).member_id == member.id


def test_an_update_is_undone_with_the_rows_when_one_breaks_a_constraint(session, merchant, now):
    member = _member(merchant, "+14155550101", now)
    insert_all(session.connection(), [member])
    session.commit()
    with pytest.raises(IntegrityError):
        insert_all(session.connection(), [
            RowChange(_RENAME, {"p_id": member.id, "p_name": "Bo"}), _member(merchant, "+14155550101", now, "ZZ12ZZ34"),
        ])
    session.rollback()
    assert session.get(Member, member.id).name == "Ann"


def test_an_update_may_not_bind_a_name_a_row_binds(session, engine, merchant, now):
    if engine.dialect.name != "postgresql":
        pytest.skip("the names meet in one statement on PostgreSQL only; SQLite runs the UPDATE on its own")
    clashing = update(Member.__table__).where(Member.__table__.c.id == bindparam("r1_member_id")).values(name="Bo")
    with pytest.raises(ValueError, match="binds r1_member_id"):
        insert_all(session.connection(), [RowChange(clashing, {"r1_member_id": 1}), _reply(merchant, 1, now)])


def test_a_row_written_before_is_pointed_to_by_its_id(session, merchant, now):
    member = _member(merchant, "+14155550101", now)
    insert_all(session.connection(), [member])
    reply = _reply(merchant, member, now)
    insert_all(session.connection(), [reply, _reply(merchant, None, now)])
    assert session.get(OutboundMessage, reply.id).member_id == member.id


def test_a_broken_constraint_writes_none_of_the_rows(session, merchant, now):
    insert_all(session.connection(), [_member(merchant, "+14155550101", now)])
    session.commit()
    member, consent, reply, inbound = _chain(merchant, now)  # the same phone again
    with pytest.raises(IntegrityError):
        insert_all(session.connection(), [_reply(merchant, None, now), member, consent, reply, inbound])
    session.rollback()
    assert session.scalars(select(OutboundMessage)).all() == []
    assert len(session.scalars(select(Member)).all()) == 1


def test_a_row_cannot_point_to_one_written_after_it(session, merchant, now):
    member = _member(merchant, "+14155550101", now)
    with pytest.raises(ValueError, match="not written before it"):
        insert_all(session.connection(), [_reply(merchant, member, now), member])
    with pytest.raises(ValueError, match="not written before it"):
        insert_all(session.connection(), [_reply(merchant, _member(merchant, "+14155550102", now), now)])


def test_a_column_whose_default_is_computed_must_be_given(session, now):
    with pytest.raises(ValueError, match="needs a value for texts"):
        insert_all(session.connection(), [NewRow(Merchant.__table__, {"name": "Tea", "created_at": now})])
