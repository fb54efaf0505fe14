"""SMS transports: `twilio` sends for real, `console` logs texts during development."""
from __future__ import annotations

from smscrm.config import Settings
from smscrm.errors import ConfigError
from smscrm.sending.transports.base import (
    PermanentSendError,
    SendError,
    TransientSendError,
    Transport,
)
from smscrm.sending.transports.console import ConsoleTransport
from smscrm.sending.transports.twilio import TwilioTransport

__all__ = [
    "ConsoleTransport",
    "PermanentSendError",
    "SendError",
    "TransientSendError",
    "Transport",
    "TwilioTransport",
    "make_transport",
]


def make_transport(settings: Settings) -> Transport:
    """The transport `settings.sms_backend` names."""
    if settings.sms_backend == "twilio":
        return TwilioTransport.from_settings(settings)
    if settings.sms_backend == "console":
        return ConsoleTransport()
    raise ConfigError(f"unknown SMS backend {settings.sms_backend!r}; use console or twilio")
