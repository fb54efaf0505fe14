"""The OpenAPI 3 description of `/api/v1`, served at `GET /api/v1/openapi.json` (no key needed).

Limits and patterns come from the code that enforces them. Tests check that the document lists
exactly the API's routes, and run schemathesis against it (no 500, no response off the schema,
schema-invalid requests refused).
"""
from __future__ import annotations

from flask import jsonify

from smscrm import points
from smscrm.api import blueprint, inputs, members, redemptions
from smscrm.loyalty import directory, rewards
from smscrm.loyalty.members import MemberStatus
from smscrm.models import (
    EntryKind,
    RedemptionChannel,
    RedemptionStatus,
    Stage,
    ValueClass,
)
from smscrm.web.rows import MAX_ROW_ID

PHONE_EXAMPLE = "+14155550100"
ONE_LINE = inputs.NO_CONTROL_CHARACTERS
PHONE = {
    "type": "string",
    "format": "phone",
    "minLength": 1,
    "maxLength": 40,
    "description": "international (+14155550100) or a local number of the merchant's country; refused with "
    "400 invalid_phone when it is not a possible number",
    "example": PHONE_EXAMPLE,
}


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def json_content(schema: dict) -> dict:
    return {"application/json": {"schema": schema}}


def obj(properties: dict, *, optional: tuple[str, ...] = (), closed: bool = False) -> dict:
    """An object schema whose properties are all required but `optional`; `closed` refuses other properties."""
    schema = {
        "type": "object",
        "required": [name for name in properties if name not in optional],
        "properties": properties,
    }
    if closed:
        schema["additionalProperties"] = False
    return schema


def nullable(schema: dict) -> dict:
    return {**schema, "nullable": True}


def error(description: str) -> dict:
    return {"description": description, "content": json_content(ref("Error"))}


def ok(description: str, schema_name: str, headers: dict | None = None) -> dict:
    response = {"description": description, "content": json_content(ref(schema_name))}
    if headers:
        response["headers"] = headers
    return response


def body(schema_name: str) -> dict:
    return {"required": True, "content": json_content(ref(schema_name))}


STRING = {"type": "string"}
INTEGER = {"type": "integer"}
TIME = {"type": "string", "format": "date-time"}
UNAUTHORIZED = {
    "description": "The API key is missing, malformed, unknown or revoked (codes missing_api_key, "
    "invalid_api_key, revoked_api_key).",
    "headers": {"WWW-Authenticate": {"schema": STRING}},
    "content": json_content(ref("Error")),
}
BAD_REQUEST = error("The request is invalid; `error.code` names the problem and `error.message` says what to send.")
MEMBER_NOT_FOUND = error("No member has this id at this merchant (code member_not_found).")
BAD_PHONE = error("The phone number is not valid (code invalid_phone), or another parameter is wrong.")
NOT_JSON = error("The body was not sent with Content-Type: application/json.")
REPLAYED = {
    "Idempotent-Replayed": {
        "description": "`true` when this answers a retry: nothing new was recorded, the body is the first answer's.",
        "schema": {"type": "string", "enum": ["true"]},
    }
}

MEMBER_ID_PATH = {
    "name": "member_id",
    "in": "path",
    "required": True,
    "description": "The member's `id`, as the lookup, the list or a purchase answered it. A phone number never goes "
    "in a URL (URLs are written to access logs): look it up with POST /members/lookup.",
    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ROW_ID},
}
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "description": "Makes a retry safe: a request repeated with the same key is answered as the first one was "
    "and records nothing new; the same key with a different request is refused with 409. A UUID is a good key.",
    "schema": {"type": "string", "pattern": inputs.IDEMPOTENCY_KEY_PATTERN},
    "example": "3f1c9a52-8d7e-4b61-9a0f-2c5d8e7b6a41",
}


def query(name: str, description: str, schema: dict) -> dict:
    return {"name": name, "in": "query", "description": description, "schema": schema}


