"""Recording a purchase: the earn rule, the points, the visit, the receipt, and pending members.

Earn rule: points = floor(amount_minor × points_per_unit × class multiplier % / (earn_unit_minor × 100)),
one rounding, always down. A member without a value class yet earns at 100 %.

A purchase is recorded in the caller's transaction, on the member's row lock: the purchase row first
(`INSERT … ON CONFLICT DO NOTHING` on its unique idempotency key and reference, so a retry, or a twin
that committed first, finds the earlier purchase and answers it), then the visit, the points through
the ledger, and the receipt text. A phone the merchant does not know becomes a pending member whose
points are held until they join, and who is invited to JOIN once.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import bindparam, exists, false, func, or_, select
from sqlalchemy.orm import Session

from smscrm.db.conflicts import insert_on_conflict
from smscrm.errors import Conflict, ValidationError
from smscrm.loyalty import classes, referrals
from smscrm.loyalty.ledger import post
from smscrm.loyalty.receipts import JOIN_INVITATION_PURPOSE
from smscrm.messaging import consent, outbox, phones, texts
from smscrm.models import (
    Category,
    ConsentAction,
    EntryKind,
    Member,
    Merchant,
    OutboundMessage,
    Purchase,
    Stage,
    ValueClass,
)

MAX_AMOUNT_MINOR = 100_000_000  # one million in a currency with cents: anything larger is a typing slip
MAX_KEY_CHARS = 80
MAX_REFERENCE_CHARS = 64
PURCHASE_CHANNELS = ("web", "api")
RECEIPT_PURPOSE = "purchase_receipt"


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
    reference = optional_text(reference, "reference", MAX_REFERENCE_CHARS)
    idempotency_key = optional_text(idempotency_key, "idempotency key", MAX_KEY_CHARS)
    if channel not in PURCHASE_CHANNELS:
        raise ValidationError(f"channel must be one of {', '.join(PURCHASE_CHANNELS)}")
    phone = phones.normalise(phone, merchant.country)
    member, is_new_member = _locked_buyer(session, merchant, phone, now)
    earned = points_for(merchant, amount_minor, member.value_class)
    is_held = not member.is_joined
    is_first_visit = member.visit_count == 0
    inserted = insert_on_conflict(session, Purchase.__table__).on_conflict_do_nothing().returning(Purchase.id)
    purchase_id = session.connection().execute(inserted, dict(
        merchant_id=merchant.id, member_id=member.id, amount_minor=amount_minor, points_earned=earned,
        is_points_held=is_held, balance_after=member.points_balance + (0 if is_held else earned),
        reference=reference, idempotency_key=idempotency_key, channel=channel, created_at=now,
    )).scalar()
    if purchase_id is None:  # the key or reference was used before, maybe by a twin that just committed
        return _replay(session, merchant, idempotency_key, reference, phone, amount_minor)
    classes.record_visit(member, amount_minor, now)
    balance = member.points_balance
    if is_held:
        _invite(session, merchant, member, earned, now, is_new_member=is_new_member)
    else:
        if earned:
            balance = post(
                session, member, kind=EntryKind.EARN, points=earned, key=purchase_key(purchase_id), now=now,
                purchase_id=purchase_id,
            ).balance_after
        # a referred member's first purchase settles the referral: the receipt tells its bonus with the balance
        bonus = referrals.reward_first_purchase(session, merchant, member, now=now) if is_first_visit else 0
        if merchant.has_receipt_texts and not member.is_opted_out:
            body = texts.render(merchant, "purchase_receipt_bonus" if bonus else RECEIPT_PURPOSE, member.language,
                                points=earned, bonus=bonus, balance=member.points_balance)
            outbox.queue_text(
                session, merchant, to_phone=phone, body=body, category=Category.TRANSACTIONAL,
                purpose=RECEIPT_PURPOSE, now=now, member_id=member.id, dedupe_key=f"receipt:{purchase_id}",
            )
    return PurchaseResult(
        session, purchase_id, member.id, phone, amount_minor, reference, now, earned, balance, is_held, False,
    )


def purchase_key(purchase_id: int) -> str:
    """The ledger key of a purchase's points (written when it is recorded, or when its buyer joins)."""
    return f"purchase:{purchase_id}"


