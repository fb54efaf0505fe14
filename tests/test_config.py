"""Settings come from the environment; production refuses to start without what it needs."""
import logging
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from smscrm import create_app
from smscrm.config import DEFAULT_DATABASE_URL, Settings, hide_password
from smscrm.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent

PRODUCTION = {
    "SMSCRM_ENV": "production",
    "SMSCRM_SECRET_KEY": "s" * 32,
    "SMSCRM_SMS_BACKEND": "twilio",
    "TWILIO_ACCOUNT_SID": "AC" + "1" * 32,
    "TWILIO_AUTH_TOKEN": "token",
    "SMSCRM_PUBLIC_URL": "https://sms.example.com/",
}


def test_complete_production_settings():
    settings = Settings.from_env(PRODUCTION)
    assert settings.is_production and settings.sms_backend == "twilio"
    assert settings.public_url == "https://sms.example.com"
    assert settings.database_url == DEFAULT_DATABASE_URL and settings.validate_signatures


@pytest.mark.parametrize(
    "variable, value",
    [
        ("SMSCRM_SECRET_KEY", ""),
        ("SMSCRM_SECRET_KEY", "short"),
        ("TWILIO_ACCOUNT_SID", ""),
        ("TWILIO_AUTH_TOKEN", ""),
        ("SMSCRM_PUBLIC_URL", ""),
        ("SMSCRM_PUBLIC_URL", "sms.example.com"),
        ("SMSCRM_SMS_BACKEND", "carrier-pigeon"),
        ("SMSCRM_VALIDATE_SIGNATURES", "maybe"),
        ("SMSCRM_ENV", "staging"),
        ("TWILIO_API_BASE_URL", "ftp://fake"),
    ],
)
def test_missing_or_invalid_setting_names_the_variable(variable, value):
    with pytest.raises(ConfigError) as error:
        Settings.from_env({**PRODUCTION, variable: value})
    assert variable in error.value.message
    assert "\n" not in error.value.message


def test_development_needs_nothing():
    settings = Settings.from_env({"SMSCRM_ENV": "development"})
    assert settings.secret_key and settings.signing_token and settings.sms_backend == "console"


def test_signatures_can_be_turned_off_explicitly():
    settings = Settings.from_env({**PRODUCTION, "SMSCRM_SMS_BACKEND": "console", "TWILIO_AUTH_TOKEN": "",
                                  "SMSCRM_PUBLIC_URL": "", "SMSCRM_VALIDATE_SIGNATURES": "false"})
    assert not settings.validate_signatures


def test_dotenv_file_is_read(tmp_path, monkeypatch):
    for name in PRODUCTION:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("SMSCRM_DATABASE_URL", raising=False)
    (tmp_path / ".env").write_text("SMSCRM_ENV=development\nSMSCRM_DATABASE_URL=sqlite:////tmp/from-dotenv.db\n")
    monkeypatch.chdir(tmp_path)
    settings = Settings.from_env()
    assert settings.database_url == "sqlite:////tmp/from-dotenv.db"
    for name in ("SMSCRM_ENV", "SMSCRM_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(
    "value",
    ["not a url", "mysql://shop:hunter2@db.example/shop", "postgres://shop:hunter2@db.example/shop",
     "postgresql+psycopg2://shop:hunter2@db.example/shop", "sqlite+aiosqlite:///x.db"],
)
def test_an_unparsable_or_unsupported_database_url_names_the_variable_and_hides_the_password(value):
    with pytest.raises(ConfigError) as error:
        Settings.from_env({**PRODUCTION, "SMSCRM_DATABASE_URL": value})
    assert error.value.message.startswith("SMSCRM_DATABASE_URL must be sqlite:///")
    assert "hunter2" not in error.value.message and "\n" not in error.value.message


@pytest.mark.parametrize("value", ["sqlite:///instance/x.db", "postgresql+psycopg://shop:pw@db.example:5432/shop",
                                   "postgresql://shop:pw@db.example/shop"])  # SQLAlchemy 2.1 reads it with psycopg
def test_the_supported_database_urls_are_accepted(value):
    assert Settings.from_env({**PRODUCTION, "SMSCRM_DATABASE_URL": value}).database_url == value


@pytest.mark.parametrize("url, shown", [
    ("postgresql+psycopg://shop:hunter2@db.example/shop", "postgresql+psycopg://shop:***@db.example/shop"),
    ("sqlite:///instance/smscrm.db", "sqlite:///instance/smscrm.db"),
    ("pg://shop:hunter2@db.example:what/shop", "pg://shop:***@db.example:what/shop"),  # not even parsable
])
def test_a_database_url_is_shown_without_its_password(url, shown):
    assert hide_password(url) == shown


def test_production_without_signature_checks_warns_at_start(engine, settings, caplog):
    unsigned = replace(settings, env="production", validate_signatures=False)
    create_app(unsigned).extensions["smscrm.engine"].dispose()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("SMSCRM_VALIDATE_SIGNATURES is false in production" in message for message in warnings)
    caplog.clear()
    create_app(settings).extensions["smscrm.engine"].dispose()  # checked signatures: nothing to say
    assert not [r for r in caplog.records if "SMSCRM_VALIDATE_SIGNATURES" in r.getMessage()]


@pytest.mark.parametrize("variable, environ", [
    ("SMSCRM_SECRET_KEY", {"SMSCRM_ENV": "production"}),
    ("SMSCRM_DATABASE_URL", {"SMSCRM_ENV": "development", "SMSCRM_DATABASE_URL": "mysql://shop:hunter2@db/shop"}),
])
def test_gunicorn_stops_with_one_line_naming_the_variable(tmp_path, variable, environ):
    """No traceback and no endless rebooting of workers: gunicorn stops, having printed the one line."""
    env = {"PATH": os.environ["PATH"], **environ}
    result = subprocess.run(
        [str(Path(sys.executable).parent / "gunicorn"), "--pythonpath", str(ROOT), "--bind", "127.0.0.1:0",
         "--no-control-socket", "wsgi:app"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if variable in line]
    assert len(lines) == 1 and lines[0].startswith(f"configuration: {variable}"), result.stderr
    assert "Traceback" not in result.stderr and "hunter2" not in result.stderr
