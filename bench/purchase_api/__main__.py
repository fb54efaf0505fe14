"""Benchmark: purchases recorded through the REST API (`POST /api/v1/purchases`) on PostgreSQL,
against a reference measured in the same run: a Flask endpoint that parses the JSON and INSERTs one row.

Both apps run under gunicorn with bench/webhook's settings (2 sync workers, 127.0.0.1 only; its
Server is reused, and bench/campaign_bench's database guard). `wrk` posts a new sale per request (its own
Idempotency-Key and receipt reference): nine in ten from 10,000 seeded members, who earn points and
get a receipt text queued, one in ten from unknown phones, who become pending members invited to JOIN.
Runs alternate reference, api, reference, api... Printed: medians of requests/s and p99 latency per
app and the ratio api / reference. Target: ratio >= 0.45. With --compare-with, the API as it was at
another commit runs in the same rounds too, and this tree's requests/s relative to it is printed.

A run only counts when every response was 201 with the expected body and wrk saw no socket error.
Printed too: the CPU time per request of the gunicorn workers and of the PostgreSQL backends, and
afterwards of each app called in this process through Flask's test client (`--in-process`). With
--compare-with, afterwards too: this tree's API and GIT_REF's in two processes taking turns at batches
of purchases (`--in-process-pairs`), CPU per purchase relative to GIT_REF, the steadiest figure here.

    .venv/bin/python bench/purchase_api                    # 5 rounds of 10 s per app, about 2 minutes
    .venv/bin/python bench/purchase_api --rounds 2 --duration 5
    .venv/bin/python bench/purchase_api --compare-with HEAD~1      # did the last commit help? (paired rounds, then in-process turns)

Exit status: 0 target met, 2 target missed, 1 a run was invalid or could not be made.
The database in --postgres-url is emptied (DROP SCHEMA public CASCADE); it must be a local database
whose name starts with "bench".
"""
from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT / "bench"))
import campaign_bench  # noqa: E402

campaign_bench.ensure_virtualenv(str(HERE))

import argparse
import os
import json
import secrets
import shutil
import statistics
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone

from sqlalchemy import func, insert, select, text
from sqlalchemy.engine import make_url

from smscrm.accounts import api_keys
from smscrm.db.engine import make_engine, make_sessionmaker, utcnow
from smscrm.accounts.merchants import create_merchant
from smscrm.models import Member, OutboundMessage, PointsEntry, Purchase, Stage

import purchase_reference  # noqa: E402  (this folder is on sys.path when run as `python bench/purchase_api`)
from in_process import MEMBERS, post_purchases  # noqa: E402


webhook_bench = campaign_bench.load_webhook_bench()
Server = webhook_bench.Server
BenchError, check_postgres_url = campaign_bench.BenchError, campaign_bench.check_postgres_url

LUA_SCRIPT = HERE / "purchases.lua"
RESULTS_DIR = ROOT / "bench" / "results"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_api"
TARGET_RATIO = 0.45  # issue 20: one path per operation (issue 4 asked 0.5 of the fast paths it removed)
IN_PROCESS_BATCH = 300  # purchases per turn of --compare-with's in-process pairs


@dataclass
class Run:
    app: str
    round: int
    requests: int
    seconds: float
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    bad_status: int
    unexpected_body: int
    socket_errors: int
    timeouts: int
    cpu_ms_per_request: float | None  # the gunicorn workers' own CPU time, from /proc (None elsewhere)
    db_cpu_ms_per_request: float | None = None  # the PostgreSQL backends' CPU time serving the run, from /proc

    @property
    def problems(self) -> list[str]:
        found = []
        if self.bad_status:
            found.append(f"{self.bad_status} responses were not 201")
        if self.unexpected_body:
            found.append(f"{self.unexpected_body} responses lacked points_earned")
        if self.socket_errors or self.timeouts:
            found.append(f"{self.socket_errors} socket errors, {self.timeouts} timeouts")
        return found


