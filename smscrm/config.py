"""Settings read from the environment (and a `.env` file when present), parsed and validated."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlparse

from dotenv import load_dotenv
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from smscrm.errors import ConfigError

DEFAULT_DATABASE_URL = "sqlite:///instance/smscrm.db"
DEV_SECRET_KEY = "dev-secret-key-not-for-production"
DEV_AUTH_TOKEN = "dev-auth-token"
BACKENDS = ("console", "twilio")
ENVIRONMENTS = ("production", "development", "testing")
DATABASE_DRIVERS = {"sqlite": "pysqlite", "postgresql": "psycopg"}  # backend: the one driver installed for it


def _flag(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def _url(name: str, raw: str) -> str:
    parsed = urlparse(raw)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigError(f"{name} must be an http(s) URL such as https://sms.example.com, got {raw!r}")
    return raw.rstrip("/")


@dataclass(frozen=True)
class Settings:
    """Everything configurable about one deployment. Build with `from_env()`."""

    env: str = "production"
    database_url: str = DEFAULT_DATABASE_URL
    secret_key: str = ""
    sms_backend: str = "console"
    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    twilio_api_base_url: str = ""
    twilio_timeout_seconds: float = 10.0
    public_url: str = ""
    validate_signatures: bool = True
    send_rate: float = 100.0  # texts per second for the whole Twilio account, shared by every worker
    number_send_rate: float = 1.0  # texts per second from one sender number (a US long code sends 1)
    send_concurrency: int = 32  # provider calls one worker keeps in flight
    session_idle_minutes: int = 480  # a signed-in session ends after this long without a request
    rate_limit_storage_uri: str = "memory://"  # where sign-in attempts are counted (memory is per process)
    trusted_proxies: int = 0  # reverse proxies in front of the web app whose X-Forwarded-For names the client

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def signing_token(self) -> str:
        """The token webhooks are signed with: Twilio's auth token, or a fixed one in development."""
        return self.twilio_auth_token or ("" if self.is_production else DEV_AUTH_TOKEN)

    @classmethod
    def from_env(cls, environ: dict | None = None, *, dotenv_path: str | Path | None = None) -> "Settings":
        """Read SMSCRM_* and TWILIO_* variables; raise ConfigError naming the first bad one."""
        if environ is None:
            load_dotenv(dotenv_path or Path.cwd() / ".env", override=False)
            environ = os.environ
        env = environ.get("SMSCRM_ENV", "production").strip().lower()
        if env not in ENVIRONMENTS:
            raise ConfigError(f"SMSCRM_ENV must be one of {', '.join(ENVIRONMENTS)}, got {env!r}")
        backend = environ.get("SMSCRM_SMS_BACKEND", "console").strip().lower()
        if backend not in BACKENDS:
            raise ConfigError(f"SMSCRM_SMS_BACKEND must be one of {', '.join(BACKENDS)}, got {backend!r}")
        settings = cls(
            env=env,
            database_url=database_url_from_env(environ),
            secret_key=environ.get("SMSCRM_SECRET_KEY", "").strip(),
            sms_backend=backend,
            twilio_account_sid=environ.get("TWILIO_ACCOUNT_SID", "").strip(),
            twilio_auth_token=environ.get("TWILIO_AUTH_TOKEN", "").strip(),
            twilio_api_base_url=_optional_url(environ, "TWILIO_API_BASE_URL"),
            public_url=_optional_url(environ, "SMSCRM_PUBLIC_URL"),
            validate_signatures=_flag(
                "SMSCRM_VALIDATE_SIGNATURES", environ.get("SMSCRM_VALIDATE_SIGNATURES", "true")
            ),
            send_rate=_number(environ, "SMSCRM_SEND_RATE", cls.send_rate, low=0.01, high=10_000),
            number_send_rate=_number(environ, "SMSCRM_NUMBER_SEND_RATE", cls.number_send_rate, low=0.01, high=10_000),
            send_concurrency=_number(environ, "SMSCRM_SEND_CONCURRENCY", cls.send_concurrency, low=1, high=512, whole=True),
            session_idle_minutes=_number(
                environ, "SMSCRM_SESSION_IDLE_MINUTES", cls.session_idle_minutes, low=5, high=7 * 24 * 60, whole=True
            ),
            rate_limit_storage_uri=_storage_uri(environ, "SMSCRM_RATE_LIMIT_STORAGE_URI", cls.rate_limit_storage_uri),
            trusted_proxies=_number(environ, "SMSCRM_TRUSTED_PROXIES", cls.trusted_proxies, low=0, high=5, whole=True),
        )
        return settings.validated()

    def validated(self) -> "Settings":
        """Fill development defaults, or refuse to start production with a missing setting."""
        if not self.is_production:
            return replace(self, secret_key=self.secret_key or DEV_SECRET_KEY)
        if not self.secret_key:
            raise ConfigError("SMSCRM_SECRET_KEY is required in production (a long random string)")
        if len(self.secret_key) < 16:
            raise ConfigError("SMSCRM_SECRET_KEY must be at least 16 characters long")
        if self.sms_backend == "twilio" and not self.twilio_account_sid.startswith("AC"):
            raise ConfigError("TWILIO_ACCOUNT_SID is required for the twilio backend (it starts with AC)")
        if (self.sms_backend == "twilio" or self.validate_signatures) and not self.twilio_auth_token:
            raise ConfigError("TWILIO_AUTH_TOKEN is required to send with Twilio and to check webhook signatures")
        if self.validate_signatures and not self.public_url:
            raise ConfigError("SMSCRM_PUBLIC_URL is required to check webhook signatures (the URL Twilio calls)")
        return self


def database_url_from_env(environ=None) -> str:
    """Just the database URL, for commands (migrations) that need nothing else."""
    if environ is None:
        load_dotenv(Path.cwd() / ".env", override=False)
        environ = os.environ
    raw = environ.get("SMSCRM_DATABASE_URL", "").strip() or DEFAULT_DATABASE_URL
    try:
        url = make_url(raw)
        backend, driver = url.get_backend_name(), url.get_driver_name()
    except (ArgumentError, ValueError):  # unparsable, or no such dialect
        backend = driver = None
    if backend not in DATABASE_DRIVERS or DATABASE_DRIVERS[backend] != driver:
        raise ConfigError(
            "SMSCRM_DATABASE_URL must be sqlite:///path/to/file.db or postgresql+psycopg://user:password@host/name, "
            f"got {hide_password(raw)!r}"
        )
    return raw


def hide_password(database_url: str) -> str:
    """The URL as it may be shown: the password, if any, as ***."""
    try:
        return make_url(database_url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return re.sub(r"(//[^/@:]*:)[^/@]*@", r"\1***@", database_url)


def _number(environ, name: str, default: float, *, low: float, high: float, whole: bool = False) -> float:
    """A number in [low, high] (a whole one with `whole`), or `default` when the variable is unset."""
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw) if whole else float(raw)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        kind = "a whole number" if whole else "a number"
        raise ConfigError(f"{name} must be {kind} from {low:g} to {high:g}, got {raw!r}")
    return value


def _storage_uri(environ, name: str, default: str) -> str:
    """A storage URI of the `limits` package (memory://, redis://host:6379, memcached://host:11211, ...)."""
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    if not urlparse(raw).scheme or "://" not in raw:
        raise ConfigError(f"{name} must be a storage URI such as memory:// or redis://localhost:6379, got {raw!r}")
    return raw


def _optional_url(environ, name: str) -> str:
    raw = environ.get(name, "").strip()
    return _url(name, raw) if raw else ""
