"""Phone numbers: parsed once at the boundary with phonenumbers, E.164 everywhere inside."""
from __future__ import annotations

from functools import lru_cache

import phonenumbers
from phonenumbers import timezone as phone_timezones

from smscrm.errors import InvalidPhone


@lru_cache(maxsize=8192)  # a pure function on the path of every text and purchase: the same numbers come back
def normalise(raw: str, country: str = "US") -> str:
    """E.164 for `raw`, read as a local number of `country` when it has no +prefix.

    Raises InvalidPhone with a message a person can act on.
    """
    text = (raw or "").strip()
    if not text:
        raise InvalidPhone("a phone number is required")
    if len(text) > 40:
        raise InvalidPhone("that is too long to be a phone number")
    try:
        number = phonenumbers.parse(text, country.upper())
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhone(f"{text!r} is not a phone number ({exc._msg})") from None
    if not phonenumbers.is_possible_number(number):
        raise InvalidPhone(f"{text!r} is not a possible phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@lru_cache(maxsize=8192)
def is_valid(e164: str) -> bool:
    """Whether phonenumbers knows `e164` as a number its region issues (not only one of a possible length)."""
    return phonenumbers.is_valid_number(phonenumbers.parse(e164))


@lru_cache(maxsize=8192)
def is_whole(e164: str) -> bool:
    """Whether `e164` has the length of a whole number of its region, not only of a local one (seven digits in
    the US read as +1 and those seven: a number no one has)."""
    reason = phonenumbers.is_possible_number_with_reason(phonenumbers.parse(e164))
    return reason == phonenumbers.ValidationResult.IS_POSSIBLE


def mask(e164: str) -> str:
    """For logs: country code and area kept, the middle hidden: +1415•••0100."""
    if not e164 or len(e164) < 9:
        return "•••"
    return f"{e164[:5]}•••{e164[-4:]}"


def mask_for_staff(e164: str) -> str:
    """For the merchant's screens: only the last four digits show."""
    return f"•••• {e164[-4:]}" if e164 else ""


def timezone_of(e164: str) -> str | None:
    """The number's timezone when its region has exactly one, else None (the caller falls back)."""
    try:
        zones = phone_timezones.time_zones_for_number(phonenumbers.parse(e164))
    except phonenumbers.NumberParseException:
        return None
    if len(zones) == 1 and zones[0] != phone_timezones.UNKNOWN_TIMEZONE:
        return zones[0]
    return None
