"""Referrals: members bring friends; both get the merchant's referral bonus once the friend joins and buys.

A member texts `REFER <phone>` / `推荐 <号码>`: the friend becomes a pending member and gets one
invitation text — never to a number no region issues (`phonenumbers`), never if they opted out, never
twice, at most `MAX_INVITES_PER_DAY` a day from one member. Or the member shares their personal code and the friend texts `JOIN <code>`. A membership is
referred at most once (the first referral wins), and the bonus is paid once per referral.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from smscrm.errors import InvalidPhone
from smscrm.loyalty import classes, members
from smscrm.loyalty.codes import CODE_ALPHABET, normalise_code, random_code
from smscrm.loyalty.ledger import post
from smscrm.messaging import consent, outbox, phones, texts
from smscrm.models import (
    Category,
    EntryKind,
    Member,
    Merchant,
    Referral,
    ReferralChannel,
    ReferralStatus,
    Stage,
)

REFERRAL_CODE_LENGTH = 6
# six of the code letters with at least one digit, so that JOIN <a name> is never read as a code
REFERRAL_CODE = re.compile(f"^(?=.*[0-9])[{CODE_ALPHABET}]{{{REFERRAL_CODE_LENGTH}}}$")
MAX_INVITES_PER_DAY = 5


def new_code() -> str:
    """A random personal code (at least one digit, see REFERRAL_CODE); the caller makes sure it is free."""
    while not REFERRAL_CODE.match(code := random_code(REFERRAL_CODE_LENGTH)):
        pass
    return code


def ensure_referral_code(session: Session, member: Member) -> str:
    """The member's personal code, made on first need and kept for good."""
    while member.referral_code is None:
        code = new_code()
        taken = exists().where(Member.merchant_id == member.merchant_id, Member.referral_code == code)
        if not session.scalar(select(taken)):
            member.referral_code = code
            session.flush()
    return member.referral_code


def referrer_for_code(session: Session, merchant_id: int, text: str) -> Member | None:
    """The joined member whose personal code `text` is (as a friend typed it after JOIN), else None."""
    code = normalise_code(text)
    if not REFERRAL_CODE.match(code):
        return None
    return session.scalar(
        select(Member).where(
            Member.merchant_id == merchant_id, Member.referral_code == code, Member.joined_at.is_not(None)
        )
    )


def answer_refer_text(
    session: Session, merchant: Merchant, member: Member, argument: str, *, now: datetime
) -> tuple[str, dict]:
    """The reply key and values for `REFER <phone>` from a member who has joined; invites the friend if we may.

    The reply does not say why a friend could not be invited (opted out, already a member, already
    invited): that is the friend's business.
    """
    values = {"code": ensure_referral_code(session, member), "number": merchant.primary_number,
              "bonus": merchant.referral_bonus}
    try:
        phone = phones.normalise(argument, merchant.country)
    except InvalidPhone:
        return "refer_usage", values
    values["phone"] = phone
    if not phones.is_valid(phone):  # of a possible length, but no region issues it: nobody would get the text
        return "refer_invalid", values
    if phone == member.phone:
        return "refer_self", values
    if _invited_since(session, member, now - timedelta(days=1)) >= MAX_INVITES_PER_DAY:
        return "refer_limit", {"limit": MAX_INVITES_PER_DAY}
    friend = members.find(session, merchant.id, phone)
    if consent.is_opted_out(session, merchant.id, phone) or (
        friend is not None and (friend.is_joined or _referral_of(session, friend) is not None)
    ):
        return "refer_not_sent", values
    try:
        with session.begin_nested():
            if friend is None:
                friend = Member(
                    merchant_id=merchant.id, phone=phone, language=member.language, joined_at=None,
                    is_opted_out=False, points_balance=0, stage=Stage.PENDING, created_at=now,
                )
                session.add(friend)
                session.flush()
            session.add(Referral(
                merchant_id=merchant.id, referrer_id=member.id, referred_id=friend.id, channel=ReferralChannel.SMS,
                status=ReferralStatus.INVITED, created_at=now,
            ))
            session.flush()
    except IntegrityError:
        return "refer_not_sent", values  # someone else invited the same friend at the same moment
    _send_invitation(session, merchant, member, friend, now)
    return ("refer_sent" if merchant.referral_bonus else "refer_sent_no_bonus"), values


