"""API keys (smscrm.accounts.api_keys): created once, stored only as a hash, checked, revoked."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from smscrm.accounts import api_keys
from smscrm.accounts.api_keys import KeyCheck
from smscrm.errors import NotFound, ValidationError
from smscrm.models import ApiKey, Merchant


def test_a_new_key_is_stored_only_as_its_hash(session, merchant, now):
    row, key = api_keys.create(session, merchant, name="till 1", now=now)
    session.commit()
    assert api_keys.KEY_PATTERN.match(key)
    assert key.startswith(row.prefix + "_")
    stored = session.get(ApiKey, row.id)
    assert stored.key_hash == api_keys.hash_key(key)
    assert key not in (stored.key_hash, stored.prefix, stored.name)
    assert (stored.merchant_id, stored.name, stored.created_at, stored.revoked_at) == (merchant.id, "till 1", now, None)


def test_every_key_is_different(session, merchant, now):
    keys = [api_keys.create(session, merchant, now=now)[1] for _ in range(20)]
    assert len(set(keys)) == 20
    assert len({key.split("_")[1] for key in keys}) == 20


def test_the_name_defaults_and_is_bounded(session, merchant, now):
    assert api_keys.create(session, merchant, name="  ", now=now)[0].name == api_keys.DEFAULT_NAME
    with pytest.raises(ValidationError, match="at most 80"):
        api_keys.create(session, merchant, name="x" * 81, now=now)


def _last_used(session, row):
    return session.scalar(select(ApiKey.last_used_at).where(ApiKey.id == row.id))


def test_the_right_key_authenticates_and_records_when_it_was_used(session, merchant, now):
    row, key = api_keys.create(session, merchant, now=now)
    checked = api_keys.authenticate(session, key, now=now + timedelta(hours=1))
    assert (checked.merchant.id, checked.refusal, checked.noted_use) == (merchant.id, None, True)
    assert _last_used(session, row) == now + timedelta(hours=1)


def test_the_key_brings_its_merchant_with_every_setting_and_its_number(session, merchant, now):
    merchant.points_per_unit, merchant.texts = 3, {"welcome": {"en": "Hi"}}
    _row, key = api_keys.create(session, merchant, now=now)
    session.commit()
    checked = api_keys.authenticate(session, key, now=now).merchant
    assert isinstance(checked, Merchant) and checked.id == merchant.id
    assert (checked.points_per_unit, checked.texts, checked.primary_number) == (3, {"welcome": {"en": "Hi"}},
                                                                               "+14155550000")


def test_last_used_is_refreshed_at_most_once_a_minute(session, merchant, now):
    row, key = api_keys.create(session, merchant, now=now)
    assert api_keys.authenticate(session, key, now=now).noted_use
    assert not api_keys.authenticate(session, key, now=now + timedelta(seconds=59)).noted_use
    assert _last_used(session, row) == now
    assert api_keys.authenticate(session, key, now=now + timedelta(seconds=60)).noted_use
    assert _last_used(session, row) == now + timedelta(seconds=60)


@pytest.mark.parametrize("presented", ["", "secret", "Bearer x", "sk_0123456789ab", "sk_0123456789ab_" + "a" * 42])
def test_malformed_keys_are_refused_without_a_lookup(session, merchant, now, presented):
    assert api_keys.authenticate(session, presented, now=now).refusal is KeyCheck.MALFORMED


def test_a_wrong_secret_behind_a_real_prefix_is_refused(session, merchant, now):
    row, key = api_keys.create(session, merchant, now=now)
    forged = key[:-1] + ("A" if key[-1] != "A" else "B")
    assert api_keys.authenticate(session, forged, now=now).refusal is KeyCheck.UNKNOWN
    assert api_keys.authenticate(session, "sk_ffffffffffff_" + key.split("_", 2)[2], now=now).refusal is KeyCheck.UNKNOWN
    assert row.last_used_at is None


def test_a_revoked_key_stops_working_and_keeps_its_first_revocation_time(session, merchant, now):
    row, key = api_keys.create(session, merchant, now=now)
    assert api_keys.revoke(session, row.prefix, now=now) is row
    api_keys.revoke(session, row.prefix, now=now + timedelta(days=1))
    assert row.revoked_at == now
    assert api_keys.authenticate(session, key, now=now).refusal is KeyCheck.REVOKED


def test_revoking_an_unknown_prefix_says_what_a_prefix_looks_like(session, merchant, now):
    with pytest.raises(NotFound, match="sk_0123456789ab"):
        api_keys.revoke(session, "sk_nothere", now=now)
