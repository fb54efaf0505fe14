"""The database goes away and comes back (a TCP proxy in front of the test server is stopped and started; the
shared server is never touched): web requests answer 503 with one log line, commands stop with one line naming
the database (password hidden), and the delivery worker and the scheduler's jobs try again after growing pauses,
one line each, and carry on by themselves when the database answers again."""
from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from smscrm import create_app, delivery, jobs
from smscrm.accounts import api_keys
from smscrm.cli import main
from smscrm.db.engine import make_engine, make_sessionmaker
from smscrm.db.outages import Backoff
from smscrm.models import OutboundMessage, Status
from tests.conftest import MERCHANT_NUMBER, OWNER_EMAIL, OWNER_PASSWORD, PUBLIC_URL, twilio_signature
from tests.outbox_rows import NOON_IN_LOS_ANGELES, RecordingTransport, queue
from tests.tcp_proxy import TcpProxy
from tests.waiting import wait_for
from tests.web.conftest import csrf_token

FAST = Backoff(base=0.01, cap=0.04)  # the pauses a test can wait for: 0.01, 0.02, 0.04, 0.04, …
PAUSE = re.compile(r"trying again in ([0-9.]+)s$")
needs_server = pytest.mark.postgres_only("the proxy stands between the process and a PostgreSQL server")


@pytest.fixture
def proxy():
    proxy = TcpProxy().start()
    yield proxy
    proxy.stop()


@pytest.fixture
def refused_url(proxy) -> str:
    """A server URL, with a password, where nothing answers (the proxy's port, the proxy stopped)."""
    proxy.stop()
    return f"postgresql+psycopg://shop:hunter2@127.0.0.1:{proxy.port}/smscrm"


def only_pause_lines(caplog) -> None:
    """Every warning or error written is one of the one-line announcements of a pause: no traceback, nothing else."""
    written = [record for record in caplog.records if record.levelno >= logging.WARNING]
    assert all(PAUSE.search(r.getMessage()) and r.exc_info is None and "\n" not in r.getMessage() for r in written), [
        r.getMessage() for r in written]


def pauses(caplog, who: str) -> list[float]:
    """The pauses `who` announced, in order."""
    said = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and r.name == "smscrm.db.outages"]
    return [float(PAUSE.search(message).group(1)) for message in said if message.startswith(f"{who}: ")]


def test_the_pauses_double_up_to_the_cap():
    assert [Backoff().delay(failures) for failures in range(1, 9)] == [1, 2, 4, 8, 16, 30, 30, 30]
    assert Backoff().delay(10_000) == 30


# -- commands ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", [["points", "verify"], ["apikey", "create", "--merchant", "1"], ["demo"],
                                     ["db", "upgrade"], ["points", "recompute"]])
def test_a_command_names_the_database_without_its_password_and_fails(refused_url, monkeypatch, command):
    monkeypatch.setenv("SMSCRM_ENV", "testing")
    monkeypatch.setenv("SMSCRM_DATABASE_URL", refused_url)
    result = CliRunner().invoke(main, command)
    assert result.exit_code == 1
    shown = refused_url.replace("hunter2", "***")
    assert result.output.startswith(f"Error: the database at {shown} does not answer: ")
    assert "Connection refused" in result.output
    assert len(result.output.strip().splitlines()) == 1 and "hunter2" not in result.output


def test_a_command_on_an_sqlite_file_that_cannot_be_opened_says_so_in_one_line(tmp_path, monkeypatch):
    (tmp_path / "not-a-folder").write_text("")
    monkeypatch.setenv("SMSCRM_ENV", "testing")
    monkeypatch.setenv("SMSCRM_DATABASE_URL", f"sqlite:///{tmp_path}/not-a-folder/smscrm.db")
    result = CliRunner().invoke(main, ["points", "verify"])
    assert result.exit_code == 1
    assert result.output.strip() == (
        f"Error: the database at sqlite:///{tmp_path}/not-a-folder/smscrm.db does not answer: "
        "unable to open database file")


# -- web requests --------------------------------------------------------------------------------------------------


