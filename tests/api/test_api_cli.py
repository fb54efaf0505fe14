"""`smscrm apikey create/revoke`: the key is printed once, on the last line, and works until revoked."""
from __future__ import annotations

from sqlalchemy import select

from smscrm.models import ApiKey
from tests.test_cli import run  # noqa: F401  (the CLI runner fixture, with the test database's environment)


def test_create_prints_a_working_key_last_and_revoke_stops_it(run, session, merchant, client):  # noqa: F811
    created = run("apikey", "create", "--merchant", str(merchant.id), "--name", "till 2")
    assert created.exit_code == 0, created.output
    key = created.output.strip().splitlines()[-1]
    row = session.scalar(select(ApiKey).where(ApiKey.merchant_id == merchant.id))
    assert (row.name, key.startswith(row.prefix + "_")) == ("till 2", True)
    assert key not in created.output.strip().splitlines()[0]
    headers = {"Authorization": f"Bearer {key}"}
    assert client.get("/api/v1/members", headers=headers).status_code == 200

    revoked = run("apikey", "revoke", row.prefix)
    assert revoked.exit_code == 0, revoked.output
    assert row.prefix in revoked.output
    response = client.get("/api/v1/members", headers=headers)
    assert (response.status_code, response.get_json()["error"]["code"]) == (401, "revoked_api_key")


def test_create_for_an_unknown_merchant_and_revoke_of_an_unknown_prefix_fail_with_one_line(run, engine):  # noqa: F811
    missing = run("apikey", "create", "--merchant", "999")
    assert missing.exit_code != 0 and "no merchant with id 999" in missing.output
    unknown = run("apikey", "revoke", "sk_000000000000")
    assert unknown.exit_code != 0 and "no API key has the prefix" in unknown.output
