"""The shared send-rate buckets, driven by an injected clock: bursts, refills, the account and the
number limits together, the wait it advises, clock skew, and the settings that configure them."""
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from smscrm.config import Settings
from smscrm.errors import ConfigError
from smscrm.models import SendRateBucket
from smscrm.sending import send_rate
from smscrm.sending.send_rate import Rate, SendLimits

T0 = datetime(2026, 3, 10, 19, 0, tzinfo=timezone.utc)
A, B = "+14155550000", "+14155550001"


def take(session, limits, wanted, seconds):
    grant = send_rate.take(session, limits, wanted, now=T0 + timedelta(seconds=seconds))
    session.commit()
    return grant


def test_a_new_bucket_starts_with_its_burst_then_refills_at_the_rate(session):
    limits = SendLimits(account=Rate(100), number=Rate(1000))  # the account binds: burst 10
    assert take(session, limits, {A: 50}, 0).granted == {A: 10}
    assert take(session, limits, {A: 50}, 0).granted == {A: 0}
    assert take(session, limits, {A: 50}, 0.05).granted == {A: 5}
    assert take(session, limits, {A: 50}, 10).granted == {A: 10}  # never more than the burst saved up


def test_over_any_span_no_more_than_rate_times_span_plus_burst(session):
    limits = SendLimits(account=Rate(200), number=Rate(1000))
    sent = [take(session, limits, {A: 1000}, step * 0.013).granted[A] for step in range(200)]  # 2.6 s
    assert sum(sent) <= 200 * 199 * 0.013 + 20 + 1e-6
    assert sum(sent) >= 200 * 199 * 0.013  # it does not hold back either


def test_each_number_has_its_own_bucket_and_all_share_the_account(session):
    limits = SendLimits(account=Rate(30), number=Rate(1))  # account burst 3, number burst 1
    grant = take(session, limits, {A: 5, B: 5}, 0)
    assert grant.granted == {A: 1, B: 1}
    assert grant.wait_seconds == pytest.approx(1.0)  # until each number has a token again
    assert take(session, limits, {A: 5, B: 5}, 0.5).granted == {A: 0, B: 0}
    assert take(session, limits, {A: 5, B: 5}, 1.0).granted == {A: 1, B: 1}
    keys = set(session.scalars(select(SendRateBucket.key)))
    assert keys == {"account", f"number:{A}", f"number:{B}"}


def test_the_account_runs_out_before_the_numbers(session):
    limits = SendLimits(account=Rate(10), number=Rate(100))  # account burst 1
    grant = take(session, limits, {A: 3, B: 3}, 0)
    assert grant.granted == {A: 1, B: 0}  # in the order asked
    assert grant.wait_seconds == pytest.approx(0.1)
    assert take(session, limits, {A: 3, B: 3}, 0.1).granted == {A: 1, B: 0}


def test_a_clock_behind_the_last_refill_refills_nothing(session):
    limits = SendLimits(account=Rate(10), number=Rate(10))
    assert take(session, limits, {A: 1}, 5).granted == {A: 1}
    assert take(session, limits, {A: 1}, 4).granted == {A: 0}  # a host whose clock is a second behind
    assert take(session, limits, {A: 1}, 5.05).granted == {A: 0}
    assert take(session, limits, {A: 1}, 5.1).granted == {A: 1}


def test_nothing_wanted_touches_nothing(session):
    assert send_rate.take(session, SendLimits(Rate(1), Rate(1)), {A: 0}, now=T0).granted == {}
    assert session.scalars(select(SendRateBucket)).all() == []


def test_limits_from_settings_name_the_account():
    settings = Settings(sms_backend="twilio", twilio_account_sid="AC" + "1" * 32, send_rate=200, number_send_rate=3)
    limits = SendLimits.from_settings(settings)
    assert limits == SendLimits(Rate(200), Rate(3), account_key="account:AC" + "1" * 32)
    assert limits.account.burst == 20 and limits.number.burst == 1
    assert limits.pending_cap(2.0) == 6


def test_rate_settings_are_read_and_checked():
    settings = Settings.from_env({
        "SMSCRM_ENV": "development", "SMSCRM_SEND_RATE": "200", "SMSCRM_NUMBER_SEND_RATE": "0.5",
        "SMSCRM_SEND_CONCURRENCY": "64",
    })
    assert (settings.send_rate, settings.number_send_rate, settings.send_concurrency) == (200, 0.5, 64)
    defaults = Settings.from_env({"SMSCRM_ENV": "development"})
    assert (defaults.send_rate, defaults.number_send_rate, defaults.send_concurrency) == (100, 1, 32)


@pytest.mark.parametrize(
    "variable, value",
    [
        ("SMSCRM_SEND_RATE", "0"),
        ("SMSCRM_SEND_RATE", "fast"),
        ("SMSCRM_SEND_RATE", "nan"),
        ("SMSCRM_NUMBER_SEND_RATE", "-1"),
        ("SMSCRM_SEND_CONCURRENCY", "2.5"),
        ("SMSCRM_SEND_CONCURRENCY", "0"),
        ("SMSCRM_SEND_CONCURRENCY", "10000"),
    ],
)
def test_a_bad_rate_setting_names_the_variable(variable, value):
    with pytest.raises(ConfigError, match=variable):
        Settings.from_env({"SMSCRM_ENV": "development", variable: value})
