"""The production transport: Twilio's Messages API through the official twilio client."""
from __future__ import annotations

import logging
import threading
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

import requests
from twilio.base.exceptions import TwilioException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from smscrm.config import Settings
from smscrm.sending.transports.base import (
    PermanentSendError,
    SendError,
    TransientSendError,
)

TWILIO_API = "https://api.twilio.com"
CLOCK_SKEW = timedelta(minutes=2)  # Twilio's clock against ours, when matching creation times
LOOKUP_LIMIT = 20  # the newest messages between two numbers that a lookup reads
# Twilio's client logs every request at INFO, eleven lines each, with the recipient's number in a
# lookup's URL: its own logger, kept to warnings.
QUIET_LOG = logging.getLogger("smscrm.sending.transports.twilio.http")
QUIET_LOG.setLevel(logging.WARNING)


class BaseUrlHttpClient(TwilioHttpClient):
    """Twilio's HTTP client, sending to `base_url` instead of https://api.twilio.com when one is
    set (TWILIO_API_BASE_URL: a proxy, or the test fake). Keeps the last response for Retry-After."""

    def __init__(self, base_url: str, *, timeout: float):
        super().__init__(timeout=timeout, logger=QUIET_LOG)
        self.base_url = base_url
        self.last_response = None

    def request(self, method, url, *args, **kwargs):
        if self.base_url and url.startswith(TWILIO_API + "/"):
            url = self.base_url + url.removeprefix(TWILIO_API)
        self.last_response = None
        self.last_response = super().request(method, url, *args, **kwargs)
        return self.last_response


class TwilioTransport:
    """Sends with one twilio Client per thread (its requests session is not thread-safe)."""

    name = "twilio"

    def __init__(
        self, *, account_sid: str, auth_token: str, base_url: str = "", timeout_seconds: float = 10.0,
        status_callback: str = "",
    ):
        self._account_sid = account_sid
        self._auth_token = auth_token
        self._base_url = base_url
        self._timeout = timeout_seconds
        self._status_callback = status_callback
        self._local = threading.local()
        self.max_send_seconds = 4 * timeout_seconds  # a lookup and a send, each a connect and a read

    @classmethod
    def from_settings(cls, settings: Settings) -> "TwilioTransport":
        """Status callbacks go to our /sms/status when the public URL is known."""
        return cls(
            account_sid=settings.twilio_account_sid,
            auth_token=settings.twilio_auth_token,
            base_url=settings.twilio_api_base_url,
            timeout_seconds=settings.twilio_timeout_seconds,
            status_callback=f"{settings.public_url}/sms/status" if settings.public_url else "",
        )

    def client(self) -> Client:
        """This thread's client, created on first use."""
        client = getattr(self._local, "client", None)
        if client is None:
            http_client = BaseUrlHttpClient(self._base_url, timeout=self._timeout)
            client = Client(self._account_sid, self._auth_token, http_client=http_client)
            self._local.client = client
        return client

    def send(self, *, to: str, from_: str, body: str) -> str:
        options = {"status_callback": self._status_callback} if self._status_callback else {}
        with self._translated_errors():
            return self.client().messages.create(to=to, from_=from_, body=body, **options).sid

    def find_sent(self, *, to: str, from_: str, body: str, since: datetime) -> list[str]:
        """Matched on creation time here: Twilio's DateSent filter would miss messages still
        queued at Twilio, which have no send date yet."""
        with self._translated_errors():
            recent = self.client().messages.list(to=to, from_=from_, limit=LOOKUP_LIMIT)
        earliest = since - CLOCK_SKEW
        return [m.sid for m in recent if m.body == body and m.date_created and m.date_created >= earliest]

    @contextmanager
    def _translated_errors(self):
        """Twilio's and the network's exceptions as Transient- or PermanentSendError."""
        try:
            yield
        except TwilioException as exc:
            raise self._send_error(exc) from exc
        except requests.RequestException as exc:
            raise TransientSendError(f"no answer from Twilio ({exc.__class__.__name__})") from exc

    def _send_error(self, exc: TwilioException) -> SendError:
        """HTTP 429 and 5xx are worth retrying; any other answer is final."""
        status = getattr(exc, "status", None)
        code = getattr(exc, "code", None)
        code = code if isinstance(code, int) else None
        message = getattr(exc, "msg", None) or getattr(exc, "detail", None) or getattr(exc, "title", None) or str(exc)
        if status is None or status == 429 or status >= 500:
            response = self.client().http_client.last_response
            value = str((response.headers or {}).get("Retry-After", "")).strip() if response else ""
            return TransientSendError(message, code=code, **retry_after(value))
        return PermanentSendError(message, code=code)


def retry_after(value: str) -> dict:
    """An HTTP Retry-After header as TransientSendError's arguments: a number of seconds
    (`retry_after`) or an HTTP date (`retry_at`, UTC); nothing when it is absent or unreadable."""
    if value.isdigit():
        return {"retry_after": float(value)}
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return {}
    if moment.tzinfo is None:  # RFC 9110 dates are GMT; parsedate gives "-0000" as naive
        moment = moment.replace(tzinfo=timezone.utc)
    return {"retry_at": moment.astimezone(timezone.utc)}
