"""The OpenAPI document: it lists exactly the API's routes, and schemathesis finds no 500 and no
response that breaks it (bounded: a few dozen generated requests per operation)."""
from __future__ import annotations

import re

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig

from smscrm import points
from smscrm.api.openapi import DOCUMENT
from smscrm.loyalty import members, rewards
from smscrm.loyalty.codes import CODE_ALPHABET

MAX_EXAMPLES = 25
BASE_URL = "http://localhost/api/v1"


def flask_routes(app) -> set[tuple[str, str]]:
    """(method, OpenAPI path) for every API route, as the app registered them."""
    routes = set()
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("api."):
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule.removeprefix("/api/v1"))
        routes.update((method.lower(), path) for method in rule.methods - {"HEAD", "OPTIONS"})
    return routes


def test_the_document_describes_every_route_and_nothing_else(app):
    documented = {(method, path) for path, operations in DOCUMENT["paths"].items() for method in operations}
    assert documented == flask_routes(app)


def test_every_operation_documents_its_errors_and_its_security(app):
    for path, operations in DOCUMENT["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            assert any(status.startswith("2") for status in responses), (method, path)
            if operation.get("security") == []:
                continue
            assert "401" in responses, (method, path)
            if operation.get("requestBody"):
                assert {"400", "415"} <= set(responses), (method, path)


SEEDED_PHONES = ("+14155550100", "+14155550101", "+14155550102")

# What JSON Schema cannot say (which strings are phone numbers, redemption codes, reward codes) is
# named by a custom format in the document; here schemathesis learns to write valid ones, so the
# check that schema-valid requests are accepted runs for every operation, and requests reach the
# seeded members and rewards.
schemathesis.openapi.format("phone", st.one_of(
    st.sampled_from(SEEDED_PHONES),
    st.sampled_from(["(415) 555-0100", "415 555 0101", "+1 415-555-0102"]),
    st.integers(2_000_000, 9_999_999).map(lambda n: f"+1628{n}"),
    st.integers(0, 99_999_999).map(lambda n: f"+86138{n:08d}"),
))
schemathesis.openapi.format("reward-code", st.sampled_from(["TEA", "tea", "FEAST", "NOPE"]))
schemathesis.openapi.format("redemption-code", st.builds(
    lambda letters, separator: separator.join(letters),
    st.lists(st.sampled_from(CODE_ALPHABET + CODE_ALPHABET.lower()), min_size=6, max_size=6),
    st.sampled_from(["", " ", "-"]),
))


@pytest.fixture
def some_members(session, merchant, now):
    """Members with points, a reward they can afford and one they cannot, a code waiting to be confirmed."""
    for phone, name in zip(SEEDED_PHONES, ["Ada", "Grace", ""]):
        members.join(session, merchant, phone, name=name, language="en", now=now)
        points.record_purchase(session, merchant, phone=phone, amount_minor=2_500, now=now, channel="api")
    rewards.create_reward(session, merchant, code="TEA", name="A pot of tea", points_cost=5, now=now)
    rewards.create_reward(session, merchant, code="FEAST", name="Dinner for two", points_cost=500, now=now)
    ada = members.find(session, merchant.id, SEEDED_PHONES[0])
    rewards.request_redemption(session, merchant, ada, "TEA", now=now)
    session.commit()


OPERATIONS = [(method.upper(), path) for path, operations in DOCUMENT["paths"].items() for method in operations]


def has_inputs(operation) -> bool:
    raw = operation.definition.raw
    return bool(raw.get("parameters") or raw.get("requestBody"))


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_the_api_keeps_to_its_document(app, api_key, some_members, method, path):
    config = SchemathesisConfig.from_dict({"auth": {"openapi": {"bearerAuth": {"bearer": api_key}}}})
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, config=config)
    operation = schema[path][method]
    modes = [GenerationMode.POSITIVE] + ([GenerationMode.NEGATIVE] if has_inputs(operation) else [])

    @given(case=st.one_of(*(operation.as_strategy(mode) for mode in modes)))
    @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def keeps_to_the_document(case):
        case.call_and_validate(base_url=BASE_URL)

    keeps_to_the_document()
