"""Respect for the shopper: quiet hours in the recipient's local time and a weekly frequency cap.

Marketing and care texts due in quiet hours wait for the window to open; no member gets
more than the cap of such texts in any rolling 7 days. Replies a member asked for are exempt.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from smscrm import phones
from smscrm.models import Category, OutboundMessage, Status

CAPPED_CATEGORIES = (Category.MARKETING, Category.CARE)
COUNTED_STATUSES = (Status.SENDING, Status.SENT, Status.DELIVERED, Status.UNDELIVERED)
CAP_WINDOW = timedelta(days=7)


@dataclass(frozen=True)
class SendingWindow:
    """Local hours in which marketing may arrive: [opens, closes)."""

    opens: time = time(9, 0)
    closes: time = time(20, 0)

    def next_open(self, now: datetime, timezone: str) -> datetime:
        """`now` if the window is open at the recipient, else the moment it next opens (UTC)."""
        zone = ZoneInfo(timezone)
        local = now.astimezone(zone)
        if self.opens <= local.time() < self.closes:
            return now
        day = local.date() if local.time() < self.opens else local.date() + timedelta(days=1)
        return datetime.combine(day, self.opens, tzinfo=zone).astimezone(now.tzinfo)


def recipient_timezone(phone: str, fallback: str) -> str:
    """The number's own timezone when its region has one, else the merchant's."""
    return phones.timezone_of(phone) or fallback


def capped_texts_in_window(session: Session, merchant_id: int, phone: str, *, now: datetime) -> int:
    """Marketing and care texts sent (or being sent) to `phone` in the 7 days before `now`."""
    return session.scalar(
        select(func.count(OutboundMessage.id)).where(
            OutboundMessage.merchant_id == merchant_id,
            OutboundMessage.to_phone == phone,
            OutboundMessage.category.in_(CAPPED_CATEGORIES),
            OutboundMessage.status.in_(COUNTED_STATUSES),
            OutboundMessage.sent_at > now - CAP_WINDOW,
        )
    )
