"""The merchant web app: sign-in, and the pages a signed-in owner or staff member uses.

To add a page: write a blueprint with `auth.protected_blueprint(...)` (every view then needs a
signed-in user), add it to BLUEPRINTS, and give it a NAV entry if it belongs in the navigation.

CSRF protection covers every POST of the web app. The machine endpoints (`init_machine_endpoints`: Twilio's
webhooks, the REST API, the health check) authenticate otherwise (Twilio's signature, an API key): under
MACHINE_PATHS a request has no session (no cookie read or written, Flask-Login's remember cookie untouched), no CSRF
check, and its errors are JSON (`smscrm.web.http_errors`).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from flask import Blueprint, Flask, Request, render_template
from flask.sessions import SecureCookieSessionInterface
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.csrf import CSRFError, CSRFProtect

from smscrm.config import Settings
from smscrm.web import (
    account,
    auth,
    campaigns,
    care,
    counter,
    formatting,
    home,
    i18n,
    in_person,
    inbox,
    language,
    loyalty,
    member_detail,
    member_export,
    member_import,
    members,
    money,
    rewards,
    roles,
    rows,
    settings,
    upcoming,
)
from smscrm.web import segments as _segment_views  # noqa: F401  (segment pages, on the campaigns blueprint)

csrf = CSRFProtect()
MACHINE_PATHS = ("/sms/", "/api/", "/healthz")  # where the machine endpoints are (a test holds every route to it)


@dataclass(frozen=True)
class NavEntry:
    endpoint: str
    label: str  # a lazy string: translated when the page is drawn
    is_owner_only: bool = False

    @property
    def blueprint(self) -> str:
        return self.endpoint.partition(".")[0]


BLUEPRINTS = [
    auth.blueprint, home.blueprint, members.blueprint, inbox.blueprint, campaigns.blueprint,
    counter.blueprint, member_detail.blueprint, in_person.blueprint, member_import.blueprint, member_export.blueprint,
    rewards.blueprint, loyalty.blueprint, care.blueprint, upcoming.blueprint, settings.blueprint, account.blueprint,
    language.blueprint,
]
NAV = [  # staff work the counter, the members and the inbox; the rest is the owner's
    NavEntry("home.dashboard", _l("Home"), is_owner_only=True),
    NavEntry("counter.purchase", _l("Counter")),
    NavEntry("members.index", _l("Members")),
    NavEntry("inbox.index", _l("Inbox")),
    NavEntry("care.index", _l("Care"), is_owner_only=True),
    NavEntry("calendar.index", _l("Calendar"), is_owner_only=True),
    NavEntry("campaigns.index", _l("Campaigns"), is_owner_only=True),
    NavEntry("rewards.index", _l("Rewards"), is_owner_only=True),
    NavEntry("loyalty.settings", _l("Loyalty"), is_owner_only=True),
    NavEntry("settings.profile", _l("Settings"), is_owner_only=True),
]
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",  # frame-ancestors 'none' for browsers that read no CSP
}
HSTS = "max-age=31536000"  # a year of https only, sent when the public URL is https


def init_app(app: Flask, settings: Settings) -> None:
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_SECURE=settings.is_production,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=settings.is_production,
        WTF_CSRF_TIME_LIMIT=None,
    )
    rows.init_app(app)
    csrf.init_app(app)
    auth.init_app(app, settings)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    i18n.init_app(app)
    formatting.init_app(app)
    money.init_app(app)
    app.jinja_env.trim_blocks = app.jinja_env.lstrip_blocks = True
    app.context_processor(lambda: {"nav": visible_nav(), "language_form": language.LanguageForm})
    app.add_template_global(roles.is_owner)
    app.register_error_handler(CSRFError, _expired_form)
    app.after_request(partial(_security_headers, is_https=settings.public_url.startswith("https://")))
    app.session_interface = _PagesOnlySessions()


def visible_nav() -> list[NavEntry]:
    """The navigation the signed-in user may follow: staff see no owner-only entry."""
    is_owner = current_user.is_authenticated and roles.is_owner()
    return [entry for entry in NAV if is_owner or not entry.is_owner_only]


def init_machine_endpoints(app: Flask, *blueprints: Blueprint) -> None:
    """Endpoints for machines, all under MACHINE_PATHS: no session, no CSRF check (see above)."""
    for blueprint in blueprints:
        csrf.exempt(blueprint)
        app.register_blueprint(blueprint)


def is_for_machines(request: Request) -> bool:
    """Whether `request` is for a machine endpoint (or would be, when no route matched its path)."""
    return request.path.startswith(MACHINE_PATHS)


class _PagesOnlySessions(SecureCookieSessionInterface):
    """The session cookie of the pages: a machine request gets Flask's empty null session, which is never saved."""

    def open_session(self, app, request):
        return None if is_for_machines(request) else super().open_session(app, request)


def _expired_form(error: CSRFError):
    """A form without a valid token: from another site, or from before the session ended."""
    message = gettext("This form has expired or did not come from this site. Go back, reload the page and try again.")
    return render_template("error.html", status=400, message=message), 400


def _security_headers(response, *, is_https: bool):
    """The pages' headers on every page; HSTS on every response of a site served over https."""
    if is_https:
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    if response.mimetype == "text/html":
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
    return response
