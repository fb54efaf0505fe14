"""Text a running smscrm server as Twilio would, so anyone can try the product without a phone."""
from __future__ import annotations

import uuid
from xml.etree import ElementTree

import requests
from twilio.request_validator import RequestValidator

from smscrm.errors import SmscrmError

INBOUND_PATH = "/sms/inbound"


def send_text(url: str, *, to_number: str, from_number: str, body: str, token: str, signed_base: str) -> str | None:
    """POST a signed inbound-SMS webhook to `url` and return the reply text (None for silence)."""
    params = {
        "MessageSid": "SM" + uuid.uuid4().hex,
        "AccountSid": "AC" + "0" * 32,
        "From": from_number,
        "To": to_number,
        "Body": body,
        "NumMedia": "0",
    }
    signature = RequestValidator(token).compute_signature(signed_base.rstrip("/") + INBOUND_PATH, params)
    try:
        response = requests.post(
            url.rstrip("/") + INBOUND_PATH, data=params, headers={"X-Twilio-Signature": signature}, timeout=15
        )
    except requests.ConnectionError:
        raise SmscrmError(f"no server answers at {url}; start one with `make run`") from None
    if response.status_code == 403:
        raise SmscrmError("the server refused the signature: use the server's TWILIO_AUTH_TOKEN (--token)")
    if response.status_code != 200:
        raise SmscrmError(f"the server answered {response.status_code}: {_error_message(response)}")
    return reply_text(response.text)


def reply_text(twiml: str) -> str | None:
    """The text of the <Message> elements of a TwiML response, joined; None when it has none."""
    messages = [element.text or "" for element in ElementTree.fromstring(twiml).iter("Message")]
    return "\n".join(messages) if messages else None


def _error_message(response: requests.Response) -> str:
    try:
        return response.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return response.text[:200]
