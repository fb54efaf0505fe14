"""`smscrm serve`'s request log (the development server) shows paths without their query strings: a member
search may be a phone number."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.test_serve_end_to_end import free_port
from tests.waiting import wait_for

ROOT = Path(__file__).resolve().parent.parent
SMSCRM = [sys.executable, "-m", "smscrm.cli"]
PHONE_DIGITS = "4155550100"


@pytest.fixture
def served(tmp_path):
    """This tree's `smscrm serve` on a fresh SQLite file; yields (url, log path)."""
    env = {**os.environ, "SMSCRM_ENV": "development", "SMSCRM_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
           "PYTHONPATH": str(ROOT)}
    env.pop("SMSCRM_TEST_DATABASE_URL", None)
    subprocess.run(SMSCRM + ["db", "upgrade"], env=env, check=True, capture_output=True, cwd=tmp_path)
    port, log_path = free_port(), tmp_path / "serve.log"
    with open(log_path, "w") as log:
        server = subprocess.Popen(SMSCRM + ["serve", "--port", str(port)], env=env, stdout=log,
                                  stderr=subprocess.STDOUT, cwd=tmp_path)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _answers(url), "smscrm serve to answer /healthz")
        yield url, log_path
    finally:
        server.terminate()
        server.wait(timeout=30)


def _answers(url: str) -> bool:
    try:
        return requests.get(f"{url}/healthz", timeout=10).status_code == 200
    except requests.RequestException:
        return False


def test_the_request_log_shows_the_path_without_the_query(served):
    url, log_path = served
    assert requests.get(f"{url}/members", params={"q": f"+1{PHONE_DIGITS}"}, allow_redirects=False,
                        timeout=10).status_code == 302
    line = wait_for(lambda: next((line for line in log_path.read_text().splitlines() if "GET /members" in line), None),
                    "the server to log the request")
    assert '"GET /members HTTP/1.1" 302' in line
    assert PHONE_DIGITS not in log_path.read_text() and "q=" not in log_path.read_text()
