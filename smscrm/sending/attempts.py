"""Sending one text: what goes now, the last checks before the call, the call, and its outcome.

- Held texts go as fast as the shared send-rate buckets allow (`smscrm.sending.send_rate`). Right
  before the call the sending window is checked again, and the opt-out for a text held for a moment
  or sent after another to the same phone; the attempt is counted and committed first.
- A row attempted before is first looked up at the provider, so a text that reached the provider
  before its worker died or timed out is not sent twice.
- The outcome: sent with the provider's sid (stored whatever became of the lease, since it is a fact),
  retried later with exponential backoff, or failed.
"""
from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from smscrm.messaging import consent, courtesy, phones
from smscrm.models import EarlyStatusReport, OutboundMessage, Status
from smscrm.sending import send_rate
from smscrm.sending.claims import MAX_ATTEMPTS, Claim, defer, suppress
from smscrm.sending.provider_status import UNSUBSCRIBED, apply_early_reports, opt_out_unsubscribed
from smscrm.sending.send_rate import SendLimits
from smscrm.sending.transports import SendError, TransientSendError, Transport

log = logging.getLogger(__name__)

RETRY_BASE = timedelta(seconds=30)
RETRY_CAP = timedelta(hours=1)
RECHECK_AFTER = timedelta(seconds=1)  # a text held longer is checked for an opt-out again before the call


@dataclass
class Outcome:
    """What became of one provider call: the sid it got, or the error."""

    claim: Claim
    sid: str | None = None
    error: SendError | None = None


def within_limits(
    session: Session, limits: SendLimits | None, ready: list[Claim], now: datetime
) -> tuple[list[Claim], datetime | None]:
    """The ready texts the send-rate buckets let go now, in order (the tokens are taken when the
    caller commits), and when to ask again for those left waiting."""
    if limits is None:
        return ready, None
    grant = send_rate.take(session, limits, Counter(claim.from_phone for claim in ready), now=now)
    tokens_at = now + timedelta(seconds=grant.wait_seconds) if grant.wait_seconds else None
    allowance = Counter(grant.granted)
    chosen = []
    for claim in ready:
        if allowance[claim.from_phone] > 0:
            allowance[claim.from_phone] -= 1
            chosen.append(claim)
    return chosen, tokens_at


def recheck(
    session: Session, claims: list[Claim], *, rules: dict[int, courtesy.MerchantRules], worker_id: str, now: datetime
) -> tuple[int, list[Claim]]:
    """The sending window once more, right before the call, and the opt-out for texts held
    longer than a moment since they were claimed or sent after another to the same phone.
    Returns how many rows it settled (suppressed or deferred) and the claims to send."""
    held = {
        claim.recipient for claim in claims
        if claim.waited_behind_another or now - claim.claimed_at >= RECHECK_AFTER
    }
    opted_out = consent.opted_out_among(session, held)
    settled, sendable = 0, []
    for claim in claims:
        due_at = rules[claim.merchant_id].due_at(claim.category, claim.to_phone, now=now)
        if claim.recipient in opted_out or due_at > now:
            row = session.get(OutboundMessage, claim.id, with_for_update=True)
            if row.status == Status.SENDING and row.claimed_by == worker_id:
                suppress(row, now) if claim.recipient in opted_out else defer(row, due_at)
                settled += 1
        else:
            sendable.append(claim)
    session.flush()
    return settled, sendable


def mark_attempts(session: Session, claims: list[Claim], *, now: datetime) -> None:
    """Count the attempt before the call, so a row found in flight later is looked up first."""
    if not claims:
        return
    session.execute(
        update(OutboundMessage)
        .where(OutboundMessage.id.in_([claim.id for claim in claims]))
        .values(
            attempts=OutboundMessage.attempts + 1,
            first_attempt_at=func.coalesce(OutboundMessage.first_attempt_at, now),
        )
        .execution_options(synchronize_session=False)
    )
    for claim in claims:
        claim.first_attempt_at = claim.first_attempt_at or now


def send(sessions: sessionmaker, transport: Transport, claim: Claim) -> Outcome:
    """One provider call (in a pool thread; no database session is shared)."""
    try:
        if claim.attempts:
            earlier = _earlier_send(sessions, transport, claim)
            if earlier:
                log.info("message %s: the provider already has it as %s; not sending again", claim.id, earlier)
                return Outcome(claim, sid=earlier)
        if claim.is_last_check:
            return Outcome(claim, error=SendError(f"its worker stopped during all {MAX_ATTEMPTS} attempts"))
        return Outcome(claim, sid=transport.send(to=claim.to_phone, from_=claim.from_phone, body=claim.body))
    except SendError as exc:
        return Outcome(claim, error=exc)
    except Exception as exc:  # a bug or a surprise from a library: retried like a timeout
        log.exception("message %s: the send raised %s", claim.id, exc.__class__.__name__)
        return Outcome(claim, error=TransientSendError(f"unexpected {exc.__class__.__name__}"))


