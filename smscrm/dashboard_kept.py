"""Home's figures kept ahead of time: counting them (`dashboard.figures`) takes seconds for a large merchant, so
Home reads them as they were last counted, with that time.

- Home reads the kept figures while they are younger than `FRESH`; older or never counted, it counts them then
  (`kept`). Every read is noted (`read_at`).
- The scheduler counts them again, every `REFRESH_EVERY`, for the merchants who read them in the last `READ_WITHIN`
  once they are `FRESH / 2` old (`refresh_read`), so Home finds them fresh: at most FRESH / 2 + REFRESH_EVERY old.
- They are kept as JSON: dataclasses as objects, dates and times in ISO 8601, spans in seconds, enums by value;
  read back through the dataclasses' type hints. Each row names the dataclasses' `SHAPE`: figures kept in another
  shape (by an earlier release) are counted again, never read.
"""
from __future__ import annotations

import logging
import types
from dataclasses import fields, is_dataclass
from datetime import date, datetime, timedelta
from typing import Any, Union, get_args, get_origin, get_type_hints

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from smscrm import dashboard
from smscrm.db import outages
from smscrm.db.conflicts import insert_on_conflict
from smscrm.models import DashboardFigures, Merchant

log = logging.getLogger(__name__)

FRESH = timedelta(minutes=15)
REFRESH_EVERY = timedelta(minutes=5)
READ_WITHIN = timedelta(days=7)


def refresh(session: Session, merchant: Merchant, *, now: datetime, is_read: bool = False) -> dashboard.Figures:
    """Count the merchant's figures at `now` and keep them, noted as read now when `is_read` (the caller commits)."""
    counted = dashboard.figures(session, merchant, now=now)
    kept = {"computed_at": now, "figures": {"shape": SHAPE, **to_json(counted)}}
    session.execute(
        insert_on_conflict(session, DashboardFigures)
        .values(merchant_id=merchant.id, read_at=now, **kept)
        .on_conflict_do_update(index_elements=["merchant_id"], set_={**kept, **({"read_at": now} if is_read else {})})
    )
    return counted


def kept(session: Session, merchant: Merchant, *, now: datetime) -> tuple[dashboard.Figures, datetime]:
    """The merchant's figures and when they were counted: as kept if younger than `FRESH` (and of this `SHAPE`),
    else counted now."""
    row = session.execute(
        select(DashboardFigures.computed_at, DashboardFigures.figures).where(DashboardFigures.merchant_id == merchant.id)
    ).first()
    if row is None or row.computed_at <= now - FRESH or row.figures.get("shape") != SHAPE:
        return refresh(session, merchant, now=now, is_read=True), now
    session.execute(update(DashboardFigures).where(DashboardFigures.merchant_id == merchant.id).values(read_at=now))
    return from_json(dashboard.Figures, row.figures), row.computed_at


def refresh_read(sessions: sessionmaker, *, now: datetime) -> list[int]:
    """The scheduler's job: count again the figures read in the last `READ_WITHIN` and `FRESH / 2` old or older,
    one merchant per transaction; returns their merchants' ids. One that fails is logged and tried at the next run."""
    with sessions() as session:
        due = list(session.scalars(
            select(DashboardFigures.merchant_id)
            .where(DashboardFigures.read_at >= now - READ_WITHIN, DashboardFigures.computed_at <= now - FRESH / 2)
            .order_by(DashboardFigures.computed_at)
        ))
    refreshed = []
    for merchant_id in due:
        with sessions() as session:
            try:
                refresh(session, session.get(Merchant, merchant_id), now=now)
                session.commit()
            except outages.UNREACHABLE:
                raise
            except Exception:
                log.exception("the dashboard figures of merchant %s could not be counted; tried again at the next run",
                              merchant_id)
                continue
        refreshed.append(merchant_id)
    return refreshed


def shape(kind: Any) -> str:
    """The names and types of `kind`'s fields, nested (what `from_json` relies on)."""
    if is_dataclass(kind):
        return f"{kind.__name__}({', '.join(f'{name}: {shape(hint)}' for name, hint in get_type_hints(kind).items())})"
    if get_args(kind):
        return f"{get_origin(kind).__name__}[{', '.join(shape(arg) for arg in get_args(kind))}]"
    return kind.__name__


def to_json(value: Any) -> Any:
    """`value` (figures, or any part of them) as JSON values (see the module docstring)."""
    if is_dataclass(value):
        return {field.name: to_json(getattr(value, field.name)) for field in fields(value)}
    if isinstance(value, list):
        return [to_json(item) for item in value]
    if isinstance(value, date):  # datetime too
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    return value  # str (enums too), int, float, bool, None


def from_json(kind: Any, value: Any) -> Any:
    """A value of type `kind` from what `to_json` made of it."""
    if value is None:
        return None
    origin = get_origin(kind)
    if origin in (Union, types.UnionType):  # X | None
        (kind,) = (arg for arg in get_args(kind) if arg is not type(None))
        return from_json(kind, value)
    if origin is list:
        (item,) = get_args(kind)
        return [from_json(item, element) for element in value]
    if is_dataclass(kind):
        return kind(**{name: from_json(hint, value[name]) for name, hint in get_type_hints(kind).items()})
    if kind in (datetime, date):
        return kind.fromisoformat(value)
    if kind is timedelta:
        return timedelta(seconds=value)
    return kind(value)  # int, float, str, bool, enums


SHAPE = shape(dashboard.Figures)
