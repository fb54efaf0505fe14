"""The transports on their own: console logging, and the twilio transport through the real twilio
client against the loopback fake (requests, auth, status callback, error classification, lookups,
one client per thread), plus proof that the test guard stops any call to the real Twilio host."""
import logging
import socket
import threading
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from smscrm.errors import ConfigError
from smscrm.sending.transports import (
    ConsoleTransport,
    PermanentSendError,
    TransientSendError,
    TwilioTransport,
    make_transport,
)
from tests.conftest import MERCHANT_NUMBER, PUBLIC_URL
from tests.fake_twilio import Answer, fake_twilio, twilio_settings  # noqa: F401 (fixtures)

ANN = "+14155550100"
NOW = datetime(2026, 3, 10, 15, 0, tzinfo=timezone.utc)


def send(transport, body="Your points: 120", to=ANN):
    return transport.send(to=to, from_=MERCHANT_NUMBER, body=body)


def test_make_transport_follows_the_backend_setting(settings, twilio_settings):
    assert isinstance(make_transport(settings), ConsoleTransport)
    assert isinstance(make_transport(twilio_settings), TwilioTransport)
    with pytest.raises(ConfigError, match="unknown SMS backend 'carrier-pigeon'"):
        make_transport(replace(settings, sms_backend="carrier-pigeon"))


def test_console_logs_the_text_with_the_phone_masked(caplog):
    caplog.set_level(logging.INFO, logger="smscrm.sending.transports.console")
    first, second = send(ConsoleTransport()), send(ConsoleTransport())
    assert first != second and first.startswith("console-")
    assert "+1415•••0100" in caplog.text and "Your points: 120" in caplog.text
    assert ANN not in caplog.text
    assert ConsoleTransport().find_sent(to=ANN, from_=MERCHANT_NUMBER, body="Your points: 120", since=NOW) == []


def test_twilio_sends_with_the_status_callback(twilio_settings, fake_twilio):
    sid = send(make_transport(twilio_settings))
    [message] = fake_twilio.messages
    assert (message.sid, message.to, message.from_, message.body) == (sid, ANN, MERCHANT_NUMBER, "Your points: 120")
    assert message.status_callback == PUBLIC_URL + "/sms/status"


def test_twilio_without_public_url_asks_for_no_status_callback(twilio_settings, fake_twilio):
    send(make_transport(replace(twilio_settings, public_url="")))
    assert fake_twilio.messages[0].status_callback is None


def test_a_wrong_auth_token_is_a_permanent_error(twilio_settings, fake_twilio):
    with pytest.raises(PermanentSendError) as raised:
        send(make_transport(replace(twilio_settings, twilio_auth_token="not-the-token")))
    assert raised.value.code == 20003
    assert fake_twilio.messages == []


@pytest.mark.parametrize(
    "answer, error, code, retry_after",
    [
        (Answer(status=429, code=20429, retry_after=120), TransientSendError, 20429, 120),
        (Answer(status=500, code=20500), TransientSendError, 20500, None),
        (Answer(status=503, code=20503, retry_after=7), TransientSendError, 20503, 7),
        (Answer(status=429, code=20429, retry_after="soon"), TransientSendError, 20429, None),
        (Answer(status=400, code=21211, message="Invalid 'To' Phone Number"), PermanentSendError, 21211, None),
        (Answer(status=400, code=21614, message="not a mobile number"), PermanentSendError, 21614, None),
        (Answer(status=400, code=21610, message="unsubscribed recipient"), PermanentSendError, 21610, None),
    ],
)
def test_twilio_errors_are_classified(twilio_settings, fake_twilio, answer, error, code, retry_after):
    fake_twilio.script(answer)
    with pytest.raises(error) as raised:
        send(make_transport(twilio_settings))
    assert type(raised.value) is error
    assert raised.value.code == code
    assert getattr(raised.value, "retry_after", None) == retry_after
    assert fake_twilio.messages == []


def test_a_retry_after_date_becomes_a_moment_in_utc(twilio_settings, fake_twilio):
    fake_twilio.script(Answer(status=503, code=20503, retry_after="Tue, 10 Mar 2026 20:15:00 GMT"))
    with pytest.raises(TransientSendError) as raised:
        send(make_transport(twilio_settings))
    assert raised.value.retry_at == datetime(2026, 3, 10, 20, 15, tzinfo=timezone.utc)
    assert raised.value.retry_after is None


def test_a_timeout_is_transient_even_when_twilio_took_the_message(twilio_settings, fake_twilio):
    fake_twilio.script(Answer(delay=2.0))
    with pytest.raises(TransientSendError, match="no answer from Twilio"):
        send(make_transport(replace(twilio_settings, twilio_timeout_seconds=0.2)))
    assert len(fake_twilio.messages) == 1


def test_no_connection_is_transient(twilio_settings):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    with pytest.raises(TransientSendError, match="no answer from Twilio"):
        send(make_transport(replace(twilio_settings, twilio_api_base_url=f"http://127.0.0.1:{closed_port}")))


def test_find_sent_matches_body_numbers_and_creation_time(twilio_settings, fake_twilio):
    transport = make_transport(twilio_settings)
    fake_twilio.clock = lambda: NOW - timedelta(hours=1)
    send(transport)  # the same text, long before
    fake_twilio.clock = lambda: NOW
    other_body = send(transport, body="Happy birthday!")
    other_phone = send(transport, to="+14155550101")
    fake_twilio.clock = lambda: NOW + timedelta(seconds=5)
    recent = send(transport)
    found = transport.find_sent(to=ANN, from_=MERCHANT_NUMBER, body="Your points: 120", since=NOW)
    assert found == [recent]
    assert other_body not in found and other_phone not in found


def test_the_fake_filters_lists_by_date_sent_like_twilio(twilio_settings, fake_twilio):
    client = make_transport(twilio_settings).client()
    fake_twilio.clock = lambda: NOW - timedelta(days=2)
    older = send(make_transport(twilio_settings))
    fake_twilio.clock = lambda: NOW
    newer = send(make_transport(twilio_settings))
    assert [m.sid for m in client.messages.list(to=ANN, date_sent_after=NOW - timedelta(days=1))] == [newer]
    assert [m.sid for m in client.messages.list(to=ANN, date_sent_before=NOW - timedelta(days=1))] == [older]
    assert [m.sid for m in client.messages.list(from_=MERCHANT_NUMBER)] == [newer, older]


def test_each_thread_gets_its_own_twilio_client_with_the_configured_timeout(twilio_settings):
    transport = make_transport(replace(twilio_settings, twilio_timeout_seconds=3.5))
    clients = []
    thread = threading.Thread(target=lambda: clients.append(transport.client()))
    thread.start()
    thread.join()
    assert transport.client() is transport.client()
    assert clients[0] is not transport.client()
    assert transport.client().http_client.timeout == 3.5


def test_without_a_base_url_the_guard_stops_the_call_to_twilio(settings):
    transport = make_transport(replace(settings, sms_backend="twilio", twilio_api_base_url=""))
    with pytest.raises(AssertionError, match="a test tried to reach the real Twilio host 'api.twilio.com'"):
        send(transport)
