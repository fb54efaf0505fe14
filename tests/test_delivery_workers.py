"""Several workers and many texts: the send-rate limits in a pass (counted in tokens, at a given
moment, never against the wall clock), urgent texts first, one text at a time per recipient, calls
in flight together, short leases (recovered after a crash, renewed while alive, given back at a
stop), a sid stored whatever became of the lease, status reports that beat the sid, and the shared
account limit across concurrent workers on PostgreSQL."""
import threading
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select

from smscrm import delivery
from smscrm.accounts.merchants import create_merchant
from smscrm.db.engine import make_sessionmaker
from smscrm.models import Category, EarlyStatusReport, OutboundMessage, Status
from smscrm.sending import provider_status
from smscrm.sending.claims import LEASE
from smscrm.sending.courier import RENEW_EVERY, Courier
from smscrm.sending.send_rate import Rate, SendLimits
from smscrm.sending.transports import make_transport
from tests.fake_twilio import fake_twilio, twilio_settings  # noqa: F401 (fixtures)
from tests.outbox_rows import (
    ANN,
    BEN,
    NOON_IN_LOS_ANGELES,
    RecordingTransport,
    queue,
    row,
)

NOW = NOON_IN_LOS_ANGELES
FAST_NUMBERS = Rate(1000)


@pytest.fixture
def sessions(engine):
    return make_sessionmaker(engine)


def phone(n: int) -> str:
    return f"+1415556{n:04d}"


def queue_many(session, merchant, count, *, body="Promo {n}. Reply STOP to opt out", start=0) -> list[int]:
    return [queue(session, merchant, NOW, phone=phone(n), body=body.format(n=n)) for n in range(start, start + count)]


def statuses(session) -> Counter:
    session.expire_all()
    return Counter(session.scalars(select(OutboundMessage.status)))


class TestRateLimitsInAPass:
    def test_a_pass_sends_what_the_account_tokens_allow_and_gives_back_the_rest(self, session, sessions, merchant):
        queue_many(session, merchant, 20)
        transport = RecordingTransport()
        limits = SendLimits(account=Rate(50), number=FAST_NUMBERS)  # burst 5
        assert delivery.deliver_due(sessions, transport, now=NOW, worker_id="w", limits=limits) == 5
        assert statuses(session) == {Status.SENT: 5, Status.QUEUED: 15}
        given_back = session.scalars(select(OutboundMessage).where(OutboundMessage.status == Status.QUEUED)).all()
        assert {(m.attempts, m.claimed_by, m.lease_expires_at) for m in given_back} == {(0, None, None)}
        assert delivery.deliver_due(sessions, transport, now=NOW, worker_id="w", limits=limits) == 0
        assert delivery.deliver_due(sessions, transport, now=NOW + timedelta(seconds=0.06), worker_id="w",
                                    limits=limits) == 3
        assert len(transport.sent) == 8

    def test_each_sender_number_has_its_own_limit(self, session, sessions, merchant, now):
        other = create_merchant(session, name="Blue Door Salon", number="+14155550009", email="o@door.example",
                                password="another long password", now=now, timezone="America/Los_Angeles")
        session.commit()
        queue_many(session, merchant, 3)
        queue_many(session, other, 3, start=10)
        transport = RecordingTransport()
        limits = SendLimits(account=Rate(1000), number=Rate(1))
        assert delivery.deliver_due(sessions, transport, now=NOW, worker_id="w", limits=limits) == 2
        assert sorted(to for to, _body in transport.sent) == [phone(0), phone(10)]
        assert delivery.deliver_due(sessions, transport, now=NOW + timedelta(seconds=0.5), worker_id="w",
                                    limits=limits) == 0
        assert delivery.deliver_due(sessions, transport, now=NOW + timedelta(seconds=1), worker_id="w",
                                    limits=limits) == 2
        assert sorted(to for to, _body in transport.sent[2:]) == [phone(1), phone(11)]

    def test_replies_and_transactional_texts_go_before_marketing(self, session, sessions, merchant):
        queue_many(session, merchant, 5)
        points = queue(session, merchant, NOW + timedelta(seconds=1), phone=BEN, body="Your points: 120",
                       category=Category.TRANSACTIONAL)
        transport = RecordingTransport()
        limits = SendLimits(account=Rate(1000), number=Rate(1))
        delivery.deliver_due(sessions, transport, now=NOW + timedelta(seconds=1), worker_id="w", limits=limits)
        assert transport.sent == [(BEN, "Your points: 120")]
        assert row(session, points).status == Status.SENT


