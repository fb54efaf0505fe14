"""The delivery worker with both transports: sending, suppression at send time, provider errors,
retries with backoff, lease recovery without double sends, the worker loop, and concurrent
workers on PostgreSQL (every row sent exactly once)."""
import logging
import threading
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from smscrm import delivery
from smscrm.db.engine import make_sessionmaker
from smscrm.db.outages import Backoff
from smscrm.messaging import consent
from smscrm.models import (
    ConsentAction,
    ConsentChannel,
    ConsentEvent,
    Member,
    OutboundMessage,
    Status,
)
from smscrm.sending import claims
from smscrm.sending.transports import ConsoleTransport, make_transport
from tests.fake_twilio import Answer, fake_twilio, twilio_settings  # noqa: F401 (fixtures)
from tests.outbox_rows import ANN, NOON_IN_LOS_ANGELES, PROMO, queue, row

WORKER = "worker-a"


@pytest.fixture
def now() -> datetime:
    """Noon at the merchant and at its +1 415 members (Los Angeles): inside the sending window."""
    return NOON_IN_LOS_ANGELES


@pytest.fixture
def sessions(engine):
    return make_sessionmaker(engine)


@pytest.fixture(params=["console", "twilio"])
def transport(request, settings):
    """Each test using it runs with both transports."""
    if request.param == "console":
        return make_transport(settings)
    return make_transport(request.getfixturevalue("twilio_settings"))


@pytest.fixture
def twilio(twilio_settings):
    return make_transport(twilio_settings)


def died_mid_send(session, message_id, now, **values) -> None:
    """Leave a row as a worker that claimed it ten minutes ago and died would."""
    message = row(session, message_id)
    message.status = Status.SENDING
    message.claimed_by = "dead-worker"
    message.attempts = 1
    message.first_attempt_at = now - timedelta(minutes=10)
    message.lease_expires_at = now - timedelta(seconds=1)
    for name, value in values.items():
        setattr(message, name, value)
    session.commit()


def sent_texts(transport, fake, caplog) -> list[str]:
    """What left the worker: the fake's messages, or the console's log lines."""
    if transport.name == "twilio":
        return fake.bodies()
    return [r.getMessage() for r in caplog.records if r.name == "smscrm.sending.transports.console"]


def test_a_queued_text_is_sent(session, sessions, merchant, now, transport, request, caplog):
    caplog.set_level(logging.INFO)
    message_id = queue(session, merchant, now)
    assert delivery.deliver_due(sessions, transport, now=now, worker_id=WORKER) == 1
    sent = row(session, message_id)
    assert (sent.status, sent.sent_at, sent.attempts, sent.claimed_by) == (Status.SENT, now, 1, WORKER)
    assert sent.provider_sid and sent.lease_expires_at is None
    if transport.name == "twilio":
        fake = request.getfixturevalue("fake_twilio")
        assert [(m.sid, m.to, m.body) for m in fake.messages] == [(sent.provider_sid, ANN, PROMO)]
    else:
        assert any(sent.provider_sid in line and "+1415•••0100" in line for line in sent_texts(transport, None, caplog))
    assert delivery.deliver_due(sessions, transport, now=now + timedelta(hours=1), worker_id=WORKER) == 0


def test_nothing_is_sent_before_it_is_due(session, sessions, merchant, now):
    message_id = queue(session, merchant, now, send_after=now + timedelta(minutes=5))
    assert delivery.deliver_due(sessions, ConsoleTransport(), now=now, worker_id=WORKER) == 0
    assert row(session, message_id).status == Status.QUEUED
    assert delivery.deliver_due(sessions, ConsoleTransport(), now=now + timedelta(minutes=5), worker_id=WORKER) == 1
    assert row(session, message_id).status == Status.SENT


