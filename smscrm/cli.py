"""The `smscrm` command: database, merchants, the worker, the scheduler, and a shopper simulator."""
from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import uuid
from pathlib import Path

import click

from smscrm.config import DEV_AUTH_TOKEN, Settings, database_url_from_env, hide_password
from smscrm.db import outages
from smscrm.errors import ConfigError, SmscrmError

log = logging.getLogger("smscrm")

DEFAULT_SERVER_URL = "http://127.0.0.1:5000"
SERVER_URL_FILE = Path("instance/server-url")  # written by `smscrm serve` while it runs, read by `smscrm simulate`

DEMO_MERCHANT = {
    "name": "Demo Tea House",
    "number": "+15005550006",
    "email": "owner@demo.test",
    "password": "oolong demo kettle",
    "signature": "演示茶馆",
}


def load_settings() -> Settings:
    """Settings from the environment; a bad one stops the command with one clear line (`Commands`)."""
    return Settings.from_env()


def open_sessionmaker(settings: Settings):
    from smscrm.db.engine import PING_AFTER_IDLE_SECONDS, make_engine, make_sessionmaker

    return make_sessionmaker(make_engine(settings.database_url, ping_after_idle=PING_AFTER_IDLE_SECONDS))


class Commands(click.Group):
    """Any command stops with one line, exit status 1, on a bad setting or when the database does not answer."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            raise click.ClickException(f"configuration: {exc.message}") from None
        except outages.UNREACHABLE as exc:
            where = hide_password(database_url_from_env())
            raise click.ClickException(f"the database at {where} does not answer: {outages.reason(exc)}") from None


@click.group(cls=Commands)
def main() -> None:
    """smscrm: SMS membership and loyalty for small merchants."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


@main.group()
def db() -> None:
    """The database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply every migration not yet applied (creates the SQLite file if needed)."""
    from smscrm.db.migrations import statistics_warning, upgrade

    database_url = database_url_from_env()
    upgrade(database_url)
    click.echo("database is up to date")
    warning = statistics_warning(database_url)
    if warning:
        click.echo(warning, err=True)


@main.group()
def merchant() -> None:
    """Merchants and their owner logins."""


@merchant.command("create")
@click.option("--name", required=True)
@click.option("--number", required=True, help="the sender number, E.164 (+14155550000)")
@click.option("--language", type=click.Choice(["en", "zh"]), default="en", show_default=True)
@click.option("--timezone", "timezone_", default="UTC", show_default=True, help="IANA name, e.g. Asia/Shanghai")
@click.option("--country", default="US", show_default=True, help="for reading local numbers")
@click.option("--signature", default=None, help="shown as 【signature】 in Chinese texts (default: the name)")
@click.option("--email", required=True)
@click.option("--password", required=True)
def merchant_create(name, number, language, timezone_, country, signature, email, password) -> None:
    """Create a merchant and its owner login; prints the merchant id on the last line."""
    from smscrm.accounts.merchants import create_merchant
    from smscrm.db.engine import utcnow

    settings = load_settings()
    with open_sessionmaker(settings)() as session:
        try:
            created = create_merchant(
                session, name=name, number=number, email=email, password=password, now=utcnow(),
                language=language, timezone=timezone_, country=country, signature=signature,
            )
        except SmscrmError as exc:
            raise click.ClickException(exc.message) from None
        session.commit()
        click.echo(f"created merchant {created.name!r} with number {created.primary_number}, owner {email}")
        click.echo(created.id)


@merchant.command("list")
def merchant_list() -> None:
    """Every merchant: its id (for `apikey create --merchant ID`), name and numbers."""
    from smscrm.accounts.merchants import all_merchants

    settings = load_settings()
    with open_sessionmaker(settings)() as session:
        found = all_merchants(session)
        for each in found:
            click.echo(f"{each.id}  {each.name}  {', '.join(number.number for number in each.numbers)}")
    if not found:
        click.echo("no merchants yet: `smscrm merchant create` adds one (`smscrm demo` the demo merchant)")


@main.group()
def apikey() -> None:
    """API keys for shop systems (REST API at /api/v1)."""


