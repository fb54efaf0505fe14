"""The development transport: texts are written to the log instead of being sent."""
from __future__ import annotations

import logging
import uuid
from datetime import datetime

from smscrm.messaging import phones

log = logging.getLogger(__name__)


class ConsoleTransport:
    """Logs each text (recipient masked) and reports it sent under a made-up id."""

    name = "console"
    max_send_seconds = 0.0

    def send(self, *, to: str, from_: str, body: str) -> str:
        sid = f"console-{uuid.uuid4().hex}"
        log.info("SMS %s from %s to %s: %s", sid, from_, phones.mask(to), body)
        return sid

    def find_sent(self, *, to: str, from_: str, body: str, since: datetime) -> list[str]:
        """Nothing leaves this process, so an unfinished attempt never needs looking up."""
        return []
