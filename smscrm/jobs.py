"""The scheduler's declarative job list, and the APScheduler 3 wiring that runs it.

The scheduler is one process — `smscrm scheduler`, or a thread of `smscrm serve` in development —
never a web worker. Every job is idempotent (its domain function says why), so a double run, or a
second scheduler started by mistake, sends nothing twice. Jobs marked `catches_up` also run as soon
as the scheduler starts, so what fell due while it was down goes out at once (care rules then skip
what is older than each rule's grace period). Daily jobs run at their UTC time.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone

from apscheduler.events import EVENT_SCHEDULER_SHUTDOWN
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.orm import sessionmaker

from smscrm import broadcast, care, dashboard_kept, delivery, points
from smscrm.db import outages
from smscrm.db.engine import utcnow
from smscrm.loyalty import classes, imports

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    """A domain function run on a schedule: `every` interval, or `daily_at` a UTC time.

    `run(session, now=…)` works in the session the job commits; with `own_transactions` it is
    `run(sessionmaker, now=…)` and commits its own units of work.
    """

    id: str
    description: str
    run: Callable[..., object]
    every: timedelta | None = None
    daily_at: time | None = None
    catches_up: bool = False
    own_transactions: bool = False

    @property
    def grace(self) -> timedelta:
        """How late a turn may start: an interval job's interval (then its next turn is due), an hour for a daily job."""
        return self.every if self.every is not None else DAILY_GRACE

    def trigger(self) -> BaseTrigger:
        if self.every is not None:
            return IntervalTrigger(seconds=self.every.total_seconds(), timezone=timezone.utc)
        return CronTrigger(hour=self.daily_at.hour, minute=self.daily_at.minute, timezone=timezone.utc)


DAILY_GRACE = timedelta(hours=1)

JOBS = (
    Job("care", "Queue the care texts that are due", care.evaluate, every=timedelta(minutes=5), catches_up=True),
    Job("due_campaigns", "Start the scheduled campaigns whose time has come", broadcast.start_due_campaigns,
        every=timedelta(minutes=1), catches_up=True, own_transactions=True),
    Job("lease_recovery", "Re-queue texts whose delivery worker stopped mid-send", delivery.recover_expired_leases,
        every=timedelta(minutes=1), catches_up=True),
    Job("redemption_codes", "Give back the points of redemption codes not used in time",
        points.release_expired_redemptions, every=timedelta(minutes=15), catches_up=True),
    Job("member_imports", "Check uploaded member files, write confirmed imports", imports.run_pending,
        every=timedelta(seconds=5), catches_up=True, own_transactions=True),
    Job("dashboard_figures", "Count again the dashboard figures merchants read", dashboard_kept.refresh_read,
        every=dashboard_kept.REFRESH_EVERY, catches_up=True, own_transactions=True),
    Job("recompute", "Rebuild visit statistics, stages and value classes", classes.recompute,
        daily_at=time(2, 30)),
    Job("points_expiry", "Expire points older than each merchant's expiry period", points.expire_points,
        daily_at=time(3, 30)),
)


def run_job(job: Job, sessions: sessionmaker, *, now: datetime):
    """Run `job` once as of `now` and commit; what it returned (counts, ids) is logged."""
    if job.own_transactions:
        result = job.run(sessions, now=now)
    else:
        with sessions() as session:
            result = job.run(session, now=now)
            session.commit()
    log.info("job %s done: %s", job.id, result)
    return result


def run_scheduled(
    job: Job, sessions: sessionmaker, clock: Callable[[], datetime], backoff: outages.Backoff,
    stopped: threading.Event,
) -> None:
    """What the scheduler calls: the job at the current time. While the database does not answer, the job is
    tried again after pauses growing by `backoff`, one log line each, until it runs or the scheduler stops;
    another failure is logged and the job runs again at its next time."""
    while True:
        try:
            run_job(job, sessions, now=clock())
            return
        except outages.UNREACHABLE as exc:
            if not outages.wait_until_reachable(sessions, exc, backoff=backoff, stop=stopped, who=f"job {job.id}"):
                return
        except Exception:
            log.exception("job %s failed; it runs again at its next time", job.id)
            return


def build_scheduler(
    sessions: sessionmaker,
    *,
    scheduler_class: type[BaseScheduler] = BackgroundScheduler,
    jobs: tuple[Job, ...] = JOBS,
    clock: Callable[[], datetime] = utcnow,
    backoff: outages.Backoff = outages.Backoff(),
) -> BaseScheduler:
    """A scheduler (not yet started) with every job: one instance at a time, each in a thread of its own,
    missed runs coalesced into one late run within the job's grace, catch-up jobs due at once, retried with
    `backoff` while the database does not answer (their pauses end when the scheduler shuts down:
    `shutdown(wait=False)`, since waiting would wait for the database)."""
    scheduler = scheduler_class(timezone=timezone.utc, executors={"default": ThreadPoolExecutor(len(jobs))})
    stopped = threading.Event()  # ends the retries' pauses when the scheduler shuts down
    scheduler.add_listener(lambda _event: stopped.set(), EVENT_SCHEDULER_SHUTDOWN)
    started = utcnow()  # the scheduler's own clock; `clock` is the time the jobs are told
    for job in jobs:
        scheduler.add_job(
            run_scheduled,
            trigger=job.trigger(),
            args=(job, sessions, clock, backoff, stopped),
            id=job.id,
            name=job.description,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=int(job.grace.total_seconds()),
            **({"next_run_time": started} if job.catches_up else {}),
        )
    return scheduler
