"""The forms of the settings pages and of the own-password page (Flask-WTF: CSRF, field errors)."""
from __future__ import annotations

from zoneinfo import available_timezones

import phonenumbers
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, DataRequired, EqualTo, Length, Optional

from smscrm.accounts import merchants, passwords
from smscrm.accounts.api_keys import MAX_NAME_CHARS as MAX_KEY_NAME_CHARS
from smscrm.models import Language, Role

LANGUAGES = [SelectChoice(Language.EN.value, "English"), SelectChoice(Language.ZH.value, "Chinese (中文)")]
ROLES = [SelectChoice(Role.STAFF.value, "Staff: counter, members, inbox"),
         SelectChoice(Role.OWNER.value, "Owner: everything")]
TIMEZONES = sorted(available_timezones() - {"localtime", "Factory"})
COUNTRIES = sorted(phonenumbers.SUPPORTED_REGIONS)
PASSWORD_HINT = (f"At least {passwords.MIN_LENGTH} characters and hard to guess: a few words that do not belong "
                 "together work well. Common passwords such as 12345678 are refused.")


def _new_password(label: str) -> PasswordField:
    return PasswordField(label, [
        DataRequired("Type the new password."),
        Length(passwords.MIN_LENGTH, passwords.MAX_LENGTH,
               message=f"A password is {passwords.MIN_LENGTH} to {passwords.MAX_LENGTH} characters."),
    ], description=PASSWORD_HINT, render_kw={"autocomplete": "new-password"})


class ProfileForm(FlaskForm):
    name = StringField("Shop name (English)", [
        DataRequired("Give the shop's name, as shoppers know it."),
        Length(max=merchants.MAX_NAME_CHARS, message=f"A name is at most {merchants.MAX_NAME_CHARS} characters."),
    ])
    name_zh = StringField("Shop name (Chinese)", [
        Optional(),
        Length(max=merchants.MAX_NAME_CHARS, message=f"A name is at most {merchants.MAX_NAME_CHARS} characters."),
    ], description="Used in Chinese texts; empty: the English name.")
    signature = StringField("【Signature】", [
        DataRequired("Give the signature Chinese texts start with, like 绿叶茶馆."),
        Length(max=merchants.MAX_SIGNATURE_CHARS,
               message=f"A signature is at most {merchants.MAX_SIGNATURE_CHARS} characters."),
    ], description="Every Chinese text starts with it in 【】, as carriers in China require.")
    opt_out_zh = StringField("Chinese opt-out line", [
        Optional(),
        Length(max=merchants.MAX_OPT_OUT_CHARS,
               message=f"The opt-out line is at most {merchants.MAX_OPT_OUT_CHARS} characters."),
    ], description="Ends every Chinese marketing text; empty: 回复TD退订. It must name TD, 退订 or 取消.")
    default_language = SelectField("Language for new members", choices=LANGUAGES,
                                   validators=[AnyOf([choice.value for choice in LANGUAGES], "Choose English or Chinese.")])
    timezone = SelectField("Timezone", choices=TIMEZONES,
                           validators=[AnyOf(TIMEZONES, "Choose a timezone from the list.")])
    country = SelectField("Country", choices=COUNTRIES, validators=[AnyOf(COUNTRIES, "Choose a country code.")],
                          description="Phone numbers typed without +country are read as numbers of this country.")


class NumberForm(FlaskForm):
    number = StringField("Number to add", [DataRequired("Type the number, like +1 415 555 0100."),
                                           Length(max=40, message="That is too long to be a phone number.")],
                         render_kw={"type": "tel", "autocomplete": "off"})


class ApiKeyForm(FlaskForm):
    name = StringField("Name of the new key", [
        Optional(), Length(max=MAX_KEY_NAME_CHARS, message=f"A key's name is at most {MAX_KEY_NAME_CHARS} characters."),
    ], description="Say what uses it, like Till 1.")


class StaffForm(FlaskForm):
    email = StringField("Email", [DataRequired("Type their email address."),
                                  Length(max=254, message="An email address is at most 254 characters.")],
                        render_kw={"type": "email", "autocomplete": "off"})
    role = SelectField("Role", choices=ROLES, default=Role.STAFF.value,
                       validators=[AnyOf([choice.value for choice in ROLES], "Choose staff or owner.")])
    password = _new_password("Their first password")


class ResetPasswordForm(FlaskForm):
    password = _new_password("New password")


class ChangePasswordForm(FlaskForm):
    current = PasswordField("Current password", [DataRequired("Type your current password.")],
                            render_kw={"autocomplete": "current-password"})
    password = _new_password("New password")
    again = PasswordField("New password again", [
        DataRequired("Type the new password again."), EqualTo("password", "The two new passwords differ."),
    ], render_kw={"autocomplete": "new-password"})
