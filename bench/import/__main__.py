#!/usr/bin/env python3
"""Benchmark: a member import of 100,000 rows on PostgreSQL, against a COPY of the same rows in the same run.

For each run: a new merchant (country US) with --existing joined members, and a CSV file of --rows rows as a shop
exports them: numbers in assorted local formats, 5 % of the rows repeating an earlier row's number, 1 % that are no
phone number, one in ten a number the shop has already, names (one in four in Chinese), birthdays, languages and
tags. Timed, as the app runs them: `imports.start` (decode, parse, keep the file: the upload request), the
scheduler's job checking it into the staging table (`imports.run_pending`), and, after `imports.confirm`, the job
writing it (set-based INSERT … SELECT … ON CONFLICT, invitations queued). The reference: psycopg's COPY of the
same rows, already parsed, into a table shaped like `members`: the floor of getting 100,000 rows into PostgreSQL.

    .venv/bin/python bench/import                          # 100,000 rows, 3 runs
    bench/import --rows 20000 --runs 1                     # a quick look

The database in --postgres-url is emptied first (DROP SCHEMA public CASCADE): a local database whose name starts
with "bench". Target: the whole import under 60 s. Exit status: 0 target met, 2 missed.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"

try:
    import smscrm  # noqa: F401  (only checks that we run inside the project's virtualenv)
except ImportError:
    if VENV_PYTHON.exists() and not os.environ.get("SMSCRM_BENCH_REEXEC"):
        os.environ["SMSCRM_BENCH_REEXEC"] = "1"
        os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), __file__, *sys.argv[1:]])
    sys.exit("bench/import needs the project's virtualenv: run `make install`, then `.venv/bin/python bench/import`")

import argparse
import csv
import io
import platform
import random
import statistics
import time
from datetime import datetime, timezone

from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(ROOT))
from smscrm.accounts.merchants import create_merchant  # noqa: E402
from smscrm.db.engine import make_engine, make_sessionmaker  # noqa: E402
from smscrm.db.migrations import upgrade  # noqa: E402
from smscrm.loyalty import imports  # noqa: E402
from smscrm.models import Member, MemberImport, StaffUser  # noqa: E402

TARGET_SECONDS = 60.0
FORMATS = ("({a}) {b}-{c}", "{a}-{b}-{c}", "{a}.{b}.{c}", "+1 {a} {b} {c}", "1{a}{b}{c}", "{a}{b}{c}")
NAMES = ("Ann Lee", "Bob Stone", "Cleo Park", "Dan Wu", "张伟", "王芳", "Eve Adams", "Finn Ross")
TAGS = ("green tea", "oolong", "cakes", "vip", "weekday", "")


def member_file(rows: int, existing: int, seed: int) -> bytes:
    """The CSV file of a run; its numbers are 415-3xx-xxxx (new) and 415-2xx-xxxx (the members already there)."""
    rng = random.Random(seed)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["phone", "name", "birthday", "language", "tags"])
    written: list[str] = []
    for index in range(rows):
        roll = rng.random()
        if roll < 0.01:
            phone = "12345"
        elif roll < 0.06 and written:
            phone = rng.choice(written)
        elif roll < 0.16:
            number = rng.randrange(existing)
            phone = FORMATS[index % len(FORMATS)].format(a="415", b=f"2{number // 10000:02d}", c=f"{number % 10000:04d}")
        else:
            phone = FORMATS[index % len(FORMATS)].format(a="415", b=f"3{index // 10000:02d}", c=f"{index % 10000:04d}")
        written.append(phone)
        birthday = f"{rng.randint(1950, 2005)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}" if roll < 0.5 else ""
        writer.writerow([phone, rng.choice(NAMES), birthday, rng.choice(("en", "zh", "")), rng.choice(TAGS)])
    return out.getvalue().encode("utf-8-sig")


def seed_merchant(sessions, run: int, existing: int):
    now = datetime.now(timezone.utc)
    with sessions() as session:
        merchant = create_merchant(
            session, name=f"Bench Tea {run}", number=f"+1415555{run:04d}", email=f"owner{run}@bench.example",
            password="a long enough bench password", now=now, country="US",
        )
        session.execute(text(
            "INSERT INTO members (merchant_id, phone, language, joined_at, is_opted_out, points_balance, created_at,"
            " stage, visit_count, total_spend_minor) SELECT :merchant, '+1415' || lpad((2000000 + n)::text, 7, '0'),"
            " 'en', :now, false, 0, :now, 'joined', 0, 0 FROM generate_series(0, :count - 1) AS n"
        ), {"merchant": merchant.id, "now": now, "count": existing})
        owner_id = session.scalar(select(StaffUser.id).where(StaffUser.merchant_id == merchant.id))
        session.commit()
        session.execute(text("ANALYZE members"))
        session.commit()
    return merchant, owner_id


def timed_import(sessions, merchant, owner_id, data: bytes) -> dict[str, float]:
    times = {}
    cpu = time.process_time()
    started = time.perf_counter()
    with sessions() as session:
        member_import = imports.start(session, merchant, filename="bench.csv", data=data, staff_user_id=owner_id,
                                      now=datetime.now(timezone.utc))
        session.commit()
    times["upload"] = time.perf_counter() - started
    mark = time.perf_counter()
    imports.run_pending(sessions, now=datetime.now(timezone.utc))
    times["check"] = time.perf_counter() - mark
    with sessions() as session:
        member_import = session.get(MemberImport, member_import.id)
        imports.confirm(session, member_import, consent_statement=None, staff_user_id=owner_id,
                        now=datetime.now(timezone.utc))
        session.commit()
    mark = time.perf_counter()
    imports.run_pending(sessions, now=datetime.now(timezone.utc))
    times["write"] = time.perf_counter() - mark
    times["total"] = time.perf_counter() - started
    times["cpu"] = time.process_time() - cpu  # this process only: the Python side (phone numbers, CSV, the driver)
    with sessions() as session:
        done = session.get(MemberImport, member_import.id)
        assert done.status == "done", done.status
        times["figures"] = (done.created_members, done.updated_members, done.merged_rows, done.rejected_rows,
                            done.invited_members)
    return times


def timed_copy(engine, data: bytes) -> float:
    """COPY of the file's rows, parsed beforehand, into a table shaped like members (no phone parsing, no checks)."""
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))[1:]
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS copy_reference"))
        connection.execute(text("CREATE TABLE copy_reference (LIKE members INCLUDING DEFAULTS)"))
    started = time.perf_counter()
    with engine.begin() as connection:
        raw = connection.connection.driver_connection
        with raw.cursor() as cursor:
            with cursor.copy("COPY copy_reference (id, merchant_id, phone, name, language, is_opted_out, points_balance,"
                             " created_at, stage, visit_count, total_spend_minor) FROM STDIN") as copy:
                now = datetime.now(timezone.utc)
                for index, (phone, name, _birthday, language, _tags) in enumerate(rows):
                    copy.write_row((index, 1, phone[:20], name, language or "en", False, 0, now, "pending", 0, 0))
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/bench_imports")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--existing", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    url = make_url(args.postgres_url)
    if not (url.database or "").startswith("bench") or url.host not in ("127.0.0.1", "localhost"):
        sys.exit("--postgres-url must name a local database whose name starts with 'bench' (it is emptied)")
    engine = make_engine(args.postgres_url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    upgrade(args.postgres_url)
    sessions = make_sessionmaker(engine)
    with engine.connect() as connection:
        version = connection.execute(text("SHOW server_version")).scalar()
    print(f"PostgreSQL {version}, Python {platform.python_version()}, {platform.machine()}, "
          f"{os.cpu_count()} CPUs (load average {os.getloadavg()[0]:.1f}), {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC")
    print(f"{args.rows:,} rows per file, {args.existing:,} members already there, {args.runs} runs\n")
    imports_, copies = [], []
    for run in range(args.runs):
        data = member_file(args.rows, args.existing, seed=run)
        merchant, owner_id = seed_merchant(sessions, run, args.existing)
        copy_first = run % 2 == 1  # take turns going first
        if copy_first:
            copies.append(timed_copy(engine, data))
        times = timed_import(sessions, merchant, owner_id, data)
        if not copy_first:
            copies.append(timed_copy(engine, data))
        imports_.append(times)
        created, updated, merged, rejected, invited = times["figures"]
        print(f"run {run + 1}: import {times['total']:.1f} s (upload {times['upload']:.1f}, check {times['check']:.1f},"
              f" write {times['write']:.1f}; Python CPU {times['cpu']:.1f}); load {os.getloadavg()[0]:.1f}; COPY {copies[-1]:.2f} s; ratio {times['total'] / copies[-1]:.0f}x"
              f" | {created:,} new, {updated:,} merged with members, {merged:,} merged in the file, {rejected:,} refused,"
              f" {invited:,} invited")
    total = statistics.median(times["total"] for times in imports_)
    copy = statistics.median(copies)
    print(f"\nmedian: import {total:.1f} s for {args.rows:,} rows ({args.rows / total:,.0f} rows/s), "
          f"COPY of the same rows {copy:.2f} s: {total / copy:.0f}x the COPY; target under {TARGET_SECONDS:.0f} s: "
          f"{'met' if total < TARGET_SECONDS else 'MISSED'}")
    with sessions() as session:
        assert session.scalar(select(func.count(Member.id))) > 0
    return 0 if total < TARGET_SECONDS else 2


if __name__ == "__main__":
    sys.exit(main())
