"""`smscrm worker` told to stop (SIGTERM, as a service manager or a deploy does): the texts in flight finish and
are recorded, and the rows it held but had not sent go back to the queue at once, not when their lease runs out."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

from sqlalchemy import select

from smscrm.db.engine import utcnow
from smscrm.models import Category, OutboundMessage, Status
from tests.fake_twilio import Answer, fake_twilio  # noqa: F401 (fixture)
from tests.outbox_rows import queue
from tests.waiting import wait_for


def test_sigterm_lets_the_sends_in_flight_finish_and_gives_the_rest_back_at_once(
    database_url, session, merchant, settings, fake_twilio, tmp_path  # noqa: F811
):
    now = utcnow()
    for n in range(5):  # transactional: no quiet hours at the wall clock's time
        queue(session, merchant, now, phone=f"+1415555{n:04d}", body=f"Receipt {n}", category=Category.TRANSACTIONAL)
    answered = threading.Event()
    fake_twilio.script(*[Answer(held_until=answered)] * 5)  # every call stays in flight until the test says
    env = {
        "PATH": os.environ["PATH"], "SMSCRM_ENV": "testing", "SMSCRM_DATABASE_URL": database_url,
        "SMSCRM_SMS_BACKEND": "twilio", "TWILIO_ACCOUNT_SID": settings.twilio_account_sid,
        "TWILIO_AUTH_TOKEN": settings.twilio_auth_token, "TWILIO_API_BASE_URL": fake_twilio.base_url,
        "SMSCRM_PUBLIC_URL": settings.public_url, "SMSCRM_NUMBER_SEND_RATE": "100", "SMSCRM_SEND_CONCURRENCY": "2",
        "PYTHONPATH": os.getcwd(),
    }
    log_path = tmp_path / "worker.log"
    with open(log_path, "w") as log:
        worker = subprocess.Popen([sys.executable, "-m", "smscrm.cli", "worker", "--worker-id", "w1"], env=env,
                                  stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        wait_for(lambda: fake_twilio.posts() == 2, "two sends in flight")
        worker.send_signal(signal.SIGTERM)
        wait_for(lambda: "stopping" in log_path.read_text() or worker.poll() is not None, "the worker to hear it")
        answered.set()
        worker.wait(timeout=120)
    finally:
        answered.set()
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    assert worker.returncode == 0, log_path.read_text()
    session.expire_all()
    rows = session.execute(select(OutboundMessage.status, OutboundMessage.provider_sid, OutboundMessage.claimed_by,
                                  OutboundMessage.lease_expires_at)).all()
    sent = [row for row in rows if row.status == Status.SENT]
    given_back = [row for row in rows if row.status == Status.QUEUED]
    assert len(sent) == 2 and {row.provider_sid for row in sent} == {m.sid for m in fake_twilio.messages}
    assert len(given_back) == 3 and {(row.claimed_by, row.lease_expires_at) for row in given_back} == {(None, None)}
    assert fake_twilio.posts() == 2
