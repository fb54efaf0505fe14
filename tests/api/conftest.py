"""Fixtures for the REST API: a key for the test merchant, and a client that sends it."""
from __future__ import annotations

import pytest

from smscrm import apikeys


@pytest.fixture
def api_key(session, merchant, now) -> str:
    _row, key = apikeys.create(session, merchant, name="till 1", now=now)
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
