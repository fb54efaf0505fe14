"""Form fields whose value is a number, with one clear message when what was typed is not one; and the
random key that makes a form sent twice count once."""
from __future__ import annotations

import secrets

from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, IntegerField, StringField
from wtforms.validators import DataRequired, Regexp, StopValidation
from wtforms.widgets import TextInput

from smscrm.web.money import minor_units, shop_locale, typed_amount

FORM_KEY = r"^[A-Za-z0-9_-]{16,80}$"
STALE_FORM = _l("This form is out of date. It has been refreshed: check the details and press the button again.")


def new_form_key() -> str:
    return secrets.token_urlsafe(24)


def form_key() -> HiddenField:
    """The hidden field with the random key that makes sending the same form twice count once."""
    return HiddenField(validators=[DataRequired(STALE_FORM), Regexp(FORM_KEY, message=STALE_FORM)])


class _StopsOnUnreadable:
    """Validators after an unreadable value would only add a second, vaguer message."""

    def pre_validate(self, form):
        if self.process_errors:
            raise StopValidation()


class WholeNumberField(_StopsOnUnreadable, IntegerField):
    """A whole number typed in a text box; `message` says what to type instead of something else."""

    widget = TextInput()  # not type=number: no spinner, no scroll wheel changing a setting by accident

    def __init__(self, label=None, validators=None, *, message: str, **kwargs):
        super().__init__(label, validators, invalid_value_message=message, **kwargs)

    def process_formdata(self, valuelist):
        if valuelist and not valuelist[0].strip():
            self.data = None  # left empty: for `Optional` or `InputRequired` to judge
            return
        super().process_formdata(valuelist)


class AmountField(_StopsOnUnreadable, StringField):
    """A text box for an amount of money, typed as the shop writes numbers (`money.shop_locale`); `data` is the
    amount in minor units, or None when left empty."""

    def __init__(self, label=None, validators=None, *, maximum: int, **kwargs):
        kwargs.setdefault("render_kw", {}).setdefault("inputmode", "decimal")
        super().__init__(label, validators, **kwargs)
        self.maximum = maximum

    def process_formdata(self, valuelist):
        self.data = None
        if valuelist and valuelist[0].strip():
            self.data = minor_units(valuelist[0], maximum=self.maximum, locale=shop_locale())

    def _value(self):
        if self.raw_data:
            return self.raw_data[0]
        return "" if self.data is None else typed_amount(self.data, shop_locale())
