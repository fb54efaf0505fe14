"""Delivery: the worker that takes due outbox rows to the SMS transport, and the provider's status reports.

One pass (`deliver_due`):
1. rows whose worker died mid-send (lease expired) go back to the queue;
2. due rows are claimed with SELECT … FOR UPDATE SKIP LOCKED, so workers never share a row, and the
   claim is committed before any provider call;
3. each row is sent unless its phone has opted out (checked now, whatever queued it), and the outcome
   is recorded: sent with the provider's sid, retried later with exponential backoff, or failed.
A row attempted before is first looked up at the provider, so a text that reached the provider
before its worker died or timed out is never sent twice.
"""
from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from smscrm import consent, phones
from smscrm.db import utcnow
from smscrm.models import ConsentAction, ConsentChannel, OutboundMessage, Status
from smscrm.sms import PermanentSendError, SendError, TransientSendError, Transport

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8  # with the backoff below, about an hour of retries
RETRY_BASE = timedelta(seconds=30)
RETRY_CAP = timedelta(hours=1)
LEASE_MARGIN = timedelta(minutes=2)
UNSUBSCRIBED = 21610  # Twilio: the recipient texted STOP to this sender

STATUS_RANK = {
    Status.QUEUED: 0, Status.SENDING: 1, Status.SENT: 2,
    Status.DELIVERED: 3, Status.UNDELIVERED: 3, Status.FAILED: 3,
}
FINAL_RANK = 3
PROVIDER_STATUSES = {  # Twilio's MessageStatus values in our terms
    "accepted": Status.QUEUED, "scheduled": Status.QUEUED, "queued": Status.QUEUED,
    "sending": Status.SENDING, "sent": Status.SENT,
    "delivered": Status.DELIVERED, "read": Status.DELIVERED,
    "undelivered": Status.UNDELIVERED, "failed": Status.FAILED, "canceled": Status.FAILED,
}


def run_worker(
    sessionmaker: sessionmaker,
    transport: Transport,
    *,
    stop: threading.Event,
    worker_id: str,
    clock=utcnow,
    poll_seconds: float = 1.0,
    batch_size: int = 50,
) -> None:
    """Deliver until `stop` is set. A failed pass (database away, …) is logged and retried after a
    pause; after a full batch the next pass starts at once."""
    log.info("delivery worker %s started with the %s transport", worker_id, transport.name)
    while not stop.is_set():
        try:
            handled = deliver_due(sessionmaker, transport, now=clock(), worker_id=worker_id, batch_size=batch_size)
        except Exception:
            log.exception("delivery worker %s: the pass failed; trying again in %ss", worker_id, poll_seconds)
            handled = 0
        if handled < batch_size:
            stop.wait(poll_seconds)
    log.info("delivery worker %s stopped", worker_id)


def deliver_due(
    sessionmaker: sessionmaker, transport: Transport, *, now: datetime, worker_id: str, batch_size: int = 50
) -> int:
    """One pass: recover expired leases, claim up to `batch_size` due rows, send them, record the
    outcomes. Returns how many rows it handled."""
    with sessionmaker() as session:
        recover_expired_leases(session, now=now)
        claimed = claim_due(session, now=now, worker_id=worker_id, batch_size=batch_size,
                            lease=lease_for(transport, batch_size))
        session.commit()
        for message in claimed:
            _deliver(session, transport, message, now=now, worker_id=worker_id)
            session.commit()
    return len(claimed)


def lease_for(transport: Transport, batch_size: int) -> timedelta:
    """Long enough for a whole batch of provider calls, so a live worker's claim never expires."""
    return LEASE_MARGIN + timedelta(seconds=batch_size * transport.max_send_seconds)


