"""Send-rate limits shared by every worker: texts per second for the account and per sender number.

Each limit is a token bucket stored as a row of `send_rate_buckets`, so that all workers, in any
number of processes, draw from the same buckets. A bucket fills at its rate up to a burst of a
tenth of a second's worth (at least one token). Every text takes a token from the account's
bucket and one from its sender number's, in one transaction that locks the rows it needs with
SELECT … FOR UPDATE in key order (so workers never deadlock). Hence, over any span of t seconds,
the account sends at most rate × t + burst texts however many workers run, and so does each number.

The time is the worker's clock: keep the hosts on NTP. A clock that is behind refills nothing
rather than turning a bucket back, so clock skew between hosts can only slow sending down.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from smscrm.config import Settings
from smscrm.db.conflicts import insert_on_conflict
from smscrm.models import SendRateBucket

BURST_SECONDS = 0.1
EPSILON = 1e-9  # float rounding must not cost a token


@dataclass(frozen=True)
class Rate:
    """A steady rate in texts per second, with the burst a bucket can save up."""

    per_second: float

    @property
    def burst(self) -> float:
        return max(1.0, self.per_second * BURST_SECONDS)

    def refilled(self, tokens: float, seconds: float) -> float:
        """What a bucket holds `seconds` after it held `tokens` (nothing added for a clock gone back)."""
        return min(self.burst, tokens + max(0.0, seconds) * self.per_second)

    def seconds_until(self, tokens: float, target: float) -> float:
        """How long a bucket holding `tokens` takes to hold `target` (capped at the burst)."""
        return max(0.0, (min(target, self.burst) - tokens) / self.per_second)


@dataclass(frozen=True)
class SendLimits:
    """The account's rate and every sender number's (the same setting for each number)."""

    account: Rate
    number: Rate
    account_key: str = "account"

    @classmethod
    def from_settings(cls, settings: Settings) -> "SendLimits":
        account = settings.twilio_account_sid if settings.sms_backend == "twilio" else settings.sms_backend
        return cls(Rate(settings.send_rate), Rate(settings.number_send_rate), account_key=f"account:{account}")

    def pending_cap(self, seconds: float) -> int:
        """How many texts of one number are worth holding to send within `seconds`."""
        return max(1, math.ceil(self.number.per_second * seconds))


@dataclass(frozen=True)
class Grant:
    """Texts each sender number may send now, and, when some got fewer than they asked for, the
    seconds until it is worth asking again (0 when everyone got everything)."""

    granted: dict[str, int]
    wait_seconds: float


def number_key(number: str) -> str:
    return f"number:{number}"


def take(session: Session, limits: SendLimits, wanted: Mapping[str, int], *, now: datetime) -> Grant:
    """Take tokens for up to `wanted[number]` texts from each sender number, in the mapping's order,
    while the account's bucket lasts. Flushes; the caller commits at once (that releases the rows)."""
    wanted = {number: count for number, count in wanted.items() if count > 0}
    if not wanted:
        return Grant({}, 0.0)
    rates = {limits.account_key: limits.account, **{number_key(number): limits.number for number in wanted}}
    buckets = _locked(session, rates)
    if len(buckets) < len(rates):
        _create_missing(session, rates, known={bucket.key for bucket in buckets}, now=now)
        buckets = _locked(session, rates)
    tokens = {}
    for bucket in buckets:
        tokens[bucket.key] = rates[bucket.key].refilled(bucket.tokens, (now - bucket.refilled_at).total_seconds())
        bucket.refilled_at = max(bucket.refilled_at, now)
    granted, waits = {}, []
    account = limits.account_key
    for number, count in wanted.items():
        key = number_key(number)
        granted[number] = max(0, min(count, math.floor(min(tokens[key], tokens[account]) + EPSILON)))
        tokens[key] -= granted[number]
        tokens[account] -= granted[number]
        if granted[number] < count:
            target = max(1.0, min(count - granted[number], limits.number.burst / 2, limits.account.burst / 2))
            waits.append(max(rates[k].seconds_until(tokens[k], target) for k in (key, account)))
    for bucket in buckets:
        bucket.tokens = tokens[bucket.key]
    session.flush()
    return Grant(granted, min(waits, default=0.0))


def _locked(session: Session, rates: Mapping[str, Rate]) -> list[SendRateBucket]:
    """The buckets that exist among these keys, locked in key order."""
    return session.scalars(
        select(SendRateBucket).where(SendRateBucket.key.in_(rates)).order_by(SendRateBucket.key).with_for_update()
    ).all()


def _create_missing(session: Session, rates: Mapping[str, Rate], *, known: set[str], now: datetime) -> None:
    """A bucket seen for the first time starts full (another worker may create it at the same time)."""
    missing = [{"key": key, "tokens": rate.burst, "refilled_at": now} for key, rate in rates.items() if key not in known]
    if not missing:
        return
    session.execute(
        insert_on_conflict(session, SendRateBucket).values(missing).on_conflict_do_nothing(index_elements=["key"])
    )
