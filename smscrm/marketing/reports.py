"""What a campaign did: its progress while sending, and its report.

Progress counts the campaign's outbox rows by status. The report adds where every member the audience
matched ended up (`Reach`: each in exactly one line, counted at the start as the preview counts), failures
by error code, opt-outs within 48 hours of a text, and the return rate of recipients against the holdout.

Return rate: the share of members who made a purchase in the `return_window_days` after the
campaign started. Recipients are every member the campaign queued a text for, whether or not it
could be delivered — the group the holdout was drawn against, so the two stay comparable
(intention to treat). Lift is the difference of the two rates; its 95% confidence interval uses
the normal approximation for a difference of two independent proportions,
    (p₁ − p₂) ± 1.96 · √(p₁(1 − p₁)/n₁ + p₂(1 − p₂)/n₂),
which is sound when each group has at least a handful of returns and non-returns; with fewer,
the interval is not given.

The return rates cannot change once the window has closed (a purchase is recorded at the moment it is
made, and the recipients and the holdout are written when the campaign starts): an hour after it closed,
`outcome` keeps them on the campaign row, and the report and Home read them from there.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, func, literal, select, union_all
from sqlalchemy.orm import Session, aliased

from smscrm.db.sqltime import epoch_days
from smscrm.messaging import courtesy
from smscrm.models import (
    Campaign,
    CampaignHoldout,
    CampaignStatus,
    ConsentAction,
    ConsentEvent,
    OutboundMessage,
    Purchase,
    Status,
)

OPT_OUT_WINDOW = timedelta(hours=48)
SETTLED = timedelta(hours=1)  # after a return window closes: a purchase recorded at its last moment has committed
Z_95 = 1.959964
MIN_OUTCOMES_FOR_INTERVAL = 5  # returns and non-returns needed in each group for the normal approximation
PENDING = (Status.QUEUED, Status.HELD, Status.SENDING)
SENT = (Status.SENT, Status.DELIVERED, Status.UNDELIVERED)
FAILED = (Status.FAILED,)  # never accepted by the provider; an undelivered text was sent
FAILURES = (Status.FAILED, Status.UNDELIVERED)  # what the carrier's error codes explain
SKIP_REASONS = {courtesy.FREQUENCY_CAP: "weekly cap reached"}  # OutboundMessage.skip_reason as merchants read it


@dataclass(frozen=True)
class Progress:
    """The campaign's texts by status, while it sends and after."""

    status: str
    queued: int
    by_status: dict[str, int]

    @property
    def pending(self) -> int:
        return sum(self.by_status.get(status, 0) for status in PENDING)

    @property
    def done(self) -> int:
        return self.queued - self.pending

    @property
    def percent_done(self) -> int:
        return 100 if not self.queued else math.floor(100 * self.done / self.queued)

    @property
    def is_finished(self) -> bool:
        """Started, and nothing is left to send (a paused campaign with held texts is not finished)."""
        return self.status in (CampaignStatus.SENDING, CampaignStatus.CANCELLED) and self.pending == 0

    def count(self, *statuses: str) -> int:
        return sum(self.by_status.get(status, 0) for status in statuses)

    def as_json(self) -> dict:
        return {
            "status": self.status, "queued": self.queued, "done": self.done, "pending": self.pending,
            "percent_done": self.percent_done, "is_finished": self.is_finished, "by_status": self.by_status,
            "sent": self.count(*SENT), "delivered": self.count(Status.DELIVERED),
            "undelivered": self.count(Status.UNDELIVERED), "failed": self.count(*FAILED),
        }


def progress(session: Session, campaign: Campaign) -> Progress:
    """One grouped count over the campaign's outbox rows (an index covers campaign_id, status)."""
    rows = session.execute(
        select(OutboundMessage.status, func.count())
        .where(OutboundMessage.campaign_id == campaign.id)
        .group_by(OutboundMessage.status)
    )
    by_status = {status: number for status, number in rows}
    return Progress(status=campaign.status, queued=sum(by_status.values()), by_status=by_status)


def with_texts_pending(session: Session, campaign_ids: list[int]) -> set[int]:
    """Those of `campaign_ids` that still have texts waiting or in flight (the others are finished)."""
    if not campaign_ids:
        return set()
    return set(session.scalars(
        select(OutboundMessage.campaign_id)
        .where(OutboundMessage.campaign_id.in_(campaign_ids), OutboundMessage.status.in_(PENDING))
        .distinct()
    ))


