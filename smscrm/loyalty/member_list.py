"""The merchant's member list: search (a phone in any format, a name, a referral code), a sort, and pages
read keyset-style: a page starts after (or ends before) the sort key of a row the merchant saw, so every page
costs the same however deep it is, and a member who joins meanwhile does not shift the pages.

Every query takes the merchant's id (or a condition that contains it) and returns only that merchant's rows.
"""
from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import ColumnElement, func, literal, or_, select, tuple_
from sqlalchemy.orm import Session

from smscrm.errors import N_, InvalidPhone, ValidationError
from smscrm.loyalty.codes import normalise_code
from smscrm.messaging import phones
from smscrm.models import Member
from smscrm.models.member import NAME_ORDER

PER_PAGE = 50
_NOT_DIGITS = re.compile(r"\D")
_PHONE_LIKE = re.compile(r"^[\d\s().+•-]+$")
_CODE_LIKE = re.compile(r"^[A-Za-z0-9\s-]{4,14}$")


def matches(search: str, country: str) -> ColumnElement[bool]:
    """The member whose phone is `search` read as a whole number of `country`, in any format ("(415) 555-0100",
    "+1 415 555 0100": one look-up in the (merchant, phone) key); else members whose name contains `search`,
    whose phone ends with its digits, or whose referral code it is."""
    search = " ".join((search or "").split())
    digits = _NOT_DIGITS.sub("", search)
    is_phone_like = bool(digits) and bool(_PHONE_LIKE.match(search))
    if is_phone_like:
        try:
            phone = phones.normalise(search, country)
        except InvalidPhone:  # too short for a number: the last digits of one
            phone = None
        if phone is not None and phones.is_whole(phone):  # else a local number's digits: the last digits too
            return Member.phone == phone
    conditions = [Member.name.icontains(search, autoescape=True)]
    if is_phone_like:
        conditions.append(Member.phone.endswith(digits, autoescape=True))
    if _CODE_LIKE.match(search):
        conditions.append(Member.referral_code == normalise_code(search))
    return or_(*conditions)


@dataclass(frozen=True)
class Sort:
    """An order of the list as sort keys that are never NULL, all ascending or all descending, the member's id
    last (it makes the order total): a page boundary is then one row-value comparison, which an index in the
    same order (ix_members_merchant_created for the newest first) reads as a range."""

    keys: tuple[ColumnElement, ...]
    kinds: tuple[type, ...]  # what each key's value is in a cursor
    is_descending: bool

    def order_by(self, *, reverse: bool = False) -> list:
        return [key.desc() if self.is_descending != reverse else key.asc() for key in self.keys]

    def after(self, values: list, *, reverse: bool = False) -> ColumnElement[bool]:
        """Rows after `values` in this order (before them when `reverse`)."""
        keys, bound = tuple_(*self.keys), tuple_(*(literal(value, key.type) for value, key in zip(values, self.keys)))
        return keys < bound if self.is_descending != reverse else keys > bound


_NEVER = datetime(1, 1, 1, tzinfo=timezone.utc)  # a member who never visited comes after every visit, newest first
SORTS = {
    "newest": Sort((Member.created_at, Member.id), (datetime, int), is_descending=True),
    "name": Sort((*NAME_ORDER, Member.id), (bool, str, int), is_descending=False),  # ix_members_merchant_name
    "points": Sort((Member.points_balance, Member.id), (int, int), is_descending=True),
    "last_visit": Sort((func.coalesce(Member.last_visit_at, literal(_NEVER, Member.last_visit_at.type)), Member.id),
                       (datetime, int), is_descending=True),
}


@dataclass(frozen=True)
class MemberPage:
    """One page: `after` / `before` are the cursors of the next and previous pages (None at either end)."""

    items: list[Member]
    total: int
    after: str | None
    before: str | None


def list_page(
    session: Session, condition: ColumnElement[bool], *, sort: str = "newest", after: str | None = None,
    before: str | None = None, per_page: int = PER_PAGE,
) -> MemberPage:
    """The members meeting `condition` (which names the merchant) in the order `sort`: the first page, the page
    after the cursor `after`, or the page before the cursor `before`. A bad cursor is a ValidationError."""
    order = SORTS[sort]
    reverse = before is not None
    page_ids = select(Member.id).where(condition)
    cursor = before if reverse else after
    if cursor is not None:
        page_ids = page_ids.where(order.after(_decode(cursor, order), reverse=reverse))
    # the page's members found first by their sort keys and id alone, then read whole by id: a sort without an index
    # (points, latest visit) carries two columns of every member, not all of them (half the time)
    sorted_ = order.order_by(reverse=reverse)
    page_ids = page_ids.order_by(*sorted_).limit(per_page + 1)
    rows = list(session.scalars(select(Member).where(Member.id.in_(page_ids)).order_by(*sorted_)))
    has_more = len(rows) > per_page
    rows = rows[:per_page]
    if reverse:
        rows.reverse()
    is_first = not (has_more if reverse else cursor is not None)
    if cursor is None and not has_more:  # the one page holds them all (a search, usually): no second pass to count
        total = len(rows)
    else:
        total = session.scalar(select(func.count()).select_from(Member).where(condition)) or 0
    is_last = not has_more if not reverse else False
    return MemberPage(
        items=rows, total=total,
        after=_encode(session, rows[-1], order) if rows and not is_last else None,
        before=_encode(session, rows[0], order) if rows and not is_first else None,
    )


def _encode(session: Session, member: Member, order: Sort) -> str:
    values = session.execute(select(*order.keys).where(Member.id == member.id)).one()
    plain = [value.isoformat() if isinstance(value, datetime) else value for value in values]
    return base64.urlsafe_b64encode(json.dumps(plain, ensure_ascii=False).encode()).decode().rstrip("=")


def _decode(cursor: str, order: Sort) -> list:
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(values, list) or len(values) != len(order.kinds):
            raise ValueError
        return [_typed(value, kind) for value, kind in zip(values, order.kinds)]
    except (ValueError, TypeError, UnicodeDecodeError):
        raise ValidationError(N_("this page link is damaged or from another sort: start again from the first page"))


def _typed(value, kind: type):
    if kind is datetime:
        moment = datetime.fromisoformat(value)
        return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise ValueError
    return value
