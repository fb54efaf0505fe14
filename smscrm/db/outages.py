"""When the database does not answer: the errors that mean it, the one line that says it, and the growing
pauses of whoever keeps trying (the delivery worker, the scheduler's jobs)."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

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
