"""In person at the counter: joining with consent recorded as "in person", and an opt-out asked for in person.
Either leaves the same evidence a texted JOIN or STOP leaves, and changes the membership the same way."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from smscrm.errors import Conflict
from smscrm.loyalty import in_person, members
from smscrm.messaging import consent
from smscrm.models import ConsentEvent, Member, PointsEntry

PHONE = "+14155550100"


def evidence(session, merchant):
    return [(event.action, event.keyword, event.channel) for event in consent.evidence(session, merchant.id, PHONE)]


def test_a_new_shopper_joins_in_person_with_the_consent_kept(session, merchant, now):
    member = in_person.join_in_person(session, merchant, PHONE, name="  Ann   Lee ", language="zh", now=now)
    session.commit()
    assert (member.name, member.language, member.joined_at, member.is_opted_out) == ("Ann Lee", "zh", now, False)
    assert member.referral_code  # what a texted JOIN gives
    event = session.scalar(select(ConsentEvent))
    assert (event.action, event.keyword, event.channel, event.member_id, event.created_at) == (
        "opt_in", "in person", "in_person", member.id, now)


def test_joining_in_person_earns_the_welcome_bonus(session, merchant, now):
    merchant.welcome_bonus = 50
    member = in_person.join_in_person(session, merchant, PHONE, name=None, language="en", now=now)
    assert member.points_balance == 50
    assert session.scalar(select(PointsEntry.note).where(PointsEntry.member_id == member.id)) == "welcome bonus"


def test_an_invited_shopper_finishes_joining_in_person(session, merchant, now):
    session.add(Member(merchant_id=merchant.id, phone=PHONE, language="en", created_at=now - timedelta(days=3)))
    session.flush()
    member = in_person.join_in_person(session, merchant, PHONE, name="Ann", language="zh", now=now)
    assert member.joined_at == now and member.language == "zh"
    assert session.scalar(select(Member.id).where(Member.phone == PHONE)) == member.id


def test_an_opted_out_member_opts_in_again_in_person(session, merchant, now):
    member = members.join(session, merchant, PHONE, name="Ann", language="en", now=now - timedelta(days=9))
    in_person.opt_out_in_person(session, member, now=now - timedelta(days=2))
    in_person.join_in_person(session, merchant, PHONE, name="", language="zh", now=now)
    assert member.is_opted_out is False
    assert member.joined_at == now - timedelta(days=9) and member.language == "en" and member.name == "Ann"
    assert evidence(session, merchant) == [("opt_in", "in person", "in_person"), ("opt_out", "in person", "in_person")]


def test_a_member_already_in_cannot_join_again(session, merchant, now):
    in_person.join_in_person(session, merchant, PHONE, name="Ann", language="en", now=now)
    with pytest.raises(Conflict):
        in_person.join_in_person(session, merchant, PHONE, name="Ann", language="en", now=now)
    assert len(evidence(session, merchant)) == 1


def test_an_opt_out_in_person_is_kept_and_mirrored(session, merchant, now):
    member = members.join(session, merchant, PHONE, name="Ann", language="en", now=now)
    in_person.opt_out_in_person(session, member, now=now)
    session.commit()
    assert session.get(Member, member.id).is_opted_out is True
    assert consent.is_opted_out(session, merchant.id, PHONE)
    assert evidence(session, merchant) == [("opt_out", "in person", "in_person")]
    with pytest.raises(Conflict):
        in_person.opt_out_in_person(session, member, now=now)
    assert len(evidence(session, merchant)) == 1
