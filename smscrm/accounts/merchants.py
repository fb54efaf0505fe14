"""Creating merchants and their owner logins; finding a merchant by the number texted; a merchant read
once for a request that only reads its settings (`MerchantSnapshot`), and on PostgreSQL kept for the
next request while it is unchanged (`kept_snapshot`)."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from sqlalchemy import Connection, bindparam, func, literal_column, select
from sqlalchemy.orm import Session

from smscrm.accounts import logins
from smscrm.errors import Conflict, ValidationError
from smscrm.messaging import phones
from smscrm.models import Language, Merchant, Role, SenderNumber


def create_merchant(
    session: Session,
    *,
    name: str,
    number: str,
    email: str,
    password: str,
    now: datetime,
    language: str = Language.EN,
    timezone: str = "UTC",
    country: str = "US",
    signature: str | None = None,
) -> Merchant:
    """A merchant with one sender number and its owner's login. Every argument is validated."""
    name = (name or "").strip()
    if not name or len(name) > 80:
        raise ValidationError("the merchant name must be 1 to 80 characters")
    if language not in tuple(Language):
        raise ValidationError(f"language must be one of {', '.join(Language)}, got {language!r}")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"{timezone!r} is not an IANA timezone such as Asia/Shanghai") from None
    country = (country or "").upper()
    if country not in phonenumbers.SUPPORTED_REGIONS:
        raise ValidationError(f"{country!r} is not a two-letter country code such as US or CN")
    sender = phones.normalise(number, country)
    if session.scalar(select(SenderNumber.id).where(SenderNumber.number == sender)):
        raise Conflict(f"the number {sender} already belongs to a merchant")
    merchant = Merchant(
        name=name,
        signature=(signature or name)[:40],
        default_language=language,
        timezone=timezone,
        country=country,
        texts={},
        created_at=now,
    )
    merchant.numbers.append(SenderNumber(number=sender))
    session.add(merchant)
    session.flush()
    logins.create_staff_user(session, merchant, email=email, password=password, role=Role.OWNER, now=now)
    return merchant


def merchant_for_number(session: Session, number: str) -> Merchant | None:
    return session.scalar(select(Merchant).join(SenderNumber).where(SenderNumber.number == number))


def has_merchants(session: Session) -> bool:
    return bool(session.scalar(select(func.count(Merchant.id))))


class MerchantSnapshot:
    """A merchant as one query read it: every `Merchant` column and `primary_number`, read-only.

    It stands in for the ORM `Merchant` where a request reads the merchant's settings and changes
    nothing of the merchant (the API's requests): loading it costs a plain row, not an ORM object with
    its numbers. Select `SNAPSHOT_COLUMNS` to read one.
    """

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, Any]):
        object.__setattr__(self, "_values", {name: values[name] for name in _SNAPSHOT_NAMES})

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"a merchant has no {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("a MerchantSnapshot is read-only; load the Merchant to change it")

    def __repr__(self) -> str:
        return f"MerchantSnapshot(id={self.id!r}, name={self.name!r})"


_PRIMARY_NUMBER = (
    select(SenderNumber.number).where(SenderNumber.merchant_id == Merchant.id).order_by(SenderNumber.id).limit(1)
    .scalar_subquery().label("primary_number")
)
SNAPSHOT_COLUMNS = (*Merchant.__table__.columns, _PRIMARY_NUMBER)
_SNAPSHOT_NAMES = tuple(column.name for column in SNAPSHOT_COLUMNS)
_SNAPSHOT = select(*SNAPSHOT_COLUMNS).where(Merchant.id == bindparam("merchant_id"))

VERSION_COLUMNS = (  # PostgreSQL: every UPDATE of a row gives it a new xmin (the id of the transaction that wrote it)
    Merchant.id.label("merchant_id"), literal_column("merchants.xmin").label("row_version"), _PRIMARY_NUMBER,
    # a transaction that wrote nothing yet sees only committed rows: their versions never come back
    func.pg_current_xact_id_if_assigned().is_(None).label("sees_committed_rows"),
)
"""What tells whether a kept snapshot is current: select them with the merchant (PostgreSQL only)."""
_kept: dict[tuple[str, int], tuple[tuple, MerchantSnapshot]] = {}


def kept_snapshot(connection: Connection, version) -> MerchantSnapshot:
    """The merchant's snapshot as an earlier request of this process read it, when `version` (a row of
    `VERSION_COLUMNS`) shows neither the merchant's row nor its primary number changed since; else read now.

    An API request checks its key with one query of a handful of columns instead of every column of the
    merchant. Transaction ids only grow within a PostgreSQL server, so a committed row version is never
    seen again once the row changes. Only such versions are kept: a transaction that has written may have
    changed the merchant twice under one version (its own id).
    """
    key, current = (str(connection.engine.url), version.merchant_id), (version.row_version, version.primary_number)
    kept = _kept.get(key)
    if kept is not None and kept[0] == current:
        return kept[1]
    snapshot = MerchantSnapshot(connection.execute(_SNAPSHOT, {"merchant_id": version.merchant_id}).one()._mapping)
    if version.sees_committed_rows:
        _kept[key] = (current, snapshot)
    return snapshot
