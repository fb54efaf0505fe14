"""Shared by the benchmarks: the virtualenv and the database guard (all of them), an emptied
database (fanout, segment_count, delivery_bench), the members (fanout, segment_count), a commit's
tree and two trees taking turns in process (webhook and purchase_api with --compare-with).

`seed` generates the members set-based with generate_series: one merchant with --members members
(1 % pending, 2 % opted out, 10 % Chinese, classes A/B/C 20/30/50 %, visit statistics spread over
two years, a third with one or two interests) and a second merchant with a tenth as many, so that
every query has to keep to its merchant.
"""
from __future__ import annotations

import json
import os
import statistics
import sys
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_campaigns"
NOW = datetime(2026, 3, 10, 18, 0, tzinfo=timezone.utc)  # a fixed moment: the data and the queries agree
INTERESTS = ("green tea", "oolong", "cakes", "matcha", "pu-erh", "workshops")


def ensure_virtualenv(script: str) -> None:
    """Re-run `script` with the project's virtualenv when started with another Python."""
    try:
        import smscrm  # noqa: F401
    except ImportError:
        if VENV_PYTHON.exists() and not os.environ.get("SMSCRM_BENCH_REEXEC"):
            os.environ["SMSCRM_BENCH_REEXEC"] = "1"
            os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), script, *sys.argv[1:]])
        sys.exit(f"{script} needs the project's virtualenv: run `make install`, then `.venv/bin/python {script}`")


def load_webhook_bench():
    """bench/webhook, the script, as a module: its gunicorn Server, its signed texts and how it measures a run."""
    import importlib.machinery
    import importlib.util

    loader = importlib.machinery.SourceFileLoader("bench_webhook", str(ROOT / "bench" / "webhook"))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(loader.name, loader))
    sys.modules[loader.name] = module  # its dataclasses look their module up there
    loader.exec_module(module)
    return module


class BenchError(Exception):
    """The benchmark could not be made, or a run measured something other than success."""