def recover_expired_leases(session: Session, *, now: datetime) -> int:
    """Put rows whose worker died mid-send back in the queue; returns how many."""
    result = session.execute(
        update(OutboundMessage)
        .where(OutboundMessage.status == Status.SENDING, OutboundMessage.lease_expires_at < now)
        .values(status=Status.QUEUED, lease_expires_at=None)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount:
        log.warning("re-queued %d outbound message(s) whose worker stopped mid-send", result.rowcount)
    return result.rowcount


def claim_due(
    session: Session, *, now: datetime, worker_id: str, batch_size: int, lease: timedelta
) -> list[OutboundMessage]:
    """Mark up to `batch_size` due rows as this worker's (rows another worker holds are skipped);
    the caller commits the claim before sending."""
    messages = session.scalars(
        select(OutboundMessage)
        .where(OutboundMessage.status == Status.QUEUED, OutboundMessage.send_after <= now)
        .order_by(OutboundMessage.send_after, OutboundMessage.id)
        .limit(batch_size)
        .with_for_update(skip_locked=True)
    ).all()
    for message in messages:
        message.status = Status.SENDING
        message.claimed_by = worker_id
        message.lease_expires_at = now + lease
        message.attempts += 1
        message.first_attempt_at = message.first_attempt_at or now
    session.flush()
    return list(messages)


def retry_delay(attempts: int, retry_after: float | None = None) -> timedelta:
    """Exponential backoff (30 s, 1 min, 2 min, … capped at an hour), never sooner than the
    provider's Retry-After."""
    backoff = min(RETRY_BASE * 2 ** (attempts - 1), RETRY_CAP)
    return max(backoff, timedelta(seconds=retry_after or 0))


def record_status(session: Session, *, provider_sid: str, status: str, error_code: int | None, now: datetime) -> bool:
    """Apply a provider's status report. Reports come late, out of order and repeated: a row only
    moves forward (queued < sending < sent < delivered/undelivered/failed) and its first final
    status stays. Error 21610 opts the recipient out. False when the sid is unknown."""
    message = session.scalar(
        select(OutboundMessage).where(OutboundMessage.provider_sid == provider_sid).with_for_update()
    )
    if message is None:
        log.info("status %r for unknown message %s ignored", status, provider_sid)
        return False
    reported = PROVIDER_STATUSES.get(status.strip().lower())
    if reported is None:
        log.warning("unknown status %r for message %s ignored", status, provider_sid)
    elif STATUS_RANK[reported] > STATUS_RANK.get(message.status, FINAL_RANK):
        message.status = reported
        message.status_updated_at = now
    if error_code is not None and message.error_code is None:
        message.error_code = error_code
        if error_code == UNSUBSCRIBED:
            _opt_out(session, message, now=now)
    session.flush()
    return True


def _deliver(session: Session, transport: Transport, message: OutboundMessage, *, now: datetime, worker_id: str):
    """Send one claimed row and record what happened."""
    if message.provider_sid:
        _finish(session, message, worker_id, status=Status.SENT, status_updated_at=now)
        return
    if consent.is_opted_out(session, message.merchant_id, message.to_phone):
        log.info("message %s to %s suppressed: the phone opted out", message.id, phones.mask(message.to_phone))
        _finish(session, message, worker_id, status=Status.SUPPRESSED, status_updated_at=now)
        return
    if message.attempts > MAX_ATTEMPTS:
        _fail(session, message, worker_id, SendError(f"its worker stopped during all {MAX_ATTEMPTS} attempts"), now=now)
        return
    session.commit()  # no transaction stays open during the provider call
    try:
        sid = _send_once(session, transport, message)
    except TransientSendError as exc:
        _retry_later(session, message, worker_id, exc, now=now)
    except PermanentSendError as exc:
        _fail(session, message, worker_id, exc, now=now)
    else:
        _finish(
            session, message, worker_id, status=Status.SENT, provider_sid=sid, sent_at=now,
            status_updated_at=now, error_code=None, error_message=None,
        )


def _send_once(session: Session, transport: Transport, message: OutboundMessage) -> str:
    """The provider's sid: of an earlier attempt that reached it (not yet recorded), else of a new send."""
    if message.attempts > 1:
        found = transport.find_sent(
            to=message.to_phone, from_=message.from_phone, body=message.body, since=message.first_attempt_at
        )
        earlier = _first_unrecorded(session, found)
        if earlier:
            log.info("message %s: the provider already has it as %s; not sending again", message.id, earlier)
            return earlier
    return transport.send(to=message.to_phone, from_=message.from_phone, body=message.body)


def _first_unrecorded(session: Session, sids: list[str]) -> str | None:
    """The first sid no other row holds (an identical text to the same phone may be another row's)."""
    if not sids:
        return None
    recorded = set(session.scalars(select(OutboundMessage.provider_sid).where(OutboundMessage.provider_sid.in_(sids))))
    session.commit()  # end the read before the provider is called again
    return next((sid for sid in sids if sid not in recorded), None)


def _retry_later(session: Session, message: OutboundMessage, worker_id: str, exc: TransientSendError, *, now):
    if message.attempts >= MAX_ATTEMPTS:
        _fail(session, message, worker_id, exc, now=now)
        return
    delay = retry_delay(message.attempts, exc.retry_after)
    log.info("message %s: attempt %d failed (%s); retrying in %s", message.id, message.attempts, exc.message, delay)
    _finish(
        session, message, worker_id, status=Status.QUEUED, send_after=now + delay,
        error_code=exc.code, error_message=exc.message[:255],
    )


def _fail(session: Session, message: OutboundMessage, worker_id: str, exc: SendError, *, now: datetime):
    log.warning("message %s to %s failed: %s (code %s)", message.id, phones.mask(message.to_phone), exc.message, exc.code)
    _finish(
        session, message, worker_id, status=Status.FAILED, status_updated_at=now,
        error_code=exc.code, error_message=exc.message[:255],
    )
    if exc.code == UNSUBSCRIBED:
        _opt_out(session, message, now=now)


def _opt_out(session: Session, message: OutboundMessage, *, now: datetime) -> None:
    """The provider says the recipient unsubscribed: that is an opt-out, kept as evidence."""
    consent.record_consent(
        session, merchant_id=message.merchant_id, phone=message.to_phone, action=ConsentAction.OPT_OUT,
        channel=ConsentChannel.CARRIER, keyword=f"twilio-{UNSUBSCRIBED}", now=now, source_sid=message.provider_sid,
    )


def _finish(session: Session, message: OutboundMessage, worker_id: str, **values) -> None:
    """Record the outcome of this worker's claim, unless the lease was lost meanwhile (then the row
    is another worker's, whose provider lookup will find anything this one sent)."""
    result = session.execute(
        update(OutboundMessage)
        .where(
            OutboundMessage.id == message.id,
            OutboundMessage.status == Status.SENDING,
            OutboundMessage.claimed_by == worker_id,
        )
        .values(lease_expires_at=None, **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount == 0:
        log.warning("message %s: lease lost before its outcome (%s) was recorded", message.id, values["status"])
