"""`GET /api/v1/members/{member_id}/ledger`: every entry with the balance after it, newest first, in pages."""
from __future__ import annotations

from datetime import timedelta

import pytest

from smscrm import points
from tests.api.conftest import ADA


@pytest.fixture
def five_purchases(session, loyal_merchant, ada, now):
    for index, amount in enumerate([100, 200, 300, 400, 500]):
        points.record_purchase(session, loyal_merchant, phone=ADA, amount_minor=amount, now=now + timedelta(days=index))
    session.commit()


def test_the_ledger_pages_newest_first(api, ada, five_purchases, now):
    first = api.get(f"/api/v1/members/{ada.id}/ledger?limit=2").get_json()
    assert first["phone"] == ADA and first["points_balance"] == 15
    assert [(e["kind"], e["points"], e["balance_after"]) for e in first["entries"]] == [("earn", 5, 15), ("earn", 4, 10)]
    assert first["entries"][0]["created_at"] == (now + timedelta(days=4)).isoformat()
    assert first["entries"][0]["purchase_id"] is not None
    second = api.get(f"/api/v1/members/{ada.id}/ledger?limit=2&before={first['next_before']}").get_json()
    assert [e["balance_after"] for e in second["entries"]] == [6, 3]
    last = api.get(f"/api/v1/members/{ada.id}/ledger?limit=2&before={second['next_before']}").get_json()
    assert ([e["balance_after"] for e in last["entries"]], last["next_before"]) == ([1], None)


def test_a_page_that_ends_exactly_at_the_oldest_entry_has_no_next(api, ada, five_purchases):
    whole = api.get(f"/api/v1/members/{ada.id}/ledger?limit=5").get_json()
    assert (len(whole["entries"]), whole["next_before"]) == (5, None)


def test_a_member_without_entries_has_an_empty_ledger(api, ada):
    assert api.get(f"/api/v1/members/{ada.id}/ledger").get_json() == {
        "phone": ADA, "points_balance": 0, "entries": [], "next_before": None,
    }


@pytest.mark.parametrize(
    "query, code",
    [("limit=0", "invalid_limit"), ("limit=101", "invalid_limit"), ("limit=ten", "invalid_limit"),
     ("before=-3", "invalid_before"), ("after=3", "unknown_parameter")],
)
def test_bad_paging_is_400(api, ada, query, code):
    response = api.get(f"/api/v1/members/{ada.id}/ledger?{query}")
    assert (response.status_code, response.get_json()["error"]["code"]) == (400, code)


def test_an_unknown_member_is_404(api, loyal_merchant):
    response = api.get("/api/v1/members/999/ledger")
    assert (response.status_code, response.get_json()["error"]["code"]) == (404, "member_not_found")