def check_postgres_url(url: str) -> None:
    """Refuse to empty anything but a local PostgreSQL database named bench*."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if not parsed.drivername.startswith("postgresql"):
        raise BenchError(f"--postgres-url must be a postgresql+psycopg:// URL, got {url!r}")
    if (parsed.host or "127.0.0.1") not in LOCAL_HOSTS:  # no host: a local socket
        raise BenchError(f"the benchmark only runs against a local PostgreSQL, not {parsed.host!r}")
    if not (parsed.database or "").startswith("bench"):
        raise BenchError(f"the benchmark empties its database; use one named bench*, not {parsed.database!r}")


def export_tree(ref: str, workdir: Path) -> Path:
    """The files of commit `ref` in a new folder under `workdir` (git archive: the repository is not touched),
    for a benchmark that serves the app as it was there beside the current tree (`--compare-with`)."""
    import subprocess
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="compare-with-", dir=workdir))
    try:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", ref], capture_output=True,
                                 check=True).stdout
    except subprocess.CalledProcessError as exc:
        raise BenchError(f"--compare-with {ref}: git archive failed: {exc.stderr.decode(errors='replace')}") from None
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def take_turns(worker: Path, baseline_tree: Path, environment: dict, *, count: int, pairs: int) -> dict:
    """This tree's app and the baseline tree's, each in a process running `worker` from its own tree,
    take turns at batches of `count` requests, `pairs` times: CPU per request relative to the baseline.

    `worker` prints "ready", then for each line N on stdin makes N requests to the app in its process
    and prints the CPU milliseconds per request. The host's drift hits both sides of a pair alike: on
    this shared machine the steadiest way found to see a change of 10%.
    """
    import subprocess

    processes = {}
    try:
        for name, tree in (("this tree", ROOT), ("baseline", baseline_tree)):
            processes[name] = subprocess.Popen(  # PYTHONPATH first: the tree's smscrm, not the installed one
                [sys.executable, str(worker)], cwd=tree, env={**environment, "PYTHONPATH": str(tree)},
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            )
            if processes[name].stdout.readline().strip() != "ready":
                raise BenchError(f"the in-process worker of {name} did not start")

        def batch(name: str) -> float:
            processes[name].stdin.write(f"{count}\n")
            processes[name].stdin.flush()
            answer = processes[name].stdout.readline()
            if not answer:
                raise BenchError(f"the in-process worker of {name} stopped")
            return float(answer)

        measured = []
        for pair in range(pairs):
            order = ("this tree", "baseline") if pair % 2 else ("baseline", "this tree")
            measured.append({name: batch(name) for name in order})
    finally:
        for process in processes.values():
            process.kill()
            process.wait()
    ratios = [pair["this tree"] / pair["baseline"] for pair in measured]
    quartiles = statistics.quantiles(ratios, n=4)
    return {
        "median": round(statistics.median(ratios), 3), "quartiles": [round(quartiles[0], 3), round(quartiles[2], 3)],
        "this_tree_ms": round(statistics.median(pair["this tree"] for pair in measured), 3),
        "baseline_ms": round(statistics.median(pair["baseline"] for pair in measured), 3),
    }


def describe_turns(turns: dict, ref: str, pairs: int, count: int, what: str) -> str:
    return (f"in-process CPU per {what}, this tree / {ref} ({pairs} pairs of {count}, two processes taking turns): "
            f"median {turns['median']} (quartiles {turns['quartiles'][0]}–{turns['quartiles'][1]}); "
            f"{turns['this_tree_ms']} ms against {turns['baseline_ms']} ms")


def fresh_database(url: str):
    """Empty the database, bring it to the newest schema; returns an engine."""
    from sqlalchemy import text

    from smscrm.db.engine import make_engine
    from smscrm.db.migrations import upgrade

    check_postgres_url(url)
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    upgrade(url)
    return engine


MEMBERS_SQL = """
INSERT INTO members (
    merchant_id, phone, name, language, joined_at, is_opted_out, points_balance, birthday_month, birthday_day,
    created_at, stage, value_class, first_visit_at, last_visit_at, visit_count, total_spend_minor,
    typical_visit_gap_days
)
SELECT :merchant_id,
       :prefix || lpad(g::text, 7, '0'),
       CASE WHEN g % 7 = 0 THEN NULL ELSE 'Member ' || g END,
       CASE WHEN g % 10 = 3 THEN 'zh' ELSE 'en' END,
       CASE WHEN g % 100 = 0 THEN NULL ELSE CAST(:now AS timestamptz) - make_interval(days => CAST(30 + h % 700 AS int)) END,
       g % 50 = 1,
       h % 2000,
       1 + (h / 13) % 12, 1 + (h / 17) % 28,
       CAST(:now AS timestamptz) - make_interval(days => CAST(30 + h % 700 AS int)),
       CASE WHEN g % 100 = 0 THEN 'pending' WHEN h % 5 = 0 THEN 'joined' WHEN h % 5 = 1 THEN 'first_purchase'
            WHEN h % 29 = 0 THEN 'advocate' ELSE 'repeat' END,
       CASE WHEN g % 100 = 0 THEN NULL WHEN (h / 7) % 10 < 2 THEN 'A' WHEN (h / 7) % 10 < 5 THEN 'B' ELSE 'C' END,
       CASE WHEN h % 5 = 0 THEN NULL ELSE CAST(:now AS timestamptz) - make_interval(days => CAST(30 + h % 700 AS int)) END,
       CASE WHEN h % 5 = 0 THEN NULL ELSE CAST(:now AS timestamptz) - make_interval(days => CAST(h % 400 AS int), hours => CAST(h % 24 AS int)) END,
       CASE WHEN h % 5 = 0 THEN 0 WHEN h % 5 = 1 THEN 1 ELSE 2 + h % 40 END,
       CASE WHEN h % 5 = 0 THEN 0 ELSE 500 + h % 200000 END,
       CASE WHEN h % 5 IN (0, 1) THEN NULL ELSE 3 + h % 60 END