def test_a_text_to_an_opted_out_phone_is_suppressed(session, sessions, merchant, now, transport, request, caplog):
    caplog.set_level(logging.INFO)
    message_id = queue(session, merchant, now)
    consent.record_consent(
        session, merchant_id=merchant.id, phone=ANN, action=ConsentAction.OPT_OUT, keyword="STOP",
        channel=ConsentChannel.SMS, now=now,
    )
    session.commit()
    assert delivery.deliver_due(sessions, transport, now=now, worker_id=WORKER) == 1
    suppressed = row(session, message_id)
    assert (suppressed.status, suppressed.provider_sid, suppressed.sent_at) == (Status.SUPPRESSED, None, None)
    fake = request.getfixturevalue("fake_twilio") if transport.name == "twilio" else None
    assert sent_texts(transport, fake, caplog) == []
    if fake:
        assert fake.requests == []


def test_twilio_21610_opts_the_member_out(session, sessions, merchant, now, twilio, fake_twilio):
    first = queue(session, merchant, now)
    second = queue(session, merchant, now, body="Second promo. Reply STOP to opt out")
    fake_twilio.script(Answer(status=400, code=21610, message="Attempt to send to unsubscribed recipient"))
    assert delivery.deliver_due(sessions, twilio, now=now, worker_id=WORKER) == 2
    failed = row(session, first)
    assert (failed.status, failed.error_code) == (Status.FAILED, 21610)
    assert "unsubscribed recipient" in failed.error_message
    assert row(session, second).status == Status.SUPPRESSED
    event = session.scalar(select(ConsentEvent).where(ConsentEvent.phone == ANN))
    assert (event.action, event.channel, event.keyword, event.created_at) == (
        ConsentAction.OPT_OUT, ConsentChannel.CARRIER, "twilio-21610", now,
    )
    assert session.scalar(select(Member.is_opted_out).where(Member.phone == ANN)) is True
    assert fake_twilio.posts() == 1 and fake_twilio.messages == []


def test_an_invalid_number_fails_and_is_not_retried(session, sessions, merchant, now, twilio, fake_twilio):
    message_id = queue(session, merchant, now)
    fake_twilio.script(Answer(status=400, code=21211, message="Invalid 'To' Phone Number"))
    delivery.deliver_due(sessions, twilio, now=now, worker_id=WORKER)
    failed = row(session, message_id)
    assert (failed.status, failed.error_code, failed.status_updated_at) == (Status.FAILED, 21211, now)
    assert delivery.deliver_due(sessions, twilio, now=now + timedelta(days=1), worker_id=WORKER) == 0
    assert fake_twilio.posts() == 1
    assert session.scalar(select(Member.is_opted_out).where(Member.phone == ANN)) is False


def test_rate_limited_text_waits_for_retry_after_then_is_sent(session, sessions, merchant, now, twilio, fake_twilio):
    message_id = queue(session, merchant, now)
    fake_twilio.script(Answer(status=429, code=20429, message="Too Many Requests", retry_after=600))
    delivery.deliver_due(sessions, twilio, now=now, worker_id=WORKER)
    waiting = row(session, message_id)
    assert (waiting.status, waiting.attempts, waiting.error_code) == (Status.QUEUED, 1, 20429)
    assert waiting.send_after == now + timedelta(seconds=600)
    assert delivery.deliver_due(sessions, twilio, now=now + timedelta(seconds=599), worker_id=WORKER) == 0
    assert delivery.deliver_due(sessions, twilio, now=now + timedelta(seconds=600), worker_id=WORKER) == 1
    sent = row(session, message_id)
    assert (sent.status, sent.attempts, sent.error_code, sent.error_message) == (Status.SENT, 2, None, None)
    assert fake_twilio.posts() == 2 and fake_twilio.bodies() == [PROMO]


def test_a_retry_after_date_is_honoured(session, sessions, merchant, now, twilio, fake_twilio):
    message_id = queue(session, merchant, now)
    fake_twilio.script(Answer(status=503, code=20503, retry_after="Tue, 10 Mar 2026 20:15:00 GMT"))
    delivery.deliver_due(sessions, twilio, now=now, worker_id=WORKER)
    assert row(session, message_id).send_after == now + timedelta(minutes=75)  # not the 30 s backoff