@apikey.command("create")
@click.option("--merchant", "merchant_id", required=True, type=int, help="the merchant's id")
@click.option("--name", default=None, help="what the key is for, e.g. 'till 1' (default: API key)")
def apikey_create(merchant_id: int, name: str | None) -> None:
    """Create a key; it is printed once, on the last line, and cannot be shown again."""
    from smscrm.accounts import api_keys
    from smscrm.db.engine import utcnow
    from smscrm.models import Merchant

    settings = load_settings()
    with open_sessionmaker(settings)() as session:
        found = session.get(Merchant, merchant_id)
        if found is None:
            raise click.ClickException(f"there is no merchant with id {merchant_id}")
        try:
            row, key = api_keys.create(session, found, name=name, now=utcnow())
        except SmscrmError as exc:
            raise click.ClickException(exc.message) from None
        session.commit()
        click.echo(f"API key {row.prefix} ({row.name}) for {found.name!r}; store it now, it is not shown again:")
        click.echo(key)


@apikey.command("revoke")
@click.argument("prefix")
def apikey_revoke(prefix: str) -> None:
    """Revoke the key whose prefix (sk_ and 12 characters, the start of the key) is PREFIX."""
    from smscrm.accounts import api_keys
    from smscrm.db.engine import utcnow

    settings = load_settings()
    with open_sessionmaker(settings)() as session:
        try:
            row = api_keys.revoke(session, prefix, now=utcnow())
        except SmscrmError as exc:
            raise click.ClickException(exc.message) from None
        session.commit()
        click.echo(f"API key {row.prefix} ({row.name}) revoked at {row.revoked_at:%Y-%m-%d %H:%M} UTC")


@main.group("points")
def points_group() -> None:
    """The points ledger: checks and the nightly jobs, run by hand."""


@points_group.command("verify")
def points_verify() -> None:
    """Check that every balance is the sum of its ledger entries; exits 1 and lists the mismatches if not."""
    from smscrm import points

    settings = load_settings()
    with open_sessionmaker(settings)() as session:
        mismatches = points.verify_balances(session)
    for found in mismatches:
        where = f"entry {found.entry_id}: balance_after" if found.entry_id else "balance"
        click.echo(f"member {found.member_id} (merchant {found.merchant_id}): {where} {found.balance}, "
                   f"but the entries add up to {found.ledger_sum}")
    if mismatches:
        raise click.ClickException(f"{len(mismatches)} mismatch(es) between balances and the ledger")
    click.echo("every balance is the sum of its ledger entries")


@points_group.command("expire")
def points_expire() -> None:
    """Expire points past each merchant's expiry period and give back unused expired redemption codes."""
    from smscrm import points
    from smscrm.db.engine import utcnow

    settings = load_settings()
    with open_sessionmaker(settings)() as session:
        now = utcnow()
        expired = points.expire_points(session, now=now)
        released = points.release_expired_redemptions(session, now=now)
        session.commit()
    click.echo(f"{expired} points expired; {released} expired redemption code(s) gave their points back")


@points_group.command("recompute")
def points_recompute() -> None:
    """Rebuild every member's visit statistics, stage and value class now (the scheduler does it nightly)."""
    from smscrm.db.engine import utcnow
    from smscrm.loyalty import classes

    settings = load_settings()
    with open_sessionmaker(settings)() as session:
        changed = classes.recompute(session, now=utcnow())
        session.commit()
    click.echo(f"recomputed: {changed} member(s) changed")


@main.command()
def demo() -> None:
    """Seed a demo merchant when the database has none (used by `make run`)."""
    from smscrm.accounts.merchants import create_merchant, has_merchants
    from smscrm.db.engine import utcnow

    settings = load_settings()
    with open_sessionmaker(settings)() as session:
        if has_merchants(session):
            click.echo("demo: the database already has merchants, nothing seeded")
            return
        create_merchant(session, now=utcnow(), timezone="America/Los_Angeles", **DEMO_MERCHANT)
        session.commit()
    click.echo(
        f"demo merchant {DEMO_MERCHANT['name']!r} on {DEMO_MERCHANT['number']}: "
        f"sign in as {DEMO_MERCHANT['email']} / {DEMO_MERCHANT['password']}"
    )


