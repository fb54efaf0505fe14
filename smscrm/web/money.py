"""Money on the merchant's screens: amounts typed as a decimal in the merchant's currency (12.50, or 12,50 where
the shop's country writes a decimal comma) are read into integer minor units (1250), never through a float;
shown on pages by Babel for the page's language, and in a form's box as the shop types them (1250.00 / 1250,00).

The currencies smscrm serves have two decimal places (dollars and cents, yuan and fen). How a shop writes
numbers is its country's (CLDR's likely locale for it: Germany 12,50, the US and China 12.50), whatever the
language of the pages: staff type amounts the way the till and the receipts show them.
"""
from __future__ import annotations

import re
import unicodedata
from decimal import Decimal
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel.numbers import NumberFormatError, format_decimal, get_decimal_symbol, parse_decimal
from flask import Flask
from flask_babel import get_locale, gettext
from flask_login import current_user

MINOR_PER_UNIT = 100
CURRENCY_SIGNS = "$¥€£"
MAX_TYPED_CHARS = 24
_DIGITS_AND_MARKS = re.compile(r"^[0-9.,]*[0-9][0-9.,]*$", re.ASCII)  # no sign, exponent, NaN or other digits
_CENTS_AFTER_OTHER_MARK = re.compile(r"^([0-9.,]*?)([.,])([0-9]{1,2})$", re.ASCII)
_EXAMPLE = Decimal("12.50")


@lru_cache(maxsize=256)
def country_locale(country: str) -> Locale:
    """How numbers are written in `country` (a two-letter code): CLDR's likely locale, en_US when it has none."""
    try:
        return Locale.parse(f"und_{country}")
    except (UnknownLocaleError, ValueError):
        return Locale.parse("en_US")


def shop_locale() -> Locale:
    """How the signed-in merchant's shop writes numbers."""
    return country_locale(current_user.merchant.country)


def minor_units(text: str, *, maximum: int, locale: Locale) -> int:
    """`text` as typed (12.50 / 12,50 as `locale` writes it, 1,250.00 with its grouping, $12.5, full-width
    digits) in minor units, from 1 to `maximum`.

    Raises ValueError with a message for the person typing; an amount written with the other decimal mark
    (12,50 where 12.50 is meant) is not guessed but asked about, with the amount as it was meant.
    """
    typed = unicodedata.normalize("NFKC", text or "").replace(" ", "").lstrip(CURRENCY_SIGNS)
    if len(typed) > MAX_TYPED_CHARS or not _DIGITS_AND_MARKS.match(typed):
        raise ValueError(gettext("Type the amount as a number, like %(example)s.", example=typed_example(locale)))
    try:
        value = parse_decimal(typed, locale=locale, strict=True)
    except NumberFormatError:
        raise ValueError(_unreadable(typed, locale)) from None
    if value.as_tuple().exponent < -2:
        raise ValueError(gettext("Use at most two digits for the cents, like %(example)s.",
                                 example=typed_example(locale)))
    amount = int(value * MINOR_PER_UNIT)
    if amount < 1:
        raise ValueError(gettext("The amount must be more than 0."))
    if amount > maximum:
        raise ValueError(gettext("That is more than %(maximum)s. Check the amount.", maximum=money(maximum)))
    return amount


def _unreadable(typed: str, locale: Locale) -> str:
    """What to say of digits and marks the locale cannot read: when the last mark, followed by one or two digits,
    is the other decimal mark (12,50 for 12.50, 1.250,00 for 1,250.00), the amount that was meant."""
    mark = get_decimal_symbol(locale)
    match = _CENTS_AFTER_OTHER_MARK.match(typed)
    if match and match.group(2) != mark and match.group(2) not in match.group(1):
        whole = re.sub(r"[.,]", "", match.group(1)) or "0"
        meant = Decimal(f"{whole}.{match.group(3)}")
        return gettext("Did you mean %(amount)s? The cents come after “%(mark)s”.",
                       amount=format_decimal(meant, format="#,##0.00", locale=locale), mark=mark)
    return gettext("Type the amount as a number, like %(example)s.", example=typed_example(locale))


def money(amount_minor: int | None) -> str:
    """1250 → 12.50, 125000000 → 1,250,000.00 (separators of the page's language); nothing for None."""
    if amount_minor is None:
        return ""
    return format_decimal(Decimal(amount_minor) / MINOR_PER_UNIT, format="#,##0.00", locale=get_locale())


def typed_amount(amount_minor: int, locale: Locale) -> str:
    """1250 → 1250.00 (1250,00 where the shop writes a decimal comma): an amount as typed into a form's box."""
    return format_decimal(Decimal(amount_minor) / MINOR_PER_UNIT, format="0.00", locale=locale)


def typed_example(locale: Locale) -> str:
    """12.50 as the shop types it."""
    return format_decimal(_EXAMPLE, format="0.00", locale=locale)


def shop_example() -> str:
    """12.50 as the signed-in merchant's shop types it, for a form's placeholder."""
    return typed_example(shop_locale())


def init_app(app: Flask) -> None:
    app.add_template_filter(money)
    app.add_template_global(shop_example)