def prepare_database(url: str) -> str:
    """An empty database at the newest schema, the reference's table, one merchant with 10,000
    joined members; returns a new API key of that merchant."""
    engine = campaign_bench.fresh_database(url)
    purchase_reference.create_table(url)
    now = utcnow()
    with make_sessionmaker(engine)() as session:
        merchant = create_merchant(
            session, name="Green Leaf Tea", number="+14155550000", email="owner@bench.example",
            password="bench password 123", now=now, timezone="America/Los_Angeles", country="US",
        )
        session.execute(insert(Member), [
            {"merchant_id": merchant.id, "phone": f"+1628{n:07d}", "language": "en", "joined_at": now,
             "created_at": now, "stage": Stage.JOINED, "is_opted_out": False, "points_balance": 0}
            for n in range(MEMBERS)
        ])
        _row, key = api_keys.create(session, merchant, name="bench till", now=now)
        session.commit()
    campaign_bench.vacuum_analyze(engine, "members")  # as bench/webhook: statistics for the seeded table only
    engine.dispose()
    return key


def stored_counts(url: str) -> dict:
    """What the API wrote, to show the requests did the real work."""
    engine = make_engine(url)
    with engine.connect() as connection:
        counts = {
            "purchases": connection.scalar(select(func.count()).select_from(Purchase)),
            "ledger_entries": connection.scalar(select(func.count()).select_from(PointsEntry)),
            "pending_members": connection.scalar(select(func.count()).where(Member.joined_at.is_(None))),
            "texts_by_purpose": dict(connection.execute(
                select(OutboundMessage.purpose, func.count()).group_by(OutboundMessage.purpose)).all()),
            "reference_rows": connection.scalar(select(func.count()).select_from(purchase_reference.purchases_received)),
        }
    engine.dispose()
    return counts


def run_wrk(server: Server, api_key: str, *, duration: int, args) -> dict:
    command = [
        shutil.which("wrk"), f"--threads={args.threads}", f"--connections={args.connections}",
        f"--duration={duration}s", "--timeout=5s", f"--script={LUA_SCRIPT}", server.url + "/api/v1/purchases",
    ]
    env = {**os.environ, "BENCH_API_KEY": api_key, "BENCH_RUN": secrets.token_hex(4), "BENCH_MEMBERS": str(MEMBERS)}
    finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=duration + 120)
    for line in finished.stdout.splitlines():
        if line.startswith("BENCH "):
            return json.loads(line.removeprefix("BENCH "))
    raise BenchError(f"wrk gave no result (exit {finished.returncode}):\n{finished.stdout}\n{finished.stderr}")


