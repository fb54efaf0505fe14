"""Delivery: the worker that takes due outbox rows to the SMS transport.

A worker runs one loop (`run_worker`), and any number of workers may run side by side on PostgreSQL:
1. claim: due rows are locked with SELECT … FOR UPDATE SKIP LOCKED (replies, then transactional, care
   and marketing texts, each the longest due first), so workers never share a row; in the same transaction each is judged — already sent
   (a stored sid), opted out (suppressed), quiet hours at the recipient (deferred to the window's
   opening), over the weekly cap of care and marketing texts (skipped) — and the rest become
   `sending`, this worker's, under a short lease. The claim is committed before any provider call.
2. lease: while the worker lives it renews its leases every few seconds; when it dies, its rows go
   back to the queue once the lease runs out (`recover_expired_leases`, run by every worker and by
   the scheduler), within a minute.
3. dispatch: texts are handed to a pool of threads, so that many provider calls are in flight at
   once, as fast as the shared send-rate buckets allow (`smscrm.sending.send_rate`), one text at a time
   per recipient (they arrive in order, and a carrier opt-out stops the next). The opt-out and the
   sending window are checked again just before the call, and the attempt is committed first.
4. outcome: sent with the provider's sid (stored whatever became of the lease, since it is a fact),
   retried later with exponential backoff, or failed.
A row attempted before is first looked up at the provider, so a text that reached the provider
before its worker died or timed out is not sent twice.

The parts live in `smscrm/sending/`: claims, judging and leases (`claims`); the last checks, the
provider call and its outcome (`attempts`); the loop's state, its claiming thread and sending
threads (`courier`).
"""
from __future__ import annotations

import logging
import math
import threading
import time
from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from smscrm.config import Settings
from smscrm.db import outages
from smscrm.db.engine import utcnow
from smscrm.models import OutboundMessage
from smscrm.sending.claims import LEASE, judge, lock_due, recover_expired_leases
from smscrm.sending.courier import Courier
from smscrm.sending.provider_status import read_error_code, record_status
from smscrm.sending.send_rate import SendLimits
from smscrm.sending.transports import Transport

__all__ = [
    "claim_due", "deliver_due", "read_error_code", "recover_expired_leases", "record_status", "run_worker",
    "worker_options",
]

log = logging.getLogger(__name__)

DEFAULT_CONCURRENCY = 8
STEP_SECONDS = 0.05  # a running worker steps at most 20 times a second


def run_worker(
    sessionmaker: sessionmaker,
    transport: Transport,
    *,
    stop: threading.Event,
    worker_id: str,
    clock=utcnow,
    poll_seconds: float = 1.0,
    batch_size: int = 50,
    limits: SendLimits | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    backoff: outages.Backoff = outages.Backoff(),
) -> None:
    """Deliver until `stop` is set; then finish the calls in flight and give back unsent rows.
    While the database does not answer, the worker tries again after pauses growing by `backoff`, one log line
    each, and carries on by itself when it answers again. Another failed step is logged and tried again after
    a pause."""
    log.info("delivery worker %s started with the %s transport", worker_id, transport.name)
    with Courier(sessionmaker, transport, worker_id=worker_id, batch_size=batch_size, limits=limits,
                 concurrency=concurrency, poll_seconds=poll_seconds) as courier:
        try:
            while not stop.is_set():
                started = time.monotonic()
                try:
                    courier.step(clock())
                    courier.dispatch(clock())  # a fresh moment: the tokens are taken at the time of sending
                    pause = courier.seconds_to_wait(clock())
                except outages.UNREACHABLE as exc:
                    outages.wait_until_reachable(sessionmaker, exc, backoff=backoff, stop=stop,
                                                 who=f"delivery worker {worker_id}")
                    pause = 0.0
                except Exception:
                    log.exception("delivery worker %s: the pass failed; trying again in %ss", worker_id, poll_seconds)
                    pause = poll_seconds
                courier.wait(pause, stop)
                stop.wait(STEP_SECONDS - (time.monotonic() - started))  # outcomes and tokens come in groups
        finally:  # stopped, or interrupted (Ctrl-C): finish what is in flight, give the rest back
            log.info("delivery worker %s stopping: the texts in flight finish, the rest go back to the queue", worker_id)
            try:
                courier.finish(clock)
            except Exception:
                log.exception("delivery worker %s: could not give back its rows; their leases will expire", worker_id)
    log.info("delivery worker %s stopped", worker_id)


def worker_options(settings: Settings) -> dict:
    """`run_worker`'s keyword arguments that come from the settings: the send-rate limits, how many
    provider calls to keep in flight, and claims of about a second's worth of texts."""
    return {
        "limits": SendLimits.from_settings(settings), "concurrency": settings.send_concurrency,
        "batch_size": max(50, math.ceil(settings.send_rate)),
    }


def deliver_due(
    sessionmaker: sessionmaker,
    transport: Transport,
    *,
    now: datetime,
    worker_id: str,
    batch_size: int = 50,
    limits: SendLimits | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> int:
    """One pass at the moment `now`: recover expired leases, claim up to `batch_size` due rows, send
    what the rate limits allow now, record the outcomes, give back the rest. Returns how many rows it
    settled (sent, retried, failed, suppressed, skipped or deferred)."""
    with Courier(sessionmaker, transport, worker_id=worker_id, batch_size=batch_size, limits=limits,
                 concurrency=concurrency) as courier:
        courier.maintain(now)
        settled = courier.claim(now)
        while True:
            progress = courier.record(now) + courier.dispatch(now)
            settled += progress
            if courier.in_flight:
                courier.wait(None, None)
            elif not progress:
                break
        courier.release(now)
    return settled


def claim_due(
    session: Session, *, now: datetime, worker_id: str, batch_size: int, lease: timedelta = LEASE,
) -> list[OutboundMessage]:
    """Lock up to `batch_size` due rows (rows another worker holds are skipped), settle those that
    must not be sent now, and make the rest this worker's under a lease; returns those. Flushes: the
    caller commits the claim before any provider call."""
    rows = lock_due(session, now=now, room=batch_size, holding=Counter(), number_cap=None)
    return judge(session, rows, now=now, worker_id=worker_id, lease=lease, rules={})
