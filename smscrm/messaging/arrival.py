"""Who texted whom: what the webhook needs to answer an inbound text, read in one query.

Inbound texts are the busiest path, so this is one Core SELECT (no ORM objects): the merchant
that owns the number texted, the sender's membership there, the sender's consent if they are
not a member, whether the sender is one of our own numbers, and whether this MessageSid was handled
before (Twilio retries).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Label, and_, bindparam, case, exists, select
from sqlalchemy.orm import Session

from smscrm.errors import InvalidPhone
from smscrm.messaging import phones
from smscrm.messaging.consent import latest_action
from smscrm.models import (
    ConsentAction,
    InboundMessage,
    Member,
    Merchant,
    OutboundMessage,
    SenderNumber,
)


@dataclass(frozen=True)
class Shop:
    """The merchant, as far as answering a text goes (`smscrm.messaging.texts.render` accepts it)."""

    id: int
    name: str
    name_zh: str | None
    signature: str
    default_language: str
    timezone: str
    country: str
    texts: dict
    welcome_bonus: int


@dataclass(frozen=True)
class Card:
    """The sender's membership, as far as answering a text goes."""

    id: int
    name: str | None
    language: str
    joined_at: datetime | None
    points_balance: int
    is_opted_out: bool

    @property
    def is_joined(self) -> bool:
        return self.joined_at is not None


@dataclass(frozen=True)
class Arrival:
    shop: Shop
    card: Card | None  # None: the phone has no membership here
    is_stranger_opted_out: bool  # for a phone without a membership: its latest consent event is an opt-out
    is_own_number: bool  # the sender is a number of ours (a merchant's): answering it would talk to ourselves
    was_handled: bool  # this MessageSid was handled before
    earlier_reply: str | None  # what was answered then (None: silence)


def arrive(session: Session, *, message_sid: str, to_phone: str, from_phone: str) -> Arrival | None:
    """What we know when a text from `from_phone` (as sent: it finds a membership whose number is stored
    exactly so) reaches `to_phone`; None when no merchant has that number."""
    parameters = {"sid": message_sid, "to_phone": to_phone, "phone": from_phone}
    row = session.connection().execute(_ARRIVAL, parameters).first()
    if row is None:
        return None
    shop = Shop(row.merchant_id, row.merchant_name, row.name_zh, row.signature, row.default_language, row.timezone,
                row.country, row.texts or {}, row.welcome_bonus)
    return Arrival(
        shop=shop,
        card=_card(row),
        is_stranger_opted_out=row.latest_consent == ConsentAction.OPT_OUT,
        is_own_number=row.is_own_number,
        was_handled=row.handled_id is not None,
        earlier_reply=row.earlier_reply,
    )


def card_for(session: Session, merchant_id: int, phone: str) -> tuple[Card | None, bool, bool]:
    """For a phone sent written otherwise: its membership; without one, whether it opted out; and whether it is
    one of our own numbers."""
    row = session.connection().execute(_CARD, {"merchant_id": merchant_id, "phone": phone}).first()
    return _card(row), row.latest_consent == ConsentAction.OPT_OUT, row.is_own_number


_CHANNEL_PREFIX = re.compile(r"^\s*[a-z][a-z0-9.+-]*:", re.IGNORECASE)  # whatsapp:+1…, messenger:…, rcs:…


def reply_address(raw: str, country: str) -> str | None:
    """E.164 of a sender we may answer by SMS: a valid phone number (read as a local number of `country` without
    a +prefix). None for anything else: a channel address such as `whatsapp:+14155550100` (an SMS would go
    elsewhere than the text came from), a short code, an alphanumeric sender, a number no region issues."""
    if _CHANNEL_PREFIX.match(raw):
        return None
    try:
        phone = phones.normalise(raw, country)
    except InvalidPhone:
        return None
    return phone if phones.is_valid(phone) else None


def _card(row) -> Card | None:
    if row is None or row.member_id is None:
        return None
    return Card(row.member_id, row.member_name, row.language, row.joined_at, row.points_balance, row.is_opted_out)


_merchants, _members, _numbers = Merchant.__table__, Member.__table__, SenderNumber.__table__
_inbound, _outbound = InboundMessage.__table__, OutboundMessage.__table__


_MEMBER_COLUMNS = (
    _members.c.id.label("member_id"), _members.c.name.label("member_name"), _members.c.language,
    _members.c.joined_at, _members.c.points_balance, _members.c.is_opted_out,
)


def _stranger_consent(merchant_id, phone) -> Label:
    """The phone's latest consent action when it has no membership (a member's consent is on their row):
    only a stranger's text pays for the lookup."""
    return case((_members.c.id.is_(None), latest_action(merchant_id, phone))).label("latest_consent")


_own = _numbers.alias("own")
_IS_OWN_NUMBER = exists().where(_own.c.number == bindparam("phone")).label("is_own_number")
_handled = _inbound.alias("handled")
_earlier = _outbound.alias("earlier")
_ARRIVAL = (
    select(
        _merchants.c.id.label("merchant_id"), _merchants.c.name.label("merchant_name"), _merchants.c.name_zh,
        _merchants.c.signature, _merchants.c.default_language, _merchants.c.timezone, _merchants.c.country,
        _merchants.c.texts, _merchants.c.welcome_bonus,
        *_MEMBER_COLUMNS, _stranger_consent(_merchants.c.id, bindparam("phone")), _IS_OWN_NUMBER,
        _handled.c.id.label("handled_id"), _earlier.c.body.label("earlier_reply"),
    )
    .select_from(_numbers)
    .join(_merchants, _merchants.c.id == _numbers.c.merchant_id)
    .outerjoin(_members, and_(_members.c.merchant_id == _merchants.c.id, _members.c.phone == bindparam("phone")))
    .outerjoin(_handled, _handled.c.message_sid == bindparam("sid"))
    .outerjoin(_earlier, _earlier.c.id == _handled.c.reply_id)
    .where(_numbers.c.number == bindparam("to_phone"))
)
_CARD = select(
    *_MEMBER_COLUMNS, _stranger_consent(bindparam("merchant_id"), bindparam("phone")), _IS_OWN_NUMBER,
).select_from(_merchants).outerjoin(
    _members, and_(_members.c.merchant_id == _merchants.c.id, _members.c.phone == bindparam("phone"))
).where(_merchants.c.id == bindparam("merchant_id"))
