"""Points that can be trusted: earn rules, purchases, bonuses, staff adjustments, expiry and the ledger.

Every point moves through `smscrm.loyalty.ledger` (`post`; a purchase, which counts a visit in the same
UPDATE, through its `BALANCE_MOVE` and `entry_row`), so a member's balance is the sum of their
ledger entries and each operation happens once however often it is retried. Redemptions live in
`smscrm.loyalty.rewards` and referrals in `smscrm.loyalty.referrals`; the functions the web app and the API call are
all importable from here.

Earn rule: points = floor(amount_minor × points_per_unit × class multiplier % / (earn_unit_minor × 100)),
one rounding, always down. A member without a value class yet earns at 100 %.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from types import SimpleNamespace

from sqlalchemy import (
    Insert,
    Select,
    String,
    and_,
    bindparam,
    case,
    cast,
    exists,
    false,
    func,
    insert,
    literal,
    literal_column,
    null,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from smscrm.db.engine import autocommit_connection
from smscrm.db.insert_chain import NewRow, RowChange, insert_all
from smscrm.db.types import UTCDateTime
from smscrm.errors import Conflict, ValidationError
from smscrm.loyalty import classes, referrals
from smscrm.loyalty.ledger import (
    BALANCE_MOVE,
    balance_move,
    entry_row,
    lock_members,
    post,
    resum_balances,
)
from smscrm.loyalty.periods import months_before
from smscrm.loyalty.rewards import (
    confirm_redemption,
    redeem_at_counter,
    release_expired_redemptions,
    request_redemption,
)
from smscrm.messaging import consent, outbox, phones, texts
from smscrm.models import (
    Category,
    ConsentAction,
    EntryKind,
    Language,
    Member,
    Merchant,
    OutboundMessage,
    PointsEntry,
    Purchase,
    Referral,
    Stage,
    ValueClass,
)

__all__ = [
    "PurchaseResult", "BalanceMismatch", "points_for", "record_purchase", "on_join",
    "adjust", "ledger", "expire_points", "unspent_before", "verify_balances", "update_settings", "SETTING_LIMITS",
    "redeem_at_counter", "request_redemption", "confirm_redemption", "release_expired_redemptions",
]

log = logging.getLogger(__name__)

MAX_AMOUNT_MINOR = 100_000_000  # one million in a currency with cents: anything larger is a typing slip
MAX_ADJUST_POINTS = 1_000_000
MAX_KEY_CHARS = 80
MAX_REFERENCE_CHARS = 64
MAX_NOTE_CHARS = 200
MAX_LEDGER_PAGE = 200
PURCHASE_CHANNELS = ("web", "api")


@dataclass(frozen=True)
class PurchaseResult:
    """What recording a purchase did. `balance` is the member's balance right after this purchase's points,
    the same on a replay; `is_pending` says whether the points are (still) held for the buyer to join.
    `member` and `purchase` load the rows when asked for (the API answers from the other fields)."""

    session: Session = field(repr=False, compare=False)
    purchase_id: int
    member_id: int
    phone: str
    amount_minor: int
    reference: str | None
    created_at: datetime
    points_earned: int
    balance: int
    is_pending: bool  # the buyer has not joined: the points are held and they were invited to JOIN
    is_replay: bool  # the idempotency key or reference was seen before: nothing new happened

    @property
    def member(self) -> Member:
        return self.session.get(Member, self.member_id)

    @property
    def purchase(self) -> Purchase:
        return self.session.get(Purchase, self.purchase_id)


def points_for(merchant: Merchant, amount_minor: int, value_class: str | None) -> int:
    """The points a purchase of `amount_minor` earns a member of `value_class` (see the module docstring)."""
    multiplier = {
        ValueClass.A: merchant.multiplier_a_pct,
        ValueClass.B: merchant.multiplier_b_pct,
        ValueClass.C: merchant.multiplier_c_pct,
    }.get(value_class, 100)
    return amount_minor * merchant.points_per_unit * multiplier // (merchant.earn_unit_minor * 100)


# The purchase path is a handful of statements built once (bound parameters start with `p_`, apart from the
# ledger's `points` and segmentation's `visit_*`). Its order: the purchase row goes in first, taking the
# member's row lock, so that a retry or a reused key finds it there before anything else was written; then
# one chain counts the purchase in the member's row and writes its ledger entry and receipt. Outside any
# transaction a joined member's usual purchase is one statement instead (`_PURCHASE_AT_ONCE`, below).
_members, _purchases = Member.__table__, Purchase.__table__
_EARNED = case(  # points_for for each value class, bound as p_earn_a, p_earn_b, p_earn_c and p_earn_none
    *((_members.c.value_class == classes.sql_constant(value_class), bindparam(f"p_earn_{value_class.lower()}"))
      for value_class in ValueClass),
    else_=bindparam("p_earn_none"),
)
_IS_HELD = _members.c.joined_at.is_(None)
_PURCHASE_COLUMNS = (
    "merchant_id", "member_id", "amount_minor", "points_earned", "is_points_held", "balance_after", "reference",
    "idempotency_key", "channel", "created_at",
)
_PURCHASE_FROM_MEMBER = (
    select(
        _members.c.merchant_id, _members.c.id, bindparam("p_amount"), _EARNED, _IS_HELD,
        _members.c.points_balance + case((_IS_HELD, classes.sql_constant(0)), else_=_EARNED),
        bindparam("p_reference", type_=String),
        bindparam("p_key", type_=String), bindparam("p_channel", type_=String),
        bindparam("p_now", type_=UTCDateTime()),
    )
    .where(_members.c.merchant_id == bindparam("p_merchant_id"), _members.c.phone == bindparam("p_phone"))
    .with_for_update(key_share=True)  # FOR NO KEY UPDATE: rows that only reference the member need not wait
)
_INSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}  # the dialects with ON CONFLICT DO NOTHING
_PURCHASE_RETURNING = (
    _purchases.c.id, _purchases.c.member_id, _purchases.c.points_earned, _purchases.c.is_points_held,
    _purchases.c.balance_after,
)
# correlated to the member's row; a bare `members.id` in RETURNING would be the referral's own id
_WAS_REFERRED = exists().where(Referral.__table__.c.referred_id == literal_column("members.id"))
_BUYER_COLUMNS = (  # what the rest of the purchase needs to know of the member, as it was before it
    _members.c.language, _members.c.is_opted_out, _members.c.visit_count,
    _WAS_REFERRED.label("was_referred"),
)


def _purchase_with_buyer() -> Select:
    """PostgreSQL's purchase in one statement: the INSERT as a CTE, returning `_PURCHASE_RETURNING` and the
    `_BUYER_COLUMNS` of the member's row as it was locked (a later snapshot would be another statement).
    Nothing comes back when the key or reference was used (no exception, no savepoint) or no member has the
    phone."""
    buyer = _PURCHASE_FROM_MEMBER.add_columns(*_BUYER_COLUMNS).cte("buyer")
    purchase = (
        postgresql.insert(_purchases)
        .from_select(_PURCHASE_COLUMNS, select(*list(buyer.c)[:len(_PURCHASE_COLUMNS)]))  # the columns above
        .on_conflict_do_nothing()
        .returning(*_PURCHASE_RETURNING)
        .cte("purchase")
    )
    return select(purchase, *(buyer.c[column.name] for column in _BUYER_COLUMNS)).select_from(
        purchase.join(buyer, true())
    )


# SQLite has no INSERT inside WITH: the same INSERT, then the same columns read back (one writer at a time there)
_INSERT_PURCHASE_SQLITE = (
    sqlite.insert(_purchases).from_select(_PURCHASE_COLUMNS, _PURCHASE_FROM_MEMBER).on_conflict_do_nothing()
    .returning(_purchases.c.id)
)
_PURCHASE_AND_BUYER_SQLITE = (
    select(*_PURCHASE_RETURNING, *_BUYER_COLUMNS)
    .join(_members, _members.c.id == _purchases.c.member_id)
    .where(_purchases.c.id == bindparam("p_purchase_id"))
)
_PURCHASE_WITH_BUYER = _purchase_with_buyer()
_PENDING_MEMBER = {  # opted out already when the phone's latest consent event here is an opt-out
    "merchant_id": bindparam("p_merchant_id"), "phone": bindparam("p_phone"), "language": bindparam("p_language"),
    "joined_at": None, "points_balance": 0, "stage": Stage.PENDING, "created_at": bindparam("p_now"),
    "is_opted_out": func.coalesce(
        consent.latest_action(bindparam("p_merchant_id"), bindparam("p_phone")) == ConsentAction.OPT_OUT, false()
    ),
}
_INSERT_PENDING_MEMBER = {
    name: insert_into(_members).values(_PENDING_MEMBER).on_conflict_do_nothing() for name, insert_into in _INSERTS.items()
}
_COUNTED = [*classes.VISIT_VALUES, *BALANCE_MOVE]  # the columns counting a purchase changes
_COUNT_PURCHASE = (
    update(_members).where(_members.c.id == bindparam("p_member_id")).values({**classes.VISIT_VALUES, **BALANCE_MOVE})
)
_EARLIER_PURCHASE = (
    select(_purchases, _members.c.phone)
    .join(_members, _members.c.id == _purchases.c.member_id)
    .where(
        _purchases.c.merchant_id == bindparam("p_merchant_id"),
        or_(_purchases.c.idempotency_key == bindparam("p_key"), _purchases.c.reference == bindparam("p_reference")),
    )
)


# A joined member's usual purchase on PostgreSQL, given a connection outside any transaction: one statement,
# atomic by itself, so no BEGIN and COMMIT round trips either. Its UPDATE of the member's row is the only lock
# it takes on that row (an UPDATE that finds the row changed since the statement began waits for the change
# and re-reads it, as any UPDATE does); the purchase, its ledger entry and the receipt are written from what
# the UPDATE returns. "Usual": the member has joined and this is not a referred member's first purchase (the
# referral is settled then); otherwise nothing is written. A key or reference used before makes the purchase's
# INSERT break its unique index, and the whole statement with it: a retry is rare, and looking the key up in
# every purchase would cost each one a lookup whose plan PostgreSQL may get wrong (a generic plan read all of
# the merchant's purchases through their date index, on a table without statistics).
_POINTS_MARK, _BALANCE_MARK = "\x1epoints\x1e", "\x1ebalance\x1e"  # the receipt's numbers, filled in by the statement
_STATEMENT_MERCHANT = SimpleNamespace(  # `outbox.queued` reads these of a merchant
    id=bindparam("p_merchant_id"), primary_number=bindparam("p_from_phone", type_=String),
)


def _purchase_at_once(*, with_receipt: bool) -> Select:
    members, now = _members.c, bindparam("p_now", type_=UTCDateTime())
    is_usual = and_(
        members.merchant_id == bindparam("p_merchant_id"), members.phone == bindparam("p_phone"),
        members.joined_at.is_not(None), or_(members.visit_count > classes.sql_constant(0), ~_WAS_REFERRED),
    )
    counted = (  # RETURNING reads the row as updated: the new balance (the value class is not changed here)
        update(_members).where(is_usual).values({**classes.VISIT_VALUES, **balance_move(_EARNED)})
        .returning(members.id, members.points_balance, _EARNED.label("earned"), members.language, members.is_opted_out)
        .cte("counted")
    )
    purchase = (
        insert(_purchases).from_select(_PURCHASE_COLUMNS, select(
            bindparam("p_merchant_id"), counted.c.id, bindparam("p_amount"), counted.c.earned, false(),
            counted.c.points_balance, bindparam("p_reference", type_=String), bindparam("p_key", type_=String),
            bindparam("p_channel", type_=String), now,
        ))
        .returning(_purchases.c.id, _purchases.c.points_earned, _purchases.c.balance_after)
        .cte("purchase")
    )
    bought = purchase.join(counted, true())
    entry = entry_row(
        merchant_id=bindparam("p_merchant_id"), member_id=counted.c.id, kind=EntryKind.EARN,
        points=purchase.c.points_earned, balance_after=purchase.c.balance_after,
        key=_numbered("purchase:", purchase.c.id), now=now, purchase_id=purchase.c.id,
    )
    writes = [_written_from(entry, bought, purchase.c.points_earned > classes.sql_constant(0)).cte("entry")]
    if with_receipt:
        by_language = case(
            *((counted.c.language == classes.sql_constant(language), bindparam(f"p_receipt_{language}", type_=String))
              for language in Language),
            else_=bindparam("p_receipt_other", type_=String),
        )
        body = func.replace(
            func.replace(by_language, classes.sql_constant(_POINTS_MARK), cast(purchase.c.points_earned, String)),
            classes.sql_constant(_BALANCE_MARK), cast(purchase.c.balance_after, String),
        )
        receipt = outbox.queued(
            _STATEMENT_MERCHANT, to_phone=bindparam("p_phone", type_=String), body=body,
            category=Category.TRANSACTIONAL, purpose="purchase_receipt", now=now, member_id=counted.c.id,
            dedupe_key=_numbered("receipt:", purchase.c.id),
        )
        writes.append(_written_from(receipt, bought, ~counted.c.is_opted_out).cte("receipt"))
    return (
        select(purchase.c.id, counted.c.id.label("member_id"), purchase.c.points_earned, purchase.c.balance_after)
        .select_from(bought)
        .add_cte(*writes)  # PostgreSQL runs every data-modifying CTE, referred to or not
    )


def _numbered(prefix: str, row_id):
    """A key such as purchase:123 made in SQL from a row's id."""
    return classes.sql_constant(prefix).concat(cast(row_id, String))


