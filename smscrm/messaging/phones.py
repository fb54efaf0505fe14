"""Phone numbers: parsed once at the boundary with phonenumbers, E.164 everywhere inside."""
from __future__ import annotations

from functools import lru_cache

import phonenumbers
from phonenumbers import timezone as phone_timezones

from smscrm.errors import N_, InvalidPhone


@lru_cache(maxsize=8192)  # a pure function on the path of every text and purchase: the same numbers come back
def normalise(raw: str, country: str = "US") -> str:
    """E.164 for `raw`, read as a local number of `country` when it has no +prefix.

    Raises InvalidPhone with a message a person can act on.
    """
    return e164(parse(raw, country))


def e164(number: phonenumbers.PhoneNumber) -> str:
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def parse(raw: str, country: str = "US") -> phonenumbers.PhoneNumber:
    """`raw` read as `normalise` reads it (InvalidPhone when it is no possible number), for a caller that asks
    more of the number than its E.164 (a member file: whether it is issued, without parsing it twice)."""
    text = (raw or "").strip()
    if not text:
        raise InvalidPhone(N_("a phone number is required"))
    if len(text) > 40:
        raise InvalidPhone(N_("that is too long to be a phone number"))
    try:
        number = phonenumbers.parse(text, country.upper())
    except phonenumbers.NumberParseException:
        raise InvalidPhone(N_("%(text)r is not a phone number"), text=text) from None
    if not phonenumbers.is_possible_number(number):
        raise InvalidPhone(N_("%(text)r is not a possible phone number"), text=text)
    return number


@lru_cache(maxsize=8192)
def is_valid(e164_number: str) -> bool:
    """Whether phonenumbers knows `e164_number` as a number its region issues (not only one of a possible length)."""
    return phonenumbers.is_valid_number(phonenumbers.parse(e164_number))


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
