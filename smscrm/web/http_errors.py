"""One error shape for machines (`{"error": {"code", "message"}}`) and a plain page for people."""
from __future__ import annotations

import logging

from flask import Flask, current_app, jsonify, request
from werkzeug.exceptions import HTTPException, InternalServerError

from smscrm.db import outages
from smscrm.errors import SmscrmError
from smscrm.web import is_for_machines

log = logging.getLogger(__name__)


def init_app(app: Flask) -> None:
    """Errors answered as JSON on the machine endpoints' paths (even where no route matched), or when the client
    asks for it; as a page otherwise."""

    def respond(status: int, code: str, message: str):
        if is_for_machines(request) or request.accept_mimetypes.best == "application/json":
            return jsonify(error={"code": code, "message": message}), status
        # The page is rendered without the context processors: Flask-Login's would load the signed-in user, a
        # database call, and an error page must render even when the database is the problem.
        return current_app.jinja_env.get_template("error.html").render(status=status, message=message), status

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        code = (exc.name or "error").lower().replace(" ", "_")
        body, status = respond(exc.code or 500, code, exc.description or exc.name)
        headers = [(name, value) for name, value in exc.get_headers() if name.lower() != "content-type"]
        return body, status, headers  # keeps Allow (405), WWW-Authenticate (401), Retry-After

    @app.errorhandler(SmscrmError)
    def domain_error(exc: SmscrmError):
        return respond(exc.http_status, exc.code, exc.message)

    def database_unreachable(exc: Exception):
        """503, so that Twilio and shop systems try again; one log line, no traceback."""
        log.error("database unreachable on %s %s: %s", request.method, request.path, outages.reason(exc))
        body, status = respond(503, "database_unavailable", "The database is not answering. Try again in a minute.")
        return body, status, {"Retry-After": "60"}

    for error in outages.UNREACHABLE:
        app.register_error_handler(error, database_unreachable)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return respond(500, "internal_error", InternalServerError.description)
