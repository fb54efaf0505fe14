"""The merchant's loyalty settings: how points are earned, the bonuses, expiry, redemption codes, receipts,
and the thresholds of the value classes. Staff can read them; the owner changes them."""
from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField
from wtforms.validators import DataRequired, InputRequired, NumberRange, Optional

from smscrm import points
from smscrm.errors import ValidationError
from smscrm.web.auth import protected_blueprint
from smscrm.web.fields import AmountField, WholeNumberField
from smscrm.web.formatting import number
from smscrm.web.i18n import sentence
from smscrm.web.request_db import db_session

blueprint = protected_blueprint("loyalty", __name__, url_prefix="/loyalty", is_owner_only=True)
EXAMPLE_PURCHASE_MINOR = 2500

LIMITS = points.SETTING_LIMITS  # smscrm.points checks them again when the settings change


def _setting(label, name: str, *, is_optional: bool = False, description="") -> WholeNumberField:
    low, high = LIMITS[name]
    shown_high = LazyString(number, high)  # 100,000 with the separators of the page's language
    message = (_l("Type a whole number from %(low)s to %(high)s, or leave it empty.", low=low, high=shown_high)
               if is_optional else _l("Type a whole number from %(low)s to %(high)s.", low=low, high=shown_high))
    first = Optional() if is_optional else InputRequired(message)
    return WholeNumberField(label, [first, NumberRange(low, high, message=message)], message=message,
                            description=description, render_kw={"inputmode": "numeric"})


class LoyaltyForm(FlaskForm):
    points_per_unit = _setting(_l("Points"), "points_per_unit")
    earn_unit_minor = AmountField(
        _l("for every (amount spent)"), [DataRequired(_l("Type an amount, like 1.00."))],
        maximum=LIMITS["earn_unit_minor"][1],
    )
    has_receipt_texts = BooleanField(_l("Text members their new balance after each purchase"))
    multiplier_a_pct = _setting(_l("Class A earns (%)"), "multiplier_a_pct",
                                description=_l("100 is the normal rate, 150 is half as much again."))
    multiplier_b_pct = _setting(_l("Class B earns (%)"), "multiplier_b_pct")
    multiplier_c_pct = _setting(_l("Class C earns (%)"), "multiplier_c_pct")
    class_a_revenue_pct = _setting(
        _l("Class A brings (percent of revenue)"), "class_a_revenue_pct",
        description=_l("The top spenders who together bring this share of the last 12 months' revenue…"),
    )
    class_a_max_members_pct = _setting(_l("…but at most (percent of members)"), "class_a_max_members_pct")
    class_b_members_pct = _setting(_l("Class B is the next (percent of members)"), "class_b_members_pct")
    welcome_bonus = _setting(_l("Welcome bonus (points)"), "welcome_bonus", description=_l("When someone joins."))
    birthday_bonus = _setting(_l("Birthday bonus (points)"), "birthday_bonus")
    referral_bonus = _setting(
        _l("Referral bonus (points)"), "referral_bonus",
        description=_l("To both, when a friend a member brought joins and buys."),
    )
    points_expiry_months = _setting(
        _l("Points expire after (months)"), "points_expiry_months", is_optional=True,
        description=_l("Empty: points never expire. Oldest points expire first."),
    )
    redemption_code_days = _setting(
        _l("Redemption codes are valid for (days)"), "redemption_code_days",
        description=_l("A member who texts REDEEM gets a code; unused, its points come back."),
    )


SETTINGS = (*LIMITS, "has_receipt_texts")  # the form has a field for each


@blueprint.route("", methods=["GET", "POST"])
def settings():
    merchant, error = current_user.merchant, None
    form = LoyaltyForm(obj=merchant)
    if form.validate_on_submit():
        try:
            points.update_settings(merchant, **{name: form[name].data for name in SETTINGS})
        except ValidationError as refused:
            error = sentence(refused)
        else:
            db_session().commit()
            flash(gettext("The loyalty settings are saved."), "info")
            return redirect(url_for(".settings"))
    example = {
        value_class: points.points_for(merchant, EXAMPLE_PURCHASE_MINOR, value_class) for value_class in ("A", "B", "C")
    }
    return render_template(
        "loyalty/settings.html", form=form, error=error, example=example,
        example_amount=EXAMPLE_PURCHASE_MINOR,
    )
