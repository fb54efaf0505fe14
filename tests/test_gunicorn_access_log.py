"""gunicorn's access log as the README starts the web process (gunicorn.conf.py): no user name from a Basic
Authorization header (where a shop system may have put its API key), no query string, no referrer."""
from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests
from gunicorn.config import Config
from gunicorn.glogging import Logger

from tests.waiting import wait_for

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).parent / "gunicorn"
KEY = "sk_0123456789ab_" + "x" * 39  # shaped like a key; the server refuses it, the log must not show it
PHONE_DIGITS = "4155550100"


def basic(user: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:".encode()).decode()


def test_gunicorn_s_user_field_is_the_basic_user_name_which_is_why_the_format_leaves_it_out():
    """What `%(u)s` prints, found from gunicorn itself: the user name of a Basic header, here an API key."""
    environ = {"REQUEST_METHOD": "GET", "RAW_URI": "/", "SERVER_PROTOCOL": "HTTP/1.1", "PATH_INFO": "/",
               "QUERY_STRING": f"q={PHONE_DIGITS}", "HTTP_AUTHORIZATION": basic(KEY)}
    response = SimpleNamespace(status="401 UNAUTHORIZED", sent=0, headers=[])
    atoms = Logger(Config()).atoms(response, SimpleNamespace(headers=[]), environ, timedelta(milliseconds=3))
    assert atoms["u"] == KEY and PHONE_DIGITS in atoms["q"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def gunicorn(tmp_path):
    """The web process as the README starts it, on a fresh SQLite file; yields (base URL, access log path)."""
    if not GUNICORN.exists():
        pytest.skip(f"gunicorn is not installed next to this Python ({GUNICORN})")
    access_log, port = tmp_path / "access.log", free_port()
    env = {**os.environ, "SMSCRM_ENV": "development", "SMSCRM_DATABASE_URL": f"sqlite:///{tmp_path / 'web.db'}",
           "PYTHONPATH": str(ROOT)}
    env.pop("SMSCRM_TEST_DATABASE_URL", None)
    command = [str(GUNICORN), "-c", str(ROOT / "gunicorn.conf.py"), "--access-logfile", str(access_log),
               "--bind", f"127.0.0.1:{port}", "--workers", "1", "wsgi:app"]
    with open(tmp_path / "gunicorn.log", "w") as output:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _answers(url), "gunicorn to answer /healthz")
        yield url, access_log
    finally:
        server.terminate()
        server.wait(timeout=30)


def _answers(url: str) -> bool:
    try:
        return requests.get(f"{url}/healthz", timeout=10).status_code in (200, 503)
    except requests.RequestException:  # not listening yet, or its worker still starting
        return False


def test_the_access_log_shows_no_user_no_query_and_no_referrer(gunicorn):
    url, access_log = gunicorn
    refused = requests.get(f"{url}/api/v1/members", params={"q": f"+1{PHONE_DIGITS}"},
                           headers={"Authorization": basic(KEY)}, timeout=10)
    assert refused.status_code == 401  # Basic is not an API key's way in
    page = requests.get(f"{url}/members", params={"q": PHONE_DIGITS}, allow_redirects=False, timeout=10,
                        headers={"Authorization": basic("alice"), "Referer": f"{url}/members?q={PHONE_DIGITS}"})
    assert page.status_code == 302  # to the sign-in page: a Basic header is no sign-in either
    lines = wait_for(lambda: [line for line in access_log.read_text().splitlines() if '"GET /members ' in line],
                     "gunicorn to log the page request")
    logged = access_log.read_text()
    assert '"GET /api/v1/members HTTP/1.1" 401' in logged and '"GET /members HTTP/1.1" 302' in lines[0]
    for leak in (KEY, "sk_", "alice", PHONE_DIGITS, "q=", "?"):
        assert leak not in logged
