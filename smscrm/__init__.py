"""smscrm: an SMS membership and loyalty platform for small merchants."""
from __future__ import annotations

import logging

from flask import Flask

from smscrm.config import Settings


def create_app(config: Settings | None = None) -> Flask:
    """The web application: merchant web app, REST API, Twilio webhooks and health check."""
    from smscrm import api, health, http_errors, request_db, webhooks, web

    settings = config or Settings.from_env()
    app = Flask(__name__)
    app.config.update(
        SMSCRM=settings,
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_SECURE=settings.is_production,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=settings.is_production,
        WTF_CSRF_TIME_LIMIT=None,
        MAX_CONTENT_LENGTH=1024 * 1024,
    )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    request_db.init_app(app, settings)
    http_errors.init_app(app)
    health.init_app(app)
    webhooks.init_app(app)
    web.init_app(app)
    api.init_app(app)
    return app