class TestConcurrency:
    def test_texts_to_one_recipient_leave_one_at_a_time_in_order(self, session, sessions, merchant):
        bodies = [f"Part {n} of your receipt" for n in range(5)]
        for body in bodies:
            queue(session, merchant, NOW, body=body, category=Category.TRANSACTIONAL)
        queue_many(session, merchant, 5)
        in_flight, overlaps = Counter(), []
        lock = threading.Lock()

        def on_send(to, _body, _sid):
            with lock:
                in_flight[to] += 1
                overlaps.append(in_flight[to])
            threading.Event().wait(0.01)  # let any other call to the same phone overlap, if one could
            with lock:
                in_flight[to] -= 1

        transport = RecordingTransport(on_send)
        assert delivery.deliver_due(sessions, transport, now=NOW, worker_id="w", concurrency=8) == 10
        assert [body for to, body in transport.sent if to == ANN] == bodies
        assert max(overlaps) == 1

    def test_provider_calls_are_in_flight_together(self, session, sessions, merchant):
        """Each call waits until four are in flight at once; one at a time, the barrier would break."""
        queue_many(session, merchant, 4)
        together = threading.Barrier(4, timeout=30)
        transport = RecordingTransport(lambda *_: together.wait())
        assert delivery.deliver_due(sessions, transport, now=NOW, worker_id="w", concurrency=4) == 4
        assert statuses(session) == {Status.SENT: 4}


class TestLeases:
    def test_a_crashed_workers_rows_are_recovered_when_the_short_lease_runs_out(self, session, sessions, merchant):
        queue_many(session, merchant, 3)
        crashed = Courier(sessions, RecordingTransport(), worker_id="crashed", batch_size=10, limits=None,
                                   concurrency=2)
        crashed.claim(NOW)  # … and the process is killed: no outcome, no release, no renewal
        crashed.pool.shutdown()
        transport = RecordingTransport()
        assert delivery.deliver_due(sessions, transport, now=NOW + LEASE - timedelta(seconds=1),
                                    worker_id="w") == 0
        assert delivery.deliver_due(sessions, transport, now=NOW + LEASE + timedelta(seconds=1),
                                    worker_id="w") == 3
        assert len(transport.sent) == 3
        assert statuses(session) == {Status.SENT: 3}
        assert LEASE <= timedelta(minutes=1)

    def test_a_live_worker_renews_its_leases(self, session, sessions, merchant):
        queue_many(session, merchant, 2)
        limits = SendLimits(account=Rate(0.01), number=FAST_NUMBERS)  # one token, then none for 100 s
        with Courier(sessions, RecordingTransport(), worker_id="slow", batch_size=10, limits=limits,
                              concurrency=2) as slow:
            slow.claim(NOW)  # claims both
            slow.dispatch(NOW)  # sends one, holds the other
            slow.wait(None, None)
            slow.step(NOW + RENEW_EVERY)
            assert statuses(session) == {Status.SENT: 1, Status.SENDING: 1}
            later = NOW + RENEW_EVERY + LEASE - timedelta(seconds=1)
            assert delivery.deliver_due(sessions, RecordingTransport(), now=later, worker_id="other") == 0
            held = session.scalars(select(OutboundMessage).where(OutboundMessage.status == Status.SENDING)).all()
            assert [(m.claimed_by, m.lease_expires_at) for m in held] == [
                ("slow", NOW + RENEW_EVERY + LEASE)
            ]


    def test_a_stopped_worker_gives_back_what_it_did_not_send(self, session, sessions, merchant):
        queue_many(session, merchant, 5)
        transport = RecordingTransport()
        stop = threading.Event()
        limits = SendLimits(account=Rate(0.01), number=FAST_NUMBERS)  # one text, then a long wait
        worker = threading.Thread(target=delivery.run_worker, args=(sessions, transport), kwargs={
            "stop": stop, "worker_id": "w", "clock": lambda: NOW, "poll_seconds": 0.01, "limits": limits,
        })
        worker.start()
        try:
            for _ in range(1000):
                if statuses(session)[Status.SENT] == 1:
                    break
                stop.wait(0.01)
        finally:
            stop.set()
            worker.join(timeout=30)
        assert not worker.is_alive()
        assert statuses(session) == {Status.SENT: 1, Status.QUEUED: 4}
        assert set(session.scalars(select(OutboundMessage.claimed_by).where(OutboundMessage.status == Status.QUEUED))) \
            == {None}

    def test_a_sid_that_comes_back_after_the_lease_was_lost_is_still_stored(self, session, sessions, merchant):
        (message_id,) = queue_many(session, merchant, 1)

        def lease_lost_meanwhile(_to, _body, _sid):
            with sessions() as other:  # another worker's recovery, while this call was in flight
                lost = other.get(OutboundMessage, message_id)
                lost.status, lost.claimed_by, lost.lease_expires_at = Status.QUEUED, None, None
                other.commit()

        transport = RecordingTransport(lease_lost_meanwhile)
        delivery.deliver_due(sessions, transport, now=NOW, worker_id="w")
        stored = row(session, message_id)
        assert stored.status == Status.SENT and stored.provider_sid
        assert delivery.deliver_due(sessions, RecordingTransport(), now=NOW + timedelta(minutes=1), worker_id="x") == 0
        assert len(transport.sent) == 1


