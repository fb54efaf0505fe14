"""Points that can be trusted: earn rules, purchases, bonuses, staff adjustments, expiry and the ledger.

Every point moves through `smscrm.ledger.post`, so a member's balance is the sum of their ledger
entries and each operation happens once however often it is retried. Redemptions live in
`smscrm.rewards` and referrals in `smscrm.referrals`; the functions the web app and the API call are
all importable from here.

Earn rule: points = floor(amount_minor × points_per_unit × class multiplier % / (earn_unit_minor × 100)),
one rounding, always down. A member without a value class yet earns at 100 %.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, String, and_, case, cast, exists, func, insert, literal, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from smscrm import consent, outbox, phones, referrals, segmentation, texts
from smscrm.db import UTCDateTime
from smscrm.errors import Conflict, ValidationError
from smscrm.ledger import lock_members, post, resum_balances
from smscrm.models import (
    Category,
    EntryKind,
    Member,
    Merchant,
    OutboundMessage,
    PointsEntry,
    Purchase,
    Stage,
    ValueClass,
)
from smscrm.periods import months_before
from smscrm.rewards import confirm_redemption, redeem_at_counter, release_expired_redemptions, request_redemption

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
    the same on a replay; `is_pending` says whether the points are (still) held for the buyer to join."""

    member: Member
    purchase: Purchase
    points_earned: int
    balance: int
    is_pending: bool  # the buyer has not joined: the points are held and they were invited to JOIN
    is_replay: bool  # the idempotency key or reference was seen before: nothing new happened


def points_for(merchant: Merchant, amount_minor: int, value_class: str | None) -> int:
    """The points a purchase of `amount_minor` earns a member of `value_class` (see the module docstring)."""
    multiplier = {
        ValueClass.A: merchant.multiplier_a_pct,
        ValueClass.B: merchant.multiplier_b_pct,
        ValueClass.C: merchant.multiplier_c_pct,
    }.get(value_class, 100)
    return amount_minor * merchant.points_per_unit * multiplier // (merchant.earn_unit_minor * 100)


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
) -> PurchaseResult:
    """Record a purchase and award its points; an unknown phone becomes a pending member invited to JOIN.

    The idempotency key, else the receipt reference, makes a retry return the first result; reusing
    one for a different phone or amount is a Conflict. Members get a receipt text unless the merchant
    turned receipts off or the member opted out.
    """
    amount_minor = _valid_amount(amount_minor)
    reference = _optional_text(reference, "reference", MAX_REFERENCE_CHARS)
    idempotency_key = _optional_text(idempotency_key, "idempotency key", MAX_KEY_CHARS)
    if channel not in PURCHASE_CHANNELS:
        raise ValidationError(f"channel must be one of {', '.join(PURCHASE_CHANNELS)}")
    phone = phones.normalise(phone, merchant.country)
    seen = _seen_purchase(session, merchant, idempotency_key, reference)
    if seen is not None:
        return _replay(session, seen, phone, amount_minor)
    member = _locked_member_for(session, merchant, phone, now)
    earned = points_for(merchant, amount_minor, member.value_class)
    try:
        with session.begin_nested():
            purchase = Purchase(
                merchant_id=merchant.id, member_id=member.id, amount_minor=amount_minor, points_earned=earned,
                is_points_held=not member.is_joined,
                balance_after=member.points_balance + (earned if member.is_joined else 0),
                reference=reference, idempotency_key=idempotency_key, channel=channel, created_at=now,
            )
            session.add(purchase)
            session.flush()
    except IntegrityError:
        seen = _seen_purchase(session, merchant, idempotency_key, reference)  # a concurrent retry won
        if seen is None:
            raise
        return _replay(session, seen, phone, amount_minor)
    segmentation.record_visit(member, amount_minor, now)
    segmentation.refresh_stage(member)
    if member.is_joined:
        if earned:
            balance = _earn(session, member, purchase, now)
            if balance != purchase.balance_after:  # SQLite read the balance before another writer moved it
                purchase.balance_after = balance
        if member.visit_count == 1:  # later purchases come after the referral was settled (at join or here)
            referrals.reward_first_purchase(session, merchant, member, now=now)
        _send_receipt(session, merchant, member, purchase, now)
    else:
        _invite_to_join(session, merchant, member, purchase, now)
    session.flush()
    return PurchaseResult(member, purchase, earned, purchase.balance_after, not member.is_joined, False)


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


