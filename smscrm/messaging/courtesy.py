"""Respect for the shopper at send time: quiet hours in the recipient's local time, the weekly cap.

Marketing and care texts due while the merchant's sending window is closed at the recipient wait
for it to open (a deferral, counted on the row). The weekly cap (`counts_toward_cap`): no member
gets more than the merchant's `weekly_marketing_cap` care and marketing texts together in any
rolling 7 days; a text that would be one more is skipped, with the reason `frequency_cap`. Replies
and transactional texts (receipts, codes) are exempt from both, and do not count.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, and_, func, literal, or_, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session
from sqlalchemy.types import Integer

from smscrm.messaging import phones
from smscrm.models import Category, Merchant, OutboundMessage, Status
from smscrm.models.message import NOT_A_REPLY

WINDOWED_CATEGORIES = (Category.MARKETING, Category.CARE)
CAPPED_CATEGORIES = (Category.MARKETING, Category.CARE)
SENT_STATUSES = (Status.SENT, Status.DELIVERED, Status.UNDELIVERED)
CAP_WINDOW = timedelta(days=7)
FREQUENCY_CAP = "frequency_cap"  # skip_reason of a text the weekly cap held back
CAP_LOCKS = 0x5C0F  # first key of the PostgreSQL advisory locks that serialise cap checks per member


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


@lru_cache(maxsize=65536)  # the worker asks for every text it sends
def recipient_timezone(phone: str, fallback: str) -> str:
    """The number's own timezone when its region has one, else the merchant's."""
    return phones.timezone_of(phone) or fallback


@dataclass(frozen=True)
class MerchantRules:
    """One merchant's courtesy settings, as the worker applies them."""

    window: SendingWindow
    timezone: str
    weekly_cap: int

    def due_at(self, category: str, phone: str, *, now: datetime) -> datetime:
        """When a text of `category` may reach `phone`: now, or when its sending window opens."""
        if category not in WINDOWED_CATEGORIES:
            return now
        return self.window.next_open(now, recipient_timezone(phone, self.timezone))


def merchant_rules(session: Session, merchant_ids: Iterable[int]) -> dict[int, MerchantRules]:
    """The courtesy settings of these merchants, by id."""
    ids = set(merchant_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(
            Merchant.id, Merchant.sending_window_opens, Merchant.sending_window_closes, Merchant.timezone,
            Merchant.weekly_marketing_cap,
        ).where(Merchant.id.in_(ids))
    )
    return {
        merchant_id: MerchantRules(SendingWindow(opens, closes), timezone, cap)
        for merchant_id, opens, closes, timezone, cap in rows
    }


def counts_toward_cap(category: str, member_id: int | None) -> bool:
    """The weekly cap's rule: a care or marketing text to a member counts toward it (and is held back by it);
    replies and transactional texts never do. `capped_counts` asks the same in SQL, of texts already sent."""
    return category in CAPPED_CATEGORIES and member_id is not None


def capped_counts(session: Session, member_ids: Iterable[int], *, now: datetime) -> dict[int, int]:
    """Texts that count toward the cap (care and marketing) each member received in the 7 days before `now`,
    plus those on their way (claimed by a worker); members with none are left out."""
    ids = set(member_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(OutboundMessage.member_id, func.count(OutboundMessage.id))
        .where(OutboundMessage.member_id.in_(ids), _counts_toward_cap(now))
        .group_by(OutboundMessage.member_id)
    )
    return dict(rows.all())


def members_at_cap(among: Select, weekly_cap: int, *, now: datetime) -> Select:
    """The ids of the members `among` (a select of member ids) whose texts that count toward the cap at `now`
    (as the worker counts them, `marketing_counts`) leave no room for another marketing text."""
    return (
        select(OutboundMessage.member_id)
        .where(OutboundMessage.member_id.in_(among), _counts_toward_cap(now))
        .group_by(OutboundMessage.member_id)
        .having(func.count(OutboundMessage.id) >= weekly_cap)
    )


def _counts_toward_cap(now: datetime) -> ColumnElement[bool]:
    """A marketing text sent in the 7 days before `now`, or on its way (claimed by a worker)."""
    return and_(
        OutboundMessage.category.in_(CAPPED_CATEGORIES),
        NOT_A_REPLY,
        or_(
            OutboundMessage.status == Status.SENDING,
            and_(OutboundMessage.status.in_(SENT_STATUSES), OutboundMessage.sent_at > now - CAP_WINDOW),
        ),
    )


def lock_cap_checks(session: Session, member_ids: Iterable[int]) -> None:
    """On PostgreSQL, hold a transaction lock per member so that two workers never count the same
    member's texts at once (each would see the other's text as not yet sent). Taken in id order, so
    two workers cannot deadlock. SQLite lets one writer at a time, which serialises them already."""
    ids = sorted(set(member_ids))
    if not ids or session.get_bind().dialect.name != "postgresql":
        return
    member = func.unnest(literal(ids, ARRAY(Integer))).column_valued("member_id")
    session.execute(select(func.pg_advisory_xact_lock(CAP_LOCKS, member)))