def record_outcomes(session: Session, outcomes: list[Outcome], *, worker_id: str, now: datetime) -> None:
    """Write the outcomes of finished calls: failures retried or failed for good, sids stored (and the
    status reports that came before their sid applied)."""
    sent = [outcome for outcome in outcomes if outcome.sid]
    for outcome in outcomes:
        if not outcome.sid:
            _record_failure(session, outcome, worker_id, now=now)
    if _store_sids(session, sent, now=now):
        apply_early_reports(session, now=now, sids=[outcome.sid for outcome in sent])


def retry_delay(attempts: int, error: TransientSendError | None = None, *, now: datetime | None = None) -> timedelta:
    """Exponential backoff (30 s, 1 min, 2 min, … capped at an hour), never sooner than the
    provider's Retry-After (seconds, or a date)."""
    delay = min(RETRY_BASE * 2 ** (attempts - 1), RETRY_CAP)
    if error is not None and error.retry_after:
        delay = max(delay, timedelta(seconds=error.retry_after))
    if error is not None and error.retry_at and now is not None:
        delay = max(delay, error.retry_at - now)
    return delay


def _earlier_send(sessions: sessionmaker, transport: Transport, claim: Claim) -> str | None:
    """The sid of an earlier attempt that reached the provider and that no row holds yet (an
    identical text to the same phone may be another row's)."""
    found = transport.find_sent(
        to=claim.to_phone, from_=claim.from_phone, body=claim.body, since=claim.first_attempt_at
    )
    if not found:
        return None
    with sessions() as session:
        recorded = set(session.scalars(
            select(OutboundMessage.provider_sid).where(OutboundMessage.provider_sid.in_(found))
        ))
    return next((sid for sid in found if sid not in recorded), None)


def _record_failure(session: Session, outcome: Outcome, worker_id: str, *, now: datetime) -> None:
    """A call that failed: retried later with backoff when that can help, else failed for good."""
    claim, error = outcome.claim, outcome.error
    attempts = claim.attempts if claim.is_last_check else claim.attempts + 1
    if isinstance(error, TransientSendError) and attempts < MAX_ATTEMPTS:
        delay = retry_delay(attempts, error, now=now)
        log.info("message %s: attempt %d failed (%s); retrying in %s", claim.id, attempts, error.message, delay)
        _finish(session, claim, worker_id, status=Status.QUEUED, send_after=now + delay,
                error_code=error.code, error_message=error.message[:255])
        return
    log.warning("message %s to %s failed: %s (code %s)", claim.id, phones.mask(claim.to_phone), error.message,
                error.code)
    if _finish(session, claim, worker_id, status=Status.FAILED, status_updated_at=now, error_code=error.code,
               error_message=error.message[:255]) and error.code == UNSUBSCRIBED:
        opt_out_unsubscribed(session, session.get(OutboundMessage, claim.id), now=now)


def _store_sids(session: Session, outcomes: list[Outcome], *, now: datetime) -> bool:
    """The provider took these texts: record them whatever became of this worker's leases (a sid is
    a fact; a row recovered meanwhile is then not sent again), unless a row has a sid already. One
    batched UPDATE (executemany), then one read to tell which rows kept another sid and whether
    a status report came before. True when one did (apply the early reports)."""
    if not outcomes:
        return False
    table = OutboundMessage.__table__
    session.execute(
        update(table)
        .where(table.c.id == bindparam("row_id"), table.c.provider_sid.is_(None))
        .values(
            status=Status.SENT, provider_sid=bindparam("sid"), sent_at=bindparam("dispatched_at"),
            status_updated_at=now, lease_expires_at=None, error_code=None, error_message=None,
        ),
        [{"row_id": o.claim.id, "sid": o.sid, "dispatched_at": o.claim.dispatched_at} for o in outcomes],
    )
    reported = select(EarlyStatusReport.id).where(EarlyStatusReport.provider_sid == OutboundMessage.provider_sid)
    rows = session.execute(
        select(OutboundMessage.id, OutboundMessage.provider_sid, reported.exists()).where(
            OutboundMessage.id.in_([outcome.claim.id for outcome in outcomes])
        )
    ).all()
    stored = {row_id: sid for row_id, sid, _early in rows}
    for outcome in outcomes:
        if stored.get(outcome.claim.id) != outcome.sid:
            log.warning("message %s was sent twice: %s came after another sid was stored", outcome.claim.id,
                        outcome.sid)
    return any(early for _id, _sid, early in rows)


def _finish(session: Session, claim: Claim, worker_id: str, **values) -> bool:
    """Record the outcome of this worker's claim, unless the lease was lost meanwhile (then the row
    is another worker's, whose provider lookup will find anything this one sent)."""
    result = session.execute(
        update(OutboundMessage)
        .where(
            OutboundMessage.id == claim.id,
            OutboundMessage.status == Status.SENDING,
            OutboundMessage.claimed_by == worker_id,
        )
        .values(lease_expires_at=None, **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount == 0:
        log.warning("message %s: lease lost before its outcome (%s) was recorded", claim.id, values["status"])
    return result.rowcount == 1