@dataclass(frozen=True)
class Failure:
    error_code: int | None
    message: str
    count: int


@dataclass(frozen=True)
class ReturnRate:
    members: int
    returned: int

    @property
    def rate(self) -> float | None:
        return self.returned / self.members if self.members else None


@dataclass(frozen=True)
class Lift:
    """Recipients' return rate minus the holdout's, in proportion points, with its 95% interval."""

    difference: float
    low: float | None
    high: float | None

    @property
    def is_significant(self) -> bool:
        return self.low is not None and (self.low > 0 or self.high < 0)


@dataclass(frozen=True)
class Reach:
    """Where each member the audience matched at the start ended up, every one in exactly one line:
    targeted = not joined + opted out + held out + already texted + queued, the first three as the
    preview counts them (`segments.count`); and each queued text is sent (delivered or not), failed,
    skipped (by reason: the weekly cap), suppressed (opted out before it left), cancelled or waiting.
    `deferred` texts waited for quiet hours and are counted in their line too."""

    targeted: int
    not_joined: int
    opted_out: int
    held_out: int
    duplicates: int
    queued: int
    sent: int
    delivered: int
    undelivered: int
    failed: int
    skipped: dict[str, int]
    opted_out_at_send: int
    cancelled: int
    waiting: int
    deferred: int


def reach(session: Session, campaign: Campaign, current: Progress) -> Reach:
    return Reach(
        targeted=campaign.matched_count or 0,
        not_joined=campaign.not_joined_count or 0,
        opted_out=campaign.opted_out_count or 0,
        held_out=campaign.holdout_count or 0,
        duplicates=campaign.duplicate_count or 0,
        queued=current.queued,
        sent=current.count(*SENT),
        delivered=current.count(Status.DELIVERED),
        undelivered=current.count(Status.UNDELIVERED),
        failed=current.count(*FAILED),
        skipped=_skipped_at_send(session, campaign),
        opted_out_at_send=current.count(Status.SUPPRESSED),
        cancelled=current.count(Status.CANCELLED),
        waiting=current.pending,
        deferred=_deferred(session, campaign),
    )


@dataclass(frozen=True)
class Report:
    campaign: Campaign
    progress: Progress
    reach: Reach
    failures: list[Failure]
    opt_outs_48h: int
    recipients: ReturnRate
    holdout: ReturnRate
    lift: Lift | None
    window_ends_at: datetime
    is_window_open: bool


@dataclass(frozen=True)
class Outcome:
    """The return rates of recipients and holdout, and the lift, at some moment of the return window."""

    recipients: ReturnRate
    holdout: ReturnRate
    lift: Lift | None
    window_ends_at: datetime
    is_window_open: bool


def outcome(session: Session, campaign: Campaign, *, now: datetime) -> Outcome:
    """Recipients' and holdout's return rates and the lift at `now`. They move until the return window closes;
    once it has been closed for `SETTLED` they are kept on the campaign (flushed; the caller commits) and read
    from there."""
    started = campaign.started_at
    window_ends_at = (started or now) + timedelta(days=campaign.return_window_days)
    if campaign.recipients_returned is not None:
        recipients = ReturnRate(campaign.recipient_members, campaign.recipients_returned)
        holdout = ReturnRate(campaign.holdout_members, campaign.holdout_returned)
    else:
        recipients, holdout = _return_rates(session, campaign, started, window_ends_at)
        if started is not None and now >= window_ends_at + SETTLED:
            campaign.recipient_members, campaign.recipients_returned = recipients.members, recipients.returned
            campaign.holdout_members, campaign.holdout_returned = holdout.members, holdout.returned
            session.flush()
    return Outcome(recipients, holdout, lift(recipients, holdout), window_ends_at, started is not None and now < window_ends_at)


def report(session: Session, campaign: Campaign, *, now: datetime) -> Report:
    """The campaign's report at `now` (figures keep moving until the return window closes)."""
    returns = outcome(session, campaign, now=now)
    current = progress(session, campaign)
    return Report(
        campaign=campaign,
        progress=current,
        reach=reach(session, campaign, current),
        failures=_failures(session, campaign),
        opt_outs_48h=_opt_outs_within(session, campaign, OPT_OUT_WINDOW),
        recipients=returns.recipients,
        holdout=returns.holdout,
        lift=returns.lift,
        window_ends_at=returns.window_ends_at,
        is_window_open=returns.is_window_open,
    )


