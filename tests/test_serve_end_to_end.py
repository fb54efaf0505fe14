"""The product as `make run` starts it: `smscrm serve` (web, worker, scheduler in one process,
console SMS backend) and `smscrm simulate` as the shopper. STOP silences queued texts; START
brings them back."""
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from smscrm.db.engine import make_engine, make_sessionmaker, utcnow
from smscrm.messaging.outbox import queue_text
from smscrm.models import Category, Merchant, OutboundMessage, SenderNumber, Status
from tests.waiting import wait_for

SMSCRM = [sys.executable, "-m", "smscrm.cli"]
DEMO_NUMBER = "+15005550006"
SHOPPER = "+14155550100"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def served(tmp_path):
    """A fresh `smscrm serve` on its own SQLite file; yields (url, env, log path)."""
    database_url = f"sqlite:///{tmp_path / 'serve.db'}"
    env = {**os.environ, "SMSCRM_ENV": "development", "SMSCRM_DATABASE_URL": database_url}
    for name in ("SMSCRM_TEST_DATABASE_URL", "TWILIO_AUTH_TOKEN", "SMSCRM_PUBLIC_URL", "SMSCRM_SMS_BACKEND"):
        env.pop(name, None)
    for command in (["db", "upgrade"], ["demo"]):
        subprocess.run(SMSCRM + command, env=env, check=True, capture_output=True, cwd=tmp_path)
    port = free_port()
    log_path = tmp_path / "serve.log"
    with open(log_path, "w") as log:
        server = subprocess.Popen(SMSCRM + ["serve", "--port", str(port)], env=env, stdout=log,
                                  stderr=subprocess.STDOUT, cwd=tmp_path)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _healthy(url), "the server to answer /healthz")
        yield url, env, log_path, database_url
    finally:
        server.terminate()
        server.wait(timeout=20)


def _healthy(url: str) -> bool:
    try:
        return requests.get(f"{url}/healthz", timeout=2).status_code == 200
    except requests.ConnectionError:
        return False


def simulate(url, env, body) -> str:
    result = subprocess.run(SMSCRM + ["simulate", "--url", url, "--to", DEMO_NUMBER, "--from", SHOPPER, body],
                            env=env, capture_output=True, text=True, check=True)
    return result.stdout.strip()


def queue_and_wait(database_url: str, body: str) -> str:
    """Queue a text (transactional, so quiet hours do not delay it) and wait for the worker's verdict."""
    sessions = make_sessionmaker(make_engine(database_url))
    with sessions() as session:
        merchant = session.scalar(select(Merchant).join(SenderNumber).where(SenderNumber.number == DEMO_NUMBER))
        message_id = queue_text(session, merchant, to_phone=SHOPPER, body=body, category=Category.TRANSACTIONAL,
                             purpose="e2e", now=utcnow())
        session.commit()

    def verdict():
        with sessions() as session:
            status = session.scalar(select(OutboundMessage.status).where(OutboundMessage.id == message_id))
            return status if status not in (Status.QUEUED, Status.SENDING) else None

    return wait_for(verdict, f"the worker to deliver {body!r}")


def test_join_stop_start_as_a_shopper(served):
    url, env, log_path, database_url = served
    assert "Welcome to Demo Tea House, Ann!" in simulate(url, env, "JOIN Ann")
    assert "演示茶馆" in subprocess.run(
        SMSCRM + ["simulate", "--url", url, "--to", DEMO_NUMBER, "--from", "+14155550101", "入会"],
        env=env, capture_output=True, text=True, check=True).stdout

    assert "unsubscribed" in simulate(url, env, "STOP")
    assert queue_and_wait(database_url, "Tea tasting on Friday!") == Status.SUPPRESSED
    assert "Tea tasting on Friday!" not in Path(log_path).read_text()

    assert "subscribed to Demo Tea House again" in simulate(url, env, "START")
    assert queue_and_wait(database_url, "Tea tasting moved to Saturday!") == Status.SENT
    assert "+1415•••0100: Tea tasting moved to Saturday!" in Path(log_path).read_text()
