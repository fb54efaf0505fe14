"""Row ids in URLs: every route with an id takes it through the one `id` converter, so an id beyond the
column's range (or beyond any integer the database holds) is a 404, never a 500."""
from __future__ import annotations

import re

import pytest

from tests.web.conftest import csrf_token

_ARGUMENT = re.compile(r"<(?:(?P<converter>[a-z]+)(?:\((?P<options>[^)]*)\))?:)?(?P<name>\w+)>")
BEYOND = ["2147483648", "99999999999999999999", "9" * 5000, "0"]


def id_rules(app):
    """(rule, its path with `ident` for every id) for each route with an id in its path."""
    for rule in app.url_map.iter_rules():
        arguments = list(_ARGUMENT.finditer(rule.rule))
        if any(match["name"].endswith("_id") for match in arguments):
            yield rule, arguments


def path_with(rule, arguments, ident: str) -> str:
    def value(match):
        if match["name"].endswith("_id"):
            return ident
        return match["options"].split(",")[0].strip()  # an `any(...)` choice

    return _ARGUMENT.sub(value, rule.rule)


def test_every_route_with_an_id_uses_the_id_converter(app):
    rules = list(id_rules(app))
    assert len(rules) > 10  # the pages and the API both have some
    for rule, arguments in rules:
        for match in arguments:
            if match["name"].endswith("_id"):
                assert match["converter"] == "id", rule.rule
    assert not any("<int:" in rule.rule for rule in app.url_map.iter_rules())


@pytest.mark.parametrize("ident", BEYOND)
def test_an_id_beyond_the_column_is_404_on_every_page(app, owner, ident):
    token = csrf_token(owner.get("/rewards/new").text)
    for rule, arguments in id_rules(app):
        if rule.rule.startswith("/api/"):
            continue  # tests/api/test_api_members.py
        path = path_with(rule, arguments, ident)
        if "GET" in rule.methods:
            response = owner.get(path)
        else:
            response = owner.post(path, data={"csrf_token": token})
        assert response.status_code == 404, (path[:80], response.status_code)
