"""Signing in and out, and the guard every merchant page stands behind.

A signed-in session names the staff user and a stamp of their password hash, so changing
the password ends every other session of that user.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length

from smscrm.accounts import logins
from smscrm.models import Merchant, StaffUser
from smscrm.web import i18n
from smscrm.web.request_db import db_session

blueprint = Blueprint("auth", __name__)
login_manager = LoginManager()
login_manager.login_view = "auth.sign_in"
login_manager.login_message = _l("Please sign in to see that page.")
login_manager.login_message_category = "info"
WRONG_CREDENTIALS = _l("That email and password do not match. Check both and try again.")


@dataclass(eq=False)
class SignedIn(UserMixin):
    """The staff user of this request, as Flask-Login sees them."""

    user: StaffUser

    def get_id(self) -> str:
        return f"{self.user.id}:{_password_stamp(self.user)}"

    @property
    def merchant_id(self) -> int:
        return self.user.merchant_id

    @property
    def merchant(self) -> Merchant:
        return self.user.merchant


def _password_stamp(user: StaffUser) -> str:
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


@login_manager.user_loader
def _load_user(session_id: str) -> SignedIn | None:
    user_id, _, stamp = session_id.partition(":")
    user = db_session().get(StaffUser, int(user_id)) if user_id.isdigit() else None
    if user is None or stamp != _password_stamp(user):
        return None
    return SignedIn(user)


def protected_blueprint(name: str, import_name: str, **options) -> Blueprint:
    """A blueprint whose every view needs a signed-in user; its pages are never cached."""
    protected = Blueprint(name, import_name, **options)
    protected.before_request(_require_sign_in)
    protected.after_request(_not_cached)
    return protected


def _require_sign_in():
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    return None


def _not_cached(response):
    response.headers["Cache-Control"] = "no-store"
    return response


def safe_next(target: str | None) -> str | None:
    """`target` when it is a path on this site, else None (no open redirects)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(ord(char) < 32 for char in target):
        return None
    return target


class SignInForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(_l("Enter your email address.")), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(_l("Enter your password."))])


@blueprint.route("/sign-in", methods=["GET", "POST"])
def sign_in():
    destination = safe_next(request.args.get("next"))
    if current_user.is_authenticated:
        return redirect(destination or url_for("home.dashboard"))
    form, error = SignInForm(), None
    if form.validate_on_submit():
        database = db_session()
        user = logins.authenticate(database, form.email.data, form.password.data)
        if user is not None:
            database.commit()  # authenticate may have upgraded the password hash
            session.clear()
            login_user(SignedIn(user))
            i18n.remember(user)
            return redirect(destination or url_for("home.dashboard"))
        error = WRONG_CREDENTIALS
    return render_template("auth/sign_in.html", form=form, error=error, next=destination)


@blueprint.post("/sign-out")
def sign_out():
    language = session.get(i18n.SESSION_KEY)
    logout_user()
    session.clear()
    if language:
        session[i18n.SESSION_KEY] = language  # the sign-in page stays in the language just read
    flash(gettext("You are signed out."), "info")
    return redirect(url_for("auth.sign_in"))
