"""Bearer authentication: every API request but the OpenAPI document carries a merchant's key.

A missing, malformed, unknown or revoked key is answered 401 with a message saying which,
and the request goes no further. The merchant of the key is the only merchant the request sees.
"""
from __future__ import annotations

import logging

from flask import g, jsonify, request

from smscrm.accounts import api_keys
from smscrm.api import blueprint
from smscrm.db.engine import utcnow
from smscrm.models import Merchant
from smscrm.web.request_db import db_session

log = logging.getLogger(__name__)
PUBLIC_ENDPOINTS = {"api.openapi_document"}
REFUSALS = {
    api_keys.KeyCheck.MALFORMED: (
        "invalid_api_key", "that is not an smscrm API key; keys look like sk_0123456789ab_… (55 characters)"
    ),
    api_keys.KeyCheck.UNKNOWN: ("invalid_api_key", "the API key is not valid; check that it was copied whole"),
    api_keys.KeyCheck.REVOKED: ("revoked_api_key", "this API key was revoked; ask the merchant for a new one"),
}


def current_merchant() -> Merchant:
    """The merchant whose key authenticated this request, in the request's session."""
    return g.api_merchant


def _unauthorized(code: str, message: str):
    response = jsonify(error={"code": code, "message": message})
    response.status_code = 401
    response.headers["WWW-Authenticate"] = 'Bearer realm="smscrm"'
    return response


@blueprint.before_request
def require_api_key():
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    header = request.headers.get("Authorization", "").strip()
    if not header:
        return _unauthorized("missing_api_key", "send your API key in the header Authorization: Bearer <key>")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        return _unauthorized("invalid_api_key", "the Authorization header must read: Bearer <key>")
    session = db_session()
    checked = api_keys.authenticate(session, key.strip(), now=utcnow())
    if checked.merchant is None:
        log.warning("API request refused (%s key) on %s %s", checked.refusal, request.method, request.path)
        return _unauthorized(*REFUSALS[checked.refusal])
    if checked.noted_use:  # kept even when the request itself changes nothing
        session.commit()
    g.api_merchant = checked.merchant
    return None
