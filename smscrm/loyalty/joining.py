"""What joining earns: the welcome bonus, the points held from purchases made before joining, and the referral."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from smscrm.loyalty import classes, referrals
from smscrm.loyalty.ledger import post
from smscrm.loyalty.purchases import purchase_key
from smscrm.models import EntryKind, Member, Merchant, Purchase


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
            post(
                session, member, kind=EntryKind.EARN, points=purchase.points_earned, key=purchase_key(purchase.id),
                now=now, purchase_id=purchase.id,
            )
    classes.refresh_stage(member)
    referrals.on_join(session, merchant, member, referrer=referrer, now=now)
    session.flush()
