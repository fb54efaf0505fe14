"""Twilio's delivery status callbacks through the signed webhook: reports arrive out of order and
repeated, rows only move forward, error codes are kept, 21610 opts out, unknown sids get a 200."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from smscrm import delivery
from smscrm.db.engine import make_sessionmaker
from smscrm.loyalty import members
from smscrm.messaging import outbox
from smscrm.models import (
    Category,
    ConsentAction,
    ConsentChannel,
    ConsentEvent,
    EarlyStatusReport,
    Member,
    OutboundMessage,
    Status,
)
from smscrm.sending.transports import ConsoleTransport
from tests.conftest import MERCHANT_NUMBER

ANN = "+14155550100"


@pytest.fixture
def sent(engine, session, merchant, now) -> OutboundMessage:
    """A text the worker has handed to the provider."""
    member = members.join(session, merchant, ANN, name="Ann", language="en", now=now)
    message_id = outbox.queue_text(
        session, merchant, to_phone=ANN, body="Your points: 120", category=Category.TRANSACTIONAL,
        purpose="points", now=now, member_id=member.id,
    )
    session.commit()
    delivery.deliver_due(make_sessionmaker(engine), ConsoleTransport(), now=now, worker_id="worker-a")
    return session.get(OutboundMessage, message_id)


def reload(session, message) -> OutboundMessage:
    session.expire_all()
    return session.get(OutboundMessage, message.id)


def callback(sid: str, status: str, error_code: int | str | None = None) -> dict:
    """The form Twilio posts to a StatusCallback."""
    form = {
        "MessageSid": sid, "SmsSid": sid, "MessageStatus": status, "SmsStatus": status,
        "AccountSid": "AC" + "0" * 32, "From": MERCHANT_NUMBER, "To": ANN, "ApiVersion": "2010-04-01",
    }
    if error_code is not None:
        form["ErrorCode"] = str(error_code)
    return form


def report(post_signed, sid: str, status: str, error_code: int | str | None = None):
    response = post_signed("/sms/status", callback(sid, status, error_code))
    assert response.status_code == 200, response.data
    return response.json["recorded"]


def test_reports_out_of_order_and_repeated_end_at_the_latest_real_status(post_signed, session, sent, now):
    assert (sent.status, sent.status_updated_at) == (Status.SENT, now)
    for status in ("delivered", "sent", "queued", "sending", "delivered", "sent", "undelivered"):
        assert report(post_signed, sent.provider_sid, status) is True
    delivered = reload(session, sent)
    assert delivered.status == Status.DELIVERED
    assert delivered.status_updated_at != now  # stamped by the webhook when it moved
    assert delivered.error_code is None


def test_statuses_move_forward_one_report_at_a_time(post_signed, session, sent):
    report(post_signed, sent.provider_sid, "queued")
    assert reload(session, sent).status == Status.SENT
    report(post_signed, sent.provider_sid, "read")
    assert reload(session, sent).status == Status.DELIVERED


def test_an_undelivered_report_keeps_its_error_code(post_signed, session, sent):
    report(post_signed, sent.provider_sid, "sent")
    report(post_signed, sent.provider_sid, "undelivered", 30006)
    report(post_signed, sent.provider_sid, "sent")
    report(post_signed, sent.provider_sid, "undelivered", 30006)
    undelivered = reload(session, sent)
    assert (undelivered.status, undelivered.error_code) == (Status.UNDELIVERED, 30006)
    assert session.scalar(select(Member.is_opted_out).where(Member.phone == ANN)) is False


def test_error_21610_in_a_report_opts_the_member_out_once(post_signed, session, sent):
    for _ in range(3):
        report(post_signed, sent.provider_sid, "failed", 21610)
    failed = reload(session, sent)
    assert (failed.status, failed.error_code) == (Status.FAILED, 21610)
    [event] = session.scalars(select(ConsentEvent).where(ConsentEvent.phone == ANN)).all()
    assert (event.action, event.channel, event.keyword, event.source_sid) == (
        ConsentAction.OPT_OUT, ConsentChannel.CARRIER, "twilio-21610", sent.provider_sid,
    )
    assert session.scalar(select(Member.is_opted_out).where(Member.phone == ANN)) is True


def test_an_unknown_sid_is_answered_200_and_changes_nothing(post_signed, session, sent):
    assert report(post_signed, "SM" + "9" * 32, "delivered") is False
    assert report(post_signed, "SM" + "9" * 32, "failed", 21610) is False
    assert reload(session, sent).status == Status.SENT
    assert session.scalar(select(func.count(ConsentEvent.id))) == 0


def test_an_unknown_status_value_is_ignored(post_signed, session, sent):
    assert report(post_signed, sent.provider_sid, "teleported") is True
    assert reload(session, sent).status == Status.SENT


@pytest.mark.parametrize("error_code", ["99999999999999999999", "9" * 5000, "²", "٣٠٠٠٦", "-30006", "30006x", " "])
def test_an_absurd_or_non_ascii_error_code_is_stored_as_unknown(post_signed, session, sent, error_code):
    assert report(post_signed, sent.provider_sid, "undelivered", error_code) is True
    undelivered = reload(session, sent)
    assert (undelivered.status, undelivered.error_code) == (Status.UNDELIVERED, None)
    assert report(post_signed, "SM" + "9" * 32, "failed", error_code) is False  # kept for later, as unknown too
    assert session.scalar(select(EarlyStatusReport.error_code)) is None


def test_an_unsigned_or_wrongly_signed_report_is_refused_and_changes_nothing(client, post_signed, session, sent):
    form = callback(sent.provider_sid, "failed", 21610)
    assert client.post("/sms/status", data=form).status_code == 403
    assert post_signed("/sms/status", form, token="someone-elses-token").status_code == 403
    unchanged = reload(session, sent)
    assert (unchanged.status, unchanged.error_code) == (Status.SENT, None)
    assert session.scalar(select(func.count(ConsentEvent.id))) == 0


def test_record_status_moves_only_forward(session, sent, now):
    later = now + timedelta(minutes=1)
    assert delivery.record_status(session, provider_sid=sent.provider_sid, status="failed", error_code=30003, now=later)
    assert delivery.record_status(session, provider_sid=sent.provider_sid, status="delivered", error_code=None, now=now)
    session.commit()
    failed = reload(session, sent)
    assert (failed.status, failed.error_code, failed.status_updated_at) == (Status.FAILED, 30003, later)
