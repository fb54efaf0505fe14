"""A merchant's loyalty settings: earn rules, bonuses, expiry, receipts and class thresholds, checked."""
from __future__ import annotations

from smscrm.errors import N_, ValidationError
from smscrm.models import Merchant

SETTING_LIMITS = {  # the range of each whole-number loyalty setting
    "points_per_unit": (0, 1000),
    "earn_unit_minor": (1, 1_000_000),
    "multiplier_a_pct": (0, 1000),
    "multiplier_b_pct": (0, 1000),
    "multiplier_c_pct": (0, 1000),
    "welcome_bonus": (0, 100_000),
    "birthday_bonus": (0, 100_000),
    "referral_bonus": (0, 100_000),
    "points_expiry_months": (1, 120),
    "redemption_code_days": (1, 365),
    "class_a_revenue_pct": (1, 100),
    "class_a_max_members_pct": (0, 100),
    "class_b_members_pct": (0, 100),
}


def update_settings(merchant: Merchant, **changes) -> None:
    """Change the merchant's earn rules and class thresholds; every value is checked before any is applied.

    `points_expiry_months=None` means points never expire; `has_receipt_texts` turns receipts on or off.
    """
    for name, value in changes.items():
        if name == "has_receipt_texts":
            if not isinstance(value, bool):
                raise ValidationError("has_receipt_texts must be true or false")
            continue
        if name not in SETTING_LIMITS:
            raise ValidationError(f"{name} is not a loyalty setting")
        if value is None and name == "points_expiry_months":
            continue
        low, high = SETTING_LIMITS[name]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValidationError(f"{name} must be a whole number from {low} to {high}")
    a_max = changes.get("class_a_max_members_pct", merchant.class_a_max_members_pct)
    if a_max + changes.get("class_b_members_pct", merchant.class_b_members_pct) > 100:
        raise ValidationError(N_("class A's and class B's shares of members add up to more than 100 %"))
    for name, value in changes.items():
        setattr(merchant, name, value)