class TestStatusReportsBeforeTheSid:
    def test_a_report_that_beats_the_worker_is_applied_when_the_sid_is_stored(self, session, sessions, merchant):
        (message_id,) = queue_many(session, merchant, 1)

        def callback_first(_to, _body, sid):
            with sessions() as webhook:
                assert provider_status.record_status(webhook, provider_sid=sid, status="delivered", error_code=None,
                                                     now=NOW + timedelta(seconds=1)) is False
                webhook.commit()

        delivery.deliver_due(sessions, RecordingTransport(callback_first), now=NOW, worker_id="w")
        delivered = row(session, message_id)
        assert (delivered.status, delivered.status_updated_at) == (Status.DELIVERED, NOW + timedelta(seconds=1))
        assert session.scalars(select(EarlyStatusReport)).all() == []

    def test_a_kept_report_is_applied_by_maintenance_and_old_ones_are_dropped(self, session, sessions, merchant):
        (message_id,) = queue_many(session, merchant, 1)
        for sid, status, code in (("SM" + "a" * 32, "sent", None), ("SM" + "a" * 32, "failed", 21610),
                                  ("SM" + "b" * 32, "delivered", None)):
            provider_status.record_status(session, provider_sid=sid, status=status, error_code=code, now=NOW)
        session.commit()
        stored = row(session, message_id)
        stored.status, stored.provider_sid, stored.sent_at = Status.SENT, "SM" + "a" * 32, NOW
        session.commit()
        delivery.deliver_due(sessions, RecordingTransport(), now=NOW + timedelta(seconds=5), worker_id="w")
        failed = row(session, message_id)
        assert (failed.status, failed.error_code) == (Status.FAILED, 21610)
        assert session.scalar(select(OutboundMessage.id).where(OutboundMessage.status == Status.SUPPRESSED)) is None
        assert [r.provider_sid for r in session.scalars(select(EarlyStatusReport))] == ["SM" + "b" * 32]
        delivery.deliver_due(sessions, RecordingTransport(), now=NOW + timedelta(days=8), worker_id="w")
        assert session.scalars(select(EarlyStatusReport)).all() == []


@pytest.mark.postgres_only("concurrent workers need PostgreSQL")
def test_concurrent_workers_share_the_account_limit(session, sessions, merchant, twilio_settings, fake_twilio):
    """Three workers take tokens from one account bucket at the same moments: together they send
    exactly what the bucket holds, not three times as much."""
    queue_many(session, merchant, 60)
    limits = SendLimits(account=Rate(100), number=FAST_NUMBERS)  # burst 10
    transport = make_transport(twilio_settings)
    sent_per_moment = []
    for moment in (NOW, NOW + timedelta(seconds=1), NOW + timedelta(seconds=2)):
        start = threading.Barrier(3, timeout=30)
        handled, errors = [], []

        def work(worker_id: str) -> None:
            try:
                start.wait()
                handled.append(delivery.deliver_due(sessions, transport, now=moment, worker_id=worker_id,
                                                    batch_size=20, limits=limits))
            except BaseException as exc:  # reported below, in the test's thread
                errors.append(exc)

        before = len(fake_twilio.messages)
        threads = [threading.Thread(target=work, args=(f"worker-{n}",)) for n in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert errors == []
        sent_per_moment.append(len(fake_twilio.messages) - before)
    assert sent_per_moment == [10, 10, 10]
    bodies = fake_twilio.bodies()
    assert len(bodies) == len(set(bodies)) == 30
    assert statuses(session) == {Status.SENT: 30, Status.QUEUED: 30}
    assert fake_twilio.posts() == 30