def one_line_each(caplog, respond):
    """The response to `respond()` and the log records (WARNING and above) written while it was answered."""
    caplog.clear()
    response = respond()
    written = [record for record in caplog.records if record.levelno >= logging.WARNING]
    return response, written


def test_every_request_answers_503_with_one_log_line_when_the_database_file_cannot_be_opened(
    engine, settings, tmp_path, caplog
):
    (tmp_path / "not-a-folder").write_text("")
    app = create_app(replace(settings, database_url=f"sqlite:///{tmp_path}/not-a-folder/smscrm.db"))
    client = app.test_client()
    form = {"MessageSid": "SM1", "From": "+14155550100", "To": MERCHANT_NUMBER, "Body": "JOIN"}
    signed = {"X-Twilio-Signature": twilio_signature(PUBLIC_URL + "/sms/inbound", form)}
    token = csrf_token(client.get("/sign-in").text)
    for respond, kind in [
        (lambda: client.post("/sms/inbound", data=form, headers=signed), "json"),
        (lambda: client.get("/api/v1/members", headers={"Authorization": "Bearer sk_0123456789ab_" + "k" * 43}), "json"),
        (lambda: client.post("/sign-in", data={"csrf_token": token, "email": OWNER_EMAIL,
                                              "password": OWNER_PASSWORD}), "page"),
    ]:
        response, written = one_line_each(caplog, respond)
        assert response.status_code == 503
        assert_one_line(written)
        if kind == "json":
            assert response.get_json()["error"]["code"] == "database_unavailable"
        else:
            assert "The database is not answering" in response.text
    app.extensions["smscrm.engine"].dispose()


def assert_one_line(written):
    assert len(written) == 1, [record.getMessage() for record in written]
    record = written[0]
    assert record.exc_info is None and "\n" not in record.getMessage()
    assert record.getMessage().startswith("database unreachable on ")


@needs_server
def test_every_request_answers_503_with_one_log_line_and_all_work_again_when_the_database_returns(
    engine, settings, database_url, merchant, session, now, proxy, caplog
):
    _row, key = api_keys.create(session, merchant, name="till 1", now=now)
    session.commit()
    app = create_app(replace(settings, database_url=proxy.url(database_url)))
    client = app.test_client()
    token = csrf_token(client.get("/sign-in").text)
    assert client.post("/sign-in", data={"csrf_token": token, "email": OWNER_EMAIL,
                                         "password": OWNER_PASSWORD}).status_code == 302
    sids = iter(range(1, 100))

    def text_in():
        form = {"MessageSid": f"SM{next(sids)}", "From": "+14155550100", "To": MERCHANT_NUMBER, "Body": "BAL"}
        signed = {"X-Twilio-Signature": twilio_signature(PUBLIC_URL + "/sms/inbound", form)}
        return client.post("/sms/inbound", data=form, headers=signed)

    requests = [
        (text_in, "json"),
        (lambda: client.get("/api/v1/members", headers={"Authorization": f"Bearer {key}"}), "json"),
        (lambda: client.get("/members"), "page"),
    ]
    for respond, _kind in requests:
        assert respond().status_code == 200

    proxy.stop()  # the open connections are cut, new ones refused
    for _round in range(2):  # first a pooled connection found dead, then a refused one
        for respond, kind in requests:
            response, written = one_line_each(caplog, respond)
            assert response.status_code == 503
            assert response.headers["Retry-After"] == "60"
            assert_one_line(written)
            if kind == "json":
                assert response.get_json()["error"]["code"] == "database_unavailable"
            else:
                assert "The database is not answering" in response.text

    proxy.start()
    for respond, _kind in requests:
        assert respond().status_code == 200
    app.extensions["smscrm.engine"].dispose()


# -- the worker and the scheduler ----------------------------------------------------------------------------------


