"""What every transport offers the delivery worker, and the two ways a send can fail."""
from __future__ import annotations

from datetime import datetime
from typing import Protocol


class SendError(Exception):
    """The provider did not take the text. `code` is the provider's error code when it gave one."""

    def __init__(self, message: str, *, code: int | None = None):
        super().__init__(message)
        self.message = message
        self.code = code


class TransientSendError(SendError):
    """Worth trying again later: rate limited, provider trouble, timeout, no connection.

    When the provider said when to come back (Retry-After), `retry_after` is that wait in seconds,
    or `retry_at` the moment it named.
    """

    def __init__(
        self, message: str, *, code: int | None = None, retry_after: float | None = None,
        retry_at: datetime | None = None,
    ):
        super().__init__(message, code=code)
        self.retry_after = retry_after
        self.retry_at = retry_at


class PermanentSendError(SendError):
    """Trying again cannot help: invalid number, not a mobile, recipient unsubscribed (21610) ..."""


class Transport(Protocol):
    """Sends one text and answers whether an earlier attempt already reached the provider."""

    name: str
    max_send_seconds: float  # the longest a send (with its provider check) can block

    def send(self, *, to: str, from_: str, body: str) -> str:
        """Hand the text to the provider; return its id for the message (the sid).

        Raises TransientSendError or PermanentSendError.
        """

    def find_sent(self, *, to: str, from_: str, body: str, since: datetime) -> list[str]:
        """Ids of messages with this body, to and from these numbers, created at or after `since`,
        newest first; empty when the provider cannot tell. Raises TransientSendError."""
