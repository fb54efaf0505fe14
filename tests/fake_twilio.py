"""A loopback fake of Twilio's Messages API, so the twilio transport is tested with the real client.

A real HTTP server on 127.0.0.1 (a free port) in a thread. It checks basic auth, accepts
`POST /2010-04-01/Accounts/{sid}/Messages.json` (To, From, Body, StatusCallback), lists messages
(`GET`, filtered by To, From, DateSent, DateSent<, DateSent>), and answers the next POSTs as
scripted (`fake.script(Answer(status=429, code=20429, retry_after=60), ...)`). Accepted messages
are in `fake.messages`; every request is in `fake.requests`. With `latency`, every answer takes that
long (the benchmarks use 0.1 s); `arrivals` holds the monotonic time each accepted POST arrived.

Import the fixtures into a test module: `from tests.fake_twilio import fake_twilio, twilio_settings`.
"""
from __future__ import annotations

import base64
import json
import re
import sys
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

MESSAGES_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<account>[^/]+)/Messages\.json$")


@dataclass(frozen=True)
class Answer:
    """How the fake answers one POST: an HTTP status (201 accepts) and, for errors, Twilio's code,
    a Retry-After header; `delay` seconds pass before the answer, and it waits for `held_until` if given (an
    accepted message is stored first)."""

    status: int = 201
    code: int | None = None
    message: str = "scripted failure"
    retry_after: int | str | None = None  # seconds, or an HTTP date
    delay: float = 0.0
    held_until: threading.Event | None = None  # the answer waits until the test sets this (a call in flight)


@dataclass
class FakeMessage:
    sid: str
    to: str
    from_: str
    body: str
    status_callback: str | None
    date_created: datetime

    def as_json(self, account_sid: str, *, status: str) -> dict:
        stamp = format_datetime(self.date_created)
        return {
            "sid": self.sid, "account_sid": account_sid, "api_version": "2010-04-01",
            "to": self.to, "from": self.from_, "body": self.body, "status": status,
            "direction": "outbound-api", "num_segments": "1", "num_media": "0",
            "date_created": stamp, "date_updated": stamp,
            # Twilio fills date_sent a moment after accepting; the fake "sends" at once.
            "date_sent": None if status == "queued" else stamp,
            "error_code": None, "error_message": None, "price": None, "price_unit": "USD",
            "messaging_service_sid": None, "subresource_uris": {},
            "uri": f"/2010-04-01/Accounts/{account_sid}/Messages/{self.sid}.json",
        }


class FakeTwilio:
    def __init__(self, account_sid: str, auth_token: str, *, latency: float = 0.0):
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.latency = latency
        self.arrivals: list[float] = []
        self.clock = lambda: datetime.now(timezone.utc)  # tests set it to their `now`
        self.messages: list[FakeMessage] = []
        self.requests: list[tuple[str, str]] = []
        self._script: deque[Answer] = deque()
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-twilio", daemon=True
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def script(self, *answers: Answer) -> None:
        """The next POSTs get these answers, in order; after them messages are accepted again."""
        with self._lock:
            self._script.extend(answers)

    def posts(self) -> int:
        return sum(1 for method, _path in self.requests if method == "POST")

    def bodies(self) -> list[str]:
        return [message.body for message in self.messages]

    def __enter__(self) -> "FakeTwilio":
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def accept(self, form: dict[str, str]) -> tuple[Answer, FakeMessage | None]:
        """Record the request's message unless the script says to fail it."""
        with self._lock:
            answer = self._script.popleft() if self._script else Answer()
            if answer.status >= 400:
                return answer, None
            message = FakeMessage(
                sid="SM" + uuid.uuid4().hex, to=form["To"], from_=form["From"], body=form["Body"],
                status_callback=form.get("StatusCallback"), date_created=self.clock(),
            )
            self.messages.append(message)
            self.arrivals.append(time.monotonic())
            return answer, message

    def listed(self, query: dict[str, str]) -> list[FakeMessage]:
        """Messages matching Twilio's list filters, newest first."""
        with self._lock:
            found = [
                m for m in self.messages
                if query.get("To", m.to) == m.to and query.get("From", m.from_) == m.from_
                and _date_sent_matches(m.date_created, query)
            ]
        return sorted(found, key=lambda m: m.date_created, reverse=True)[: int(query.get("PageSize", 50))]


