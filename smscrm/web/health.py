"""`GET /healthz`: 200 when the database answers, 503 when it does not."""
from __future__ import annotations

import logging

from flask import Blueprint, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from smscrm.web.request_db import db_session

log = logging.getLogger(__name__)
blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
def healthz():
    try:
        db_session().execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        log.error("health check: database unreachable: %s", exc.__class__.__name__)
        return jsonify(status="unavailable", database="unreachable"), 503
    return jsonify(status="ok", database="ok")
