"""The REST API for shop systems (POS) at `/api/v1`: JSON in and out, one bearer key per merchant.

Every error is `{"error": {"code", "message"}}` with a 4xx status (see smscrm.web.http_errors).
"""
from __future__ import annotations

from flask import Blueprint

blueprint = Blueprint("api", __name__, url_prefix="/api/v1")

from smscrm.api import auth, members, openapi, purchases, redemptions  # noqa: E402,F401  (views register themselves)
