"""The worker's loop state (`Courier`): rows held, claims in the claiming thread, provider calls in
the sending threads, outcomes waiting to be recorded, and when each recurring step is next due.

Claims run in one background thread so that sending never waits for them; texts go to a pool of
threads, so that many provider calls are in flight at once, one text at a time per recipient (they
arrive in order, and a carrier opt-out stops the next). Every database step is its own short
transaction, committed before any provider call it leads to.
"""
from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import datetime, timedelta

from sqlalchemy.orm import sessionmaker

from smscrm.messaging import courtesy
from smscrm.sending import attempts, claims
from smscrm.sending.attempts import Outcome
from smscrm.sending.claims import Claim, Claimed
from smscrm.sending.provider_status import apply_early_reports
from smscrm.sending.send_rate import SendLimits
from smscrm.sending.transports import Transport

RENEW_EVERY = timedelta(seconds=10)
MAINTAIN_EVERY = timedelta(seconds=5)


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

    def __enter__(self) -> Courier:
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
            claims.recover_expired_leases(session, now=now)
            apply_early_reports(session, now=now)
            session.commit()
        self.next_maintenance_at = now + MAINTAIN_EVERY

    def renew(self, now: datetime) -> None:
        """Extend the lease of every row this worker holds: it is alive."""
        with self.sessionmaker() as session:
            claims.renew_leases(session, worker_id=self.worker_id, now=now)
            session.commit()
        self.next_renewal_at = now + RENEW_EVERY

    def claim(self, now: datetime) -> int:
        """Claim due rows up to the batch size, judge them, keep the sendable ones. Returns how many
        were settled at once (suppressed, skipped, deferred, already sent)."""
        return self._take_in(self._claim_rows(now, *self._claim_room()), now)

    def dispatch(self, now: datetime) -> int:
        """Hand texts to the pool as far as the concurrency and the rate limits allow. Returns how
        many were settled instead (opted out or the window closed while they were held)."""
        ready = self._ready()[: self.concurrency - len(self.in_flight)]
        if not ready:
            return 0
        with self.sessionmaker() as session:  # tokens, checks and attempts: one transaction
            chosen, tokens_at = attempts.within_limits(session, self.limits, ready, now)
            settled, sendable = attempts.recheck(session, chosen, rules=self.rules, worker_id=self.worker_id, now=now)
            attempts.mark_attempts(session, [claim for claim in sendable if not claim.is_last_check], now=now)
            session.commit()
        self.tokens_at = tokens_at
        chosen_ids = {claim.id for claim in chosen}
        self.pending = [claim for claim in self.pending if claim.id not in chosen_ids]
        for claim in sendable:
            claim.dispatched_at = now
            self.in_flight[self.pool.submit(attempts.send, self.sessionmaker, self.transport, claim)] = claim
        return settled

    def record(self, now: datetime) -> int:
        """Write the outcomes of the calls that finished, in one transaction. Returns how many."""
        for future in [future for future in self.in_flight if future.done()]:
            self.finished.append(future.result())
            del self.in_flight[future]
        if not self.finished:
            return 0
        with self.sessionmaker() as session:
            attempts.record_outcomes(session, self.finished, worker_id=self.worker_id, now=now)
            session.commit()
        recorded, self.finished = len(self.finished), []
        return recorded

    def release(self, now: datetime) -> None:
        """Give back the rows held but not sent (no attempt was made: nothing to look up later)."""
        if not self.pending:
            return
        with self.sessionmaker() as session:
            claims.release(session, self.pending, worker_id=self.worker_id)
            session.commit()
        self.pending = []

    # -- helpers -------------------------------------------------------------------------------

    def _wants_claim(self, now: datetime) -> bool:
        return len(self.pending) <= self.batch_size // 2 and (self.next_claim_at is None or now >= self.next_claim_at)

    def _claim_room(self) -> tuple[int, Counter]:
        """How many rows to claim, and how many this worker holds per sender number."""
        return self.batch_size - len(self.pending), Counter(claim.from_phone for claim in self.pending)

    def _claim_rows(self, now: datetime, room: int, holding: Counter) -> Claimed:
        """The claim's transaction (in the claiming thread while the worker runs, so that sending
        never waits for it)."""
        if room <= 0:
            return Claimed(now, 0, [], {}, is_full=True)
        cap = self.limits.pending_cap(claims.HOLD_SECONDS) if self.limits else None
        rules: dict[int, courtesy.MerchantRules] = {}
        with self.sessionmaker() as session:
            rows = claims.lock_due(session, now=now, room=room, holding=holding, number_cap=cap)
            claimed = claims.judge(session, rows, now=now, worker_id=self.worker_id, lease=claims.LEASE, rules=rules)
            session.commit()
        taken = [claims.claim_of(row, now) for row in claimed]
        return Claimed(now, len(rows) - len(claimed), taken, rules, is_full=len(rows) == room)

    def _take_in(self, claimed: Claimed, now: datetime) -> int:
        """Hold the claimed texts, replies and transactional ones first; claim again at once if the
        claim was full, else after the poll interval. Returns how many the claim settled."""
        self.rules.update(claimed.rules)
        urgent = [claim for claim in claimed.claims if claim.category in claims.URGENT]
        later = [claim for claim in claimed.claims if claim.category not in claims.URGENT]
        self.pending = urgent + self.pending + later
        self.next_claim_at = claimed.at if claimed.is_full else claimed.at + self.poll
        return claimed.settled

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
