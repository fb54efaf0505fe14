"""Money on the merchant's screens: amounts typed as a decimal in the merchant's currency (12.50) are
read into integer minor units (1250), never through a float, and shown back the same way.

The currencies smscrm serves have two decimal places (dollars and cents, yuan and fen).
"""
from __future__ import annotations

import re
import unicodedata

from flask import Flask

MINOR_PER_UNIT = 100
CURRENCY_SIGNS = "$¥€£"
_AMOUNT = re.compile(r"^(\d{0,12})(?:\.(\d*))?$", re.ASCII)


def minor_units(text: str, *, maximum: int) -> int:
    """`text` as typed (12.50, 12, $12.5, full-width digits) in minor units, from 1 to `maximum`.

    Raises ValueError with a message for the person typing.
    """
    typed = unicodedata.normalize("NFKC", text or "").replace(" ", "").lstrip(CURRENCY_SIGNS)
    if "," in typed:
        raise ValueError("Type the amount without commas, with a dot before the cents, like 1250.00.")
    match = _AMOUNT.match(typed)
    if match is None or typed in ("", "."):
        raise ValueError("Type the amount as a number, like 12.50.")
    whole, cents = match.group(1), match.group(2) or ""
    if len(cents) > 2:
        raise ValueError("Use at most two digits after the dot, like 12.50.")
    amount = int(whole or 0) * MINOR_PER_UNIT + int(cents.ljust(2, "0"))
    if amount < 1:
        raise ValueError("The amount must be more than 0.")
    if amount > maximum:
        raise ValueError(f"That is more than {money(maximum)}. Check the amount.")
    return amount


def money(amount_minor: int | None) -> str:
    """1250 → 12.50, 125000000 → 1,250,000.00; nothing for None."""
    if amount_minor is None:
        return ""
    sign = "-" if amount_minor < 0 else ""
    whole, cents = divmod(abs(amount_minor), MINOR_PER_UNIT)
    return f"{sign}{whole:,}.{cents:02d}"


def init_app(app: Flask) -> None:
    app.add_template_filter(money)
