"""What the counter screens read back after staff acted: a recorded purchase and what it earned, a
redemption, and a redemption code as a shopper showed it. Reads only; recording and redeeming are
`smscrm.points`. Every lookup takes the merchant's id and finds nothing of another merchant.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from smscrm.loyalty.codes import normalise_code
from smscrm.models import (
    EntryKind,
    Member,
    OutboundMessage,
    PointsEntry,
    Purchase,
    Redemption,
)
from smscrm.models.message import NOT_A_REPLY

JOIN_INVITATION_PURPOSE = "purchase_invite"  # the outbox purpose of the invitation to JOIN (loyalty.purchases)


@dataclass(frozen=True)
class PurchaseOutcome:
    """A purchase as the counter reports it.

    `balance` is the member's balance right after this purchase's points were added; while the points
    are held (the buyer has not joined), it is their balance now. `is_invited` says whether the buyer
    was texted an invitation to JOIN (not when they opted out, or the purchase earned no points).
    """

    purchase: Purchase
    member: Member
    balance: int
    is_pending: bool
    is_invited: bool


def purchase_outcome(session: Session, merchant_id: int, purchase_id: int) -> PurchaseOutcome | None:
    """The purchase `purchase_id` of this merchant and what it did, or None."""
    purchase = session.get(Purchase, purchase_id)
    if purchase is None or purchase.merchant_id != merchant_id:
        return None
    member = session.get(Member, purchase.member_id)
    earned_balance = session.scalar(
        select(PointsEntry.balance_after).where(
            PointsEntry.purchase_id == purchase.id, PointsEntry.kind == EntryKind.EARN
        )
    )
    invited = session.scalar(
        select(
            exists().where(
                OutboundMessage.merchant_id == merchant_id,
                OutboundMessage.member_id == member.id,
                OutboundMessage.purpose == JOIN_INVITATION_PURPOSE,
                NOT_A_REPLY,
            )
        )
    )
    return PurchaseOutcome(
        purchase=purchase,
        member=member,
        balance=member.points_balance if earned_balance is None else earned_balance,
        is_pending=purchase.is_points_held,
        is_invited=bool(invited),
    )


@dataclass(frozen=True)
class RedemptionOutcome:
    """A redemption with its member, and the member's balance right after its points were taken."""

    redemption: Redemption
    member: Member
    balance_after: int | None


def redemption_outcome(session: Session, merchant_id: int, redemption_id: int) -> RedemptionOutcome | None:
    """The redemption `redemption_id` of this merchant, or None."""
    redemption = session.get(Redemption, redemption_id)
    if redemption is None or redemption.merchant_id != merchant_id:
        return None
    balance_after = session.scalar(
        select(PointsEntry.balance_after).where(
            PointsEntry.redemption_id == redemption.id, PointsEntry.kind == EntryKind.REDEEM
        )
    )
    return RedemptionOutcome(redemption, session.get(Member, redemption.member_id), balance_after)


def redemption_for_code(session: Session, merchant_id: int, code: str) -> Redemption | None:
    """The merchant's redemption with the one-time `code` as typed (any case, spaces or dashes), or None."""
    normalised = normalise_code(code)
    if not normalised:
        return None
    return session.scalar(
        select(Redemption).where(Redemption.merchant_id == merchant_id, Redemption.code == normalised)
    )
