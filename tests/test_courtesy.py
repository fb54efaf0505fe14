"""Quiet hours in the recipient's local time, and the rolling 7-day cap."""
from datetime import datetime, timedelta, timezone

import pytest

from smscrm.courtesy import SendingWindow, capped_texts_in_window, recipient_timezone
from smscrm.models import Category, Status
from smscrm.outbox import queue_text

UTC = timezone.utc


@pytest.mark.parametrize(
    "now_utc, zone, expected_utc",
    [
        # 10:00 in Shanghai is open: send now.
        (datetime(2026, 3, 10, 2, 0, tzinfo=UTC), "Asia/Shanghai", datetime(2026, 3, 10, 2, 0, tzinfo=UTC)),
        # 23:00 in Shanghai: wait for 09:00 the next morning (01:00 UTC).
        (datetime(2026, 3, 10, 15, 0, tzinfo=UTC), "Asia/Shanghai", datetime(2026, 3, 11, 1, 0, tzinfo=UTC)),
        # 06:00 in Shanghai: wait for 09:00 the same morning.
        (datetime(2026, 3, 9, 22, 0, tzinfo=UTC), "Asia/Shanghai", datetime(2026, 3, 10, 1, 0, tzinfo=UTC)),
        # 20:00 sharp is closed.
        (datetime(2026, 3, 10, 12, 0, tzinfo=UTC), "Asia/Shanghai", datetime(2026, 3, 11, 1, 0, tzinfo=UTC)),
        # Across the US spring-forward night (8 March 2026): 09:00 PDT is 16:00 UTC.
        (datetime(2026, 3, 8, 5, 0, tzinfo=UTC), "America/Los_Angeles", datetime(2026, 3, 8, 16, 0, tzinfo=UTC)),
    ],
)
def test_window_opens_in_local_time(now_utc, zone, expected_utc):
    assert SendingWindow().next_open(now_utc, zone) == expected_utc


def test_recipient_timezone_from_the_number_else_the_merchant():
    assert recipient_timezone("+8613800138000", "America/New_York") == "Asia/Shanghai"
    assert recipient_timezone("+14155550100", "Asia/Shanghai") == "America/Los_Angeles"
    assert recipient_timezone("+79001234567", "Europe/Berlin") == "Europe/Berlin"  # Russia spans many zones


def test_cap_counts_marketing_and_care_sent_in_the_last_7_days(session, merchant, now):
    phone = "+14155550100"

    def sent(category, days_ago, status=Status.SENT):
        message = queue_text(session, merchant, to_phone=phone, body="x", category=category, purpose="t", now=now)
        message.status, message.sent_at = status, now - timedelta(days=days_ago)

    sent(Category.MARKETING, 1)
    sent(Category.CARE, 6.9)
    sent(Category.MARKETING, 7.1)  # outside the window
    sent(Category.TRANSACTIONAL, 1)  # not capped
    sent(Category.MARKETING, 2, status=Status.SUPPRESSED)  # never left
    session.flush()
    assert capped_texts_in_window(session, merchant.id, phone, now=now) == 2