def _written_from(row: NewRow, source, condition) -> Insert:
    """INSERT `row` (its values constants or SQL over `source`) once for each row of `source` meeting `condition`."""
    def sql(value):
        if value is None:
            return null()
        return classes.sql_constant(value) if isinstance(value, str) else value

    return insert(row.table).from_select(
        list(row.values), select(*(sql(value) for value in row.values.values())).select_from(source).where(condition)
    )


_PURCHASE_AT_ONCE = {with_receipt: _purchase_at_once(with_receipt=with_receipt) for with_receipt in (True, False)}


def record_purchase(
    session: Session,
    merchant: Merchant,
    *,
    phone: str,
    amount_minor: int,
    now: datetime,
    reference: str | None = None,
    idempotency_key: str | None = None,
    channel: str = "web",
    at_once: bool = False,
) -> PurchaseResult:
    """Record a purchase and award its points; an unknown phone becomes a pending member invited to JOIN.

    The idempotency key, else the receipt reference, makes a retry return the first result; reusing
    one for a different phone or amount is a Conflict. Members get a receipt text unless the merchant
    turned receipts off or the member opted out.

    With `at_once`, while the session has no transaction open, a joined member's usual purchase on
    PostgreSQL is one statement on a connection of its own, outside any transaction (atomic by itself);
    every other purchase goes through the session.
    """
    amount_minor = _valid_amount(amount_minor)
    reference = _optional_text(reference, "reference", MAX_REFERENCE_CHARS)
    idempotency_key = _optional_text(idempotency_key, "idempotency key", MAX_KEY_CHARS)
    if channel not in PURCHASE_CHANNELS:
        raise ValidationError(f"channel must be one of {', '.join(PURCHASE_CHANNELS)}")
    phone = phones.normalise(phone, merchant.country)
    dialect = session.get_bind().dialect.name
    values = {
        "p_merchant_id": merchant.id, "p_phone": phone, "p_amount": amount_minor, "p_reference": reference,
        "p_key": idempotency_key, "p_channel": channel, "p_now": now,
        **{f"p_earn_{c.lower()}": points_for(merchant, amount_minor, c) for c in ValueClass},
        "p_earn_none": points_for(merchant, amount_minor, None),
    }
    if at_once and dialect == "postgresql":
        done = _record_at_once(session, merchant, values, amount_minor=amount_minor, now=now)
        if done is not None:
            _refresh_loaded(session, done.member_id)
            return PurchaseResult(
                session, done.id, done.member_id, phone, amount_minor, reference, now, done.points_earned,
                done.balance_after, False, False,
            )
    is_new_member = False
    while (purchase := _insert_purchase(session, dialect, values)) is None:
        earlier = _earlier_purchase(session, merchant, idempotency_key, reference)
        if earlier is not None:
            return _replay(session, earlier, phone, amount_minor)
        if is_new_member:
            raise RuntimeError(f"the member {phones.mask(phone)} was created but cannot be found")
        _add_pending_member(session, merchant, phone, now, dialect)  # the phone is new here: nothing was written
        is_new_member = True
    is_joined = not purchase.is_points_held
    credit = purchase.points_earned if is_joined else 0
    writes = [RowChange(_COUNT_PURCHASE, {  # one statement on PostgreSQL, with the entry and the receipt
        "p_member_id": purchase.member_id, "points": credit, "visit_amount": amount_minor, "visit_at": now,
    })]
    if credit:
        writes.append(entry_row(
            merchant_id=merchant.id, member_id=purchase.member_id, kind=EntryKind.EARN, points=credit,
            balance_after=purchase.balance_after, key=f"purchase:{purchase.id}", now=now, purchase_id=purchase.id,
        ))
    if is_joined:
        balance_now = purchase.balance_after
        if purchase.visit_count == 0 and purchase.was_referred:  # later purchases come after the referral was settled
            insert_all(session.connection(), writes)  # the purchase's entry goes before the referral bonus
            writes = []
            _refresh_loaded(session, purchase.member_id)
            referred = session.get(Member, purchase.member_id)
            referrals.reward_first_purchase(session, merchant, referred, now=now)
            balance_now = referred.points_balance
        if merchant.has_receipt_texts and not purchase.is_opted_out:
            body = texts.render(
                merchant, "purchase_receipt", purchase.language, points=purchase.points_earned, balance=balance_now
            )
            writes.append(outbox.queued(
                merchant, to_phone=phone, body=body, category=Category.TRANSACTIONAL, purpose="purchase_receipt",
                now=now, member_id=purchase.member_id, dedupe_key=f"receipt:{purchase.id}",
            ))
    elif invitation := _invitation(session, merchant, purchase, phone, now, is_new_member=is_new_member):
        writes.append(invitation)
    insert_all(session.connection(), writes)
    _refresh_loaded(session, purchase.member_id)
    return PurchaseResult(
        session, purchase.id, purchase.member_id, phone, amount_minor, reference, now, purchase.points_earned,
        purchase.balance_after, not is_joined, False,
    )


