"""Retries that arrive at the same time (a till that times out and resends while the first request is
still running) on PostgreSQL: one purchase is recorded, every request gets the same answer."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from smscrm import points
from smscrm.models import Purchase
from tests.api.conftest import ADA
from tests.concurrently import run_together

pytestmark = pytest.mark.postgres_only(
    "concurrent writers need PostgreSQL: SQLite lets one writer at a time into the whole file"
)
REQUESTS = 12



def post_at_once(app, api_key, count: int, *, headers: dict, body: dict) -> list:
    """`count` identical POSTs to /api/v1/purchases, each on its own thread and client, released together."""

    def send(_n: int, go) -> tuple:
        client = app.test_client()
        go()
        response = client.post("/api/v1/purchases", headers={"Authorization": f"Bearer {api_key}", **headers}, json=body)
        return response.status_code, response.get_json(), response.headers.get("Idempotent-Replayed")

    return run_together(count, send)


def test_simultaneous_retries_record_one_purchase_and_answer_alike(app, api_key, session, ada):
    responses = post_at_once(
        app, api_key, REQUESTS, headers={"Idempotency-Key": "till-3-sale-77"}, body={"phone": ADA, "amount": 4200}
    )
    assert {status for status, _body, _replayed in responses} == {201}
    assert len({repr(sorted(body.items())) for _status, body, _replayed in responses}) == 1
    assert sorted(replayed or "" for _status, _body, replayed in responses) == [""] + ["true"] * (REQUESTS - 1)
    assert session.scalar(select(func.count()).select_from(Purchase)) == 1
    session.refresh(ada)
    assert ada.points_balance == 42
    assert points.verify_balances(session) == []
