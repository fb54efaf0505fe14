"""Signing in and out, and the guard every merchant page stands behind.

A signed-in session names the staff user and their `session_epoch`: signing out, a new password and
deactivation raise the epoch, so a cookie kept from before gets the sign-in page (`logins.is_current_session`).
A session ends after `Settings.session_idle_minutes` without a request: the cookie is signed again on every
request and Flask refuses one signed longer ago than that.

Failed sign-ins are limited per account and per address (Flask-Limiter, SIGN_IN_LIMITS): past them the form
says when to try again. Behind a reverse proxy, SMSCRM_TRUSTED_PROXIES says how many X-Forwarded-For hops to
believe; otherwise every client would share the proxy's address.
"""
from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from flask import Blueprint, Flask, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import format_timedelta, gettext
from flask_babel import lazy_gettext as _l
from flask_limiter import Limiter, RateLimitExceeded
from flask_limiter.util import get_remote_address
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_wtf import FlaskForm
from werkzeug.middleware.proxy_fix import ProxyFix
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length

from smscrm.accounts import logins
from smscrm.config import Settings
from smscrm.models import Merchant, StaffUser
from smscrm.web import i18n, roles
from smscrm.web.request_db import db_session

blueprint = Blueprint("auth", __name__)
login_manager = LoginManager()
login_manager.login_view = "auth.sign_in"
login_manager.login_message = _l("Please sign in to see that page.")
login_manager.login_message_category = "info"
limiter = Limiter(key_func=get_remote_address, strategy="moving-window")
WRONG_CREDENTIALS = _l("That email and password do not match. Check both and try again.")
# Failed attempts allowed per account and per address; each further window makes the wait longer.
SIGN_IN_LIMITS = "5 per minute; 10 per 15 minutes; 20 per hour"


def init_app(app: Flask, settings: Settings) -> None:
    app.config.update(
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=settings.session_idle_minutes),
        SESSION_REFRESH_EACH_REQUEST=True,
        RATELIMIT_STORAGE_URI=settings.rate_limit_storage_uri,
    )
    if settings.trusted_proxies:  # the client's address, for the per-address limit, is the proxies' X-Forwarded-For
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxies)
    login_manager.init_app(app)
    limiter.init_app(app)
    app.register_error_handler(RateLimitExceeded, _too_many_attempts)


@dataclass(eq=False)
class SignedIn(UserMixin):
    """The staff user of this request, as Flask-Login sees them."""

    user: StaffUser

    def get_id(self) -> str:
        return f"{self.user.id}:{self.user.session_epoch}"

    @property
    def merchant_id(self) -> int:
        return self.user.merchant_id

    @property
    def merchant(self) -> Merchant:
        return self.user.merchant


@login_manager.user_loader
def _load_user(session_id: str) -> SignedIn | None:
    user_id, _, epoch = session_id.partition(":")
    if not (user_id.isdigit() and epoch.isdigit()):
        return None
    user = db_session().get(StaffUser, int(user_id))
    return SignedIn(user) if logins.is_current_session(user, int(epoch)) else None


def protected_blueprint(name: str, import_name: str, *, is_owner_only: bool = False, **options) -> Blueprint:
    """A blueprint whose every view needs a signed-in user (with `is_owner_only`, the owner: staff get 403);
    its pages are never cached."""
    protected = Blueprint(name, import_name, **options)
    protected.before_request(_require_sign_in)
    if is_owner_only:
        protected.before_request(roles.require_owner)
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


def open_session(user: StaffUser) -> None:
    """Open a session for `user` (a fresh cookie, its idle time counting from now)."""
    session.clear()
    session.permanent = True
    login_user(SignedIn(user))


class SignInForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(_l("Enter your email address.")), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(_l("Enter your password."))])


def _account_attempted() -> str:
    """The account a sign-in tries, hashed: the limiter's key (and its log lines) never hold the email."""
    email = (request.form.get("email") or "").strip().lower()
    return "account:" + hashlib.sha256(email.encode()).hexdigest()[:24]


def _failed(response) -> bool:
    return response.status_code != 302  # a sign-in that worked redirects


@blueprint.route("/sign-in", methods=["GET", "POST"])
@limiter.limit(SIGN_IN_LIMITS, methods=["POST"], deduct_when=_failed)
@limiter.limit(SIGN_IN_LIMITS, methods=["POST"], deduct_when=_failed, key_func=_account_attempted, scope="account")
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
            open_session(user)
            i18n.remember(user)
            return redirect(destination or url_for("home.dashboard"))
        error = WRONG_CREDENTIALS
    return _sign_in_page(form, error, destination)


def _sign_in_page(form: SignInForm, error: str | None, destination: str | None, status: int = 200):
    return render_template(
        "auth/sign_in.html", form=form, error=error, next=destination, idle_time=_idle_time()
    ), status


def _idle_time() -> str:
    """How long a session lasts without a request, in words of the page's language ("8 hours", "8小时")."""
    return format_timedelta(current_app.permanent_session_lifetime, threshold=1)


def _too_many_attempts(exc: RateLimitExceeded):
    """Past the limit: the form again, saying how long to wait (and a Retry-After header)."""
    breached = limiter.current_limit
    wait = min(max(1, math.ceil(breached.reset_at - time.time())), breached.limit.get_expiry())
    when = f"{math.ceil(wait / 60)} minutes" if wait > 90 else f"{wait} seconds"
    error = f"Too many failed sign-ins. For your security, wait {when} and try again."
    body, status = _sign_in_page(SignInForm(), error, safe_next(request.args.get("next")), 429)
    return body, status, {"Retry-After": str(wait)}


@blueprint.post("/sign-out")
def sign_out():
    language = session.get(i18n.SESSION_KEY)
    if current_user.is_authenticated:
        logins.end_sessions(db_session(), current_user.user)
        db_session().commit()
    logout_user()
    session.clear()
    if language:
        session[i18n.SESSION_KEY] = language  # the sign-in page stays in the language just read
    flash(gettext("You are signed out."), "info")
    return redirect(url_for("auth.sign_in"))
