"""Quiet hours in the recipient's local time, and the rolling 7-day count of marketing texts."""
from datetime import datetime, timedelta, timezone

import pytest

from smscrm.loyalty import members
from smscrm.messaging.courtesy import (
    SendingWindow,
    capped_counts,
    recipient_timezone,
)
from smscrm.messaging.outbox import queue_text
from smscrm.models import Category, OutboundMessage, Status

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


def test_cap_counts_care_and_marketing_sent_in_the_last_7_days_and_on_its_way(session, merchant, now):
    ann = members.join(session, merchant, "+14155550100", name="Ann", language="en", now=now)
    ben = members.join(session, merchant, "+14155550101", name="Ben", language="en", now=now)

    def text(member, category, days_ago=None, status=Status.SENT):
        message = session.get(OutboundMessage, queue_text(
            session, merchant, to_phone=member.phone, body="x", category=category, purpose="t", now=now, member_id=member.id,
        ))
        message.status = status
        message.sent_at = now - timedelta(days=days_ago) if days_ago is not None else None

    text(ann, Category.MARKETING, 1)
    text(ann, Category.MARKETING, 6.9, status=Status.DELIVERED)
    text(ann, Category.MARKETING, status=Status.SENDING)  # claimed by a worker: on its way
    text(ann, Category.MARKETING, 7.1)  # outside the window
    text(ann, Category.CARE, 1)  # care texts count too
    text(ann, Category.TRANSACTIONAL, 1)  # transactional ones do not
    text(ann, Category.REPLY, 1)  # nor replies
    text(ann, Category.MARKETING, 2, status=Status.SUPPRESSED)  # never left
    text(ann, Category.MARKETING, status=Status.QUEUED)  # not yet
    text(ben, Category.MARKETING, 3, status=Status.UNDELIVERED)
    session.flush()
    assert capped_counts(session, [ann.id, ben.id], now=now) == {ann.id: 4, ben.id: 1}
    assert capped_counts(session, [], now=now) == {}
