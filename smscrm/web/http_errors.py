"""One error shape for machines (`{"error": {"code", "message"}}`) and a plain page for people."""
from __future__ import annotations

import logging

from flask import Flask, current_app, jsonify, request
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException

from smscrm.db import outages
from smscrm.errors import SmscrmError
from smscrm.web import is_for_machines
from smscrm.web.i18n import said

log = logging.getLogger(__name__)
# What a person reads instead of werkzeug's English description, when the view gave no message of its own.
PLAIN_MESSAGES = {
    400: _l("The request could not be read. Go back, reload the page and try again."),
    403: _l("You are not allowed to see this page."),
    404: _l("There is no page at this address. Check the link, or go back to the start."),
    405: _l("This address does not take that kind of request."),
    413: _l("What was sent is too large."),
    500: _l("Something went wrong on our side. Try again in a moment."),
    503: _l("The database is not answering. Try again in a minute."),
}


def init_app(app: Flask) -> None:
    """Errors answered as JSON on the machine endpoints' paths (even where no route matched), or when the client
    asks for it; as a page otherwise."""

    def respond(status: int, code: str, message):
        message = str(message)  # a lazily translated message (flask_babel) becomes text in the page's language
        if is_for_machines(request) or request.accept_mimetypes.best == "application/json":
            return jsonify(error={"code": code, "message": message}), status
        # The page is rendered without the context processors: Flask-Login's would load the signed-in user, a
        # database call, and an error page must render even when the database is the problem.
        return current_app.jinja_env.get_template("error.html").render(status=status, message=message), status

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        code = (exc.name or "error").lower().replace(" ", "_")
        status = exc.code or 500
        is_default = exc.description == type(exc).description
        message = PLAIN_MESSAGES[status] if is_default and status in PLAIN_MESSAGES else exc.description or exc.name
        body, status = respond(status, code, message)
        headers = [(name, value) for name, value in exc.get_headers() if name.lower() != "content-type"]
        return body, status, headers  # keeps Allow (405), WWW-Authenticate (401), Retry-After

    @app.errorhandler(SmscrmError)
    def domain_error(exc: SmscrmError):
        return respond(exc.http_status, exc.code, exc.message if is_for_machines(request) else said(exc))

    def database_unreachable(exc: Exception):
        """503, so that Twilio and shop systems try again; one log line, no traceback."""
        log.error("database unreachable on %s %s: %s", request.method, request.path, outages.reason(exc))
        body, status = respond(503, "database_unavailable", PLAIN_MESSAGES[503])
        return body, status, {"Retry-After": "60"}

    for error in outages.UNREACHABLE:
        app.register_error_handler(error, database_unreachable)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return respond(500, "internal_error", PLAIN_MESSAGES[500])
