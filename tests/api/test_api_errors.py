"""Every API error is JSON `{"error": {"code", "message"}}` with the right status, whatever went wrong."""
from __future__ import annotations

import pytest


def test_an_unknown_route_is_a_json_404(api):
    response = api.get("/api/v1/customers", headers={"Accept": "text/html"})
    assert response.status_code == 404
    assert response.is_json and response.get_json()["error"]["code"] == "not_found"


def test_a_wrong_method_is_a_json_405_with_allow(api):
    response = api.delete("/api/v1/purchases")
    assert response.status_code == 405
    assert response.get_json()["error"]["code"] == "method_not_allowed"
    assert set(response.headers["Allow"].split(", ")) == {"POST", "OPTIONS"}


def test_a_body_over_the_size_limit_is_a_json_413(api):
    response = api.post("/api/v1/purchases", data="[" + "1," * 600_000 + "1]", content_type="application/json")
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "request_entity_too_large"


@pytest.mark.parametrize(
    "path", ["/api/v1/purchases", "/api/v1/redemptions", "/api/v1/redemptions/confirm", "/api/v1/members/lookup"]
)
@pytest.mark.parametrize("nested", ["[" * 100_000 + "]" * 100_000, '{"a":' * 100_000 + "1" + "}" * 100_000])
def test_deeply_nested_json_is_a_400_invalid_json(api, path, nested):
    response = api.post(path, data=nested, content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_json"