def _record_at_once(session: Session, merchant: Merchant, values: dict, *, amount_minor: int, now: datetime):
    """The purchase's id, member_id, points_earned and balance_after when `_PURCHASE_AT_ONCE` recorded it;
    None when it wrote nothing: the session has a transaction open (it holds a connection, maybe locks), it
    was not a usual purchase, or its key or reference was used before."""
    values = {**values, "visit_amount": amount_minor, "visit_at": now, "p_from_phone": merchant.primary_number}
    if merchant.has_receipt_texts:
        marks = {"points": _POINTS_MARK, "balance": _BALANCE_MARK}
        values.update({f"p_receipt_{language}": texts.render(merchant, "purchase_receipt", language, **marks)
                       for language in Language})
        values["p_receipt_other"] = values[f"p_receipt_{merchant.default_language}"]
    if session.in_transaction():  # reading the merchant's number may have opened it
        return None
    try:
        with autocommit_connection(session.get_bind()) as connection:
            return connection.execute(_PURCHASE_AT_ONCE[merchant.has_receipt_texts], values).first()
    except IntegrityError:
        return None


def _insert_purchase(session: Session, dialect: str, values: dict):
    """The new purchase's `_PURCHASE_RETURNING` and its member's `_BUYER_COLUMNS`; None when nothing was
    inserted (the key or reference was used before, or no member has the phone)."""
    if dialect == "postgresql":
        return session.execute(_PURCHASE_WITH_BUYER, values).first()
    purchase_id = session.execute(_INSERT_PURCHASE_SQLITE, values).scalar()
    if purchase_id is None:
        return None
    return session.execute(_PURCHASE_AND_BUYER_SQLITE, {"p_purchase_id": purchase_id}).one()


