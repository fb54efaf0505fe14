"""The merchant web app: sign-in, and the pages a signed-in owner or staff member uses.

To add a page: write a blueprint with `auth.protected_blueprint(...)` (every view then needs a
signed-in user), add it to BLUEPRINTS, and give it a NAV entry if it belongs in the navigation.

CSRF protection covers every POST of the whole application. Machine endpoints that
authenticate otherwise exempt their blueprint: `from smscrm.web import csrf; csrf.exempt(blueprint)`
(the Twilio webhooks are exempted here, since they are signed by Twilio).
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, render_template
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFError, CSRFProtect

from smscrm import webhooks
from smscrm.web import auth, campaigns, care, formatting, home, inbox, members
from smscrm.web import counter, loyalty, member_detail, money, rewards
from smscrm.web import segments as _segment_views  # noqa: F401  (segment pages, on the campaigns blueprint)

csrf = CSRFProtect()


@dataclass(frozen=True)
class NavEntry:
    endpoint: str
    label: str

    @property
    def blueprint(self) -> str:
        return self.endpoint.partition(".")[0]


BLUEPRINTS = [
    auth.blueprint, home.blueprint, members.blueprint, inbox.blueprint, campaigns.blueprint,
    counter.blueprint, member_detail.blueprint, rewards.blueprint, loyalty.blueprint, care.blueprint,
]
NAV = [
    NavEntry("home.dashboard", "Home"),
    NavEntry("counter.purchase", "Counter"),
    NavEntry("members.index", "Members"),
    NavEntry("inbox.index", "Inbox"),
    NavEntry("care.index", "Care"),
    NavEntry("campaigns.index", "Campaigns"),
    NavEntry("rewards.index", "Rewards"),
    NavEntry("loyalty.settings", "Loyalty"),
]
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


class PageSessions(SecureCookieSessionInterface):
    """Only the web app's pages have a session cookie. Twilio's webhooks and the API are stateless:
    their requests neither read nor set one (and skip signing work on the busiest paths)."""

    STATELESS_PATHS = ("/sms/", "/api/")

    def open_session(self, app, request):
        if request.path.startswith(self.STATELESS_PATHS):
            return None  # Flask gives the request a null session
        return super().open_session(app, request)


def init_app(app: Flask) -> None:
    app.session_interface = PageSessions()
    csrf.init_app(app)
    csrf.exempt(webhooks.blueprint)
    auth.login_manager.init_app(app)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    formatting.init_app(app)
    money.init_app(app)
    app.jinja_env.trim_blocks = app.jinja_env.lstrip_blocks = True
    app.context_processor(lambda: {"nav": NAV})
    app.register_error_handler(CSRFError, _expired_form)
    app.after_request(_security_headers)


def _expired_form(error: CSRFError):
    """A form without a valid token: from another site, or from before the session ended."""
    message = "This form has expired or did not come from this site. Go back, reload the page and try again."
    return render_template("error.html", status=400, message=message), 400


def _security_headers(response):
    if response.mimetype == "text/html":
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
    return response
