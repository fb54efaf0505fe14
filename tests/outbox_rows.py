"""Helpers for the delivery tests: queue outbox rows, read them back, a transport that records."""
from __future__ import annotations

import threading
import uuid
from datetime import datetime, timezone

from smscrm.loyalty import members
from smscrm.messaging import outbox
from smscrm.models import Category, OutboundMessage

ANN = "+14155550100"
BEN = "+14155550101"
PROMO = "Green Leaf Tea: tasting Friday 6pm. Reply STOP to opt out"
NOON_IN_LOS_ANGELES = datetime(2026, 3, 10, 19, 0, tzinfo=timezone.utc)  # a Tuesday, PDT


def queue(session, merchant, now, *, phone=ANN, body=PROMO, category=Category.MARKETING, **options) -> int:
    """Queue a text (marketing unless told) to a member (joined if needed), committed; returns the row id."""
    member = members.find(session, merchant.id, phone) or members.join(
        session, merchant, phone, name="", language="en", now=now
    )
    message_id = outbox.queue_text(
        session, merchant, to_phone=phone, body=body, category=category, purpose="test", now=now, member_id=member.id,
        **options,
    )
    session.commit()
    return message_id


def row(session, message_id) -> OutboundMessage:
    session.expire_all()
    return session.get(OutboundMessage, message_id)


class RecordingTransport:
    """Accepts every text and remembers (to, body) in the order the calls came; `on_send(to, body,
    sid)` runs inside each call, before it returns."""

    name = "recording"
    max_send_seconds = 0.0

    def __init__(self, on_send=None):
        self.sent: list[tuple[str, str]] = []
        self.on_send = on_send
        self._lock = threading.Lock()

    def send(self, *, to: str, from_: str, body: str) -> str:
        sid = "SM" + uuid.uuid4().hex
        with self._lock:
            self.sent.append((to, body))
        if self.on_send:
            self.on_send(to, body, sid)
        return sid

    def find_sent(self, *, to, from_, body, since) -> list[str]:
        return []
