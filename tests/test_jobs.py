"""The scheduler: the declarative job list, APScheduler wiring, idempotent runs (twice, or two schedulers
at once), catching up at start, and `smscrm scheduler` as its own process."""
from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from datetime import timedelta

import pytest
from apscheduler.events import EVENT_JOB_EXECUTED, EVENT_JOB_MISSED
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import func, select

from smscrm import care, jobs
from smscrm.db import outages
from smscrm.db.engine import make_engine, make_sessionmaker, utcnow
from smscrm.marketing import care_rules
from smscrm.models import CareKind, Category, OutboundMessage
from tests.campaign_members import add_many, add_member
from tests.waiting import wait_for


def care_text_count(sessions) -> int:
    with sessions() as session:
        return session.scalar(
            select(func.count()).select_from(OutboundMessage).where(OutboundMessage.category == Category.CARE)
        )


@pytest.fixture
def sessions(engine):
    return make_sessionmaker(engine)


@pytest.fixture
def welcome_due(session, merchant):
    """A welcome rule and a member who joined a minute ago (real time, as the running scheduler sees it)."""
    joined = utcnow() - timedelta(minutes=1)
    care_rules.save_rule(session, merchant, CareKind.WELCOME, now=joined, is_enabled=True, delay_hours=0)
    member = add_member(session, merchant, now=joined, joined_at=joined, phone="+14155550100")
    session.commit()
    return member


def test_the_job_list_names_every_time_based_duty():
    assert {job.id for job in jobs.JOBS} == {
        "care", "due_campaigns", "lease_recovery", "redemption_codes", "recompute", "points_expiry",
        "member_imports", "dashboard_figures",
    }
    assert all(job.run.__doc__ for job in jobs.JOBS)


def test_every_job_runs_alone_and_missed_runs_coalesce(sessions):
    scheduler = jobs.build_scheduler(sessions)
    scheduled = {job.id: job for job in scheduler.get_jobs()}
    assert set(scheduled) == {job.id for job in jobs.JOBS}
    for job in jobs.JOBS:
        entry = scheduled[job.id]
        assert (entry.max_instances, entry.coalesce) == (1, True)
        assert entry.misfire_grace_time == (job.every or timedelta(hours=1)).total_seconds()
        assert isinstance(entry.trigger, IntervalTrigger if job.every else CronTrigger)
    assert isinstance(scheduled["care"].trigger, IntervalTrigger)
    assert scheduled["care"].trigger.interval == timedelta(minutes=5)
    assert str(scheduled["recompute"].trigger) == "cron[hour='2', minute='30']"


def test_a_long_job_holds_up_no_other(sessions):
    """While one job runs long (care writing a holiday for every member), another takes its turns, none missed."""
    other_ran, missed = threading.Event(), []

    def long_care(session, *, now):
        """Runs until the other job has run."""
        assert other_ran.wait(timeout=60), "the other job did not take its turn while this one ran"

    def other(session, *, now):
        """A quick job."""
        other_ran.set()

    scheduler = jobs.build_scheduler(sessions, jobs=(
        jobs.Job("care", "long", long_care, every=timedelta(minutes=5), catches_up=True),
        jobs.Job("other", "quick", other, every=timedelta(seconds=1)),
    ))
    scheduler.add_listener(missed.append, EVENT_JOB_MISSED)
    care_done = threading.Event()
    scheduler.add_listener(lambda event: care_done.set() if event.job_id == "care" else None, EVENT_JOB_EXECUTED)
    scheduler.start()
    try:
        assert care_done.wait(timeout=60)
    finally:
        scheduler.shutdown()
    assert other_ran.is_set() and not missed


@pytest.mark.postgres_only("SQLite lets one writer in at a time: there every job waits for a writing one")
def test_no_job_waits_for_the_locks_of_care_writing_a_big_occurrence(database_url, sessions, session, merchant, now):
    """Care's open transaction — texts written for every member, their rows referenced — makes no other job wait."""
    care_rules.save_rule(session, merchant, CareKind.WELCOME, now=now, is_enabled=True, delay_hours=0)
    add_many(session, merchant, 50, now=now, joined_at=now - timedelta(minutes=1))
    session.commit()
    writing = sessions()  # the care job's work, left uncommitted
    assert care.evaluate(writing, now=now) == {"welcome": 50}
    impatient = make_sessionmaker(make_engine(database_url, connect_args={"options": "-c lock_timeout=5000"}))
    try:
        for job in jobs.JOBS:
            if job.id != "care":
                jobs.run_job(job, impatient, now=now)  # a lock wait would raise LockNotAvailable
    finally:
        writing.rollback()
        writing.close()
        impatient.kw["bind"].dispose()


def test_run_job_commits_what_the_job_did(sessions, welcome_due):
    care_job = next(job for job in jobs.JOBS if job.id == "care")

    assert jobs.run_job(care_job, sessions, now=utcnow()) == {"welcome": 1}
    assert care_text_count(sessions) == 1
    assert jobs.run_job(care_job, sessions, now=utcnow()) == {}


def test_every_job_runs_on_an_empty_database(sessions, merchant, now):
    for job in jobs.JOBS:
        jobs.run_job(job, sessions, now=now)


def test_a_failing_job_is_logged_and_the_scheduler_goes_on(sessions, caplog):
    def broken(session, *, now):
        """Fails, as a job may when the database is away."""
        raise RuntimeError("database away")

    with caplog.at_level(logging.ERROR, logger="smscrm.jobs"):
        jobs.run_scheduled(jobs.Job("broken", "breaks", broken, every=timedelta(minutes=1)), sessions, utcnow,
                           outages.Backoff(), threading.Event())
    assert "job broken failed" in caplog.text


def test_two_schedulers_by_mistake_send_once(database_url, sessions, welcome_due):
    """Both catch up at start, at the same moment: the unique key per rule, member and occurrence decides."""
    care_only = tuple(job for job in jobs.JOBS if job.id == "care")
    first = jobs.build_scheduler(sessions, jobs=care_only)
    second = jobs.build_scheduler(make_sessionmaker(make_engine(database_url)), jobs=care_only)
    ran = threading.Barrier(3, timeout=60)
    for scheduler in (first, second):
        scheduler.add_listener(lambda event: ran.wait(), EVENT_JOB_EXECUTED)
        scheduler.start()
    try:
        ran.wait()
    finally:
        first.shutdown()
        second.shutdown()

    assert care_text_count(sessions) == 1


def test_smscrm_scheduler_is_its_own_process_and_catches_up_at_start(database_url, sessions, welcome_due):
    env = {**os.environ, "SMSCRM_ENV": "development", "SMSCRM_DATABASE_URL": database_url}
    for name in ("SMSCRM_TEST_DATABASE_URL", "TWILIO_AUTH_TOKEN", "SMSCRM_PUBLIC_URL"):
        env.pop(name, None)
    process = subprocess.Popen([sys.executable, "-m", "smscrm.cli", "scheduler"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for(lambda: care_text_count(sessions) == 1 or process.poll() is not None, "the scheduler to run")
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=20)
    assert "scheduler: care, due_campaigns" in output, output
    assert care_text_count(sessions) == 1, output


def test_the_web_app_starts_no_scheduler(app):
    assert not [thread for thread in threading.enumerate() if "APScheduler" in thread.name]