def test_provider_errors_back_off_exponentially(session, sessions, merchant, now, twilio, fake_twilio):
    message_id = queue(session, merchant, now)
    fake_twilio.script(Answer(status=500, code=20500), Answer(status=503, code=20503))
    delivery.deliver_due(sessions, twilio, now=now, worker_id=WORKER)
    assert row(session, message_id).send_after == now + timedelta(seconds=30)
    second_try = now + timedelta(seconds=30)
    delivery.deliver_due(sessions, twilio, now=second_try, worker_id=WORKER)
    assert row(session, message_id).send_after == second_try + timedelta(seconds=60)
    delivery.deliver_due(sessions, twilio, now=second_try + timedelta(seconds=60), worker_id=WORKER)
    assert (row(session, message_id).status, row(session, message_id).attempts) == (Status.SENT, 3)
    assert fake_twilio.posts() == 3 and len(fake_twilio.messages) == 1


def test_a_text_fails_after_the_last_attempt(session, sessions, merchant, now, twilio, fake_twilio):
    message_id = queue(session, merchant, now)
    fake_twilio.script(*[Answer(status=500, code=20500)] * claims.MAX_ATTEMPTS)
    when = now
    while row(session, message_id).status == Status.QUEUED:
        when = row(session, message_id).send_after
        assert delivery.deliver_due(sessions, twilio, now=when, worker_id=WORKER) == 1
    failed = row(session, message_id)
    assert (failed.status, failed.attempts, failed.error_code) == (Status.FAILED, claims.MAX_ATTEMPTS, 20500)
    assert fake_twilio.posts() == claims.MAX_ATTEMPTS and fake_twilio.messages == []


def test_a_timed_out_send_that_twilio_accepted_is_not_sent_again(
    session, sessions, merchant, now, twilio_settings, fake_twilio
):
    twilio = make_transport(replace(twilio_settings, twilio_timeout_seconds=0.2))
    fake_twilio.clock = lambda: now
    message_id = queue(session, merchant, now)
    fake_twilio.script(Answer(delay=2.0))  # accepted, but the answer comes too late
    delivery.deliver_due(sessions, twilio, now=now, worker_id=WORKER)
    assert row(session, message_id).status == Status.QUEUED
    retry = row(session, message_id).send_after
    delivery.deliver_due(sessions, twilio, now=retry, worker_id=WORKER)
    sent = row(session, message_id)
    assert (sent.status, sent.provider_sid) == (Status.SENT, fake_twilio.messages[0].sid)
    assert fake_twilio.posts() == 1 and len(fake_twilio.messages) == 1


def test_an_expired_lease_is_recovered_and_sent(session, sessions, merchant, now, transport, request, caplog):
    caplog.set_level(logging.INFO)
    message_id = queue(session, merchant, now - timedelta(minutes=15))
    died_mid_send(session, message_id, now)
    assert delivery.deliver_due(sessions, transport, now=now, worker_id=WORKER) == 1
    sent = row(session, message_id)
    assert (sent.status, sent.attempts, sent.claimed_by) == (Status.SENT, 2, WORKER)
    fake = request.getfixturevalue("fake_twilio") if transport.name == "twilio" else None
    assert len(sent_texts(transport, fake, caplog)) == 1


def test_a_live_lease_is_left_alone(session, sessions, merchant, now):
    message_id = queue(session, merchant, now)
    died_mid_send(session, message_id, now, lease_expires_at=now + timedelta(seconds=1))
    assert delivery.deliver_due(sessions, ConsoleTransport(), now=now, worker_id=WORKER) == 0
    held = row(session, message_id)
    assert (held.status, held.claimed_by) == (Status.SENDING, "dead-worker")