SCHEMAS = {
    "Error": obj({
        "error": obj({
            "code": {**STRING, "description": "Stable machine-readable name", "example": "invalid_phone"},
            "message": {**STRING, "description": "What went wrong and what to send instead"},
        })
    }),
    "Member": obj({
        "id": INTEGER,
        "phone": {**STRING, "description": "E.164", "example": PHONE_EXAMPLE},
        "name": nullable(STRING),
        "language": {"type": "string", "enum": ["en", "zh"]},
        "stage": {
            "type": "string",
            "enum": list(Stage),
            "description": "pending: invited (for example by a purchase) but has not texted JOIN yet",
        },
        "status": {
            "type": "string",
            "enum": list(MemberStatus),
            "description": "opted_out: opted out of texts, whether or not they joined; else member: joined; "
            "invited: has not texted JOIN (a friend's REFER, or a purchase before joining), so never opted in",
        },
        "joined_at": nullable(TIME),
        "is_opted_out": {"type": "boolean"},
        "points_balance": {"type": "integer", "minimum": 0},
        "value_class": nullable({"type": "string", "enum": list(ValueClass), "description": "by 12-month spend"}),
        "visit_count": {"type": "integer", "minimum": 0},
        "total_spend": {"type": "integer", "minimum": 0, "description": "minor units"},
        "last_visit_at": nullable(TIME),
        "created_at": TIME,
    }),
    "MemberPage": obj({
        "members": {"type": "array", "items": ref("Member")},
        "page": {"type": "integer", "minimum": 1},
        "per_page": {"type": "integer", "minimum": 1, "maximum": members.MAX_PER_PAGE},
        "total": {"type": "integer", "minimum": 0},
        "pages": {"type": "integer", "minimum": 1},
        "next_page": nullable({**INTEGER, "description": "null on the last page"}),
    }),
    "LedgerEntry": obj({
        "id": INTEGER,
        "kind": {"type": "string", "enum": list(EntryKind)},
        "points": {**INTEGER, "description": "positive adds to the balance, negative takes from it"},
        "balance_after": {"type": "integer", "minimum": 0},
        "note": nullable(STRING),
        "purchase_id": nullable(INTEGER),
        "redemption_id": nullable(INTEGER),
        "created_at": TIME,
    }),
    "Ledger": obj({
        "phone": STRING,
        "points_balance": {"type": "integer", "minimum": 0},
        "entries": {"type": "array", "items": ref("LedgerEntry")},
        "next_before": nullable({**INTEGER, "description": "pass as `before` for the next (older) page; null at the end"}),
    }),
    "LookupRequest": obj({"phone": PHONE}, closed=True),
    "PurchaseRequest": obj(
        {
            "phone": PHONE,
            "amount": {
                "type": "integer",
                "minimum": 1,
                "maximum": points.MAX_AMOUNT_MINOR,
                "description": "minor units (cents): 1250 for 12.50",
                "example": 1250,
            },
            "reference": nullable({
                **STRING,
                "maxLength": points.MAX_REFERENCE_CHARS,
                "pattern": ONE_LINE,
                "description": "the receipt number (null or left out: none); without an Idempotency-Key, "
                               "a repeated reference is a retry",
            }),
        },
        optional=("reference",),
        closed=True,
    ),
    "Purchase": obj({
        "id": INTEGER,
        "member_id": {**INTEGER, "description": "the member's id, for GET /members/{member_id}"},
        "phone": STRING,
        "amount": {**INTEGER, "description": "minor units"},
        "reference": nullable(STRING),
        "points_earned": {"type": "integer", "minimum": 0},
        "balance": {"type": "integer", "minimum": 0, "description": "the member's balance right after this purchase"},
        "is_pending": {
            "type": "boolean",
            "description": "the buyer has not joined: the points are held and they were invited by text to JOIN",
        },
        "created_at": TIME,
    }),
    "Reward": obj({
        "id": INTEGER,
        "code": {**STRING, "description": "what a member texts (REDEEM <code>) or a till sends to redeem"},
        "name": STRING,
        "name_zh": nullable({**STRING, "description": "its name in Chinese texts; null: `name`"}),
        "points_cost": {"type": "integer", "minimum": 1},
        "stock": nullable({"type": "integer", "minimum": 0, "description": "null: unlimited"}),
        "is_active": {"type": "boolean"},
    }),
    "RewardList": obj({"rewards": {"type": "array", "items": ref("Reward")}}),
    "RedeemRequest": obj(
        {
            "phone": PHONE,
            "reward": {
                **STRING,
                "format": "reward-code",
                "minLength": 1,
                "maxLength": redemptions.MAX_CODE_CHARS,
                "pattern": ONE_LINE,
                "description": "the reward's code",
                "example": "TEA",
            },
        },
        closed=True,
    ),
    "ConfirmRequest": obj(
        {
            "code": {
                **STRING,
                "format": "redemption-code",
                "minLength": 1,
                "maxLength": redemptions.MAX_CODE_CHARS,
                "pattern": ONE_LINE,
                "description": f"the one-time code the member shows: {rewards.REDEMPTION_CODE_LENGTH} letters and "
                "digits without 0, 1, I or O; spaces, dashes and lower case are fine; anything else is refused "
                "with 400 invalid_code",
                "example": "K7Q2MX",
            }
        },
        closed=True,
    ),
    "Redemption": obj({
        "id": INTEGER,
        "member_id": {**INTEGER, "description": "the member's id, for GET /members/{member_id}"},
        "phone": STRING,
        "reward": obj({"code": STRING, "name": STRING}),
        "points_cost": {"type": "integer", "minimum": 1},
        "balance_after": nullable({"type": "integer", "minimum": 0, "description": "balance once the points were taken"}),
        "channel": {"type": "string", "enum": list(RedemptionChannel)},
        "status": {"type": "string", "enum": list(RedemptionStatus)},
        "code": nullable({**STRING, "description": "the one-time code (SMS redemptions only)"}),
        "expires_at": nullable(TIME),
        "confirmed_at": nullable(TIME),
        "created_at": TIME,
    }),
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
            "parameters": [
                query("q", f"Part of a name, a member's referral code, or the last digits of a phone number (at most {members.MAX_SEARCH_DIGITS}; "
                      "look a whole number up with POST /members/lookup).",
                      {**STRING, "maxLength": members.MAX_SEARCH_CHARS, "pattern": ONE_LINE}),
                query("page", "Page number, from 1 (default 1). A page past the last one is empty.",
                      {"type": "integer", "minimum": 1, "maximum": inputs.MAX_PAGE}),
                query("per_page", f"Members per page, 1 to {members.MAX_PER_PAGE} (default {directory.PER_PAGE}).",
                      {"type": "integer", "minimum": 1, "maximum": members.MAX_PER_PAGE}),
            ],
            "responses": {"200": ok("One page of members", "MemberPage"), "400": BAD_REQUEST, "401": UNAUTHORIZED},
        }
    },
    "/members/lookup": {
        "post": {
            "operationId": "lookUpMember",
            "summary": "Look up a member by phone (in the body: a phone number never goes in a URL)",
            "requestBody": body("LookupRequest"),
            "responses": {
                "200": ok("The member", "Member"), "400": BAD_PHONE, "401": UNAUTHORIZED,
                "404": error("No member has this phone at this merchant (code member_not_found)."), "415": NOT_JSON,
            },
        }
    },
    "/members/{member_id}": {
        "get": {
            "operationId": "getMember",
            "summary": "A member by id",
            "parameters": [MEMBER_ID_PATH],
            "responses": {
                "200": ok("The member", "Member"), "400": BAD_REQUEST, "401": UNAUTHORIZED, "404": MEMBER_NOT_FOUND,
            },
        }
    },
    "/members/{member_id}/ledger": {
        "get": {
            "operationId": "getMemberLedger",
            "summary": "A member's points ledger, newest first: every entry with the balance after it",
            "parameters": [
                MEMBER_ID_PATH,
                query("limit", f"Entries per page, 1 to {members.MAX_LEDGER_PAGE} (default {members.LEDGER_PAGE}).",
                      {"type": "integer", "minimum": 1, "maximum": members.MAX_LEDGER_PAGE}),
                query("before", "Only entries older than this entry id: the `next_before` of the previous page.",
                      {"type": "integer", "minimum": 1, "maximum": members.MAX_ENTRY_ID}),
            ],
            "responses": {
                "200": ok("One page of the ledger", "Ledger"), "400": BAD_REQUEST, "401": UNAUTHORIZED,
                "404": MEMBER_NOT_FOUND,
            },
        }
    },
    "/purchases": {
        "post": {
            "operationId": "recordPurchase",
            "summary": "Record a purchase and award its points",
            "description": "An unknown phone becomes a pending member: their points are held and they are invited "
            "by text to JOIN. A member who joined gets a receipt text (unless the merchant turned receipts off). "
            "Retries are safe with an Idempotency-Key header, or without one, with the same `reference`.",
            "parameters": [IDEMPOTENCY_KEY],
            "requestBody": body("PurchaseRequest"),
            "responses": {
                "201": ok("The purchase as recorded (also the answer to a retry)", "Purchase", REPLAYED),
                "400": BAD_REQUEST,
                "401": UNAUTHORIZED,
                "409": error("The Idempotency-Key or reference was used before for a different purchase "
                             "(code idempotency_key_reused)."),
                "415": NOT_JSON,
            },
        }
    },
    "/rewards": {
        "get": {
            "operationId": "listRewards",
            "summary": "The rewards members can redeem now, cheapest first",
            "responses": {"200": ok("The active rewards", "RewardList"), "400": BAD_REQUEST, "401": UNAUTHORIZED},
        }
    },
    "/redemptions": {
        "post": {
            "operationId": "redeemAtCounter",
            "summary": "Redeem a reward for a member at the counter: the points are taken at once",
            "parameters": [IDEMPOTENCY_KEY],
            "requestBody": body("RedeemRequest"),
            "responses": {
                "201": ok("The redemption (also the answer to a retry)", "Redemption", REPLAYED),
                "400": BAD_REQUEST,
                "401": UNAUTHORIZED,
                "404": error("No such member (member_not_found) or reward (reward_not_found)."),
                "409": error("Not enough points (insufficient_points, also for a member who has not joined), the "
                             "reward is off or out of stock (reward_unavailable), or the Idempotency-Key was used "
                             "for another redemption (idempotency_key_reused)."),
                "415": NOT_JSON,
            },
        }
    },
    "/redemptions/confirm": {
        "post": {
            "operationId": "confirmRedemptionCode",
            "summary": "Confirm the one-time code a member got by texting REDEEM: they get the reward",
            "requestBody": body("ConfirmRequest"),
            "responses": {
                "200": ok("The confirmed redemption", "Redemption"),
                "400": error("That is not a redemption code (invalid_code) or the request is invalid."),
                "401": UNAUTHORIZED,
                "404": error("No such code at this merchant (redemption_code_invalid)."),
                "409": error("The code was already used (redemption_code_used)."),
                "410": error("The code expired (redemption_code_expired); its points went back to the member."),
                "415": NOT_JSON,
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
        "integers in minor units (cents). Every error is `{\"error\": {\"code\", \"message\"}}`; unknown "
        "fields and query parameters are refused, so a typo does not pass silently.",
    },
    "servers": [{"url": "/api/v1"}],
    "security": [{"bearerAuth": []}],
    "paths": PATHS,
    "components": {
        "securitySchemes": {
            "bearerAuth": {"type": "http", "scheme": "bearer", "description": "the merchant's sk_… API key"}
        },
        "schemas": SCHEMAS,
    },
}


@blueprint.get("/openapi.json")
def openapi_document():
    return jsonify(DOCUMENT)
