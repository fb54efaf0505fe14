"""Reading API requests: the JSON body, query parameters and headers, checked with messages a
POS developer can act on. Everything here raises ValidationError (400) or aborts with 415."""
from __future__ import annotations

import json
import re

from flask import abort, request

from smscrm import points
from smscrm.errors import InvalidPhone, ValidationError
from smscrm.messaging import phones
from smscrm.models import Merchant

IDEMPOTENCY_KEY_PATTERN = f"^[!-~]{{1,{points.MAX_KEY_CHARS}}}$"  # visible ASCII, no spaces: a UUID fits
MAX_PAGE = 1_000_000
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
NO_CONTROL_CHARACTERS = "^[^\\u0000-\\u001f\\u007f]*$"  # the same rule, as the OpenAPI document writes it


def json_body(*, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> dict:
    """The request's JSON object, with every required field present and no unknown field."""
    if not request.is_json:
        abort(415, "send the body as JSON with the header Content-Type: application/json")
    try:
        data = request.get_json(silent=True)
    except RecursionError:  # the json module's answer to arrays or objects nested thousands deep
        raise ValidationError("the body is not valid JSON: it nests too deeply", code="invalid_json") from None
    if data is None:
        raise ValidationError("the body is not valid JSON", code="invalid_json")
    if not isinstance(data, dict):
        raise ValidationError("the body must be a JSON object, such as {\"phone\": \"+14155550100\"}", code="invalid_json")
    known = required + optional
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ValidationError(
            f"unknown field {unknown[0]!r}; the fields are {', '.join(known)}", code="unknown_field"
        )
    missing = [name for name in required if data.get(name) is None]
    if missing:
        raise ValidationError(f"the field {missing[0]!r} is required", code="missing_field")
    return data


def phone(raw: object, merchant: Merchant, *, field: str = "phone") -> str:
    """E.164 for a phone given in full (+14155550100) or as a local number of the merchant's country."""
    if not isinstance(raw, str):
        raise InvalidPhone(f"{field} must be a string such as \"+14155550100\"")
    try:
        return phones.normalise(raw, merchant.country)
    except InvalidPhone as exc:
        raise InvalidPhone(
            f"{exc.message}; send it in international form such as +14155550100, "
            f"or as a local number of {merchant.country}"
        ) from None


def amount_minor(raw: object) -> int:
    """A purchase amount: a JSON integer of minor units (cents), from 1 to points.MAX_AMOUNT_MINOR."""
    how = "send minor units as a JSON integer, e.g. 1250 for 12.50"
    if isinstance(raw, bool) or not isinstance(raw, int):
        shown = f"the string {raw[:20]!r}" if isinstance(raw, str) else json.dumps(raw)[:20]
        raise ValidationError(f"amount must be a whole number, not {shown}; {how}", code="invalid_amount")
    if raw < 1:
        raise ValidationError(f"amount must be at least 1, got {raw}; {how}", code="invalid_amount")
    if raw > points.MAX_AMOUNT_MINOR:
        raise ValidationError(
            f"amount {raw} is above the limit of {points.MAX_AMOUNT_MINOR}; amounts are in minor units (cents) "
            "of one purchase",
            code="invalid_amount",
        )
    return raw


def text(raw: object, *, field: str, max_chars: int, min_chars: int = 1) -> str:
    """A short single-line string of `min_chars` to `max_chars` characters without control characters, trimmed."""
    if not isinstance(raw, str):
        raise ValidationError(f"{field} must be a string", code=f"invalid_{field}")
    if not min_chars <= len(raw) <= max_chars or CONTROL_CHARACTERS.search(raw):
        raise ValidationError(
            f"{field} must be {min_chars} to {max_chars} characters on one line, without control characters",
            code=f"invalid_{field}",
        )
    return raw.strip()


def only_query_parameters(*names: str) -> None:
    """Refuse a query parameter the operation does not know (most often a typo such as `pgae`)."""
    unknown = sorted(set(request.args) - set(names))
    if unknown:
        known = f"the parameters are {', '.join(names)}" if names else "it takes no query parameters"
        raise ValidationError(f"unknown query parameter {unknown[0]!r}; {known}", code="unknown_parameter")


def query_int(name: str, *, default: int | None, maximum: int) -> int | None:
    """A query parameter holding a whole number from 1 to `maximum`."""
    raw = request.args.get(name)
    if raw is None:
        return default
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise ValidationError(f"{name} must be a whole number from 1 to {maximum}", code=f"invalid_{name}")
    return int(raw)


def idempotency_key() -> str | None:
    """The optional `Idempotency-Key` header."""
    raw = request.headers.get("Idempotency-Key")
    if raw is None:
        return None
    if not re.match(IDEMPOTENCY_KEY_PATTERN, raw):
        raise ValidationError(
            f"the Idempotency-Key header must be 1 to {points.MAX_KEY_CHARS} visible ASCII characters without "
            "spaces, such as a UUID",
            code="invalid_idempotency_key",
        )
    return raw
