"""The forms of the settings pages and of the own-password page (Flask-WTF: CSRF, field errors)."""
from __future__ import annotations

from zoneinfo import available_timezones

import phonenumbers
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, DataRequired, EqualTo, Length, Optional

from smscrm.accounts import merchants, passwords
from smscrm.accounts.api_keys import MAX_NAME_CHARS as MAX_KEY_NAME_CHARS
from smscrm.models import Language, Role

LANGUAGES = [SelectChoice(Language.EN.value, _l("English")), SelectChoice(Language.ZH.value, _l("Chinese (中文)"))]
ROLES = [SelectChoice(Role.STAFF.value, _l("Staff: counter, members, inbox")),
         SelectChoice(Role.OWNER.value, _l("Owner: everything"))]
TIMEZONES = sorted(available_timezones() - {"localtime", "Factory"})
COUNTRIES = sorted(phonenumbers.SUPPORTED_REGIONS)
NAME_TOO_LONG = _l("A name is at most %(count)s characters.", count=merchants.MAX_NAME_CHARS)
PASSWORD_HINT = _l("At least %(count)s characters and hard to guess: a few words that do not belong together "
                   "work well. Common passwords such as 12345678 are refused.", count=passwords.MIN_LENGTH)


def _new_password(label: str) -> PasswordField:
    return PasswordField(label, [
        DataRequired(_l("Type the new password.")),
        Length(passwords.MIN_LENGTH, passwords.MAX_LENGTH,
               message=_l("A password is %(least)s to %(most)s characters.",
                          least=passwords.MIN_LENGTH, most=passwords.MAX_LENGTH)),
    ], description=PASSWORD_HINT, render_kw={"autocomplete": "new-password"})


class ProfileForm(FlaskForm):
    name = StringField(_l("Shop name (English)"), [
        DataRequired(_l("Give the shop's name, as shoppers know it.")),
        Length(max=merchants.MAX_NAME_CHARS, message=NAME_TOO_LONG),
    ])
    name_zh = StringField(_l("Shop name (Chinese)"), [
        Optional(),
        Length(max=merchants.MAX_NAME_CHARS, message=NAME_TOO_LONG),
    ], description=_l("Used in Chinese texts; empty: the English name."))
    signature = StringField(_l("【Signature】"), [
        DataRequired(_l("Give the signature Chinese texts start with, like 绿叶茶馆.")),
        Length(max=merchants.MAX_SIGNATURE_CHARS,
               message=_l("A signature is at most %(count)s characters.", count=merchants.MAX_SIGNATURE_CHARS)),
    ], description=_l("Every Chinese text starts with it in 【】, as carriers in China require."))
    opt_out_zh = StringField(_l("Chinese opt-out line"), [
        Optional(),
        Length(max=merchants.MAX_OPT_OUT_CHARS,
               message=_l("The opt-out line is at most %(count)s characters.", count=merchants.MAX_OPT_OUT_CHARS)),
    ], description=_l("Ends every Chinese marketing text; empty: 回复TD退订. It must name TD, 退订 or 取消."))
    default_language = SelectField(_l("Language for new members"), choices=LANGUAGES,
                                   validators=[AnyOf([choice.value for choice in LANGUAGES],
                                                     _l("Choose English or Chinese."))])
    timezone = SelectField(_l("Timezone"), choices=TIMEZONES,
                           validators=[AnyOf(TIMEZONES, _l("Choose a timezone from the list."))])
    country = SelectField(_l("Country"), choices=COUNTRIES,
                          validators=[AnyOf(COUNTRIES, _l("Choose a country code."))],
                          description=_l("Phone numbers typed without +country are read as numbers of this country."))


class NumberForm(FlaskForm):
    number = StringField(_l("Number to add"), [DataRequired(_l("Type the number, like +1 415 555 0100.")),
                                           Length(max=40, message=_l("That is too long to be a phone number."))],
                         render_kw={"type": "tel", "autocomplete": "off"})


class ApiKeyForm(FlaskForm):
    name = StringField(_l("Name of the new key"), [
        Optional(), Length(max=MAX_KEY_NAME_CHARS, message=_l("A key's name is at most %(count)s characters.", count=MAX_KEY_NAME_CHARS)),
    ], description=_l("Say what uses it, like Till 1."))


class StaffForm(FlaskForm):
    email = StringField(_l("Email"), [DataRequired(_l("Type their email address.")),
                                  Length(max=254, message=_l("An email address is at most 254 characters."))],
                        render_kw={"type": "email", "autocomplete": "off"})
    role = SelectField(_l("Role"), choices=ROLES, default=Role.STAFF.value,
                       validators=[AnyOf([choice.value for choice in ROLES], _l("Choose staff or owner."))])
    password = _new_password(_l("Their first password"))


class ResetPasswordForm(FlaskForm):
    password = _new_password(_l("New password"))


class ChangePasswordForm(FlaskForm):
    current = PasswordField(_l("Current password"), [DataRequired(_l("Type your current password."))],
                            render_kw={"autocomplete": "current-password"})
    password = _new_password(_l("New password"))
    again = PasswordField(_l("New password again"), [
        DataRequired(_l("Type the new password again.")), EqualTo("password", _l("The two new passwords differ.")),
    ], render_kw={"autocomplete": "new-password"})