@needs_server
def test_the_worker_backs_off_while_the_database_is_away_and_delivers_when_it_returns(
    database_url, session, merchant, proxy, caplog
):
    message_id = queue(session, merchant, NOON_IN_LOS_ANGELES)
    proxy.stop()
    through_proxy = make_engine(proxy.url(database_url))
    transport, stop = RecordingTransport(), threading.Event()
    worker = threading.Thread(target=delivery.run_worker, args=(make_sessionmaker(through_proxy), transport), kwargs={
        "stop": stop, "worker_id": "w", "clock": running_from(NOON_IN_LOS_ANGELES), "poll_seconds": 0.01,
        "backoff": FAST,
    })
    caplog.set_level(logging.INFO)
    worker.start()
    try:
        wait_for(lambda: len(pauses(caplog, "delivery worker w")) >= 5, "five attempts of the worker")
        assert transport.sent == []
        proxy.start()
        wait_for(lambda: status(session, message_id) == Status.SENT, "the text to go once the database is back")

        failed_before = len(pauses(caplog, "delivery worker w"))
        proxy.stop()  # again, now that the worker holds pooled connections: they are cut
        wait_for(lambda: len(pauses(caplog, "delivery worker w")) >= failed_before + 3, "three more attempts")
        second_id = queue(session, merchant, NOON_IN_LOS_ANGELES, body="Second. Reply STOP to opt out")
        proxy.start()
        wait_for(lambda: status(session, second_id) == Status.SENT, "the second text once the database is back")
    finally:
        stop.set()
        worker.join(timeout=60)
        through_proxy.dispose()
    seen = pauses(caplog, "delivery worker w")
    assert seen[:5] == [0.01, 0.02, 0.04, 0.04, 0.04]
    assert seen[failed_before:failed_before + 3] == [0.01, 0.02, 0.04]  # the pauses start over after a recovery
    assert caplog.text.count("delivery worker w: the database answers again") == 2
    only_pause_lines(caplog)
    assert len(transport.sent) == 2


def running_from(moment: datetime):
    """A clock that starts at `moment` and runs: the worker's claims, renewals and upkeep fall due as they would."""
    started = time.monotonic()
    return lambda: moment + timedelta(seconds=time.monotonic() - started)


def status(session, message_id: int) -> Status:
    return session.scalar(select(OutboundMessage.status).where(OutboundMessage.id == message_id)
                          .execution_options(populate_existing=True))


@needs_server
def test_a_scheduled_job_backs_off_while_the_database_is_away_and_runs_when_it_returns(database_url, proxy, caplog):
    lease_recovery = next(job for job in jobs.JOBS if job.id == "lease_recovery")
    proxy.stop()
    through_proxy = make_engine(proxy.url(database_url))
    scheduler = jobs.build_scheduler(make_sessionmaker(through_proxy), jobs=(lease_recovery,), backoff=FAST)
    caplog.set_level(logging.INFO)
    scheduler.start()  # a catch-up job: it runs at once
    try:
        wait_for(lambda: len(pauses(caplog, "job lease_recovery")) >= 5, "five attempts of the job")
        assert "job lease_recovery done" not in caplog.text
        proxy.start()
        wait_for(lambda: "job lease_recovery done: 0" in caplog.text, "the job to run once the database is back")
    finally:
        scheduler.shutdown(wait=False)
        through_proxy.dispose()
    assert pauses(caplog, "job lease_recovery")[:5] == [0.01, 0.02, 0.04, 0.04, 0.04]
    only_pause_lines(caplog)


@needs_server
def test_a_job_waiting_for_the_database_stops_with_the_scheduler(database_url, proxy, caplog):
    lease_recovery = next(job for job in jobs.JOBS if job.id == "lease_recovery")
    proxy.stop()
    through_proxy = make_engine(proxy.url(database_url))
    scheduler = jobs.build_scheduler(make_sessionmaker(through_proxy), jobs=(lease_recovery,),
                                     backoff=Backoff(base=3600, cap=3600))
    caplog.set_level(logging.INFO)
    scheduler.start()
    wait_for(lambda: pauses(caplog, "job lease_recovery") == [3600], "the job to wait for the database")
    running = [thread for thread in threading.enumerate() if thread.name.startswith("ThreadPoolExecutor")]
    scheduler.shutdown(wait=False)
    for thread in running:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in running)
    through_proxy.dispose()
