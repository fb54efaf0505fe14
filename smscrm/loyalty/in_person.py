"""What staff record for a shopper standing at the counter: joining in person, and an opt-out asked for in
person. Either is kept as consent evidence (`consent.record_consent`, channel "in_person", keyword IN_PERSON),
the same evidence a texted JOIN or STOP leaves."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from smscrm.errors import N_, Conflict
from smscrm.loyalty import members
from smscrm.loyalty.joining import on_join
from smscrm.messaging import consent
from smscrm.models import ConsentAction, ConsentChannel, Member, Merchant

IN_PERSON = "in person"  # the consent event's keyword: what the shopper said was said, not texted


def join_in_person(
    session: Session, merchant: Merchant, phone: str, *, name: str | None, language: str, now: datetime
) -> Member:
    """`phone` (E.164) becomes a member who agreed in person to receive texts: a new membership, or an invited
    one finished, or an opted-out member opted in again. Joining earns what a texted JOIN earns (welcome bonus,
    held points, a referral code). A member who is already in and opted in is a Conflict."""
    member = members.find(session, merchant.id, phone)
    if member is not None and member.is_joined and not member.is_opted_out:
        raise Conflict(N_("this phone is already a member"))
    was_joined = member is not None and member.is_joined
    member = members.join(session, merchant, phone, name=name or "", language=language, now=now, member=member)
    consent.record_consent(session, merchant_id=merchant.id, phone=phone, action=ConsentAction.OPT_IN,
                           keyword=IN_PERSON, channel=ConsentChannel.IN_PERSON, now=now)
    if not was_joined:
        on_join(session, merchant, member, now=now)
    return member


def opt_out_in_person(session: Session, member: Member, *, now: datetime) -> None:
    """The member asked at the counter to get no more texts: kept as evidence and mirrored on the membership,
    as a texted STOP is. Asking again changes nothing and is a Conflict."""
    if member.is_opted_out:
        raise Conflict(N_("this member has already opted out"))
    consent.record_consent(session, merchant_id=member.merchant_id, phone=member.phone, action=ConsentAction.OPT_OUT,
                           keyword=IN_PERSON, channel=ConsentChannel.IN_PERSON, now=now)
