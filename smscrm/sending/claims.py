"""Claims and leases: which due outbox rows a worker takes, how each is judged as it is taken, and the
lease under which a worker holds the rows it took.

- Due rows are locked with SELECT … FOR UPDATE SKIP LOCKED (replies, then transactional, care and marketing
  texts, each the longest due first), so workers never share a row.
- In the same transaction each is judged: already sent (a stored sid), opted out (suppressed), quiet
  hours at the recipient (deferred to the window's opening), over the weekly cap of care and marketing
  texts (skipped, `courtesy.counts_toward_cap`);
  the rest become `sending`, the worker's, under a short lease.
- A live worker renews its leases; a dead worker's rows go back to the queue when the lease runs out
  (`recover_expired_leases`); rows held but not sent are released.
"""
from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session

from smscrm.messaging import consent, courtesy, phones
from smscrm.models import Campaign, CampaignStatus, Category, OutboundMessage, Status
from smscrm.models.message import IS_QUEUED, IS_SENDING

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8  # a row is sent at most this often (with the backoff of `attempts.retry_delay`, about an hour)
LEASE = timedelta(seconds=30)  # a dead worker's rows wait at most this long
HOLD_SECONDS = 2.0  # texts of one sender number held beyond what it can send in this time stay queued
URGENT = (Category.REPLY, Category.TRANSACTIONAL)  # claimed before marketing and care
CLAIM_ORDER = (*URGENT, Category.CARE, Category.MARKETING)  # a member's care text before a campaign's


@dataclass
class Claim:
    """A row this worker holds, as plain data the sending threads can read."""

    id: int
    merchant_id: int
    to_phone: str
    from_phone: str
    body: str
    category: str
    attempts: int  # attempts before this one
    first_attempt_at: datetime | None
    claimed_at: datetime
    dispatched_at: datetime | None = None
    waited_behind_another: bool = False  # an earlier text to the recipient went first (it may have opted out)

    @property
    def recipient(self) -> tuple[int, str]:
        return self.merchant_id, self.to_phone

    @property
    def is_last_check(self) -> bool:
        """Every attempt is spent: only ask the provider whether the last one got through."""
        return self.attempts >= MAX_ATTEMPTS


@dataclass
class Claimed:
    """What one claim brought: texts to hold, how many rows it settled at once, the merchants' rules."""

    at: datetime
    settled: int
    claims: list[Claim]
    rules: dict
    is_full: bool  # as many rows as asked for: more may be due


def lock_due(
    session: Session, *, now: datetime, room: int, holding: Counter, number_cap: int | None
) -> list[OutboundMessage]:
    """Lock due rows, category by category in CLAIM_ORDER, the longest due first. A sender number gets no more
    rows than `number_cap` counting those `holding` already (the rest stay unlocked, for other workers).
    One category at a time, the queue index (status, category, send_after, id) hands the rows over in order and
    the query stops at `room`, however long the queue (a campaign to a million members)."""
    cap = number_cap or room
    full = [number for number, count in holding.items() if count >= cap]
    rows: list[OutboundMessage] = []
    for category in CLAIM_ORDER:
        rows += session.scalars(
            select(OutboundMessage)
            .where(
                IS_QUEUED, OutboundMessage.category == category, OutboundMessage.send_after <= now,
                OutboundMessage.from_phone.not_in(full), ~_of_stopped_campaign(),
            )
            .order_by(OutboundMessage.send_after, OutboundMessage.id)
            .limit(room - len(rows))
            .with_for_update(skip_locked=True)
        ).all()
        if len(rows) >= room:
            break
    held = Counter(holding)
    kept = []
    for row in rows:
        if held[row.from_phone] < cap:
            held[row.from_phone] += 1
            kept.append(row)
    return kept