def _skipped_at_send(session: Session, campaign: Campaign) -> dict[str, int]:
    """Texts the worker decided not to send, by its reason (the weekly cap, …)."""
    rows = session.execute(
        select(OutboundMessage.skip_reason, func.count())
        .where(OutboundMessage.campaign_id == campaign.id, OutboundMessage.status == Status.SKIPPED)
        .group_by(OutboundMessage.skip_reason)
        .order_by(OutboundMessage.skip_reason)
    )
    return {SKIP_REASONS.get(reason, (reason or "other").replace("_", " ")): number for reason, number in rows}


def _deferred(session: Session, campaign: Campaign) -> int:
    """Texts that waited for the recipient's quiet hours to end before they could go."""
    return session.scalar(
        select(func.count()).where(OutboundMessage.campaign_id == campaign.id, OutboundMessage.deferrals > 0)
    )


def _return_rates(session: Session, campaign: Campaign, started: datetime | None, until: datetime) -> tuple[ReturnRate, ReturnRate]:
    """How many of the recipients, and of the holdout, bought something in [started, until): both groups joined
    once to the members who bought in the window (a hash or merge join, not a look-up of each member's purchases)."""
    if started is None:
        return ReturnRate(0, 0), ReturnRate(0, 0)
    groups = union_all(
        select(literal(True).label("is_recipient"), OutboundMessage.member_id.label("member_id"))
        .where(OutboundMessage.campaign_id == campaign.id),
        select(literal(False), CampaignHoldout.member_id).where(CampaignHoldout.campaign_id == campaign.id),
    ).subquery()
    bought = (
        select(Purchase.member_id)
        .where(Purchase.merchant_id == campaign.merchant_id, Purchase.created_at >= started, Purchase.created_at < until)
        .distinct()
        .subquery()
    )
    rows = session.execute(
        select(groups.c.is_recipient, func.count(), func.count(bought.c.member_id))
        .select_from(groups)
        .outerjoin(bought, bought.c.member_id == groups.c.member_id)
        .group_by(groups.c.is_recipient)
    )
    found = {bool(is_recipient): ReturnRate(total, returned) for is_recipient, total, returned in rows}
    return found.get(True, ReturnRate(0, 0)), found.get(False, ReturnRate(0, 0))


def lift(recipients: ReturnRate, holdout: ReturnRate) -> Lift | None:
    """Difference of the two return rates with the normal-approximation 95% interval (see the module
    docstring); None without both groups, interval None when either group has too few outcomes."""
    if not recipients.members or not holdout.members:
        return None
    p1, p2 = recipients.rate, holdout.rate
    difference = p1 - p2
    outcomes = (recipients.returned, recipients.members - recipients.returned, holdout.returned, holdout.members - holdout.returned)
    if min(outcomes) < MIN_OUTCOMES_FOR_INTERVAL:
        return Lift(difference, None, None)
    margin = Z_95 * math.sqrt(p1 * (1 - p1) / recipients.members + p2 * (1 - p2) / holdout.members)
    return Lift(difference, difference - margin, difference + margin)


def _failures(session: Session, campaign: Campaign) -> list[Failure]:
    """Failed and undelivered texts by the provider's error code, most frequent first."""
    rows = session.execute(
        select(OutboundMessage.error_code, func.max(OutboundMessage.error_message), func.count())
        .where(OutboundMessage.campaign_id == campaign.id, OutboundMessage.status.in_(FAILURES))
        .group_by(OutboundMessage.error_code)
        .order_by(func.count().desc(), OutboundMessage.error_code)
    )
    return [Failure(code, message or "", number) for code, message, number in rows]


def _opt_outs_within(session: Session, campaign: Campaign, window: timedelta) -> int:
    """Recipients who opted out (by any channel) within `window` after their text was sent."""
    event = aliased(ConsentEvent)
    opted_out = exists().where(
        event.merchant_id == campaign.merchant_id,
        event.phone == OutboundMessage.to_phone,
        event.action == ConsentAction.OPT_OUT,
        event.created_at >= OutboundMessage.sent_at,
        epoch_days(event.created_at) - epoch_days(OutboundMessage.sent_at) <= window.total_seconds() / 86400,
    )
    return session.scalar(
        select(func.count(func.distinct(OutboundMessage.to_phone))).where(
            and_(OutboundMessage.campaign_id == campaign.id, OutboundMessage.sent_at.is_not(None), opted_out)
        )
    )
