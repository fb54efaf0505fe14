"""Creating merchants and their owner logins."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from smscrm.accounts import logins
from smscrm.errors import Conflict, ValidationError
from smscrm.messaging import phones
from smscrm.models import Language, Merchant, Role, SenderNumber


def create_merchant(
    session: Session,
    *,
    name: str,
    number: str,
    email: str,
    password: str,
    now: datetime,
    language: str = Language.EN,
    timezone: str = "UTC",
    country: str = "US",
    signature: str | None = None,
) -> Merchant:
    """A merchant with one sender number and its owner's login. Every argument is validated."""
    name = (name or "").strip()
    if not name or len(name) > 80:
        raise ValidationError("the merchant name must be 1 to 80 characters")
    if language not in tuple(Language):
        raise ValidationError(f"language must be one of {', '.join(Language)}, got {language!r}")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"{timezone!r} is not an IANA timezone such as Asia/Shanghai") from None
    country = (country or "").upper()
    if country not in phonenumbers.SUPPORTED_REGIONS:
        raise ValidationError(f"{country!r} is not a two-letter country code such as US or CN")
    sender = phones.normalise(number, country)
    if session.scalar(select(SenderNumber.id).where(SenderNumber.number == sender)):
        raise Conflict(f"the number {sender} already belongs to a merchant")
    merchant = Merchant(
        name=name,
        signature=(signature or name)[:40],
        default_language=language,
        timezone=timezone,
        country=country,
        texts={},
        created_at=now,
    )
    merchant.numbers.append(SenderNumber(number=sender))
    session.add(merchant)
    session.flush()
    logins.create_staff_user(session, merchant, email=email, password=password, role=Role.OWNER, now=now)
    return merchant


def has_merchants(session: Session) -> bool:
    return bool(session.scalar(select(func.count(Merchant.id))))


def all_merchants(session: Session) -> list[Merchant]:
    """Every merchant with its numbers, in the order they were created."""
    return list(session.scalars(select(Merchant).options(selectinload(Merchant.numbers)).order_by(Merchant.id)))