def _seen_purchase(session: Session, merchant: Merchant, key: str | None, reference: str | None) -> Purchase | None:
    """The purchase recorded before with this idempotency key, else with this receipt reference."""
    for column, value in ((Purchase.idempotency_key, key), (Purchase.reference, reference)):
        if value is not None:
            seen = session.scalar(select(Purchase).where(Purchase.merchant_id == merchant.id, column == value))
            if seen is not None:
                return seen
    return None


def _replay(session: Session, purchase: Purchase, phone: str, amount_minor: int) -> PurchaseResult:
    member = session.get(Member, purchase.member_id)
    if (member.phone, purchase.amount_minor) != (phone, amount_minor):
        raise Conflict(
            "this idempotency key or reference was already used for a purchase with a different phone or amount",
            code="idempotency_key_reused",
        )
    return PurchaseResult(
        member, purchase, purchase.points_earned, purchase.balance_after, purchase.is_points_held, True
    )


def _locked_member_for(session: Session, merchant: Merchant, phone: str, now: datetime) -> Member:
    """The phone's membership with its row lock held (visit statistics are read-modify-write); new ones are pending."""
    member = _lock(session, merchant, phone)
    if member is not None:
        return member
    try:
        with session.begin_nested():
            session.add(Member(
                merchant_id=merchant.id, phone=phone, language=merchant.default_language, joined_at=None,
                is_opted_out=consent.is_opted_out(session, merchant.id, phone), points_balance=0,
                stage=Stage.PENDING, created_at=now,
            ))
            session.flush()
    except IntegrityError:
        pass  # a concurrent purchase created it first
    return _lock(session, merchant, phone)


def _lock(session: Session, merchant: Merchant, phone: str) -> Member | None:
    return session.scalar(
        select(Member)
        .where(Member.merchant_id == merchant.id, Member.phone == phone)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def _earn(session: Session, member: Member, purchase: Purchase, now: datetime) -> int:
    """Post the purchase's points; the balance right after them."""
    posted = post(
        session, member, kind=EntryKind.EARN, points=purchase.points_earned, key=f"purchase:{purchase.id}",
        now=now, purchase_id=purchase.id,
    )
    return posted.entry.balance_after


def _send_receipt(session: Session, merchant: Merchant, member: Member, purchase: Purchase, now: datetime) -> None:
    if not merchant.has_receipt_texts or member.is_opted_out:
        return
    body = texts.render(
        merchant, "purchase_receipt", member.language, points=purchase.points_earned, balance=member.points_balance
    )
    outbox.queue_text(
        session, merchant, to_phone=member.phone, body=body, category=Category.TRANSACTIONAL,
        purpose="purchase_receipt", now=now, member=member, dedupe_key=f"receipt:{purchase.id}",
    )


def _invite_to_join(session: Session, merchant: Merchant, member: Member, purchase: Purchase, now: datetime) -> None:
    """One invitation per pending member, and only to someone who has not opted out."""
    dedupe_key = f"join-invite:{member.id}"
    if member.is_opted_out or not purchase.points_earned or session.scalar(
        select(exists().where(OutboundMessage.merchant_id == merchant.id, OutboundMessage.dedupe_key == dedupe_key))
    ):
        return
    body = texts.render(merchant, "purchase_invite", member.language, points=purchase.points_earned)
    outbox.queue_text(
        session, merchant, to_phone=member.phone, body=body, category=Category.TRANSACTIONAL,
        purpose="purchase_invite", now=now, member=member, dedupe_key=dedupe_key,
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
    segmentation.refresh_stage(member)
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
    return post(session, member, kind=EntryKind.ADJUST, points=points, key=f"adjust:{key}", now=now, note=note).entry


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
    candidates = select(Member.id).where(Member.merchant_id == merchant.id, Member.points_balance > 0, old_credit)
    lock_members(session, candidates)
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
