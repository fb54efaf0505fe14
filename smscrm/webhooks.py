"""Twilio's webhooks: inbound texts (`POST /sms/inbound`) and delivery status (`POST /sms/status`).

Every request must carry a valid X-Twilio-Signature for the public URL it was sent to;
a missing or wrong one is answered 403 and nothing is stored.
"""
from __future__ import annotations

import logging
from functools import wraps

from flask import Blueprint, Flask, Response, abort, current_app, jsonify, request
from sqlalchemy.exc import IntegrityError
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from smscrm import delivery, inbound, phones
from smscrm.db import utcnow
from smscrm.errors import NotFound
from smscrm.request_db import db_session

log = logging.getLogger(__name__)
blueprint = Blueprint("webhooks", __name__, url_prefix="/sms")


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
            validator = RequestValidator(settings.signing_token)
            if not signature or not validator.validate(signed_url(), request.form.to_dict(), signature):
                log.warning("rejected a webhook with a missing or wrong signature: %s", request.path)
                abort(403, "missing or invalid X-Twilio-Signature")
        return view(*args, **kwargs)

    return checked


def _required(*names: str) -> dict[str, str]:
    missing = [name for name in names if not request.form.get(name)]
    if missing:
        abort(400, f"missing form field(s): {', '.join(missing)}")
    return {name: request.form[name] for name in names}


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
    twiml = MessagingResponse()
    if reply.body:
        twiml.message(reply.body)
    return Response(str(twiml), mimetype="text/xml")


def _handle_once(sms: inbound.InboundSms) -> inbound.Reply:
    """Handle and commit; if a concurrent retry of the same MessageSid won the race, answer as it did."""
    session = db_session()
    try:
        reply = inbound.handle(session, sms, utcnow())
        session.commit()
        return reply
    except IntegrityError:
        session.rollback()
        return inbound.handle(session, sms, utcnow())


@blueprint.post("/status")
@twilio_signed
def receive_status():
    fields = _required("MessageSid", "MessageStatus")
    error_code = request.form.get("ErrorCode", "")
    session = db_session()
    known = delivery.record_status(
        session,
        provider_sid=fields["MessageSid"],
        status=fields["MessageStatus"],
        error_code=int(error_code) if error_code.isdigit() else None,
        now=utcnow(),
    )
    session.commit()
    return jsonify(recorded=known), 200


def init_app(app: Flask) -> None:
    app.register_blueprint(blueprint)
