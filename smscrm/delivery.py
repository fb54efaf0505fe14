"""Delivery: the worker that takes due outbox rows to the SMS transport.

A worker runs one loop (`Courier`), and any number of workers may run side by side on PostgreSQL:
1. claim: due rows are locked with SELECT … FOR UPDATE SKIP LOCKED (replies and transactional texts
   first), so workers never share a row; in the same transaction each is judged — already sent
   (a stored sid), opted out (suppressed), quiet hours at the recipient (deferred to the window's
   opening), over the weekly marketing cap (skipped) — and the rest become `sending`, this worker's,
   under a short lease. The claim is committed before any provider call.
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
"""
from __future__ import annotations

import logging
import math
import sys
import threading
import time
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, exists, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from smscrm.config import Settings
from smscrm.db.engine import utcnow
from smscrm.messaging import consent, courtesy, phones
from smscrm.models import (
    Campaign,
    CampaignStatus,
    Category,
    EarlyStatusReport,
    OutboundMessage,
    Status,
)
from smscrm.models.message import IS_QUEUED, IS_SENDING
from smscrm.sending import send_rate
from smscrm.sending.provider_status import (
    UNSUBSCRIBED,
    apply_early_reports,
    opt_out_unsubscribed,
    record_status,
)
from smscrm.sending.send_rate import SendLimits
from smscrm.sending.transports import SendError, TransientSendError, Transport

__all__ = [
    "Courier", "claim_due", "deliver_due", "recover_expired_leases", "record_status", "retry_delay", "run_worker", "worker_options",
]

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8  # with the backoff below, about an hour of retries
RETRY_BASE = timedelta(seconds=30)
RETRY_CAP = timedelta(hours=1)
LEASE = timedelta(seconds=30)  # a dead worker's rows wait at most this long
RENEW_EVERY = timedelta(seconds=10)
MAINTAIN_EVERY = timedelta(seconds=5)
RECHECK_AFTER = timedelta(seconds=1)  # a text held longer is checked for an opt-out again before the call
HOLD_SECONDS = 2.0  # texts of one sender number held beyond what it can send in this time stay queued
DEFAULT_CONCURRENCY = 8
SWITCH_INTERVAL = 0.0005
STEP_SECONDS = 0.05  # a running worker steps at most 20 times a second
URGENT = (Category.REPLY, Category.TRANSACTIONAL)  # claimed before marketing and care


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


@dataclass
class Outcome:
    claim: Claim
    sid: str | None = None
    error: SendError | None = None


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
) -> None:
    """Deliver until `stop` is set; then finish the calls in flight and give back unsent rows.
    A failed step (database away, …) is logged and tried again after a pause."""
    log.info("delivery worker %s started with the %s transport", worker_id, transport.name)
    # The loop's many short database round trips each wait for the GIL behind the sending threads;
    # a shorter switch interval than the default 5 ms keeps those waits short.
    sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL))
    with Courier(sessionmaker, transport, worker_id=worker_id, batch_size=batch_size, limits=limits,
                 concurrency=concurrency, poll_seconds=poll_seconds) as courier:
        try:
            while not stop.is_set():
                started = time.monotonic()
                try:
                    courier.step(clock())
                    courier.dispatch(clock())  # a fresh moment: the tokens are taken at the time of sending
                    pause = courier.seconds_to_wait(clock())
                except Exception:
                    log.exception("delivery worker %s: the pass failed; trying again in %ss", worker_id, poll_seconds)
                    pause = poll_seconds
                courier.wait(pause, stop)
                stop.wait(STEP_SECONDS - (time.monotonic() - started))  # outcomes and tokens come in groups
        finally:  # stopped, or interrupted (Ctrl-C): finish what is in flight, give the rest back
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


