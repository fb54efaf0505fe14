"""Sending benchmarks against a loopback fake Twilio API that answers every request after 100 ms.

Each scenario starts a fresh schema in a PostgreSQL database of its own (not the test database),
fans a real campaign out to the outbox (smscrm.broadcast), and runs real `smscrm worker` processes
against the fake, which runs in this process and counts what arrives:

1. throughput: one worker, SMSCRM_SEND_RATE=200: the steady rate at the fake against the 200/s set;
2. shared:     three workers sharing that account limit: the busiest second at the fake, and the rate;
3. kill:       a 20,000-recipient campaign while the worker is killed with SIGKILL five times and
               restarted each time: recipients that got nothing (lost) or more than one (duplicated).

Loopback only, bounded in time. Usage:
    .venv/bin/python bench/delivery_bench.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench_delivery
Results go to bench/results/delivery-<UTC stamp>.json; bench/README-delivery.md records them.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from datetime import time as clock_time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from campaign_bench import BenchError, check_postgres_url, fresh_database  # noqa: E402  (bench/ is on the path: this script lives there)
from sqlalchemy import func, insert, select  # noqa: E402

from smscrm import broadcast  # noqa: E402
from smscrm.marketing import segments  # noqa: E402
from smscrm.accounts.merchants import create_merchant  # noqa: E402
from smscrm.broadcast import CampaignDraft  # noqa: E402
from smscrm.db.engine import make_sessionmaker  # noqa: E402
from smscrm.models import Member, OutboundMessage, Stage, Status  # noqa: E402
from tests.fake_twilio import FakeTwilio  # noqa: E402

ACCOUNT_SID = "AC" + "b" * 32
AUTH_TOKEN = "bench-auth-token-0123456789abcdef"
SENDER = "+14155550000"
LATENCY = 0.1
RATE = 200


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--scenario", choices=["throughput", "shared", "kill", "all"], default="all")
    parser.add_argument("--recipients", type=int, default=6000, help="for throughput and shared")
    parser.add_argument("--kill-recipients", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=64, help="SMSCRM_SEND_CONCURRENCY per worker")
    parser.add_argument("--rounds", type=int, default=3, help="runs of throughput and shared (median reported)")
    args = parser.parse_args()
    try:
        check_postgres_url(args.database_url)  # the workers share the database; every scenario empties it
    except BenchError as exc:
        parser.error(str(exc))
    results = {"started_at": datetime.now(timezone.utc).isoformat(), "latency_seconds": LATENCY,
               "rate_setting": RATE, "concurrency": args.concurrency, "cpus": os.cpu_count()}
    scenarios = ["throughput", "shared", "kill"] if args.scenario == "all" else [args.scenario]
    for scenario in scenarios:
        if scenario in ("throughput", "shared"):
            workers = 1 if scenario == "throughput" else 3
            rounds = [run_steady(args, workers=workers, recipients=args.recipients) for _ in range(args.rounds)]
            results[scenario] = {
                "median_of_configured": statistics.median(r["of_configured"] for r in rounds),
                "max_busiest_second_by_token_time": max(r["busiest_second_by_token_time"] for r in rounds),
                "rounds": rounds,
            }
        else:
            results["kill"] = run_kills(args, recipients=args.kill_recipients)
        print(json.dumps({scenario: results[scenario]}, indent=2), flush=True)
    out = ROOT / "bench" / "results" / f"delivery-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {out.relative_to(ROOT)}")


# -- scenarios ---------------------------------------------------------------------------------------


def run_steady(args, *, workers: int, recipients: int) -> dict:
    """Send `recipients` texts with `workers` workers sharing the account rate; measure at the fake."""
    engine = fresh_database(args.database_url)
    seed_campaign(engine, recipients)
    with FakeTwilio(ACCOUNT_SID, AUTH_TOKEN, latency=LATENCY) as fake:
        processes = [start_worker(args, fake, f"bench-{n}") for n in range(workers)]
        try:
            finished = wait_until_sent(engine, recipients, timeout=recipients / RATE * 3 + 60)
        finally:
            for process in processes:
                stop_worker(process)
        arrivals = sorted(fake.arrivals)
        sent_to = Counter(message.to for message in fake.messages)
    with engine.connect() as connection:
        dispatched = sorted(moment.timestamp() for moment in connection.scalars(select(OutboundMessage.sent_at)))
    steady = steady_rate(arrivals)
    return {
        "workers": workers, "recipients": recipients, "all_sent": finished,
        "accepted_at_fake": len(arrivals), "duplicated": sum(n - 1 for n in sent_to.values() if n > 1),
        "steady_rate_per_second": round(steady, 1), "of_configured": round(steady / RATE, 3),
        "busiest_second_at_fake": busiest_window(arrivals, 1.0),
        "busiest_second_by_token_time": busiest_window(dispatched, 1.0), "limit_plus_burst": RATE + RATE // 10,
        "seconds": round(arrivals[-1] - arrivals[0], 2) if arrivals else None,
    }


def run_kills(args, *, recipients: int, kills: int = 5) -> dict:
    """Kill -9 the worker `kills` times while the campaign sends, restarting it at once each time."""
    engine = fresh_database(args.database_url)
    phones = seed_campaign(engine, recipients)
    rng = random.Random(20261125)
    with FakeTwilio(ACCOUNT_SID, AUTH_TOKEN, latency=LATENCY) as fake:
        process = start_worker(args, fake, "bench-kill-0")
        killed_at = []
        try:
            for n in range(1, kills + 1):
                time.sleep(rng.uniform(6, 14))
                in_flight = count_status(engine, Status.SENDING)  # with rows still leased to killed workers
                os.kill(process.pid, signal.SIGKILL)
                process.wait()
                killed_at.append({"accepted_so_far": len(fake.messages), "rows_sending_when_killed": in_flight})
                process = start_worker(args, fake, f"bench-kill-{n}")
            finished = wait_until_sent(engine, recipients, timeout=recipients / RATE * 3 + 300)
        finally:
            stop_worker(process)
        sent_to = Counter(message.to for message in fake.messages)
        fake_sids = {message.sid for message in fake.messages}
    with engine.connect() as connection:
        rows = connection.execute(select(OutboundMessage.status, OutboundMessage.provider_sid)).all()
    return {
        "recipients": recipients, "kills": killed_at, "all_sent": finished,
        "lost": sum(1 for phone in phones if sent_to[phone] == 0),
        "duplicated": sum(n - 1 for n in sent_to.values() if n > 1),
        "accepted_at_fake": len(fake_sids),
        "rows_by_status": dict(Counter(status for status, _sid in rows)),
        "rows_whose_sid_the_fake_does_not_know": sum(1 for _s, sid in rows if sid and sid not in fake_sids),
        "found_at_the_provider_not_resent": sum(
            Path(f"/tmp/smscrm-bench-bench-kill-{n}.log").read_text().count("not sending again")
            for n in range(kills + 1)
        ),
    }


# -- set-up ------------------------------------------------------------------------------------------


def seed_campaign(engine, recipients: int) -> list[str]:
    """A merchant whose sending window is the whole day (the benchmark may run at any hour), its
    members, and a campaign to all of them, started (fanned out) now. Returns the phones."""
    now = datetime.now(timezone.utc)
    phones = [f"+1628{n:07d}" for n in range(recipients)]
    with make_sessionmaker(engine)() as session:
        merchant = create_merchant(session, name="Bench Tea", number=SENDER, email="bench@tea.example",
                                   password="bench password 123", now=now, timezone="America/Los_Angeles")
        merchant.sending_window_opens, merchant.sending_window_closes = clock_time(0, 0), clock_time.max
        session.execute(insert(Member), [{
            "merchant_id": merchant.id, "phone": phone, "language": "en", "joined_at": now - timedelta(days=30),
            "is_opted_out": False, "points_balance": 0, "stage": Stage.JOINED, "visit_count": 0,
            "total_spend_minor": 0, "created_at": now - timedelta(days=30), "name": None,
        } for phone in phones])
        segment = segments.save_segment(session, merchant, name="Everyone", rules={}, now=now, is_saved=False)
        campaign = broadcast.save_draft(
            session, merchant, CampaignDraft(name="Bench", text_en="Hi {name}, double points this week!"),
            segment=segment, now=now,
        )
        fan_out = broadcast.start_campaign(session, merchant, campaign, now=now)
        session.commit()
    assert fan_out.queued == recipients, fan_out
    return phones


def start_worker(args, fake: FakeTwilio, worker_id: str, *, public_url: str = "") -> subprocess.Popen:
    """A real `smscrm worker` sending to the fake (`args`: database_url, concurrency). With `public_url` its
    texts ask for status callbacks to `public_url`/sms/status."""
    env = {
        **os.environ, "SMSCRM_ENV": "development", "SMSCRM_DATABASE_URL": args.database_url,
        "SMSCRM_SMS_BACKEND": "twilio", "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_API_BASE_URL": fake.base_url, "SMSCRM_SEND_RATE": str(RATE), "SMSCRM_NUMBER_SEND_RATE": "1000",
        "SMSCRM_SEND_CONCURRENCY": str(args.concurrency), "SMSCRM_PUBLIC_URL": public_url,
    }
    log = open(f"/tmp/smscrm-bench-{worker_id}.log", "w")
    return subprocess.Popen([str(ROOT / ".venv" / "bin" / "smscrm"), "worker", "--worker-id", worker_id],
                            env=env, stdout=log, stderr=subprocess.STDOUT, cwd="/tmp")


def stop_worker(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# -- measuring ---------------------------------------------------------------------------------------


def count_status(engine, *statuses) -> int:
    with engine.connect() as connection:
        return connection.scalar(select(func.count()).where(OutboundMessage.status.in_(statuses)))


def wait_until_sent(engine, recipients: int, *, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if count_status(engine, Status.SENT) >= recipients:
            return True
        time.sleep(0.5)
    return False


def steady_rate(arrivals: list[float]) -> float:
    """Texts per second between the end of the first second and the start of the last (the ramp-up
    and the tail of a finished queue are not the steady state)."""
    if len(arrivals) < 2 or arrivals[-1] - arrivals[0] <= 3:
        return 0.0
    start, end = arrivals[0] + 1.0, arrivals[-1] - 1.0
    return sum(1 for moment in arrivals if start <= moment < end) / (end - start)


def busiest_window(arrivals: list[float], seconds: float) -> int:
    """The most arrivals in any window of `seconds` (sliding)."""
    best, first = 0, 0
    for last, moment in enumerate(arrivals):
        while moment - arrivals[first] >= seconds:
            first += 1
        best = max(best, last - first + 1)
    return best


if __name__ == "__main__":
    main()