def _invited_since(session: Session, member: Member, since: datetime) -> int:
    return session.scalar(
        select(func.count()).where(
            Referral.referrer_id == member.id,
            Referral.channel == ReferralChannel.SMS,
            Referral.created_at >= since,
        )
    )


def _referral_of(session: Session, member: Member, *, for_update: bool = False) -> Referral | None:
    query = select(Referral).where(Referral.referred_id == member.id)
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    return session.scalar(query)


def _send_invitation(session: Session, merchant: Merchant, referrer: Member, friend: Member, now: datetime) -> None:
    """Marketing: it carries the opt-out line, and the delivery worker checks opt-out and quiet hours again."""
    values = {"code": referrer.referral_code, "number": merchant.primary_number, "last4": referrer.phone[-4:]}
    key = "refer_invitation" if referrer.name else "refer_invitation_unnamed"
    body = texts.render(merchant, key, friend.language, friend=referrer.name or "", **values)
    outbox.queue_text(
        session, merchant, to_phone=friend.phone, body=body, category=Category.MARKETING,
        purpose="referral_invitation", now=now, member_id=friend.id, dedupe_key=f"referral-invite:{friend.id}",
    )


def on_join(session: Session, merchant: Merchant, member: Member, *, referrer: Member | None, now: datetime) -> None:
    """A member just joined: give them a personal code, note who referred them, pay the bonus if they already bought."""
    ensure_referral_code(session, member)
    if referrer is not None and referrer.id != member.id and _referral_of(session, member) is None:
        session.add(Referral(
            merchant_id=merchant.id, referrer_id=referrer.id, referred_id=member.id, channel=ReferralChannel.CODE,
            status=ReferralStatus.INVITED, created_at=now,
        ))
        session.flush()
    referral = _referral_of(session, member)
    if referral is not None and referral.status == ReferralStatus.INVITED:
        referral.status = ReferralStatus.JOINED
        referral.joined_at = now
        session.flush()
    reward_first_purchase(session, merchant, member, now=now)


def reward_first_purchase(session: Session, merchant: Merchant, member: Member, *, now: datetime) -> int:
    """Once a referred member has joined and bought, both they and their referrer get the referral bonus, once.
    The referrer is texted it with their balance after it; the bonus `member` got now is returned (0: none), for
    the text they get now (receipt or welcome) to say it with the balance that includes it."""
    if not member.is_joined or member.visit_count == 0:
        return 0
    referral = _referral_of(session, member, for_update=True)
    if referral is None or referral.status != ReferralStatus.JOINED:
        return 0
    referrer = session.get(Member, referral.referrer_id)
    bonus = merchant.referral_bonus
    if bonus > 0:
        post(
            session, referrer, kind=EntryKind.BONUS, points=bonus, key=f"referral:{referral.id}:referrer", now=now,
            note="referral bonus: a friend they invited joined and bought",
        )
        post(
            session, member, kind=EntryKind.BONUS, points=bonus, key=f"referral:{referral.id}:friend", now=now,
            note="referral bonus: joined on a friend's invitation",
        )
    referral.status = ReferralStatus.REWARDED
    referral.rewarded_at = now
    classes.refresh_stage(referrer, is_advocate=True)
    if bonus > 0 and not referrer.is_opted_out:
        body = texts.render(
            merchant, "referral_rewarded", referrer.language, points=bonus, balance=referrer.points_balance
        )
        outbox.queue_text(
            session, merchant, to_phone=referrer.phone, body=body, category=Category.TRANSACTIONAL,
            purpose="referral_rewarded", now=now, member_id=referrer.id, dedupe_key=f"referral-rewarded:{referral.id}",
        )
    session.flush()
    return bonus


def referrals_of(session: Session, member: Member) -> tuple[tuple[Referral, Member] | None, list[tuple[Referral, Member]]]:
    """For the member's page: who brought them (the referral and the referrer), and whom they brought, newest first."""
    referrer = aliased(Member)
    brought_by = session.execute(
        select(Referral, referrer).join(referrer, referrer.id == Referral.referrer_id).where(Referral.referred_id == member.id)
    ).first()
    friend = aliased(Member)
    brought = session.execute(
        select(Referral, friend).join(friend, friend.id == Referral.referred_id)
        .where(Referral.referrer_id == member.id).order_by(Referral.id.desc())
    ).all()
    return (tuple(brought_by) if brought_by else None), [tuple(row) for row in brought]