def start_worker_thread(settings: Settings, sessions, stop: threading.Event, *, worker_id: str) -> threading.Thread:
    from smscrm import delivery
    from smscrm.sending.transports import make_transport

    thread = threading.Thread(
        target=delivery.run_worker,
        args=(sessions, make_transport(settings)),
        kwargs={"stop": stop, "worker_id": worker_id, **delivery.worker_options(settings)},
        name="delivery-worker",
        daemon=True,
    )
    thread.start()
    return thread


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
def serve(host: str, port: int) -> None:
    """Development: the web app, the delivery worker and the scheduler in one process."""
    from werkzeug.serving import run_simple

    from smscrm import create_app, jobs
    from smscrm.web.dev_server import RequestHandler

    settings = load_settings()
    app = create_app(settings)
    sessions = app.extensions["smscrm.sessionmaker"]  # one pool for the process: the app's
    stop = threading.Event()
    delivering = start_worker_thread(settings, sessions, stop, worker_id=f"serve-{uuid.uuid4().hex[:8]}")
    background = jobs.build_scheduler(sessions)
    background.start()
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::', '') else host}:{port}"
    click.echo(f"smscrm on {url} (SMS backend: {settings.sms_backend})")
    SERVER_URL_FILE.parent.mkdir(parents=True, exist_ok=True)
    SERVER_URL_FILE.write_text(url + "\n")  # where `smscrm simulate` finds this server
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stopped like Ctrl-C: the server returns
    try:
        run_simple(host, port, app, threaded=True, use_reloader=False, request_handler=RequestHandler)
    finally:
        SERVER_URL_FILE.unlink(missing_ok=True)
        stop.set()
        background.shutdown(wait=False)
        delivering.join()  # the texts in flight finish, the rest go back to the queue


@main.command()
@click.option("--worker-id", default=None, help="a name for this worker in the outbox (default: random)")
def worker(worker_id: str | None) -> None:
    """Deliver queued texts until stopped (SIGTERM, Ctrl-C): then the texts in flight finish and the rest go back to
    the queue at once. Several may run side by side on PostgreSQL."""
    settings = load_settings()
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):  # the loop runs in a thread; this one only waits for it
        signal.signal(signum, lambda _signum, _frame: stop.set())
    worker_id = worker_id or f"worker-{uuid.uuid4().hex[:8]}"
    click.echo(f"{worker_id}: delivering with the {settings.sms_backend} backend")
    start_worker_thread(settings, open_sessionmaker(settings), stop, worker_id=worker_id).join()


@main.command()
def scheduler() -> None:
    """Run the time-based jobs (care rules, due campaigns, nightly recompute, …) until interrupted.
    Exactly one should run; each job is idempotent, so a second one by mistake sends nothing twice."""
    from apscheduler.schedulers.blocking import BlockingScheduler

    from smscrm import jobs

    settings = load_settings()
    blocking = jobs.build_scheduler(open_sessionmaker(settings), scheduler_class=BlockingScheduler)
    click.echo("scheduler: " + ", ".join(job.id for job in jobs.JOBS))
    try:
        blocking.start()
    except KeyboardInterrupt:
        blocking.shutdown(wait=False)


@main.command()
@click.option("--to", "to_number", required=True, help="the merchant's number, E.164")
@click.option("--from", "from_number", required=True, help="the shopper's number, E.164")
@click.option("--url", default=None, help=f"the running server (default: the one `smscrm serve` or `make run` "
              f"started in this folder, else {DEFAULT_SERVER_URL})")
@click.option("--token", default=None, help="signing token (default: TWILIO_AUTH_TOKEN, or the development token)")
@click.argument("body")
def simulate(to_number: str, from_number: str, url: str, token: str | None, body: str) -> None:
    """Text BODY to a running server as Twilio would (signed webhook) and print the reply."""
    from dotenv import load_dotenv

    from smscrm.simulator import send_text

    load_dotenv(".env")
    url = url or running_server_url()
    try:
        reply = send_text(
            url, to_number=to_number, from_number=from_number, body=body,
            token=token or os.environ.get("TWILIO_AUTH_TOKEN") or DEV_AUTH_TOKEN,
            signed_base=os.environ.get("SMSCRM_PUBLIC_URL") or url,
        )
    except SmscrmError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(reply if reply else "(no reply)")


def running_server_url() -> str:
    """The address `smscrm serve` wrote when it started in this folder, else the default one."""
    try:
        return SERVER_URL_FILE.read_text().strip() or DEFAULT_SERVER_URL
    except FileNotFoundError:
        return DEFAULT_SERVER_URL


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
