"""Money on the merchant's screens: amounts typed as a decimal in the merchant's currency (12.50) are
read into integer minor units (1250), never through a float; shown on pages by Babel for the page's language,
and in a form's box as typed (1250.00).

The currencies smscrm serves have two decimal places (dollars and cents, yuan and fen).
"""
from __future__ import annotations

import re
import unicodedata
from decimal import Decimal

from babel.numbers import format_decimal
from flask import Flask
from flask_babel import get_locale, gettext

MINOR_PER_UNIT = 100
CURRENCY_SIGNS = "$¥€£"
_AMOUNT = re.compile(r"^(\d{0,12})(?:\.(\d*))?$", re.ASCII)


def minor_units(text: str, *, maximum: int) -> int:
    """`text` as typed (12.50, 12, $12.5, full-width digits) in minor units, from 1 to `maximum`.

    Raises ValueError with a message for the person typing.
    """
    typed = unicodedata.normalize("NFKC", text or "").replace(" ", "").lstrip(CURRENCY_SIGNS)
    if "," in typed:
        raise ValueError(gettext("Type the amount without commas, with a dot before the cents, like 1250.00."))
    match = _AMOUNT.match(typed)
    if match is None or typed in ("", "."):
        raise ValueError(gettext("Type the amount as a number, like 12.50."))
    whole, cents = match.group(1), match.group(2) or ""
    if len(cents) > 2:
        raise ValueError(gettext("Use at most two digits after the dot, like 12.50."))
    amount = int(whole or 0) * MINOR_PER_UNIT + int(cents.ljust(2, "0"))
    if amount < 1:
        raise ValueError(gettext("The amount must be more than 0."))
    if amount > maximum:
        raise ValueError(gettext("That is more than %(maximum)s. Check the amount.", maximum=money(maximum)))
    return amount


def money(amount_minor: int | None) -> str:
    """1250 → 12.50, 125000000 → 1,250,000.00 (separators of the page's language); nothing for None."""
    if amount_minor is None:
        return ""
    return format_decimal(Decimal(amount_minor) / MINOR_PER_UNIT, format="#,##0.00", locale=get_locale())


def typed_amount(amount_minor: int) -> str:
    """1250 → 1250.00: an amount as it is typed back into a form's box."""
    sign = "-" if amount_minor < 0 else ""
    whole, cents = divmod(abs(amount_minor), MINOR_PER_UNIT)
    return f"{sign}{whole}.{cents:02d}"


def init_app(app: Flask) -> None:
    app.add_template_filter(money)
