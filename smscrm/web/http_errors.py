"""One error shape for machines (`{"error": {"code", "message"}}`) and a plain page for people."""
from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, InternalServerError

from smscrm.errors import SmscrmError
from smscrm.web import is_for_machines

log = logging.getLogger(__name__)


def init_app(app: Flask) -> None:
    """Errors answered as JSON on the machine endpoints' paths (even where no route matched), or when the client
    asks for it; as a page otherwise."""

    def respond(status: int, code: str, message):
        message = str(message)  # a lazily translated message (flask_babel) becomes text in the page's language
        if is_for_machines(request) or request.accept_mimetypes.best == "application/json":
            return jsonify(error={"code": code, "message": message}), status
        return render_template("error.html", status=status, message=message), status

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        code = (exc.name or "error").lower().replace(" ", "_")
        body, status = respond(exc.code or 500, code, exc.description or exc.name)
        headers = [(name, value) for name, value in exc.get_headers() if name.lower() != "content-type"]
        return body, status, headers  # keeps Allow (405), WWW-Authenticate (401), Retry-After

    @app.errorhandler(SmscrmError)
    def domain_error(exc: SmscrmError):
        return respond(exc.http_status, exc.code, exc.message)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return respond(500, "internal_error", InternalServerError.description)