class Courier:
    """One worker's state between steps: rows held, calls in flight, outcomes to record."""

    def __init__(
        self, sessionmaker: sessionmaker, transport: Transport, *, worker_id: str, batch_size: int,
        limits: SendLimits | None, concurrency: int, poll_seconds: float = 1.0,
    ):
        self.sessionmaker = sessionmaker
        self.transport = transport
        self.worker_id = worker_id
        self.batch_size = batch_size
        self.limits = limits
        self.concurrency = concurrency
        self.poll = timedelta(seconds=poll_seconds)
        self.pending: list[Claim] = []
        self.in_flight: dict[Future, Claim] = {}
        self.finished: list[Outcome] = []
        self.rules: dict[int, courtesy.MerchantRules] = {}
        self.next_claim_at = self.next_renewal_at = self.next_maintenance_at = None
        self.tokens_at: datetime | None = None  # when the rate limits next let held texts go
        self.pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix=f"send-{worker_id}")
        self.claimer = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"claim-{worker_id}")
        self.claiming: Future | None = None

    def __enter__(self) -> "Courier":
        return self

    def __exit__(self, *_exc) -> None:
        self.pool.shutdown(wait=True)
        self.claimer.shutdown(wait=True)

    # -- the loop ------------------------------------------------------------------------------

    def step(self, now: datetime) -> int:
        """Whatever is due at `now` before dispatching: record outcomes, maintenance, lease renewal,
        claims. Returns how many rows were settled."""
        settled = self.record(now)
        if self.next_maintenance_at is None or now >= self.next_maintenance_at:
            self.maintain(now)
        if self.next_renewal_at is None or now >= self.next_renewal_at:
            self.renew(now)
        if self.claiming is not None and self.claiming.done():
            claiming, self.claiming = self.claiming, None
            settled += self._take_in(claiming.result(), now)
        if self.claiming is None and self._wants_claim(now):
            self.claiming = self.claimer.submit(self._claim_rows, now, *self._claim_room())
        return settled

    def seconds_to_wait(self, now: datetime) -> float:
        """Until the next thing worth doing: a claim, renewal, maintenance, or tokens for held texts
        (a finished call ends the wait earlier)."""
        moments = [self.next_maintenance_at, self.next_renewal_at]
        if self.claiming is not None and self.claiming.done():
            moments.append(now)
        elif self.claiming is None and len(self.pending) <= self.batch_size // 2:
            moments.append(self.next_claim_at)
        if self.pending and len(self.in_flight) < self.concurrency and self._ready():
            moments.append(self.tokens_at or now)
        return max(0.0, min(((m or now) - now).total_seconds() for m in moments))

    def wait(self, seconds: float | None, stop: threading.Event | None) -> None:
        """Until a call in flight or a claim finishes, `seconds` pass or `stop` is set."""
        futures = [*self.in_flight, *([self.claiming] if self.claiming else [])]
        if futures:
            wait(futures, timeout=seconds, return_when=FIRST_COMPLETED)
        elif stop is not None:
            stop.wait(seconds)

    def finish(self, clock) -> None:
        """Wait for the calls in flight, record them and give back the rows not yet sent."""
        if self.claiming is not None:
            claiming, self.claiming = self.claiming, None
            self._take_in(claiming.result(), clock())
        while self.in_flight:
            self.wait(None, None)
            self.record(clock())
        self.record(clock())
        self.release(clock())

    # -- the steps -----------------------------------------------------------------------------

    def maintain(self, now: datetime) -> None:
        """Work for everyone: dead workers' rows back to the queue, early status reports applied."""
        with self.sessionmaker() as session:
            recover_expired_leases(session, now=now)
            apply_early_reports(session, now=now)
            session.commit()
        self.next_maintenance_at = now + MAINTAIN_EVERY

    def renew(self, now: datetime) -> None:
        """Extend the lease of every row this worker holds: it is alive."""
        with self.sessionmaker() as session:
            session.execute(
                update(OutboundMessage)
                .where(IS_SENDING, OutboundMessage.claimed_by == self.worker_id)
                .values(lease_expires_at=now + LEASE)
                .execution_options(synchronize_session=False)
            )
            session.commit()
        self.next_renewal_at = now + RENEW_EVERY

    def claim(self, now: datetime) -> int:
        """Claim due rows up to the batch size, judge them, keep the sendable ones. Returns how many
        were settled at once (suppressed, skipped, deferred, already sent)."""
        return self._take_in(self._claim_rows(now, *self._claim_room()), now)

    def _wants_claim(self, now: datetime) -> bool:
        return len(self.pending) <= self.batch_size // 2 and (self.next_claim_at is None or now >= self.next_claim_at)

    def _claim_room(self) -> tuple[int, Counter]:
        """How many rows to claim, and how many this worker holds per sender number."""
        return self.batch_size - len(self.pending), Counter(claim.from_phone for claim in self.pending)

    def _claim_rows(self, now: datetime, room: int, holding: Counter) -> "Claimed":
        """The claim's transaction (in the claiming thread while the worker runs, so that sending
        never waits for it)."""
        if room <= 0:
            return Claimed(now, 0, [], {}, is_full=True)
        cap = self.limits.pending_cap(HOLD_SECONDS) if self.limits else None
        rules: dict[int, courtesy.MerchantRules] = {}
        with self.sessionmaker() as session:
            rows = _lock_due(session, now=now, room=room, holding=holding, number_cap=cap)
            claimed = _judge(session, rows, now=now, worker_id=self.worker_id, lease=LEASE, rules=rules)
            session.commit()
        claims = [_claim_of(row, now) for row in claimed]
        return Claimed(now, len(rows) - len(claimed), claims, rules, is_full=len(rows) == room)

    def _take_in(self, claimed: "Claimed", now: datetime) -> int:
        """Hold the claimed texts, replies and transactional ones first; claim again at once if the
        claim was full, else after the poll interval. Returns how many the claim settled."""
        self.rules.update(claimed.rules)
        urgent = [claim for claim in claimed.claims if claim.category in URGENT]
        self.pending = urgent + self.pending + [claim for claim in claimed.claims if claim.category not in URGENT]
        self.next_claim_at = claimed.at if claimed.is_full else claimed.at + self.poll
        return claimed.settled

    def dispatch(self, now: datetime) -> int:
        """Hand texts to the pool as far as the concurrency and the rate limits allow. Returns how
        many were settled instead (opted out or the window closed while they were held)."""
        ready = self._ready()[: self.concurrency - len(self.in_flight)]
        if not ready:
            return 0
        with self.sessionmaker() as session:  # tokens, checks and attempts: one transaction
            chosen, tokens_at = self._within_limits(session, ready, now)
            settled, sendable = self._recheck(session, chosen, now)
            _mark_attempts(session, [claim for claim in sendable if not claim.is_last_check], now=now)
            session.commit()
        self.tokens_at = tokens_at
        chosen_ids = {claim.id for claim in chosen}
        self.pending = [claim for claim in self.pending if claim.id not in chosen_ids]
        for claim in sendable:
            claim.dispatched_at = now
            self.in_flight[self.pool.submit(self._attempt, claim)] = claim
        return settled

    def record(self, now: datetime) -> int:
        """Write the outcomes of the calls that finished, in one transaction. Returns how many."""
        for future in [future for future in self.in_flight if future.done()]:
            self.finished.append(future.result())
            del self.in_flight[future]
        if not self.finished:
            return 0
        sent = [outcome for outcome in self.finished if outcome.sid]
        with self.sessionmaker() as session:
            for outcome in self.finished:
                if not outcome.sid:
                    _record_failure(session, outcome, self.worker_id, now=now)
            if _store_sids(session, sent, now=now):
                apply_early_reports(session, now=now, sids=[outcome.sid for outcome in sent])
            session.commit()
        recorded, self.finished = len(self.finished), []
        return recorded

    def release(self, now: datetime) -> None:
        """Give back the rows held but not sent (no attempt was made: nothing to look up later)."""
        if not self.pending:
            return
        with self.sessionmaker() as session:
            session.execute(
                update(OutboundMessage)
                .where(
                    OutboundMessage.id.in_([claim.id for claim in self.pending]),
                    OutboundMessage.status == Status.SENDING,
                    OutboundMessage.claimed_by == self.worker_id,
                )
                .values(status=Status.QUEUED, claimed_by=None, lease_expires_at=None)
                .execution_options(synchronize_session=False)
            )
            session.commit()
        self.pending = []

    # -- helpers -------------------------------------------------------------------------------

    def _ready(self) -> list[Claim]:
        """Held texts that may go next: the first one of each recipient with nothing in flight."""
        busy = {claim.recipient for claim in self.in_flight.values()}
        busy.update(outcome.claim.recipient for outcome in self.finished)
        ready = []
        for claim in self.pending:
            if claim.recipient in busy:
                claim.waited_behind_another = True
            else:
                ready.append(claim)
            busy.add(claim.recipient)
        return ready

    def _within_limits(
        self, session: Session, ready: list[Claim], now: datetime
    ) -> tuple[list[Claim], datetime | None]:
        """The ready texts the send-rate buckets let go now, in order (the tokens are taken when the
        caller commits), and when to ask again for those left waiting."""
        if self.limits is None:
            return ready, None
        grant = send_rate.take(session, self.limits, Counter(claim.from_phone for claim in ready), now=now)
        tokens_at = now + timedelta(seconds=grant.wait_seconds) if grant.wait_seconds else None
        allowance = Counter(grant.granted)
        chosen = []
        for claim in ready:
            if allowance[claim.from_phone] > 0:
                allowance[claim.from_phone] -= 1
                chosen.append(claim)
        return chosen, tokens_at

    def _recheck(self, session: Session, claims: list[Claim], now: datetime) -> tuple[int, list[Claim]]:
        """The sending window once more, right before the call, and the opt-out for texts held
        longer than a moment since they were claimed or sent after another to the same phone."""
        held = {
            claim.recipient for claim in claims
            if claim.waited_behind_another or now - claim.claimed_at >= RECHECK_AFTER
        }
        opted_out = consent.opted_out_among(session, held)
        settled, sendable = 0, []
        for claim in claims:
            due_at = self.rules[claim.merchant_id].due_at(claim.category, claim.to_phone, now=now)
            if claim.recipient in opted_out or due_at > now:
                row = session.get(OutboundMessage, claim.id, with_for_update=True)
                if row.status == Status.SENDING and row.claimed_by == self.worker_id:
                    _suppress(row, now) if claim.recipient in opted_out else _defer(row, due_at)
                    settled += 1
            else:
                sendable.append(claim)
        session.flush()
        return settled, sendable

    def _attempt(self, claim: Claim) -> Outcome:
        """One provider call (in a pool thread; no database session is shared)."""
        try:
            if claim.attempts:
                earlier = self._earlier_send(claim)
                if earlier:
                    log.info("message %s: the provider already has it as %s; not sending again", claim.id, earlier)
                    return Outcome(claim, sid=earlier)
            if claim.is_last_check:
                return Outcome(claim, error=SendError(f"its worker stopped during all {MAX_ATTEMPTS} attempts"))
            return Outcome(claim, sid=self.transport.send(to=claim.to_phone, from_=claim.from_phone, body=claim.body))
        except SendError as exc:
            return Outcome(claim, error=exc)
        except Exception as exc:  # a bug or a surprise from a library: retried like a timeout
            log.exception("message %s: the send raised %s", claim.id, exc.__class__.__name__)
            return Outcome(claim, error=TransientSendError(f"unexpected {exc.__class__.__name__}"))

    def _earlier_send(self, claim: Claim) -> str | None:
        """The sid of an earlier attempt that reached the provider and that no row holds yet (an
        identical text to the same phone may be another row's)."""
        found = self.transport.find_sent(
            to=claim.to_phone, from_=claim.from_phone, body=claim.body, since=claim.first_attempt_at
        )
        if not found:
            return None
        with self.sessionmaker() as session:
            recorded = set(session.scalars(
                select(OutboundMessage.provider_sid).where(OutboundMessage.provider_sid.in_(found))
            ))
        return next((sid for sid in found if sid not in recorded), None)


