"""Settings come from the environment; production refuses to start without what it needs."""
import pytest

from smscrm.config import DEFAULT_DATABASE_URL, Settings
from smscrm.errors import ConfigError

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