FROM (SELECT g, (g * 2654435761) % 4294967296 AS h FROM generate_series(1, :count) AS g) AS numbers
"""

def seed(engine, members: int) -> dict:
    """Two merchants and their members (see the module docstring); returns the merchants' ids."""
    from sqlalchemy import case, select, text

    from smscrm.accounts.merchants import create_merchant
    from smscrm.db.engine import make_sessionmaker
    from smscrm.loyalty.members import write_interests
    from smscrm.models import Member

    with make_sessionmaker(engine)() as session:
        tea = create_merchant(session, name="Green Leaf Tea", number="+14155550000", email="owner@bench.example",
                              password="bench password 123", now=NOW, timezone="America/Los_Angeles",
                              signature="绿叶茶馆")
        other = create_merchant(session, name="Blue Door Salon", number="+14155559999", email="salon@bench.example",
                                password="bench password 123", now=NOW, timezone="America/Los_Angeles")
        session.commit()
        ids = {"merchant": tea.id, "other": other.id}
    with make_sessionmaker(engine)() as session:
        for merchant_id, prefix, count in ((ids["merchant"], "+1628", members), (ids["other"], "+1629", members // 10)):
            session.execute(text(MEMBERS_SQL), {"merchant_id": merchant_id, "prefix": prefix, "count": count, "now": NOW})
            for every, shift in ((3, 0), (6, 1)):  # a third like one topic, a sixth a second one too
                topic = case({number: topic for number, topic in enumerate(INTERESTS)},
                             value=(Member.id // 3 + shift) % len(INTERESTS))
                liking = select(Member.id, topic).where(Member.merchant_id == merchant_id, Member.id % every == 0)
                write_interests(session, liking.with_only_columns(Member.id), liking, now=NOW)
        session.commit()
    vacuum_analyze(engine, "members", "member_interests")
    return ids


def vacuum_analyze(engine, *tables: str) -> None:
    """Fresh planner statistics for `tables` (all tables when none are named) after loading data, as
    autovacuum keeps them in production. A bench cannot count on autovacuum: the PostgreSQL server
    of this workplace runs with it off, and without statistics the planner may choose an index that
    reads every one of a merchant's members to find one phone. SQLite keeps no dead rows: ANALYZE only."""
    from sqlalchemy import text

    command = "VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE"
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        for table in tables or ("",):
            connection.execute(text(f"{command} {table}".strip()))


def prepare(url: str, members: int, *, reuse: bool) -> tuple:
    """(engine, merchant ids): the data of an earlier run when `reuse` and its size matches, else
    an emptied database seeded afresh."""
    import time

    from sqlalchemy import func, select

    from smscrm.db.engine import make_engine
    from smscrm.models import Member, Merchant

    check_postgres_url(url)
    if reuse:
        engine = make_engine(url)
        try:
            with engine.connect() as connection:
                ids = [row.id for row in connection.execute(select(Merchant.id).order_by(Merchant.id))]
                sizes = [connection.scalar(select(func.count()).where(Member.merchant_id == id_)) for id_ in ids]
        except Exception:  # no schema yet, or an older one
            ids, sizes = [], []
        if sizes[:2] == [members, members // 10]:
            print(f"reusing the {members:,} members already in the database")
            return engine, {"merchant": ids[0], "other": ids[1]}
        engine.dispose()
    engine = fresh_database(url)
    started = time.perf_counter()
    ids = seed(engine, members)
    print(f"seeded {members:,} members (+{members // 10:,} at a second merchant) in {time.perf_counter() - started:.1f} s")
    return engine, ids


def saved_segment(session, merchant, name: str, rules: dict):
    """The merchant's saved segment `name` (from an earlier run), else a new one with `rules`."""
    from smscrm.marketing import segments

    for segment in segments.saved_segments(session, merchant.id):
        if segment.name == name and segment.rules == segments.SegmentFilter.from_rules(rules).to_rules():
            return segment
    return segments.save_segment(session, merchant, name=name, rules=rules, now=NOW)


def server_facts(engine) -> dict:
    """The PostgreSQL version and the settings that matter for these figures."""
    from sqlalchemy import text

    names = ("shared_buffers", "work_mem", "max_parallel_workers_per_gather", "synchronous_commit", "jit")
    with engine.connect() as connection:
        facts = {"version": connection.execute(text("SHOW server_version")).scalar()}
        for name in names:
            facts[name] = connection.execute(text(f"SHOW {name}")).scalar()
    facts["cpus"] = os.cpu_count()
    return facts


def signed_in_client(url: str):
    """The app on `url` in Flask's test client, signed in as the owner `seed` creates (segment_count, dashboard)."""
    import re

    from smscrm import create_app
    from smscrm.config import Settings

    app = create_app(Settings(env="testing", database_url=url, secret_key="bench-secret-key-0123456789",
                              validate_signatures=False))
    client = app.test_client()
    page = client.get("/sign-in").text
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = client.post("/sign-in", data={"csrf_token": token, "email": "owner@bench.example",
                                               "password": "bench password 123"})
    if response.status_code != 302:
        raise BenchError("could not sign in to the app")
    return client


def median(values) -> float:
    return statistics.median(values)


def write_results(kind: str, results: dict) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{kind}-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(results, indent=2, default=str))
    return path
