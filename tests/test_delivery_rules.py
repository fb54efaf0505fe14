"""Respect for the shopper at send time: quiet hours in the recipient's zone (deferred, counted),
the weekly cap of care and marketing texts (skipped, with the reason), what is exempt, the merchant's settings, and
the checks made again right before the provider call."""
from datetime import datetime, time, timedelta, timezone

import pytest
from sqlalchemy import select

from smscrm import delivery
from smscrm.db.engine import make_sessionmaker
from smscrm.messaging import consent, courtesy
from smscrm.models import (
    Category,
    ConsentAction,
    ConsentChannel,
    OutboundMessage,
    Status,
)
from smscrm.sending.courier import Courier
from tests.outbox_rows import (
    ANN,
    BEN,
    NOON_IN_LOS_ANGELES,
    PROMO,
    RecordingTransport,
    queue,
    row,
)

SHANGHAI = "+8613800138000"
MOSCOW = "+79001234567"  # Russia spans many zones: the merchant's zone (Los Angeles) applies
UTC = timezone.utc


@pytest.fixture
def sessions(engine):
    return make_sessionmaker(engine)


@pytest.fixture
def transport():
    return RecordingTransport()


def deliver(sessions, transport, when) -> int:
    return delivery.deliver_due(sessions, transport, now=when, worker_id="worker-a")


def already_sent(session, merchant, phone, when, *, category=Category.MARKETING, status=Status.SENT) -> None:
    """A text the member got at `when`."""
    message_id = queue(session, merchant, when, phone=phone, body=f"earlier {category}", category=category)
    message = row(session, message_id)
    message.status, message.sent_at = status, when
    session.commit()


