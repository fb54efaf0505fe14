"""The OpenAPI 3 description of `/api/v1`, served at `GET /api/v1/openapi.json` (no key needed).

A test runs schemathesis against it, and another checks that it lists exactly the API's routes.
"""
from __future__ import annotations

from flask import jsonify

from smscrm.api import blueprint, inputs

PHONE_EXAMPLE = "+14155550100"


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def json_content(schema: dict) -> dict:
    return {"application/json": {"schema": schema}}


def error_response(description: str) -> dict:
    return {"description": description, "content": json_content(ref("Error"))}


def ok(description: str, schema_name: str) -> dict:
    return {"description": description, "content": json_content(ref(schema_name))}


UNAUTHORIZED = {
    "description": "The API key is missing, malformed, unknown or revoked (codes missing_api_key, "
    "invalid_api_key, revoked_api_key).",
    "headers": {"WWW-Authenticate": {"schema": {"type": "string"}}},
    "content": json_content(ref("Error")),
}
BAD_REQUEST = error_response("The request is invalid; `error.message` says what to change.")
NOT_FOUND = error_response("No such member (or it belongs to another merchant).")
UNSUPPORTED = error_response("The body was not sent as application/json.")

PHONE_PARAMETER = {
    "name": "phone",
    "in": "path",
    "required": True,
    "description": "The member's phone: international (+14155550100) or a local number of the merchant's "
    "country. URL-encode the + as %2B if your HTTP client does not.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 40},
    "example": PHONE_EXAMPLE,
}
PAGE_PARAMETER = {
    "name": "page",
    "in": "query",
    "description": "Page number, from 1 (default 1). A page past the last one is empty.",
    "schema": {"type": "integer", "minimum": 1, "maximum": inputs.MAX_PAGE},
}
SEARCH_PARAMETER = {
    "name": "q",
    "in": "query",
    "description": "Part of a name, or the last digits of a phone number.",
    "schema": {"type": "string", "maxLength": 80, "pattern": inputs.NO_CONTROL_CHARACTERS},
}

SCHEMAS = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string", "description": "Stable machine-readable name", "example": "invalid_phone"},
                    "message": {"type": "string", "description": "What went wrong and what to send instead"},
                },
            }
        },
    },
    "Member": {
        "type": "object",
        "required": [
            "id", "phone", "name", "language", "status", "joined_at", "is_opted_out", "points_balance", "created_at",
        ],
        "properties": {
            "id": {"type": "integer"},
            "phone": {"type": "string", "description": "E.164", "example": PHONE_EXAMPLE},
            "name": {"type": "string", "nullable": True},
            "language": {"type": "string", "enum": ["en", "zh"]},
            "status": {
                "type": "string",
                "enum": ["joined", "pending"],
                "description": "pending: invited (for example by a purchase) but has not texted JOIN yet",
            },
            "joined_at": {"type": "string", "format": "date-time", "nullable": True},
            "is_opted_out": {"type": "boolean"},
            "points_balance": {"type": "integer", "minimum": 0},
            "created_at": {"type": "string", "format": "date-time"},
        },
    },
    "MemberPage": {
        "type": "object",
        "required": ["members", "page", "per_page", "total", "pages", "next_page"],
        "properties": {
            "members": {"type": "array", "items": ref("Member")},
            "page": {"type": "integer", "minimum": 1},
            "per_page": {"type": "integer", "minimum": 1},
            "total": {"type": "integer", "minimum": 0},
            "pages": {"type": "integer", "minimum": 1},
            "next_page": {"type": "integer", "nullable": True, "description": "null on the last page"},
        },
    },
}

PATHS = {
    "/openapi.json": {
        "get": {
            "operationId": "getOpenApiDocument",
            "summary": "This document (no key needed)",
            "security": [],
            "responses": {"200": {"description": "The OpenAPI 3 document", "content": json_content({"type": "object"})}},
        }
    },
    "/members": {
        "get": {
            "operationId": "listMembers",
            "summary": "List or search the merchant's members, newest first",
            "parameters": [SEARCH_PARAMETER, PAGE_PARAMETER],
            "responses": {
                "200": ok("One page of members", "MemberPage"),
                "400": BAD_REQUEST,
                "401": UNAUTHORIZED,
            },
        }
    },
    "/members/{phone}": {
        "get": {
            "operationId": "getMember",
            "summary": "Look up a member by phone",
            "parameters": [PHONE_PARAMETER],
            "responses": {
                "200": ok("The member", "Member"),
                "400": error_response("The phone number is not valid (code invalid_phone)."),
                "401": UNAUTHORIZED,
                "404": NOT_FOUND,
            },
        }
    },
}

DOCUMENT = {
    "openapi": "3.0.3",
    "info": {
        "title": "smscrm API for shop systems",
        "version": "1.0.0",
        "description": "Record purchases, look up members, redeem rewards. Authenticate with the merchant's "
        "API key (`smscrm apikey create --merchant ID`) as `Authorization: Bearer <key>`. Amounts are "
        "integers in minor units (cents). Every error is `{\"error\": {\"code\", \"message\"}}`.",
    },
    "servers": [{"url": "/api/v1"}],
    "security": [{"bearerAuth": []}],
    "paths": PATHS,
    "components": {
        "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "description": "sk_… API key"}},
        "schemas": SCHEMAS,
    },
}


@blueprint.get("/openapi.json")
def openapi_document():
    return jsonify(DOCUMENT)