def optional_text(value: str | None, what: str, max_chars: int) -> str | None:
    """A trimmed single value of at most `max_chars` characters; None for nothing."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError(f"the {what} must be text")
    value = value.strip()
    if len(value) > max_chars:
        raise ValidationError(f"the {what} must be at most {max_chars} characters")
    return value or None


def _valid_amount(amount_minor) -> int:
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int):
        raise ValidationError("amount_minor must be a whole number of minor units (cents), e.g. 1250 for 12.50")
    if amount_minor <= 0:
        raise ValidationError("amount_minor must be more than 0")
    if amount_minor > MAX_AMOUNT_MINOR:
        raise ValidationError(f"amount_minor must be at most {MAX_AMOUNT_MINOR}")
    return amount_minor


_BUYER = (  # built once: every purchase runs it
    select(Member)
    .where(Member.merchant_id == bindparam("merchant_id"), Member.phone == bindparam("phone"))
    .with_for_update(key_share=True)
    .execution_options(populate_existing=True)  # a membership loaded before reads what is committed now
)


def _locked_buyer(session: Session, merchant: Merchant, phone: str, now: datetime) -> tuple[Member, bool]:
    """The phone's membership, read under its row lock (FOR NO KEY UPDATE: rows that only reference the member
    need not wait), and whether it was made now: a phone the merchant does not know becomes a pending member
    (opted out already when its latest consent event here is an opt-out; a concurrent purchase may add it first)."""
    buyer = {"merchant_id": merchant.id, "phone": phone}
    member = session.scalar(_BUYER, buyer)
    if member is not None:
        return member, False
    opted_out = consent.latest_action(merchant.id, phone) == ConsentAction.OPT_OUT
    created = session.scalar(
        insert_on_conflict(session, Member)
        .values(
            merchant_id=merchant.id, phone=phone, language=merchant.default_language, joined_at=None,
            points_balance=0, stage=Stage.PENDING, created_at=now, is_opted_out=func.coalesce(opted_out, false()),
        )
        .on_conflict_do_nothing()
        .returning(Member.id)
    )
    return session.scalars(_BUYER, buyer).one(), created is not None


def _replay(session: Session, merchant: Merchant, key, reference, phone: str, amount_minor: int) -> PurchaseResult:
    """The first result of the purchase recorded before with this idempotency key, else with this receipt
    reference; a Conflict when it was for another phone or amount."""
    used = [column == value for column, value in ((Purchase.idempotency_key, key), (Purchase.reference, reference))
            if value is not None]
    rows = session.execute(
        select(Purchase, Member.phone)
        .join(Member, Member.id == Purchase.member_id)
        .where(Purchase.merchant_id == merchant.id, or_(false(), *used))
    ).all()
    if not rows:
        raise RuntimeError(f"a purchase by {phones.mask(phone)} conflicted with no purchase that can be found")
    earlier, earlier_phone = min(rows, key=lambda row: row.Purchase.idempotency_key != key)
    if (earlier_phone, earlier.amount_minor) != (phone, amount_minor):
        raise Conflict(
            "this idempotency key or reference was already used for a purchase with a different phone or amount",
            code="idempotency_key_reused",
        )
    return PurchaseResult(
        session, earlier.id, earlier.member_id, earlier_phone, earlier.amount_minor, earlier.reference,
        earlier.created_at, earlier.points_earned, earlier.balance_after, earlier.is_points_held, True,
    )


def _invite(session: Session, merchant: Merchant, member: Member, earned: int, now: datetime, *, is_new_member: bool):
    """Text a pending member an invitation to JOIN for the points held for them: once per pending member,
    never when they opted out or the purchase earned nothing."""
    dedupe_key = f"join-invite:{member.id}"
    if member.is_opted_out or not earned or (not is_new_member and session.scalar(
        select(exists().where(OutboundMessage.merchant_id == merchant.id, OutboundMessage.dedupe_key == dedupe_key))
    )):
        return
    body = texts.render(merchant, JOIN_INVITATION_PURPOSE, member.language, points=earned)
    outbox.queue_text(
        session, merchant, to_phone=member.phone, body=body,
        category=Category.TRANSACTIONAL, purpose=JOIN_INVITATION_PURPOSE, now=now, member_id=member.id,
        dedupe_key=dedupe_key,
    )