def backend_cpu_seconds(url: str) -> dict[int, float]:
    """User + system CPU seconds of each PostgreSQL backend connected to the benchmark's database but this
    one, from /proc: the server is local (127.0.0.1). {} when /proc cannot tell."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            pids = connection.scalars(text(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )).all()
    finally:
        engine.dispose()
    seconds = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue  # the backend ended, or runs elsewhere
        seconds[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return seconds


def measure(app: str, round_number: int, server: Server, api_key: str, duration: int, args) -> Run:
    db_before = backend_cpu_seconds(args.postgres_url)
    cpu_before = server.worker_cpu_seconds()
    result = run_wrk(server, api_key, duration=duration, args=args)
    cpu_after = server.worker_cpu_seconds()
    db_after = backend_cpu_seconds(args.postgres_url)
    cpu_seconds = sum(cpu_after[pid] - cpu_before.get(pid, 0.0) for pid in cpu_after)
    db_seconds = sum(db_after[pid] - db_before.get(pid, 0.0) for pid in db_after)
    seconds = result["duration_us"] / 1e6
    return Run(
        app=app, round=round_number, requests=result["requests"], seconds=round(seconds, 2),
        requests_per_second=round(result["requests"] / seconds, 1), p50_ms=result["p50_us"] / 1000,
        p99_ms=result["p99_us"] / 1000, max_ms=result["max_us"] / 1000, bad_status=result["bad_status"],
        unexpected_body=result["unexpected_body"], socket_errors=result["socket_errors"], timeouts=result["timeouts"],
        cpu_ms_per_request=round(1000 * cpu_seconds / result["requests"], 2) if cpu_after and result["requests"] else None,
        db_cpu_ms_per_request=round(1000 * db_seconds / result["requests"], 2) if db_after and result["requests"] else None,
    )


def bench(url: str, args, workdir: Path, baseline_tree: Path | None) -> tuple[list[Run], str]:
    print(f"== PostgreSQL: {make_url(url).render_as_string(hide_password=True)}", flush=True)
    api_key = prepare_database(url)
    servers = {
        "reference": Server("reference", "purchase_reference:create_app()", url, workdir, ["--pythonpath", str(HERE)]),
        "api": Server("api", "wsgi:app", url, workdir),
    }
    if baseline_tree:
        servers["baseline"] = Server("baseline", "wsgi:app", url, workdir, ["--chdir", str(baseline_tree)])
    runs = []
    try:
        for server in servers.values():
            server.start()
        for app, server in servers.items():  # warm-up: imports, connection pools; not reported
            warm = measure(app, 0, server, api_key, args.warmup, args)
            if warm.problems:
                raise BenchError(f"{app} warm-up: {'; '.join(warm.problems)}\n{server.log_tail()}")
        for round_number in range(1, args.rounds + 1):
            apps = [app for app in servers if app != "reference"]
            for app in ["reference", *(apps if round_number % 2 else reversed(apps))]:  # api and baseline take turns first
                run = measure(app, round_number, servers[app], api_key, args.duration, args)
                runs.append(run)
                print(
                    f"   round {round_number} {app:9}  {run.requests_per_second:8.1f} req/s   p50 {run.p50_ms:6.1f} ms"
                    f"   p99 {run.p99_ms:6.1f} ms   cpu {run.cpu_ms_per_request} ms/request"
                    f" (PostgreSQL {run.db_cpu_ms_per_request})"
                    f"   ({run.requests} requests in {run.seconds} s)",
                    flush=True,
                )
                if run.problems:
                    raise BenchError(f"{app} run {round_number} is invalid: {'; '.join(run.problems)}\n"
                                     f"{servers[app].log_tail()}")
    finally:
        for server in servers.values():
            server.stop()
    return runs, api_key


def cpu_in_process(url: str, api_key: str, count: int) -> dict[str, float]:
    """CPU milliseconds per request of each app called `count` times in this process through Flask's test
    client (no HTTP server, no other process's load counted), the same mix of buyers as purchases.lua."""
    os.environ.update(webhook_bench._app_environment(url))
    from smscrm import create_app

    run = secrets.token_hex(4)
    apps = {
        "reference": (purchase_reference.create_app(), {}),
        "api": (create_app(), {"Authorization": f"Bearer {api_key}"}),
    }
    cpu = {}
    for name, (app, headers) in apps.items():
        client, app_run = app.test_client(), f"{run}{len(cpu)}"
        try:
            post_purchases(client, headers, app_run, range(count // 10))  # warm-up, not counted
            started = time.process_time()
            post_purchases(client, headers, app_run, range(count // 10, count // 10 + count))
        except RuntimeError as exc:
            raise BenchError(f"{name} in process: {exc}") from None
        cpu[name] = round(1000 * (time.process_time() - started) / count, 3)
    return cpu


def median(runs: list[Run], app: str, attribute: str) -> float | None:
    values = [getattr(run, attribute) for run in runs if run.app == app and getattr(run, attribute) is not None]
    return round(statistics.median(values), 3) if values else None


def report(runs: list[Run], stored: dict, args) -> tuple[str, float]:
    ratio = median(runs, "api", "requests_per_second") / median(runs, "reference", "requests_per_second")
    met = "met" if ratio >= TARGET_RATIO else "MISSED"
    lines = [
        f"gunicorn 2 sync workers per app; wrk {args.threads} thread(s), {args.connections} connections, "
        f"{args.rounds} alternating {args.duration} s runs per app; medians",
        "",
        "| database | reference req/s | reference p99 | API req/s | API p99 | ratio | target |",
        "|---|---:|---:|---:|---:|---:|---|",
        f"| PostgreSQL | {median(runs, 'reference', 'requests_per_second'):.0f} "
        f"| {median(runs, 'reference', 'p99_ms'):.1f} ms | {median(runs, 'api', 'requests_per_second'):.0f} "
        f"| {median(runs, 'api', 'p99_ms'):.1f} ms | {ratio:.2f}× | {met} (≥ {TARGET_RATIO}×) |",
        "",
        f"workers' CPU per request: reference {median(runs, 'reference', 'cpu_ms_per_request')} ms, "
        f"API {median(runs, 'api', 'cpu_ms_per_request')} ms; PostgreSQL backends' CPU per request: "
        f"reference {median(runs, 'reference', 'db_cpu_ms_per_request')} ms, "
        f"API {median(runs, 'api', 'db_cpu_ms_per_request')} ms",
        "",
        f"the API stored {stored['purchases']} purchases, {stored['ledger_entries']} ledger entries, "
        f"{stored['pending_members']} pending members, texts {stored['texts_by_purpose']}; "
        f"the reference stored {stored['reference_rows']} rows",
    ]
    if args.compare_with:
        baseline = {run.round: run.requests_per_second for run in runs if run.app == "baseline"}
        paired = [run.requests_per_second / baseline[run.round] for run in runs if run.app == "api"]
        lines += [
            "",
            f"the API at {args.compare_with} in the same rounds: {median(runs, 'baseline', 'requests_per_second'):.0f} "
            f"req/s, CPU {median(runs, 'baseline', 'cpu_ms_per_request')} ms (PostgreSQL "
            f"{median(runs, 'baseline', 'db_cpu_ms_per_request')} ms); this tree / {args.compare_with}, round by "
            f"round: median {statistics.median(paired):.2f}× ({min(paired):.2f}–{max(paired):.2f}×)",
        ]
    return "\n".join(lines), ratio


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL, help="emptied first; must be named bench*")
    parser.add_argument("--rounds", type=int, default=5, help="alternating runs per app (default 5)")
    parser.add_argument("--duration", type=int, default=10, help="seconds per run (default 10)")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of unreported warm-up per app (default 3)")
    parser.add_argument("--connections", type=int, default=4, help="concurrent wrk connections (default 4)")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (default 1)")
    parser.add_argument("--in-process", type=int, default=1000, metavar="N",
                        help="afterwards, CPU per request of N calls of each app in this process (default 1000; 0: none)")
    parser.add_argument("--compare-with", metavar="GIT_REF",
                        help="also serve the API as it was at GIT_REF (same schema), in the same rounds, and report "
                             "this tree's requests/s relative to it round by round: a change measured on a noisy machine")
    parser.add_argument("--in-process-pairs", type=int, default=16, metavar="N",
                        help=f"with --compare-with: afterwards, N pairs of {IN_PROCESS_BATCH} purchases, this tree's API "
                             "and GIT_REF's in two processes taking turns, CPU relative to GIT_REF (default 16; 0: none)")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        print(webhook_bench.WRK_INSTALL_HINT, file=sys.stderr)
        return 1
    if not 1 <= args.threads <= args.connections or not 1 <= args.duration <= 300 or not 1 <= args.rounds <= 50 \
            or args.in_process < 0 or args.in_process_pairs < 0 or args.in_process_pairs == 1:
        parser.error("need 1 <= threads <= connections, 1 <= duration <= 300, 1 <= rounds <= 50, in-process >= 0 "
                     "and in-process-pairs 0 or at least 2")
    try:
        check_postgres_url(args.postgres_url)
        with tempfile.TemporaryDirectory(prefix="smscrm-bench-") as tmp:
            baseline_tree = campaign_bench.export_tree(args.compare_with, Path(tmp)) if args.compare_with else None
            runs, api_key = bench(args.postgres_url, args, Path(tmp), baseline_tree)
            stored = stored_counts(args.postgres_url)
            in_process = cpu_in_process(args.postgres_url, api_key, args.in_process) if args.in_process else None
            turns = campaign_bench.take_turns(
                HERE / "in_process.py", baseline_tree, {**webhook_bench._app_environment(args.postgres_url),
                                                         "BENCH_API_KEY": api_key},
                count=IN_PROCESS_BATCH, pairs=args.in_process_pairs,
            ) if baseline_tree and args.in_process_pairs else None
    except BenchError as exc:
        print(f"\nbench/purchase_api: {exc}", file=sys.stderr)
        return 1
    summary, ratio = report(runs, stored, args)
    print("\n" + summary)
    if in_process:
        print(f"\nin-process CPU per request ({args.in_process} purchases each, Flask test client): "
              f"reference {in_process['reference']} ms, API {in_process['api']} ms")
    if turns:
        print(campaign_bench.describe_turns(turns, args.compare_with, args.in_process_pairs, IN_PROCESS_BATCH, "purchase"))
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    (RESULTS_DIR / f"purchase-api-{stamp}.json").write_text(json.dumps(
        {"settings": vars(args), "ratio": ratio, "meets_target": ratio >= TARGET_RATIO, "stored": stored,
         "runs": [asdict(run) for run in runs], "in_process_cpu_ms_per_request": in_process,
         "in_process_turns": turns},
        indent=2, default=str,
    ))
    return 0 if ratio >= TARGET_RATIO else 2


if __name__ == "__main__":
    sys.exit(main())