def _date_sent_matches(sent: datetime, query: dict[str, str]) -> bool:
    """DateSent=day, DateSent<=moment, DateSent>=moment (a bare day means its midnight, UTC)."""
    def moment(value: str) -> datetime:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).replace(tzinfo=timezone.utc)

    if "DateSent" in query and sent.date() != moment(query["DateSent"]).date():
        return False
    if "DateSent<" in query and sent > moment(query["DateSent<"]):
        return False
    return not ("DateSent>" in query and sent < moment(query["DateSent>"]))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # the benchmarks open many connections at once

    def handle_error(self, request, client_address) -> None:
        """A client that went away (a benchmark kills workers mid-call) is not an error of the fake."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server_version = "FakeTwilio/1.0"
    protocol_version = "HTTP/1.1"  # keep-alive, as Twilio's API: a client reuses its connection

    @property
    def fake(self) -> FakeTwilio:
        return self.server.fake

    def log_message(self, *_args) -> None:  # quiet test output
        pass

    def do_GET(self):
        path, _, query = self.path.partition("?")
        if self._rejected(path):
            return
        params = {key: values[-1] for key, values in parse_qs(query).items()}
        time.sleep(self.fake.latency)
        messages = [m.as_json(self.fake.account_sid, status="sent") for m in self.fake.listed(params)]
        self._reply(200, {
            "messages": messages, "page": 0, "page_size": len(messages), "start": 0, "end": len(messages),
            "first_page_uri": path, "next_page_uri": None, "previous_page_uri": None, "uri": self.path,
        })

    def do_POST(self):
        path = urlsplit(self.path).path
        length = int(self.headers.get("Content-Length", 0))
        form = {key: values[-1] for key, values in parse_qs(self.rfile.read(length).decode()).items()}
        if self._rejected(path):
            return
        missing = [name for name in ("To", "From", "Body") if not form.get(name)]
        if missing:
            self._error(400, 21602 if "Body" in missing else 21604, f"missing {', '.join(missing)}")
            return
        answer, message = self.fake.accept(form)
        if answer.held_until is not None:
            answer.held_until.wait()
        time.sleep(answer.delay + self.fake.latency)
        if message is None:
            headers = {"Retry-After": str(answer.retry_after)} if answer.retry_after is not None else {}
            self._error(answer.status, answer.code, answer.message, headers)
        else:
            self._reply(201, message.as_json(self.fake.account_sid, status="queued"))

    def _rejected(self, path: str) -> bool:
        """Log the request; answer 404 or 401 (and return True) unless it is for our account, signed in."""
        self.fake.requests.append((self.command, path))
        match = MESSAGES_PATH.match(path)
        if not match or match["account"] != self.fake.account_sid:
            self._error(404, 20404, f"The requested resource {path} was not found")
            return True
        expected = base64.b64encode(f"{self.fake.account_sid}:{self.fake.auth_token}".encode()).decode()
        if self.headers.get("Authorization") != f"Basic {expected}":
            self._error(401, 20003, "Authenticate")
            return True
        return False

    def _error(self, status: int, code: int | None, message: str, headers: dict | None = None) -> None:
        body = {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}",
                "status": status}
        self._reply(status, body, headers)

    def _reply(self, status: int, payload: dict, headers: dict | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def fake_twilio(settings):
    """The fake, running, for the test settings' account and auth token."""
    with FakeTwilio(settings.twilio_account_sid, settings.twilio_auth_token) as fake:
        yield fake


@pytest.fixture
def twilio_settings(settings, fake_twilio):
    """Settings for the twilio backend, pointed at the fake."""
    return replace(settings, sms_backend="twilio", twilio_api_base_url=fake_twilio.base_url, twilio_timeout_seconds=5.0)