def _valid_amount(amount_minor) -> int:
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int):
        raise ValidationError("amount_minor must be a whole number of minor units (cents), e.g. 1250 for 12.50")
    if amount_minor <= 0:
        raise ValidationError("amount_minor must be more than 0")
    if amount_minor > MAX_AMOUNT_MINOR:
        raise ValidationError(f"amount_minor must be at most {MAX_AMOUNT_MINOR}")
    return amount_minor


def _optional_text(value: str | None, what: str, max_chars: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError(f"the {what} must be text")
    value = value.strip()
    if len(value) > max_chars:
        raise ValidationError(f"the {what} must be at most {max_chars} characters")
    return value or None


def _earlier_purchase(session: Session, merchant: Merchant, key: str | None, reference: str | None):
    """The purchase recorded before with this idempotency key, else with this receipt reference (with its phone)."""
    if key is None and reference is None:
        return None
    rows = session.execute(
        _EARLIER_PURCHASE, {"p_merchant_id": merchant.id, "p_key": key, "p_reference": reference}
    ).all()
    return min(rows, key=lambda row: row.idempotency_key != key, default=None)


def _replay(session: Session, earlier, phone: str, amount_minor: int) -> PurchaseResult:
    if (earlier.phone, earlier.amount_minor) != (phone, amount_minor):
        raise Conflict(
            "this idempotency key or reference was already used for a purchase with a different phone or amount",
            code="idempotency_key_reused",
        )
    return PurchaseResult(
        session, earlier.id, earlier.member_id, earlier.phone, earlier.amount_minor, earlier.reference,
        earlier.created_at, earlier.points_earned, earlier.balance_after, earlier.is_points_held, True,
    )


def _add_pending_member(session: Session, merchant: Merchant, phone: str, now: datetime, dialect: str) -> None:
    """A pending membership for a phone the merchant does not know (a concurrent purchase may add it first)."""
    session.execute(_INSERT_PENDING_MEMBER[dialect], {
        "p_merchant_id": merchant.id, "p_phone": phone, "p_language": merchant.default_language, "p_now": now,
    })


def _refresh_loaded(session: Session, member_id: int) -> None:
    """A membership already loaded in the session reads what counting the purchase changed on next access."""
    loaded = session.identity_map.get(identity_key(Member, member_id))
    if loaded is not None:
        session.expire(loaded, _COUNTED)


def _earn(session: Session, member: Member, purchase: Purchase, now: datetime) -> int:
    """Post the purchase's points; the balance right after them."""
    posted = post(
        session, member, kind=EntryKind.EARN, points=purchase.points_earned, key=f"purchase:{purchase.id}",
        now=now, purchase_id=purchase.id,
    )
    return posted.balance_after


def _invitation(session: Session, merchant: Merchant, purchase, phone: str, now: datetime, *, is_new_member: bool):
    """The text inviting a pending member to JOIN, as a row to write; None when there is nothing to invite
    to, they opted out, or an earlier purchase invited them (one invitation per pending member)."""
    dedupe_key = f"join-invite:{purchase.member_id}"
    if purchase.is_opted_out or not purchase.points_earned or (not is_new_member and session.scalar(
        select(exists().where(OutboundMessage.merchant_id == merchant.id, OutboundMessage.dedupe_key == dedupe_key))
    )):
        return None
    body = texts.render(merchant, "purchase_invite", purchase.language, points=purchase.points_earned)
    return outbox.queued(
        merchant, to_phone=phone, body=body, category=Category.TRANSACTIONAL,
        purpose="purchase_invite", now=now, member_id=purchase.member_id, dedupe_key=dedupe_key,
    )


def on_join(
    session: Session, merchant: Merchant, member: Member, *, now: datetime, referrer: Member | None = None
) -> None:
    """What joining earns: the welcome bonus (once per membership, however often they join), the points
    held from purchases made before joining, and the referral that brought them (`referrer` when they
    texted JOIN with a member's code)."""
    if merchant.welcome_bonus > 0:
        post(
            session, member, kind=EntryKind.BONUS, points=merchant.welcome_bonus, key=f"welcome:{member.id}",
            now=now, note="welcome bonus",
        )
    held = session.scalars(
        select(Purchase).where(Purchase.member_id == member.id, Purchase.is_points_held).order_by(Purchase.id)
    )
    for purchase in held:
        purchase.is_points_held = False
        if purchase.points_earned:
            _earn(session, member, purchase, now)
    classes.refresh_stage(member)
    referrals.on_join(session, merchant, member, referrer=referrer, now=now)
    session.flush()


def adjust(
    session: Session, member: Member, *, points: int, note: str, now: datetime, idempotency_key: str
) -> PointsEntry:
    """A staff correction of `points` (negative takes points away, never below zero), with a note saying why."""
    if isinstance(points, bool) or not isinstance(points, int) or points == 0:
        raise ValidationError("points must be a whole number other than 0")
    if abs(points) > MAX_ADJUST_POINTS:
        raise ValidationError(f"an adjustment is at most {MAX_ADJUST_POINTS} points either way")
    note = " ".join((note or "").split())
    if not note:
        raise ValidationError("a note saying why the points change is required")
    if len(note) > MAX_NOTE_CHARS:
        raise ValidationError(f"the note must be at most {MAX_NOTE_CHARS} characters")
    key = _optional_text(idempotency_key, "idempotency key", MAX_KEY_CHARS)
    if key is None:
        raise ValidationError("an idempotency key is required, so that a retried adjustment counts once")
    posted = post(session, member, kind=EntryKind.ADJUST, points=points, key=f"adjust:{key}", now=now, note=note)
    return session.get(PointsEntry, posted.entry_id)


def ledger(session: Session, member: Member, *, limit: int = 50, before_id: int | None = None) -> list[PointsEntry]:
    """The member's entries, newest first; pass the last id of a page as `before_id` for the next one."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LEDGER_PAGE:
        raise ValidationError(f"limit must be from 1 to {MAX_LEDGER_PAGE}")
    query = select(PointsEntry).where(PointsEntry.member_id == member.id)
    if before_id is not None:
        query = query.where(PointsEntry.id < before_id)
    return list(session.scalars(query.order_by(PointsEntry.id.desc()).limit(limit)))


def expire_points(session: Session, *, now: datetime) -> int:
    """Expire unspent points older than each merchant's expiry period, oldest first; the points expired.

    Spending consumes the oldest points first (see `unspent_before`). Safe to run twice: expired points
    count as spent, and each expiry entry's key names the newest credit it covers.
    """
    expired = 0
    merchants = session.scalars(select(Merchant).where(Merchant.points_expiry_months > 0).order_by(Merchant.id))
    for merchant in merchants.all():
        expired += _expire_for(session, merchant, cutoff=months_before(now, merchant.points_expiry_months), now=now)
    if expired:
        log.info("expired %d points", expired)
    return expired


def _expire_for(session: Session, merchant: Merchant, *, cutoff: datetime, now: datetime) -> int:
    old_credit = exists().where(
        PointsEntry.member_id == Member.id, PointsEntry.points > 0, PointsEntry.created_at < cutoff
    )
    candidates = lock_members(
        session, select(Member.id).where(Member.merchant_id == merchant.id, Member.points_balance > 0, old_credit)
    )
    expiring = unspent_before(candidates, cutoff).subquery("expiring")
    key = literal("expire:").concat(cast(expiring.c.member_id, String)).concat(":").concat(
        cast(expiring.c.through_id, String)
    )
    rows = session.execute(
        insert(PointsEntry)
        .from_select(
            ["merchant_id", "member_id", "kind", "points", "balance_after", "idempotency_key", "note", "created_at"],
            select(
                literal(merchant.id), expiring.c.member_id, literal(EntryKind.EXPIRE.value), -expiring.c.points,
                Member.points_balance - expiring.c.points, key,
                literal(f"points earned before {cutoff:%Y-%m-%d} expired"), literal(now, UTCDateTime()),
            )
            .join(Member, Member.id == expiring.c.member_id)
            .where(expiring.c.points > 0),
        )
        .returning(PointsEntry.points)
    ).scalars().all()
    resum_balances(session, candidates)
    return -sum(rows)


def unspent_before(member_ids: Select, cutoff: datetime) -> Select:
    """Per member of `member_ids`: `points`, what is still unspent of the credits made before `cutoff`, and
    `through_id`, the newest such credit. A member whose old credits are all spent has `points` <= 0.

    Every debit (redeem, expire, a negative adjustment) takes the oldest points first, so the debits
    use up the old credits before any newer one: what is left of them is their sum minus all debits.
    """
    is_old_credit = and_(PointsEntry.points > 0, PointsEntry.created_at < cutoff)
    old_credits = func.sum(case((is_old_credit, PointsEntry.points), else_=0))
    debits = func.sum(case((PointsEntry.points < 0, PointsEntry.points), else_=0))
    return (
        select(
            PointsEntry.member_id,
            (old_credits + debits).label("points"),
            func.max(case((is_old_credit, PointsEntry.id))).label("through_id"),
        )
        .where(PointsEntry.member_id.in_(member_ids))
        .group_by(PointsEntry.member_id)
    )


@dataclass(frozen=True)
class BalanceMismatch:
    """A member whose balance is not explained by their ledger: the stored balance against the entries' sum,
    or (with `entry_id`) an entry whose balance_after is not the running sum up to it."""

    member_id: int
    merchant_id: int
    balance: int
    ledger_sum: int
    entry_id: int | None = None


def verify_balances(session: Session) -> list[BalanceMismatch]:
    """Check the whole database: each balance is the sum of its entries, each balance_after the running sum."""
    sums = (
        select(PointsEntry.member_id, func.sum(PointsEntry.points).label("total"))
        .group_by(PointsEntry.member_id)
        .subquery("sums")
    )
    ledger_sum = func.coalesce(sums.c.total, 0)
    mismatches = [
        BalanceMismatch(row.id, row.merchant_id, row.points_balance, row.ledger_sum)
        for row in session.execute(
            select(Member.id, Member.merchant_id, Member.points_balance, ledger_sum.label("ledger_sum"))
            .outerjoin(sums, sums.c.member_id == Member.id)
            .where(Member.points_balance != ledger_sum)
            .order_by(Member.id)
        )
    ]
    running = select(
        PointsEntry.id,
        PointsEntry.member_id,
        PointsEntry.merchant_id,
        PointsEntry.balance_after,
        func.sum(PointsEntry.points).over(partition_by=PointsEntry.member_id, order_by=PointsEntry.id).label("running"),
    ).subquery("running")
    mismatches += [
        BalanceMismatch(row.member_id, row.merchant_id, row.balance_after, row.running, entry_id=row.id)
        for row in session.execute(
            select(running).where(running.c.balance_after != running.c.running).order_by(running.c.id)
        )
    ]
    return mismatches


SETTING_LIMITS = {  # the range of each whole-number loyalty setting
    "points_per_unit": (0, 1000),
    "earn_unit_minor": (1, 1_000_000),
    "multiplier_a_pct": (0, 1000),
    "multiplier_b_pct": (0, 1000),
    "multiplier_c_pct": (0, 1000),
    "welcome_bonus": (0, 100_000),
    "birthday_bonus": (0, 100_000),
    "referral_bonus": (0, 100_000),
    "points_expiry_months": (1, 120),
    "redemption_code_days": (1, 365),
    "class_a_revenue_pct": (1, 100),
    "class_a_max_members_pct": (0, 100),
    "class_b_members_pct": (0, 100),
}


def update_settings(merchant: Merchant, **changes) -> None:
    """Change the merchant's earn rules and class thresholds; every value is checked before any is applied.

    `points_expiry_months=None` means points never expire; `has_receipt_texts` turns receipts on or off.
    """
    for name, value in changes.items():
        if name == "has_receipt_texts":
            if not isinstance(value, bool):
                raise ValidationError("has_receipt_texts must be true or false")
            continue
        if name not in SETTING_LIMITS:
            raise ValidationError(f"{name} is not a loyalty setting")
        if value is None and name == "points_expiry_months":
            continue
        low, high = SETTING_LIMITS[name]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValidationError(f"{name} must be a whole number from {low} to {high}")
    a_max = changes.get("class_a_max_members_pct", merchant.class_a_max_members_pct)
    if a_max + changes.get("class_b_members_pct", merchant.class_b_members_pct) > 100:
        raise ValidationError("class A's and class B's shares of members add up to more than 100 %")
    for name, value in changes.items():
        setattr(merchant, name, value)
