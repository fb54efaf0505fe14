"""Shared fixtures: a migrated database (SQLite, or PostgreSQL when SMSCRM_TEST_DATABASE_URL is set),
a clean slate for every test, an app and client, signed Twilio webhooks, and a guard against Twilio."""
from __future__ import annotations

import os
import socket
from datetime import datetime, timezone
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from argon2 import profiles as argon2_profiles
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from sqlalchemy import text
from twilio.request_validator import RequestValidator

from smscrm import create_app
from smscrm.accounts import logins
from smscrm.accounts.merchants import create_merchant
from smscrm.config import Settings
from smscrm.db.engine import make_engine, make_sessionmaker
from smscrm.db.migrations import upgrade
from smscrm.db.types import Base

TEST_AUTH_TOKEN = "test-auth-token-0123456789abcdef"
PUBLIC_URL = "https://sms.example.test"
MERCHANT_NUMBER = "+14155550000"
OWNER_EMAIL = "owner@tea.example"
OWNER_PASSWORD = "correct horse battery"
TRANSLATIONS = Path(__file__).resolve().parent.parent / "smscrm" / "translations"

_real_getaddrinfo = socket.getaddrinfo


def _guarded_getaddrinfo(host, *args, **kwargs):
    if isinstance(host, (str, bytes)) and (host.decode() if isinstance(host, bytes) else host).lower().rstrip(
        "."
    ).endswith("twilio.com"):
        raise AssertionError(f"a test tried to reach the real Twilio host {host!r}")
    return _real_getaddrinfo(host, *args, **kwargs)


socket.getaddrinfo = _guarded_getaddrinfo  # for the whole test session: Twilio is never reached
# Argon2's production cost (64 MiB, 3 passes) is the point in production and only slows tests down.
logins.password_hasher = PasswordHasher.from_parameters(argon2_profiles.CHEAPEST)


def pytest_sessionstart(session):
    """The catalogues compiled as `make install` does, so that pytest run straight from a checkout (no make)
    shows the pages in Chinese too."""
    for po in sorted(TRANSLATIONS.glob("*/LC_MESSAGES/messages.po")):
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            with po.open("rb") as source:
                catalogue = read_po(source)
            with mo.open("wb") as target:
                write_mo(target, catalogue)


def is_postgres(url: str) -> bool:
    return url.startswith("postgresql")


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    return os.environ.get("SMSCRM_TEST_DATABASE_URL") or f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


@pytest.fixture(autouse=True)
def _postgres_only(request, database_url):
    """Tests marked `postgres_only("why")` are skipped on SQLite, saying why."""
    marker = request.node.get_closest_marker("postgres_only")
    if marker is not None and not is_postgres(database_url):
        pytest.skip(marker.args[0] if marker.args else "needs PostgreSQL")


@pytest.fixture(scope="session")
def engine(database_url):
    """The test database, emptied and brought to the newest schema by the migrations themselves."""
    engine = make_engine(database_url)
    if is_postgres(database_url):
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    upgrade(database_url)
    yield engine
    engine.dispose()


@pytest.fixture(autouse=True)
def _clean_database(request):
    """Every test starts from empty tables (the schema stays)."""
    yield
    if "engine" not in request.fixturenames:
        return
    engine = request.getfixturevalue("engine")
    tables = list(reversed(Base.metadata.sorted_tables))
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            names = ", ".join(table.name for table in tables)
            connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                connection.execute(table.delete())


@pytest.fixture
def session(engine):
    session = make_sessionmaker(engine)()
    yield session
    session.rollback()
    session.close()


@pytest.fixture
def now() -> datetime:
    """A fixed moment (a Tuesday afternoon in UTC) that tests pass to the domain."""
    return datetime(2026, 3, 10, 15, 0, tzinfo=timezone.utc)


@pytest.fixture
def merchant(session, now):
    merchant = create_merchant(
        session, name="Green Leaf Tea", number=MERCHANT_NUMBER, email=OWNER_EMAIL, password=OWNER_PASSWORD,
        now=now, timezone="America/Los_Angeles", country="US", signature="绿叶茶馆",
    )
    session.commit()
    return merchant


@pytest.fixture
def settings(database_url) -> Settings:
    return Settings(
        env="testing",
        database_url=database_url,
        secret_key="test-secret-key-0123456789",
        sms_backend="console",
        twilio_account_sid="AC" + "0" * 32,
        twilio_auth_token=TEST_AUTH_TOKEN,
        public_url=PUBLIC_URL,
        validate_signatures=True,
    )


@pytest.fixture
def app(engine, settings):
    app = create_app(settings)
    app.config.update(TESTING=True)
    yield app
    app.extensions["smscrm.engine"].dispose()


@pytest.fixture
def client(app):
    return app.test_client()


def twilio_signature(url: str, params: dict, token: str = TEST_AUTH_TOKEN) -> str:
    return RequestValidator(token).compute_signature(url, params)


@pytest.fixture
def post_signed(client):
    """POST form data the way Twilio does, signed for the public URL."""

    def post(path: str, data: dict, *, token: str = TEST_AUTH_TOKEN):
        signature = twilio_signature(PUBLIC_URL + path, data, token)
        return client.post(path, data=data, headers={"X-Twilio-Signature": signature})

    return post


_sid_counter = iter(range(1, 10**9))


@pytest.fixture
def text_in(post_signed):
    """Send a text from a shopper to the merchant through the signed webhook; returns the response."""

    def send(body: str, *, sender: str = "+14155550100", to: str = MERCHANT_NUMBER, sid: str | None = None):
        sid = sid or f"SM{next(_sid_counter):032d}"
        return post_signed("/sms/inbound", {"MessageSid": sid, "From": sender, "To": to, "Body": body})

    return send


@pytest.fixture
def live_server(app):
    """The app served on a free loopback port in a background thread; yields its base URL."""
    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)
