"""The partial indexes are read by the queries they are for.

A partial index holds only some rows (models.message: the outbox's queue, the texts sent to members on our
own initiative, the inbox's texts), and the database reads it only for a query whose WHERE says the same:
change such a query carelessly and it quietly falls back to reading the whole table. Each test runs a piece
of domain work and asks the database how it would run every statement that work sent.
"""
import re
from datetime import timedelta

import pytest
from sqlalchemy import event

from smscrm import delivery, inbound
from smscrm.db.engine import make_sessionmaker
from smscrm.loyalty import directory
from smscrm.messaging import courtesy, inbox
from smscrm.models import InboxItem, InboxKind
from smscrm.sending.courier import Courier
from tests.conftest import MERCHANT_NUMBER
from tests.outbox_rows import ANN, RecordingTransport, queue

QUEUE_INDEX = "ix_outbound_messages_due_category"
MEMBER_INDEX = "ix_outbound_messages_member_created"
INBOX_INDEX = "ix_inbound_messages_merchant_intent"
ONCE_A_DAY_INDEX = "ix_outbound_messages_once_a_day"


def indexes_read(engine, work, *, table: str) -> list[set[str]]:
    """For each statement `work()` sent that reads `table`, the indexes the database would read it through."""
    return [_indexes_in_plan(engine, statement, parameters) for statement, parameters in statements(engine, work, table)]


def statements(engine, work, table: str) -> list[tuple[str, dict]]:
    """The statements `work()` sent that read or update `table`, with their parameters."""
    sent = []

    def note(_connection, _cursor, statement, parameters, *_args) -> None:
        if f"FROM {table}" in statement or f"UPDATE {table}" in statement:
            sent.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", note)
    try:
        work()
    finally:
        event.remove(engine, "before_cursor_execute", note)
    assert sent, f"the work read nothing from {table}"
    return sent


def _indexes_in_plan(engine, statement: str, parameters) -> set[str]:
    words = _plan(engine, statement, parameters).replace("(", " ").split()
    return {word for word in words if word.startswith(("ix_", "uq_"))}


def _plan(engine, statement: str, parameters) -> str:
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            plan = _generic_plan(connection, statement, parameters)
        else:
            plan = [row[-1] for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)]
        connection.rollback()
    return " ".join(plan)


def _generic_plan(connection, statement: str, parameters: dict) -> list[str]:
    """PostgreSQL's plan for the statement prepared, as psycopg prepares a statement it runs often: a generic
    plan, made without the parameters' values."""
    from psycopg.sql import (
        Literal,  # PostgreSQL's driver: installed where the tests run on PostgreSQL
    )

    names = []

    def numbered(match) -> str:
        names.append(match.group(1))
        return f"${len(names)}"

    prepared = re.sub(r"%\((\w+)\)s", numbered, statement).replace("%%", "%")
    connection.exec_driver_sql(f"PREPARE plan_check AS {prepared}")
    connection.exec_driver_sql("SET enable_seqscan = off")  # tables this small are read whole otherwise
    connection.exec_driver_sql("SET plan_cache_mode = force_generic_plan")
    driver = connection.connection.driver_connection
    values = ", ".join(Literal(parameters[name]).as_string(driver) for name in names)
    explain = f"EXPLAIN EXECUTE plan_check({values})" if names else "EXPLAIN EXECUTE plan_check"
    try:
        return connection.exec_driver_sql(explain).scalars().all()
    finally:
        connection.exec_driver_sql("DEALLOCATE plan_check")


def reads(plans: list[set[str]], index: str) -> bool:
    return any(index in used for used in plans)


@pytest.fixture
def sessions(engine):
    return make_sessionmaker(engine)


def test_the_worker_claims_and_recovers_rows_through_the_queue_index(engine, session, sessions, merchant, now):
    queue(session, merchant, now)
    plans = indexes_read(engine, lambda: delivery.deliver_due(
        sessions, RecordingTransport(), now=now + timedelta(hours=20), worker_id="w1",
    ), table="outbound_messages")
    assert reads(plans, QUEUE_INDEX)  # the claims and the expired leases
    assert reads(plans, MEMBER_INDEX)  # the weekly cap counts what the member got


def test_a_claim_takes_the_rows_in_the_queue_index_order_without_sorting_the_queue(engine, session, merchant, now):
    """A claim reads as many rows as it takes: a queue of a million texts due at once is not sorted for each one."""
    queue(session, merchant, now)
    claims = [(statement, parameters) for statement, parameters in statements(engine, lambda: delivery.claim_due(
        session, now=now + timedelta(hours=20), worker_id="w1", batch_size=10,
    ), "outbound_messages") if "ORDER BY outbound_messages.send_after" in statement]
    assert claims
    for statement, parameters in claims:
        plan = _plan(engine, statement, parameters)
        assert QUEUE_INDEX in plan
        assert "Sort" not in plan and "TEMP B-TREE" not in plan, plan


def test_a_worker_renews_its_leases_through_the_queue_index(engine, sessions, now):
    def renew():
        with Courier(sessions, RecordingTransport(), worker_id="w1", batch_size=10, limits=None,
                              concurrency=1) as courier:
            courier.renew(now)

    assert all(QUEUE_INDEX in used for used in indexes_read(engine, renew, table="outbound_messages"))


def test_the_weekly_cap_counts_through_the_member_index(engine, session, merchant, now):
    message_id = queue(session, merchant, now)
    plans = indexes_read(engine, lambda: courtesy.capped_counts(session, [message_id], now=now),
                         table="outbound_messages")
    assert all(MEMBER_INDEX in used for used in plans)


def test_the_inbox_reads_its_texts_through_the_inbox_index(engine, session, merchant, now):
    item = InboxItem(merchant_id=merchant.id, phone=ANN, kind=InboxKind.MESSAGE, is_urgent=False, opened_at=now,
                     last_message_at=now)
    session.add(item)
    session.commit()
    for work in (
        lambda: directory.list_feedback(session, merchant.id),
        lambda: directory.summarise(session, merchant.id, now=now),
        lambda: inbox.open_items(session, merchant.id),
        lambda: inbox.conversation(session, item),
    ):
        assert reads(indexes_read(engine, work, table="inbound_messages"), INBOX_INDEX)


@pytest.mark.parametrize("first", ["JOIN Ann", None], ids=["feedback from a member", "a stranger's text"])
def test_a_reply_sent_once_a_day_is_looked_up_by_phone_through_its_index(engine, session, merchant, now, first):
    """Whether the phone was acknowledged today is read from the phone's few replies, not the merchant's outbox."""
    if first:
        inbound.handle(session, inbound.InboundSms("SM1", ANN, MERCHANT_NUMBER, first), now)
        session.commit()
    plans = indexes_read(engine, lambda: inbound.handle(
        session, inbound.InboundSms("SM2", ANN, MERCHANT_NUMBER, "Is the offer on this Sunday too?"), now,
    ), table="outbound_messages")
    assert reads(plans, ONCE_A_DAY_INDEX)
