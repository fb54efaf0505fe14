"""Creating merchants and their owner logins; the shop's profile and its sender numbers."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from smscrm.accounts import logins
from smscrm.errors import N_, Conflict, NotFound, ValidationError
from smscrm.messaging import phones
from smscrm.models import Language, Merchant, Role, SenderNumber
from smscrm.sending import parts

# Every automatic reply fits one SMS part with the longest names, signature and opt-out line these allow
# (tests/messaging/test_reply_parts.py): the English name in GSM-7, so that English texts stay GSM-7.
MAX_NAME_CHARS = 30
MAX_NAME_ZH_CHARS = 10
MAX_SIGNATURE_CHARS = 10
MAX_OPT_OUT_CHARS = 10
# A Chinese opt-out line must name a word that opts out when texted back (see inbound.CHINESE_OPT_OUT).
OPT_OUT_KEYWORDS = ("TD", "退订", "取消")


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
    name = _name(name)
    country = _country(country)
    merchant = Merchant(
        name=name,
        signature=(signature or name)[:MAX_SIGNATURE_CHARS],
        default_language=_language(language),
        timezone=_timezone(timezone),
        country=country,
        texts={},
        created_at=now,
    )
    merchant.numbers.append(SenderNumber(number=_free_number(session, number, country)))
    session.add(merchant)
    session.flush()
    logins.create_staff_user(session, merchant, email=email, password=password, role=Role.OWNER, now=now)
    return merchant


def update_profile(
    session: Session,
    merchant: Merchant,
    *,
    name: str,
    name_zh: str | None,
    signature: str,
    opt_out_zh: str | None,
    language: str,
    timezone: str,
    country: str,
) -> None:
    """Change the shop's names, 【signature】, Chinese opt-out line, default language, timezone and country.

    `name_zh` is the name in Chinese texts (empty: `name`); an empty `opt_out_zh` restores the default 回复TD退订.
    """
    name = _name(name)
    name_zh = " ".join((name_zh or "").split()) or None
    if name_zh and len(name_zh) > MAX_NAME_ZH_CHARS:
        raise ValidationError(N_("the Chinese name must be at most %(count)s characters"), count=MAX_NAME_ZH_CHARS)
    signature = " ".join((signature or "").split()).strip("【】")
    if not 1 <= len(signature) <= MAX_SIGNATURE_CHARS:
        raise ValidationError(N_("the signature must be 1 to %(count)s characters"), count=MAX_SIGNATURE_CHARS)
    opt_out_zh = "".join((opt_out_zh or "").split())
    if opt_out_zh and (len(opt_out_zh) > MAX_OPT_OUT_CHARS or not any(word in opt_out_zh for word in OPT_OUT_KEYWORDS)):
        raise ValidationError(
            N_("the Chinese opt-out line must be at most %(count)s characters and name a word that opts out when "
               "texted back (%(words)s), like 回复TD退订"), count=MAX_OPT_OUT_CHARS, words=", ".join(OPT_OUT_KEYWORDS)
        )
    merchant.name, merchant.name_zh, merchant.signature = name, name_zh, signature
    merchant.default_language, merchant.timezone = _language(language), _timezone(timezone)
    merchant.country = _country(country)
    texts = {key: dict(wording) for key, wording in (merchant.texts or {}).items()}  # a new value: JSON is saved
    opt_out = texts.pop("opt_out", {})
    opt_out.pop(Language.ZH.value, None)
    if opt_out_zh:
        opt_out[Language.ZH.value] = opt_out_zh
    merchant.texts = {**texts, **({"opt_out": opt_out} if opt_out else {})}
    session.flush()


def add_number(session: Session, merchant: Merchant, number: str) -> SenderNumber:
    """Another number the merchant texts from and receives on (E.164, read in the merchant's country)."""
    sender = SenderNumber(number=_free_number(session, number, merchant.country))
    merchant.numbers.append(sender)
    session.flush()
    return sender


def remove_number(session: Session, merchant: Merchant, number_id: int) -> None:
    """Stop using a number; the last one stays (texts need a number to go from)."""
    sender = next((number for number in merchant.numbers if number.id == number_id), None)
    if sender is None:
        raise NotFound(N_("there is no such number"))
    if len(merchant.numbers) == 1:
        raise ValidationError(N_("this is your only number: add the new one before removing it"))
    merchant.numbers.remove(sender)
    session.delete(sender)
    session.flush()


def has_merchants(session: Session) -> bool:
    return bool(session.scalar(select(func.count(Merchant.id))))


def _name(name: str) -> str:
    """The English name, with look-alikes (’ “ —) made GSM-7: one other character would make every English text
    UCS-2 and cost it parts."""
    name = " ".join((name or "").split())
    name = parts.gsm_replacement(name) or name
    if not name or len(name) > MAX_NAME_CHARS:
        raise ValidationError(N_("the merchant name must be 1 to %(count)s characters"), count=MAX_NAME_CHARS)
    if not parts.is_gsm(name):
        raise ValidationError(N_("the English name must be written in letters an English SMS carries "
                                 "(the Chinese name goes in its own field)"))
    return name


def _language(language: str) -> str:
    if language not in tuple(Language):
        raise ValidationError(N_("language must be one of %(languages)s, got %(language)r"),
                              languages=", ".join(Language), language=language)
    return language


def _timezone(timezone: str) -> str:
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(N_("%(timezone)r is not an IANA timezone such as Asia/Shanghai"),
                              timezone=timezone) from None
    return timezone


def _country(country: str) -> str:
    country = (country or "").upper()
    if country not in phonenumbers.SUPPORTED_REGIONS:
        raise ValidationError(N_("%(country)r is not a two-letter country code such as US or CN"), country=country)
    return country


def _free_number(session: Session, number: str, country: str) -> str:
    sender = phones.normalise(number, country)
    if session.scalar(select(SenderNumber.id).where(SenderNumber.number == sender)):
        raise Conflict(N_("the number %(number)s already belongs to a merchant"), number=sender)
    return sender


def all_merchants(session: Session) -> list[Merchant]:
    """Every merchant with its numbers, in the order they were created."""
    return list(session.scalars(select(Merchant).options(selectinload(Merchant.numbers)).order_by(Merchant.id)))
