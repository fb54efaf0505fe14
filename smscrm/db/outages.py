"""When the database does not answer: the errors that mean it, the one line that says it, and how whoever keeps
trying (the delivery worker, the scheduler's jobs) waits for it: pauses that double up to a cap, one line each."""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import sessionmaker

log = logging.getLogger(__name__)

UNREACHABLE = (OperationalError, InterfaceError, PoolTimeout)  # refused, dropped, timed out, pool exhausted


def reason(exc: BaseException) -> str:
    """What the driver said, first line only (e.g. 'connection refused'): for a one-line log entry."""
    said = str(getattr(exc, "orig", None) or exc).strip()
    return said.splitlines()[0] if said else exc.__class__.__name__


@dataclass(frozen=True)
class Backoff:
    """Pauses that double from `base` seconds up to `cap`: the pause before attempt n+1 after n failures."""

    base: float = 1.0
    cap: float = 30.0

    def delay(self, failures: int) -> float:
        return min(self.cap, self.base * 2 ** min(failures - 1, 32))


def wait_until_reachable(
    sessions: sessionmaker, error: BaseException, *, backoff: Backoff, stop: threading.Event, who: str
) -> bool:
    """After `error`, pause and try `SELECT 1`, again and again with pauses growing by `backoff`, one line per
    failed attempt, until the database answers (True) or `stop` is set (False)."""
    failures = 1
    while True:
        delay = backoff.delay(failures)
        log.warning("%s: the database does not answer (%s); trying again in %gs", who, reason(error), delay)
        if stop.wait(delay):
            return False
        try:
            with sessions() as session:
                session.execute(text("SELECT 1"))
        except UNREACHABLE as exc:
            failures, error = failures + 1, exc
            continue
        log.info("%s: the database answers again", who)
        return True