def claim_due(
    session: Session, *, now: datetime, worker_id: str, batch_size: int, lease: timedelta = LEASE,
) -> list[OutboundMessage]:
    """Lock up to `batch_size` due rows (rows another worker holds are skipped), settle those that
    must not be sent now, and make the rest this worker's under a lease; returns those. Flushes: the
    caller commits the claim before any provider call."""
    rows = _lock_due(session, now=now, room=batch_size, holding=Counter(), number_cap=None)
    return _judge(session, rows, now=now, worker_id=worker_id, lease=lease, rules={})


def _of_stopped_campaign():
    """A row of a paused or cancelled campaign. Pausing holds the queued rows, but a row that was in
    flight at that moment and comes back for a retry must wait too (until resumed), or never go."""
    return exists().where(
        Campaign.id == OutboundMessage.campaign_id,
        Campaign.status.in_((CampaignStatus.PAUSED, CampaignStatus.CANCELLED)),
    )


def _lock_due(
    session: Session, *, now: datetime, room: int, holding: Counter, number_cap: int | None
) -> list[OutboundMessage]:
    """Lock due rows, replies and transactional texts first. A sender number gets no more rows than
    `number_cap` counting those `holding` already (the rest stay unlocked, for other workers)."""
    cap = number_cap or room
    full = [number for number, count in holding.items() if count >= cap]
    rows: list[OutboundMessage] = []
    for urgent in (True, False):
        category = OutboundMessage.category.in_(URGENT) if urgent else OutboundMessage.category.not_in(URGENT)
        rows += session.scalars(
            select(OutboundMessage)
            .where(
                IS_QUEUED, category, OutboundMessage.send_after <= now,
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


def _judge(
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
    counts = Counter(courtesy.marketing_counts(session, members, now=now))
    claimed = []
    for row in rows:
        merchant_rules = rules[row.merchant_id]
        due_at = merchant_rules.due_at(row.category, row.to_phone, now=now)
        if row.provider_sid:
            _settle(row, now, status=Status.SENT)  # an earlier worker stored the sid, then died
        elif (row.merchant_id, row.to_phone) in opted_out:
            _suppress(row, now)
        elif due_at > now:
            _defer(row, due_at)
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


def _claim_of(row: OutboundMessage, now: datetime) -> Claim:
    return Claim(
        id=row.id, merchant_id=row.merchant_id, to_phone=row.to_phone, from_phone=row.from_phone, body=row.body,
        category=row.category, attempts=row.attempts, first_attempt_at=row.first_attempt_at, claimed_at=now,
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


def retry_delay(attempts: int, error: TransientSendError | None = None, *, now: datetime | None = None) -> timedelta:
    """Exponential backoff (30 s, 1 min, 2 min, … capped at an hour), never sooner than the
    provider's Retry-After (seconds, or a date)."""
    delay = min(RETRY_BASE * 2 ** (attempts - 1), RETRY_CAP)
    if error is not None and error.retry_after:
        delay = max(delay, timedelta(seconds=error.retry_after))
    if error is not None and error.retry_at and now is not None:
        delay = max(delay, error.retry_at - now)
    return delay


def _counts_toward_cap(row: OutboundMessage) -> bool:
    return row.category in courtesy.CAPPED_CATEGORIES and row.member_id is not None and row.attempts == 0


def _mark_attempts(session: Session, claims: list[Claim], *, now: datetime) -> None:
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


def _settle(row: OutboundMessage, now: datetime, **values) -> None:
    """A claimed row that leaves the queue without a provider call."""
    for name, value in values.items():
        setattr(row, name, value)
    row.status_updated_at = now
    row.lease_expires_at = None


def _suppress(row: OutboundMessage, now: datetime) -> None:
    log.info("message %s to %s suppressed: the phone opted out", row.id, phones.mask(row.to_phone))
    _settle(row, now, status=Status.SUPPRESSED)


def _defer(row: OutboundMessage, until: datetime) -> None:
    """Quiet hours at the recipient: back to the queue until the sending window opens."""
    row.status, row.send_after, row.claimed_by, row.lease_expires_at = Status.QUEUED, until, None, None
    row.deferrals += 1
