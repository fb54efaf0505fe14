"""smscrm: an SMS membership and loyalty platform for small merchants."""
from __future__ import annotations

import logging

from flask import Flask

from smscrm.config import Settings

MACHINE_PATHS = ("/sms/", "/api/", "/healthz")  # served by the machine endpoints' app: see create_app


def create_app(config: Settings | None = None) -> Flask:
    """The web application: the merchant web app, and beside it, for every path under MACHINE_PATHS, the
    machine endpoints (Twilio's webhooks, the REST API, the health check) in a lean app of their own.

    Machines authenticate by signature or API key and are answered TwiML or JSON, so their requests (the
    busiest: every text a shopper sends) skip the web app's browser machinery: the session cookie, the
    CSRF check, the remember-me cookie and the pages' security headers. `machine_app(app)` is that app.
    """
    from smscrm import api, web, webhooks
    from smscrm.web import health, http_errors, request_db

    settings = config or Settings.from_env()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app, machines = _flask_app(settings), _flask_app(settings, static_folder=None)  # machines load no stylesheet
    request_db.init_app(settings, app, machines)
    http_errors.init_app(app)
    http_errors.init_app(machines, json_only=True)
    health.init_app(machines)
    webhooks.init_app(machines)
    api.init_app(machines)
    web.init_app(app, settings)
    _serve_beside(app, machines)
    return app


def machine_app(app: Flask) -> Flask:
    """The app that serves `app`'s machine endpoints (MACHINE_PATHS)."""
    return app.extensions["smscrm.machines"]


def _flask_app(settings: Settings, **options) -> Flask:
    app = Flask(__name__, **options)
    app.config.update(SMSCRM=settings, MAX_CONTENT_LENGTH=1024 * 1024)
    return app


def _serve_beside(app: Flask, machines: Flask) -> None:
    """Requests for MACHINE_PATHS go to `machines`, the others to `app`; either sees the request as it came."""
    serve_pages, serve_machines = app.wsgi_app, machines.wsgi_app

    def dispatch(environ, start_response):
        serve = serve_machines if environ.get("PATH_INFO", "").startswith(MACHINE_PATHS) else serve_pages
        return serve(environ, start_response)

    app.wsgi_app = dispatch
    app.extensions["smscrm.machines"] = machines
