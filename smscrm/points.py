"""Points that can be trusted: the front door of loyalty, with the functions the web app, the API, the
webhook and the jobs call. The work lives in `smscrm.loyalty`:

- `purchases`: the earn rule and recording a purchase (its points, visit, receipt; pending members);
- `joining`: what joining earns (welcome bonus, held points, the referral);
- `adjustments`: staff corrections; `points_history`: reading a member's ledger;
- `rewards`: redemptions at the counter and by text; `expiry`: points expiry;
- `verification`: checking every balance against its entries; `settings`: the merchant's loyalty settings;
- `ledger`: the one way points move, keeping each balance the sum of its entries.
"""
from __future__ import annotations

from smscrm.loyalty.adjustments import MAX_ADJUST_POINTS, MAX_NOTE_CHARS, adjust
from smscrm.loyalty.expiry import expire_points, unspent_before
from smscrm.loyalty.joining import on_join
from smscrm.loyalty.points_history import MAX_LEDGER_PAGE, ledger
from smscrm.loyalty.purchases import (
    MAX_AMOUNT_MINOR,
    MAX_KEY_CHARS,
    MAX_REFERENCE_CHARS,
    PurchaseResult,
    points_for,
    record_purchase,
)
from smscrm.loyalty.rewards import (
    confirm_redemption,
    redeem_at_counter,
    release_expired_redemptions,
    request_redemption,
)
from smscrm.loyalty.settings import SETTING_LIMITS, update_settings
from smscrm.loyalty.verification import BalanceMismatch, verify_balances

__all__ = [
    "MAX_ADJUST_POINTS", "MAX_AMOUNT_MINOR", "MAX_KEY_CHARS", "MAX_LEDGER_PAGE", "MAX_NOTE_CHARS",
    "MAX_REFERENCE_CHARS", "SETTING_LIMITS", "BalanceMismatch", "PurchaseResult", "adjust", "confirm_redemption",
    "expire_points", "ledger", "on_join", "points_for", "record_purchase", "redeem_at_counter",
    "release_expired_redemptions", "request_redemption", "unspent_before", "update_settings", "verify_balances",
]
