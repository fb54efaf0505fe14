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

from smscrm import members
from smscrm.api.openapi import DOCUMENT

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


@pytest.fixture
def some_members(session, merchant, now):
    """A few members for lookups and searches to find."""
    for index, name in enumerate(["Ada", "Grace", ""]):
        members.join(session, merchant, f"+1415555010{index}", name=name, language="en", now=now)
    session.commit()


OPERATIONS = [(method.upper(), path) for path, operations in DOCUMENT["paths"].items() for method in operations]


def exclusions(operation) -> list:
    """Checks left out for `operation`: only "schema-valid data is accepted", when a phone is sent.

    Which strings are phone numbers cannot be said in JSON Schema (it takes the numbering plan of
    every country), so a schema-valid string may rightly be refused with 400 invalid_phone. Every
    other check runs: no 500, responses match the document, schema-invalid data is refused,
    401 without a key, 405 with Allow for other methods.
    """
    raw = operation.definition.raw
    sends_phone = any(p.get("name") == "phone" for p in raw.get("parameters", [])) or "phone" in str(
        raw.get("requestBody", {})
    )
    return [schemathesis.checks.positive_data_acceptance] if sends_phone else []


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
        case.call_and_validate(base_url=BASE_URL, excluded_checks=exclusions(operation))

    keeps_to_the_document()