def judge(
    session: Session, rows: list[OutboundMessage], *, now: datetime, worker_id: str, lease: timedelta,
    rules: dict[int, courtesy.MerchantRules],
) -> list[OutboundMessage]:
    """Settle what must not be sent now; make the rest `worker_id`'s and return them. `rules` (the
    merchants' courtesy settings) is filled in for the merchants seen."""
    rules.update(courtesy.merchant_rules(session, {row.merchant_id for row in rows}))
    opted_out = consent.opted_out_among(session, {(row.merchant_id, row.to_phone) for row in rows})
    capped = {row.id for row in rows if _counts_toward_cap(row)}  # a retry was counted at its first attempt
    members = {row.member_id for row in rows if row.id in capped}
    courtesy.lock_cap_checks(session, members)
    counts = Counter(courtesy.capped_counts(session, members, now=now))
    claimed = []
    for row in rows:
        merchant_rules = rules[row.merchant_id]
        due_at = merchant_rules.due_at(row.category, row.to_phone, now=now)
        if row.provider_sid:
            _settle(row, now, status=Status.SENT)  # an earlier worker stored the sid, then died
        elif (row.merchant_id, row.to_phone) in opted_out:
            suppress(row, now)
        elif due_at > now:
            defer(row, due_at)
        elif row.id in capped and counts[row.member_id] >= merchant_rules.weekly_cap:
            log.info("message %s to %s skipped: the weekly cap of %d is reached", row.id,
                     phones.mask(row.to_phone), merchant_rules.weekly_cap)
            _settle(row, now, status=Status.SKIPPED, skip_reason=courtesy.FREQUENCY_CAP)
        else:
            counts[row.member_id] += row.id in capped
            row.status, row.claimed_by, row.lease_expires_at = Status.SENDING, worker_id, now + lease
            claimed.append(row)
    session.flush()
    return claimed


def claim_of(row: OutboundMessage, now: datetime) -> Claim:
    """The claimed row as the worker holds it."""
    return Claim(
        id=row.id, merchant_id=row.merchant_id, to_phone=row.to_phone, from_phone=row.from_phone, body=row.body,
        category=row.category, attempts=row.attempts, first_attempt_at=row.first_attempt_at, claimed_at=now,
    )


def renew_leases(session: Session, *, worker_id: str, now: datetime) -> None:
    """Extend the lease of every row `worker_id` holds: it is alive."""
    session.execute(
        update(OutboundMessage)
        .where(IS_SENDING, OutboundMessage.claimed_by == worker_id)
        .values(lease_expires_at=now + LEASE)
        .execution_options(synchronize_session=False)
    )


def release(session: Session, claims: list[Claim], *, worker_id: str) -> None:
    """Give back rows held but not sent (no attempt was made: nothing to look up later)."""
    session.execute(
        update(OutboundMessage)
        .where(
            OutboundMessage.id.in_([claim.id for claim in claims]),
            OutboundMessage.status == Status.SENDING,
            OutboundMessage.claimed_by == worker_id,
        )
        .values(status=Status.QUEUED, claimed_by=None, lease_expires_at=None)
        .execution_options(synchronize_session=False)
    )


def recover_expired_leases(session: Session, *, now: datetime) -> int:
    """Put rows whose worker died mid-send back in the queue; returns how many. The domain flushes,
    the caller commits (the scheduler runs this too)."""
    result = session.execute(
        update(OutboundMessage)
        .where(IS_SENDING, OutboundMessage.lease_expires_at < now)
        .values(status=Status.QUEUED, lease_expires_at=None)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount:
        log.warning("re-queued %d outbound message(s) whose worker stopped mid-send", result.rowcount)
    return result.rowcount


def suppress(row: OutboundMessage, now: datetime) -> None:
    """The phone opted out: the row leaves the queue unsent."""
    log.info("message %s to %s suppressed: the phone opted out", row.id, phones.mask(row.to_phone))
    _settle(row, now, status=Status.SUPPRESSED)


def defer(row: OutboundMessage, until: datetime) -> None:
    """Quiet hours at the recipient: back to the queue until the sending window opens."""
    row.status, row.send_after, row.claimed_by, row.lease_expires_at = Status.QUEUED, until, None, None
    row.deferrals += 1


def _settle(row: OutboundMessage, now: datetime, **values) -> None:
    """A claimed row that leaves the queue without a provider call."""
    for name, value in values.items():
        setattr(row, name, value)
    row.status_updated_at = now
    row.lease_expires_at = None


def _of_stopped_campaign():
    """A row of a paused or cancelled campaign. Pausing holds the queued rows, but a row that was in
    flight at that moment and comes back for a retry must wait too (until resumed), or never go."""
    return exists().where(
        Campaign.id == OutboundMessage.campaign_id,
        Campaign.status.in_((CampaignStatus.PAUSED, CampaignStatus.CANCELLED)),
    )


def _counts_toward_cap(row: OutboundMessage) -> bool:
    return courtesy.counts_toward_cap(row.category, row.member_id) and row.attempts == 0
