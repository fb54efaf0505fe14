"""API keys for shop systems: created per merchant, shown once, stored as a hash, revocable.

A key reads `sk_<12 hex>_<43 url-safe characters>`. The first part is its prefix: stored in
clear, unique, it finds the row and names the key in lists and logs. The whole key carries
256 random bits, so a single SHA-256 is a safe and fast hash (keys are checked on every
request; a slow password hash would buy nothing against a key that cannot be guessed).
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, joinedload

from smscrm.errors import N_, NotFound, ValidationError
from smscrm.models import ApiKey, Merchant

KEY_PATTERN = re.compile(r"^(sk_[0-9a-f]{12})_[A-Za-z0-9_-]{43}$")
MAX_NAME_CHARS = 80
DEFAULT_NAME = "API key"
LAST_USED_RESOLUTION = timedelta(minutes=1)  # `last_used_at` is refreshed at most this often per key


class KeyCheck(StrEnum):
    """Why a presented key was refused (each is answered 401)."""

    MALFORMED = "malformed"
    UNKNOWN = "unknown"
    REVOKED = "revoked"


@dataclass(frozen=True)
class Authentication:
    """The outcome of checking a presented key: its merchant, or why it was refused. `noted_use`: this
    check changed the key's `last_used_at`."""

    merchant: Merchant | None
    refusal: KeyCheck | None = None
    noted_use: bool = False


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create(session: Session, merchant: Merchant, *, now: datetime, name: str | None = None) -> tuple[ApiKey, str]:
    """A new key for `merchant`; returns the row and the key itself, which is never stored."""
    name = " ".join((name or "").split()) or DEFAULT_NAME
    if len(name) > MAX_NAME_CHARS:
        raise ValidationError(N_("the key name must be at most %(count)s characters"), count=MAX_NAME_CHARS)
    prefix = f"sk_{secrets.token_hex(6)}"
    key = f"{prefix}_{secrets.token_urlsafe(32)}"
    api_key = ApiKey(merchant_id=merchant.id, name=name, prefix=prefix, key_hash=hash_key(key), created_at=now)
    session.add(api_key)
    session.flush()
    return api_key, key


_KEY_AND_MERCHANT = (  # built once: every API request runs it
    select(ApiKey, Merchant).join(Merchant, Merchant.id == ApiKey.merchant_id)
    .options(joinedload(Merchant.numbers))  # the number its texts go from, read with it
    .where(ApiKey.prefix == bindparam("prefix"))
)


def authenticate(session: Session, key: str, *, now: datetime) -> Authentication:
    """Check a presented key in constant time; its merchant, read with it in one query. Notes in the
    session when the key was last used (once a minute at most); the caller commits."""
    match = KEY_PATTERN.match(key or "")
    if match is None:
        return Authentication(None, refusal=KeyCheck.MALFORMED)
    found = session.execute(_KEY_AND_MERCHANT, {"prefix": match.group(1)}).unique().first()
    if found is None or not hmac.compare_digest(found.ApiKey.key_hash, hash_key(key)):
        return Authentication(None, refusal=KeyCheck.UNKNOWN)
    api_key, merchant = found
    if api_key.revoked_at is not None:
        return Authentication(None, refusal=KeyCheck.REVOKED)
    if api_key.last_used_at is None or now - api_key.last_used_at >= LAST_USED_RESOLUTION:
        api_key.last_used_at = now
        session.flush()
        return Authentication(merchant, noted_use=True)
    return Authentication(merchant)


def keys_of(session: Session, merchant: Merchant) -> list[ApiKey]:
    """The merchant's keys, newest first, revoked ones included (named by prefix: the key itself is not kept)."""
    return list(session.scalars(
        select(ApiKey).where(ApiKey.merchant_id == merchant.id).order_by(ApiKey.created_at.desc(), ApiKey.id.desc())
    ))


def revoke(session: Session, prefix: str, *, now: datetime, merchant: Merchant | None = None) -> ApiKey:
    """Stop a key from working; with `merchant`, only one of its keys. Revoking twice keeps the first
    revocation time."""
    query = select(ApiKey).where(ApiKey.prefix == (prefix or "").strip())
    if merchant is not None:
        query = query.where(ApiKey.merchant_id == merchant.id)
    api_key = session.scalar(query)
    if api_key is None:
        raise NotFound(N_("no API key has the prefix %(prefix)r (it looks like sk_0123456789ab)"), prefix=prefix)
    if api_key.revoked_at is None:
        api_key.revoked_at = now
        session.flush()
    return api_key

