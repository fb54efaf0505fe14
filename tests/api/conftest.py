"""Fixtures for the REST API: a key for the test merchant, and a client that sends it."""
from __future__ import annotations

import pytest

from smscrm import points
from smscrm.accounts import api_keys
from smscrm.accounts.merchants import create_merchant
from smscrm.loyalty import members

ADA = "+14155550100"


@pytest.fixture
def api_key(session, merchant, now) -> str:
    _row, key = api_keys.create(session, merchant, name="till 1", now=now)
    session.commit()
    return key


@pytest.fixture
def api(client, api_key):
    """The test client with `Authorization: Bearer <api_key>` on every request."""

    class Api:
        key = api_key

        def __getattr__(self, method):
            def call(path, **kwargs):
                headers = {"Authorization": f"Bearer {self.key}", **kwargs.pop("headers", {})}
                return getattr(client, method)(path, headers=headers, **kwargs)

            return call

    return Api()


@pytest.fixture
def loyal_merchant(session, merchant):
    """The test merchant with stated earn rules: 1 point per whole currency unit, no welcome bonus."""
    points.update_settings(merchant, points_per_unit=1, earn_unit_minor=100, welcome_bonus=0)
    session.commit()
    return merchant


@pytest.fixture
def ada(session, loyal_merchant, now):
    member = members.join(session, loyal_merchant, ADA, name="Ada Lovelace", language="en", now=now)
    session.commit()
    return member


@pytest.fixture
def other_merchant(session, now):
    merchant = create_merchant(
        session, name="Blue Door Salon", number="+14155559999", email="owner@salon.example",
        password="another good password", now=now, country="US",
    )
    session.commit()
    return merchant
