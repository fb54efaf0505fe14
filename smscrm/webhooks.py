"""Twilio's webhooks: inbound texts (`POST /sms/inbound`) and delivery status (`POST /sms/status`).

Every request must carry a valid X-Twilio-Signature for the public URL it was sent to;
a missing or wrong one is answered 403 and nothing is stored.
"""
from __future__ import annotations

import hmac
import logging
import string
from functools import wraps
from xml.sax.saxutils import escape

from flask import Blueprint, Flask, Response, abort, current_app, jsonify, request
from sqlalchemy.exc import IntegrityError
from twilio.request_validator import RequestValidator

from smscrm import delivery, inbound
from smscrm.db.engine import utcnow
from smscrm.errors import NotFound
from smscrm.messaging import phones
from smscrm.web.request_db import db_session

log = logging.getLogger(__name__)
blueprint = Blueprint("webhooks", __name__, url_prefix="/sms")


@blueprint.record_once
def _warn_when_unsigned(state) -> None:
    """Production without signature checks takes anyone's POST for Twilio's: said once, when the app starts."""
    settings = state.app.config["SMSCRM"]
    if settings.is_production and not settings.validate_signatures:
        log.warning("SMSCRM_VALIDATE_SIGNATURES is false in production: /sms/ accepts texts and statuses from anyone")


def signed_url() -> str:
    """The URL Twilio signed: the configured public URL (behind a proxy) plus this path and query."""
    public_url = current_app.config["SMSCRM"].public_url
    if not public_url:
        return request.url
    query = request.query_string.decode("latin-1")
    return f"{public_url}{request.path}" + (f"?{query}" if query else "")


def twilio_signed(view):
    @wraps(view)
    def checked(*args, **kwargs):
        settings = current_app.config["SMSCRM"]
        if settings.validate_signatures:
            signature = request.headers.get("X-Twilio-Signature", "")
            if not signature or not _is_signed(settings.signing_token, signature):
                log.warning("rejected a webhook with a missing or wrong signature: %s", request.path)
                abort(403, "missing or invalid X-Twilio-Signature")
        return view(*args, **kwargs)

    return checked


def _is_signed(token: str, signature: str) -> bool:
    """Twilio's RequestValidator decides. The usual case, the URL exactly as configured, is checked first
    with one signature computation; only a mismatch pays for the validator's two (with and without port)."""
    validator, url, form = RequestValidator(token), signed_url(), _SignedFields(request.form.lists())
    return hmac.compare_digest(validator.compute_signature(url, form), signature) or validator.validate(
        url, form, signature
    )


class _SignedFields(dict):
    """The form as RequestValidator reads it: every value of a field (a repeated field is signed with all of
    them), through the `getall` it tries first, so it does not fall back twice through AttributeError."""

    def getall(self, name: str) -> list[str]:
        return self[name]


def _required(*names: str) -> dict[str, str]:
    """The named form fields, trimmed; a missing or blank one (spaces, NULs) is a 400."""
    fields = {name: request.form.get(name, "").strip(_BLANK) for name in names}
    if missing := [name for name, value in fields.items() if not value]:
        abort(400, f"missing or blank form field(s): {', '.join(missing)}")
    return fields


_BLANK = string.whitespace + "\x00"


@blueprint.post("/inbound")
@twilio_signed
def receive_text():
    fields = _required("MessageSid", "From", "To")
    sms = inbound.InboundSms(
        message_sid=fields["MessageSid"][:64],
        from_number=fields["From"],
        to_number=fields["To"],
        body=request.form.get("Body", ""),
    )
    try:
        reply = _handle_once(sms)
    except NotFound as exc:
        log.warning("inbound text to an unknown number %s", phones.mask(sms.to_number))
        abort(404, exc.message)
    return Response(twiml(reply.body), mimetype="text/xml")


def twiml(body: str | None) -> str:
    """The TwiML answer: one <Message> with `body`, or silence. It is what twilio's MessagingResponse
    renders (a test holds the two equal), written without building an XML tree for every text."""
    answer = f"<Response><Message>{escape(body)}</Message></Response>" if body else "<Response />"
    return f'<?xml version="1.0" encoding="UTF-8"?>{answer}'


def _handle_once(sms: inbound.InboundSms) -> inbound.Reply:
    """Handle the text and commit. When a concurrent twin commits first (Twilio retrying this MessageSid, or
    the same phone joining twice at once), roll back and handle it again: it then sees what the twin wrote."""
    session = db_session()
    try:
        reply = inbound.handle(session, sms, utcnow())
        session.commit()
    except IntegrityError:
        session.rollback()
        reply = inbound.handle(session, sms, utcnow())
        session.commit()
    return reply


@blueprint.post("/status")
@twilio_signed
def receive_status():
    fields = _required("MessageSid", "MessageStatus")
    session = db_session()
    known = delivery.record_status(
        session,
        provider_sid=fields["MessageSid"],
        status=fields["MessageStatus"],
        error_code=delivery.read_error_code(request.form.get("ErrorCode")),
        now=utcnow(),
    )
    session.commit()
    return jsonify(recorded=known), 200


def init_app(app: Flask) -> None:
    app.register_blueprint(blueprint)
