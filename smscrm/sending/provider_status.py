"""The provider's status reports on sent texts (Twilio's status callbacks).

Reports come late, out of order and repeated: a row only moves forward (queued < sending < sent <
delivered/undelivered/failed) and its first final status stays. Error 21610 (the recipient texted
STOP to the carrier) opts the phone out. A report can also beat the worker's write of the sid it is
about: it is kept and applied when the sid is stored, or dropped after a week if never.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from smscrm.messaging import consent
from smscrm.models import (
    ConsentAction,
    ConsentChannel,
    EarlyStatusReport,
    OutboundMessage,
    Status,
)

log = logging.getLogger(__name__)

UNSUBSCRIBED = 21610  # Twilio: the recipient texted STOP to this sender
MAX_ERROR_CODE_DIGITS = 6  # Twilio's error codes have five digits
KEEP_EARLY_REPORTS = timedelta(days=7)
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


def read_error_code(raw: str | None) -> int | None:
    """The report's ErrorCode as a number; None (unknown) when it is missing or not a code (too long, not ASCII
    digits): the status is recorded all the same."""
    text = (raw or "").strip()
    if not text.isascii() or not text.isdigit() or len(text) > MAX_ERROR_CODE_DIGITS:
        return None
    return int(text)


def record_status(session: Session, *, provider_sid: str, status: str, error_code: int | None, now: datetime) -> bool:
    """Apply a provider's status report; False when no row holds the sid yet (the report is kept)."""
    message = session.scalar(
        select(OutboundMessage).where(OutboundMessage.provider_sid == provider_sid).with_for_update()
    )
    if message is None:
        session.add(EarlyStatusReport(
            provider_sid=provider_sid[:64], status=status.strip().lower()[:16], error_code=error_code, reported_at=now,
        ))
        session.flush()
        log.info("status %r for %s kept until a worker stores that sid", status, provider_sid)
        return False
    _apply(session, message, status, error_code, now=now)
    return True


def apply_early_reports(session: Session, *, now: datetime, sids: Iterable[str] | None = None) -> int:
    """Apply the kept reports whose sid a row now holds (of `sids` only, when given), in the order
    they came, and forget them; forget reports older than a week. Returns how many were applied."""
    query = (
        select(EarlyStatusReport, OutboundMessage)
        .join(OutboundMessage, OutboundMessage.provider_sid == EarlyStatusReport.provider_sid)
        .order_by(EarlyStatusReport.id)
    )
    if sids is not None:
        query = query.where(EarlyStatusReport.provider_sid.in_(list(sids)))
    applied = session.execute(query).all()
    for report, message in applied:
        _apply(session, message, report.status, report.error_code, now=report.reported_at)
        session.delete(report)
    if sids is None:
        session.execute(delete(EarlyStatusReport).where(EarlyStatusReport.reported_at < now - KEEP_EARLY_REPORTS))
    session.flush()
    return len(applied)


def opt_out_unsubscribed(session: Session, message: OutboundMessage, *, now: datetime) -> None:
    """The provider says the recipient unsubscribed: that is an opt-out, kept as evidence."""
    consent.record_consent(
        session, merchant_id=message.merchant_id, phone=message.to_phone, action=ConsentAction.OPT_OUT,
        channel=ConsentChannel.CARRIER, keyword=f"twilio-{UNSUBSCRIBED}", now=now, source_sid=message.provider_sid,
    )


def _apply(session: Session, message: OutboundMessage, status: str, error_code: int | None, *, now: datetime) -> None:
    reported = PROVIDER_STATUSES.get(status.strip().lower())
    if reported is None:
        log.warning("unknown status %r for message %s ignored", status, message.provider_sid)
    elif STATUS_RANK[reported] > STATUS_RANK.get(message.status, FINAL_RANK):
        message.status = reported
        message.status_updated_at = now
    if error_code is not None and message.error_code is None:
        message.error_code = error_code
        if error_code == UNSUBSCRIBED:
            opt_out_unsubscribed(session, message, now=now)
    session.flush()
