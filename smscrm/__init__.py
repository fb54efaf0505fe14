"""smscrm: an SMS membership and loyalty platform for small merchants."""
from __future__ import annotations

import logging

from flask import Flask

from smscrm.config import Settings


def create_app(config: Settings | None = None) -> Flask:
    """The web application: the merchant pages, and the machine endpoints (Twilio's webhooks, the REST API, the
    health check), which carry no session cookie and no CSRF check and answer errors in JSON (`smscrm.web`)."""
    from smscrm import api, web, webhooks
    from smscrm.web import health, http_errors, request_db

    settings = config or Settings.from_env()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = Flask(__name__)
    app.config.update(SMSCRM=settings, MAX_CONTENT_LENGTH=1024 * 1024)
    request_db.init_app(app, settings)
    http_errors.init_app(app)
    web.init_app(app, settings)
    web.init_machine_endpoints(app, webhooks.blueprint, api.blueprint, health.blueprint)
    return app