class TestQuietHours:
    def test_marketing_waits_for_the_window_to_open_in_the_recipients_zone(self, session, sessions, merchant,
                                                                           transport):
        now = NOON_IN_LOS_ANGELES  # 03:00 the next day in Shanghai
        here, there = queue(session, merchant, now), queue(session, merchant, now, phone=SHANGHAI)
        assert deliver(sessions, transport, now) == 2
        assert transport.sent == [(ANN, PROMO)]
        waiting = row(session, there)
        opens = datetime(2026, 3, 11, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
        assert (waiting.status, waiting.send_after, waiting.deferrals, waiting.attempts) == (Status.QUEUED, opens, 1, 0)
        assert (waiting.claimed_by, waiting.lease_expires_at) == (None, None)
        assert row(session, here).status == Status.SENT
        assert deliver(sessions, transport, opens - timedelta(seconds=1)) == 0
        assert deliver(sessions, transport, opens) == 1
        assert transport.sent[-1] == (SHANGHAI, PROMO)
        assert (row(session, there).status, row(session, there).deferrals) == (Status.SENT, 1)

    def test_a_number_of_a_many_zoned_country_follows_the_merchants_zone(self, session, sessions, merchant,
                                                                         transport):
        late_evening = datetime(2026, 3, 11, 5, 0, tzinfo=UTC)  # 22:00 in Los Angeles, 08:00 in Moscow
        message_id = queue(session, merchant, late_evening, phone=MOSCOW)
        deliver(sessions, transport, late_evening)
        assert row(session, message_id).send_after == datetime(2026, 3, 11, 16, 0, tzinfo=UTC)  # 09:00 PDT
        assert transport.sent == []

    def test_care_waits_too_replies_and_transactional_texts_do_not(self, session, sessions, merchant, transport):
        night = datetime(2026, 3, 11, 10, 0, tzinfo=UTC)  # 03:00 in Los Angeles
        care = queue(session, merchant, night, body="Happy birthday!", category=Category.CARE)
        points = queue(session, merchant, night, phone=BEN, body="Your points: 120", category=Category.TRANSACTIONAL)
        reply = queue(session, merchant, night, phone="+14155550102", body="Welcome!", category=Category.REPLY)
        assert deliver(sessions, transport, night) == 3
        assert sorted(body for _to, body in transport.sent) == ["Welcome!", "Your points: 120"]
        assert (row(session, care).status, row(session, care).deferrals) == (Status.QUEUED, 1)
        assert {row(session, points).status, row(session, reply).status} == {Status.SENT}

    def test_the_window_is_the_merchants_setting(self, session, sessions, merchant, transport):
        merchant.sending_window_opens, merchant.sending_window_closes = time(7, 0), time(22, 0)
        session.commit()
        evening = datetime(2026, 3, 11, 4, 30, tzinfo=UTC)  # 21:30 in Los Angeles
        message_id = queue(session, merchant, evening)
        deliver(sessions, transport, evening)
        assert row(session, message_id).status == Status.SENT
        morning = datetime(2026, 3, 11, 13, 30, tzinfo=UTC)  # 06:30 in Los Angeles
        early = queue(session, merchant, morning, phone=BEN)
        deliver(sessions, transport, morning)
        assert row(session, early).send_after == datetime(2026, 3, 11, 14, 0, tzinfo=UTC)  # 07:00 PDT

    def test_each_deferral_is_counted(self, session, sessions, merchant, transport):
        evening = datetime(2026, 3, 11, 4, 0, tzinfo=UTC)  # 21:00 in Los Angeles
        message_id = queue(session, merchant, evening)
        deliver(sessions, transport, evening)
        opens = row(session, message_id).send_after
        merchant.sending_window_opens = time(10, 0)  # the merchant moved the window meanwhile
        session.commit()
        deliver(sessions, transport, opens)
        deferred = row(session, message_id)
        assert (deferred.status, deferred.deferrals, deferred.send_after) == (
            Status.QUEUED, 2, datetime(2026, 3, 11, 17, 0, tzinfo=UTC),
        )


class TestWeeklyCap:
    def test_a_third_marketing_text_in_seven_days_is_skipped(self, session, sessions, merchant, transport):
        now = NOON_IN_LOS_ANGELES
        already_sent(session, merchant, ANN, now - timedelta(days=6))
        already_sent(session, merchant, ANN, now - timedelta(days=1), status=Status.DELIVERED)
        third = queue(session, merchant, now)
        other = queue(session, merchant, now, phone=BEN)
        assert deliver(sessions, transport, now) == 2
        skipped = row(session, third)
        assert (skipped.status, skipped.skip_reason, skipped.status_updated_at) == (
            Status.SKIPPED, courtesy.FREQUENCY_CAP, now,
        )
        assert (skipped.sent_at, skipped.provider_sid, skipped.attempts) == (None, None, 0)
        assert transport.sent == [(BEN, PROMO)]
        assert row(session, other).status == Status.SENT

    def test_the_cap_is_a_rolling_window(self, session, sessions, merchant, transport):
        now = NOON_IN_LOS_ANGELES
        already_sent(session, merchant, ANN, now - timedelta(days=7, minutes=1))  # just outside
        already_sent(session, merchant, ANN, now - timedelta(days=2))
        message_id = queue(session, merchant, now)
        deliver(sessions, transport, now)
        assert row(session, message_id).status == Status.SENT

    def test_texts_in_the_same_batch_count(self, session, sessions, merchant, transport):
        merchant.weekly_marketing_cap = 1
        session.commit()
        now = NOON_IN_LOS_ANGELES
        first, second = queue(session, merchant, now), queue(session, merchant, now, body="Another promo")
        assert deliver(sessions, transport, now) == 2
        assert [row(session, first).status, row(session, second).status] == [Status.SENT, Status.SKIPPED]
        assert transport.sent == [(ANN, PROMO)]

    def test_the_cap_is_the_merchants_setting(self, session, sessions, merchant, transport):
        merchant.weekly_marketing_cap = 3
        session.commit()
        now = NOON_IN_LOS_ANGELES
        already_sent(session, merchant, ANN, now - timedelta(days=1))
        already_sent(session, merchant, ANN, now - timedelta(days=2))
        message_id = queue(session, merchant, now)
        deliver(sessions, transport, now)
        assert row(session, message_id).status == Status.SENT

    def test_care_and_marketing_count_together_replies_and_transactional_texts_do_not(
        self, session, sessions, merchant, transport
    ):
        """The rule the care and campaign pages state: at most `weekly_marketing_cap` (2) care and marketing
        texts per member in any 7 days; a care text over it is skipped like a campaign's."""
        now = NOON_IN_LOS_ANGELES
        already_sent(session, merchant, ANN, now - timedelta(days=1), category=Category.TRANSACTIONAL)
        already_sent(session, merchant, ANN, now - timedelta(days=1), category=Category.REPLY)
        already_sent(session, merchant, ANN, now - timedelta(days=2))
        care = queue(session, merchant, now, body="Happy birthday!", category=Category.CARE)  # the second: allowed
        points = queue(session, merchant, now, body="Your points: 120", category=Category.TRANSACTIONAL)
        deliver(sessions, transport, now)
        assert {row(session, i).status for i in (care, points)} == {Status.SENT}
        greeting = queue(session, merchant, now, body="Another greeting", category=Category.CARE)
        promo = queue(session, merchant, now, body="A third promo")
        receipt = queue(session, merchant, now, body="Receipt: +12 points", category=Category.TRANSACTIONAL)
        deliver(sessions, transport, now)
        assert [(row(session, i).status, row(session, i).skip_reason) for i in (greeting, promo, receipt)] == [
            (Status.SKIPPED, courtesy.FREQUENCY_CAP), (Status.SKIPPED, courtesy.FREQUENCY_CAP), (Status.SENT, None),
        ]

    def test_a_retry_is_not_held_back_by_the_cap(self, session, sessions, merchant, transport):
        """It was counted when it was first attempted; the provider may even have it already."""
        now = NOON_IN_LOS_ANGELES
        already_sent(session, merchant, ANN, now - timedelta(days=1))
        already_sent(session, merchant, ANN, now - timedelta(days=2))
        message_id = queue(session, merchant, now)
        retried = row(session, message_id)
        retried.attempts, retried.first_attempt_at, retried.error_code = 1, now - timedelta(minutes=1), 20500
        session.commit()
        deliver(sessions, transport, now)
        assert row(session, message_id).status == Status.SENT

    def test_quiet_hours_come_before_the_cap(self, session, sessions, merchant, transport):
        night = datetime(2026, 3, 11, 10, 0, tzinfo=UTC)  # 03:00 in Los Angeles
        already_sent(session, merchant, ANN, night - timedelta(days=6, hours=20))
        already_sent(session, merchant, ANN, night - timedelta(days=6, hours=19))
        message_id = queue(session, merchant, night)
        deliver(sessions, transport, night)
        assert row(session, message_id).status == Status.QUEUED  # by 09:00 the older texts are 7 days old
        deliver(sessions, transport, row(session, message_id).send_after)
        assert row(session, message_id).status == Status.SENT


class TestCheckedAgainBeforeTheCall:
    """Rows a worker holds while the rate limits make them wait are judged again just before."""

    def test_an_opt_out_after_the_claim_suppresses(self, session, sessions, merchant, transport):
        now = NOON_IN_LOS_ANGELES
        message_id = queue(session, merchant, now)
        with Courier(sessions, transport, worker_id="worker-a", batch_size=10, limits=None,
                              concurrency=2) as courier:
            courier.claim(now)
            assert row(session, message_id).status == Status.SENDING
            consent.record_consent(session, merchant_id=merchant.id, phone=ANN, action=ConsentAction.OPT_OUT,
                                   keyword="STOP", channel=ConsentChannel.SMS, now=now)
            session.commit()
            assert courier.dispatch(now + timedelta(seconds=1)) == 1
        assert transport.sent == []
        assert (row(session, message_id).status, row(session, message_id).attempts) == (Status.SUPPRESSED, 0)

    def test_a_window_closing_after_the_claim_defers(self, session, sessions, merchant, transport):
        closing = datetime(2026, 3, 11, 2, 59, 59, tzinfo=UTC)  # 19:59:59 in Los Angeles
        message_id = queue(session, merchant, closing)
        with Courier(sessions, transport, worker_id="worker-a", batch_size=10, limits=None,
                              concurrency=2) as courier:
            courier.claim(closing)
            courier.dispatch(closing + timedelta(seconds=2))
        deferred = row(session, message_id)
        assert (deferred.status, deferred.deferrals, deferred.claimed_by) == (Status.QUEUED, 1, None)
        assert deferred.send_after == datetime(2026, 3, 11, 16, 0, tzinfo=UTC)
        assert transport.sent == []


def test_claim_due_judges_the_rows_it_claims(session, merchant):
    now = NOON_IN_LOS_ANGELES
    sendable, far = queue(session, merchant, now), queue(session, merchant, now, phone=SHANGHAI)
    claimed = delivery.claim_due(session, now=now, worker_id="w1", batch_size=10)
    session.commit()
    assert [message.id for message in claimed] == [sendable]
    states = dict(session.execute(select(OutboundMessage.id, OutboundMessage.status)).all())
    assert states == {sendable: Status.SENDING, far: Status.QUEUED}