def test_a_dead_workers_send_that_reached_twilio_is_not_repeated(
    session, sessions, merchant, now, twilio, fake_twilio
):
    message_id = queue(session, merchant, now - timedelta(minutes=15))
    fake_twilio.clock = lambda: now - timedelta(minutes=9)
    sid = twilio.send(to=ANN, from_=merchant.primary_number, body=PROMO)  # the dead worker's call
    died_mid_send(session, message_id, now)
    delivery.deliver_due(sessions, twilio, now=now, worker_id=WORKER)
    recovered = row(session, message_id)
    assert (recovered.status, recovered.provider_sid) == (Status.SENT, sid)
    assert fake_twilio.posts() == 1


def test_an_identical_text_of_another_row_is_not_taken_for_this_one(
    session, sessions, merchant, now, twilio, fake_twilio
):
    fake_twilio.clock = lambda: now
    earlier = queue(session, merchant, now)
    delivery.deliver_due(sessions, twilio, now=now, worker_id=WORKER)
    message_id = queue(session, merchant, now)
    died_mid_send(session, message_id, now + timedelta(minutes=10))
    delivery.deliver_due(sessions, twilio, now=now + timedelta(minutes=10), worker_id=WORKER)
    recovered = row(session, message_id)
    assert recovered.status == Status.SENT
    assert recovered.provider_sid != row(session, earlier).provider_sid
    assert fake_twilio.bodies() == [PROMO, PROMO]


def test_a_row_with_a_stored_sid_is_never_sent_twice(session, sessions, merchant, now, transport, request, caplog):
    caplog.set_level(logging.INFO)
    message_id = queue(session, merchant, now - timedelta(minutes=15))
    died_mid_send(session, message_id, now, provider_sid="SM" + "f" * 32)
    assert delivery.deliver_due(sessions, transport, now=now, worker_id=WORKER) == 1
    assert (row(session, message_id).status, row(session, message_id).provider_sid) == (Status.SENT, "SM" + "f" * 32)
    fake = request.getfixturevalue("fake_twilio") if transport.name == "twilio" else None
    assert sent_texts(transport, fake, caplog) == []


def test_the_worker_survives_a_database_error(session, sessions, merchant, now, caplog):
    message_id = queue(session, merchant, now)
    calls = []

    def flaky_sessions():
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("SELECT 1", {}, Exception("connection refused"))
        return sessions()

    stop = threading.Event()
    worker = threading.Thread(
        target=delivery.run_worker, args=(flaky_sessions, ConsoleTransport()),
        kwargs={"stop": stop, "worker_id": WORKER, "clock": lambda: now, "poll_seconds": 0.01,
                "backoff": Backoff(base=0.01)},
    )
    worker.start()
    try:
        for _ in range(500):
            if row(session, message_id).status == Status.SENT:
                break
            stop.wait(0.02)
    finally:
        stop.set()
        worker.join(timeout=10)
    assert not worker.is_alive()
    assert row(session, message_id).status == Status.SENT
    assert "the database does not answer (connection refused); trying again in 0.01s" in caplog.text


@pytest.mark.postgres_only("SKIP LOCKED claims need PostgreSQL")
def test_concurrent_workers_send_every_row_exactly_once(session, sessions, merchant, now, twilio_settings, fake_twilio):
    bodies = [f"Promo {n}. Reply STOP to opt out" for n in range(120)]
    for n, body in enumerate(bodies):
        queue(session, merchant, now, phone=f"+1415556{n:04d}", body=body)
    transport = make_transport(twilio_settings)
    start = threading.Barrier(4)
    handled: list[int] = []
    errors: list[BaseException] = []

    def work(worker_id: str) -> None:
        try:
            start.wait()
            while count := delivery.deliver_due(sessions, transport, now=now, worker_id=worker_id, batch_size=7):
                handled.append(count)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(f"worker-{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sorted(fake_twilio.bodies()) == sorted(bodies)
    assert sum(handled) == len(bodies)
    statuses = session.scalars(select(OutboundMessage.status)).all()
    assert set(statuses) == {Status.SENT}
