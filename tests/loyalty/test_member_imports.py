"""Member imports: checked into staging rows (numbers in E.164, one number's rows merged, refused rows with their
reason), previewed, confirmed, and written by the job: pending members invited once, consent declared with the
file making members who joined, existing memberships and opt-outs respected, nothing written when it fails."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from smscrm.db.engine import make_sessionmaker
from smscrm.errors import Conflict
from smscrm.loyalty import import_previews, imports, members
from smscrm.messaging import consent
from smscrm.models import (
    Category,
    ConsentAction,
    ConsentChannel,
    ConsentEvent,
    ImportStatus,
    Member,
    MemberImportRow,
    MemberInterest,
    OutboundMessage,
    RowRejection,
    StaffUser,
)
from smscrm.sending import parts
from tests.campaign_members import topics_by_member

FILE = (
    "phone,name,birthday,language,tags\n"
    "(415) 555-0101,Ann,1990-03-08,en,green tea\n"
    "415.555.0102,,,zh,\n"
    "+1 415 555 0101,Ann Lee,,,cakes\n"  # Ann again: merged into line 2
    "12345,Bob,,,\n"
    "415 555 0103,Cleo,02-30,,\n"
    "415 555 0104,Old Friend,12-24,,vip\n"  # a member already
    "415 555 0105,Gone,,,\n"  # texted STOP before
).encode()


@pytest.fixture
def sessions(engine):
    return make_sessionmaker(engine)


@pytest.fixture
def owner_id(session, merchant):
    return session.scalar(select(StaffUser.id).where(StaffUser.merchant_id == merchant.id))


@pytest.fixture
def checked(session, sessions, merchant, owner_id, now):
    """FILE uploaded and checked by the job, with a member already there and a phone that opted out."""
    old_friend = members.join(session, merchant, "+14155550104", name="", language="zh", now=now)
    members.add_interest(session, old_friend, "oolong", now=now)
    consent.record_consent(session, merchant_id=merchant.id, phone="+14155550105", action=ConsentAction.OPT_OUT,
                           keyword="STOP", channel="sms", now=now)
    member_import = imports.start(session, merchant, filename="members.csv", data=FILE, staff_user_id=owner_id, now=now)
    session.commit()
    assert imports.run_pending(sessions, now=now) == {"checked": 1, "written": 0, "failed": 0}
    session.refresh(member_import)
    return member_import


def test_the_check_stages_numbers_in_e164_merges_repeats_and_gives_reasons(session, checked):
    assert (checked.status, checked.total_rows, checked.checked_rows) == (ImportStatus.CHECKED, 7, 7)
    preview = import_previews.preview(session, checked)
    assert (preview.new, preview.existing, preview.merged, preview.rejected) == (3, 1, 1, 2)
    assert [(row.line, row.written, row.phone, row.name, row.is_member) for row in preview.rows] == [
        (2, "(415) 555-0101", "+14155550101", "Ann", False),
        (3, "415.555.0102", "+14155550102", None, False),
        (7, "415 555 0104", "+14155550104", "Old Friend", True),
        (8, "415 555 0105", "+14155550105", "Gone", False),
    ]
    assert [(row.line, row.merged_into) for row in preview.merged_rows] == [(4, 2)]
    assert [(row.line, row.rejection) for row in preview.rejected_rows] == [
        (5, RowRejection.NOT_A_NUMBER), (6, RowRejection.BIRTHDAY),
    ]


def test_without_consent_new_numbers_are_pending_and_invited_once_in_their_language(
    session, sessions, merchant, checked, owner_id, now
):
    imports.confirm(session, checked, consent_statement=None, staff_user_id=owner_id, now=now)
    session.commit()
    assert imports.run_pending(sessions, now=now) == {"checked": 0, "written": 1, "failed": 0}
    session.refresh(checked)
    assert (checked.status, checked.created_members, checked.updated_members, checked.invited_members) == (
        ImportStatus.DONE, 3, 1, 2)
    imported = {m.phone: m for m in session.scalars(select(Member).where(Member.merchant_id == merchant.id))}
    ann = imported["+14155550101"]
    assert (ann.name, ann.birthday_month, ann.birthday_day, ann.joined_at, ann.is_opted_out) == ("Ann", 3, 8, None, False)
    assert sorted(i.topic for i in ann.interests) == ["cakes", "green tea"]
    on_rows, in_table = topics_by_member(session)  # the file's tags are on the members' rows too
    assert on_rows == in_table
    assert (on_rows[ann.id], on_rows[imported["+14155550104"].id]) == ({"cakes", "green tea"}, {"oolong", "vip"})
    assert imported["+14155550105"].is_opted_out  # the earlier STOP holds
    old_friend = imported["+14155550104"]  # joined before: keeps its state and language, gets the file's blanks
    assert (old_friend.name, old_friend.language, old_friend.birthday_month, old_friend.is_joined) == (
        "Old Friend", "zh", 12, True)
    invitations = session.execute(
        select(OutboundMessage.to_phone, OutboundMessage.body, OutboundMessage.category)
        .where(OutboundMessage.purpose == imports.INVITATION).order_by(OutboundMessage.to_phone)
    ).all()
    assert [(phone, category) for phone, _, category in invitations] == [
        ("+14155550101", Category.MARKETING), ("+14155550102", Category.MARKETING)]
    assert invitations[0].body.startswith("Green Leaf Tea invites you") and invitations[0].body.endswith("STOP to opt out.")
    assert invitations[1].body.startswith("【绿叶茶馆】Green Leaf Tea邀请您") and invitations[1].body.endswith("回复TD退订")
    assert all(parts.count(body).parts == 1 for _, body, _ in invitations)
    assert session.scalar(select(func.count(MemberImportRow.line))) == 2  # only the refused rows are kept

    again = imports.start(session, merchant, filename="again.csv", data=FILE, staff_user_id=owner_id, now=now)
    session.commit()
    imports.run_pending(sessions, now=now)
    imports.confirm(session, again, consent_statement="", staff_user_id=owner_id, now=now)
    session.commit()
    imports.run_pending(sessions, now=now)
    session.refresh(again)
    assert (again.created_members, again.updated_members, again.invited_members) == (0, 4, 0)  # one invitation each
    assert session.scalar(select(func.count(ConsentEvent.id)).where(ConsentEvent.channel == ConsentChannel.IMPORT)) == 0


def test_declared_consent_makes_members_with_the_import_as_evidence(session, sessions, merchant, checked, owner_id, now):
    statement = "Signed paper forms collected at the counter, 2025, kept in the shop's binder."
    imports.confirm(session, checked, consent_statement=statement, staff_user_id=owner_id, now=now)
    session.commit()
    imports.run_pending(sessions, now=now)
    session.refresh(checked)
    assert (checked.consent_statement, checked.confirmed_by, checked.invited_members) == (statement, owner_id, 0)
    joined = dict(session.execute(select(Member.phone, Member.joined_at).where(Member.merchant_id == merchant.id)).all())
    assert joined["+14155550101"] == joined["+14155550102"] == now
    assert joined["+14155550105"] is None  # an opt-out is not overridden by a file
    evidence = session.execute(
        select(ConsentEvent.phone, ConsentEvent.action, ConsentEvent.import_id)
        .where(ConsentEvent.channel == ConsentChannel.IMPORT).order_by(ConsentEvent.phone)
    ).all()
    assert evidence == [("+14155550101", ConsentAction.OPT_IN, checked.id), ("+14155550102", ConsentAction.OPT_IN, checked.id)]
    assert session.scalar(select(func.count(OutboundMessage.id))) == 0


def test_a_failing_write_leaves_nothing_written(session, sessions, merchant, checked, owner_id, now, monkeypatch):
    imports.confirm(session, checked, consent_statement=None, staff_user_id=owner_id, now=now)
    session.commit()
    members_before = session.scalar(select(func.count(Member.id)))

    def broken(*args, **kwargs):
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(imports, "_invite", broken)  # fails after the members and their tags were written
    assert imports.run_pending(sessions, now=now)["failed"] == 1
    session.refresh(checked)
    assert (checked.status, checked.failure) == (ImportStatus.FAILED, imports.FAILED)
    assert session.scalar(select(func.count(Member.id))) == members_before
    assert session.scalars(select(MemberInterest.topic)).all() == ["oolong"]  # the member's own, from before
    assert topics_by_member(session)[0][session.scalar(select(Member.id).where(Member.phone == "+14155550104"))] == {
        "oolong"}


def test_an_import_is_confirmed_once(session, checked, owner_id, now):
    imports.confirm(session, checked, consent_statement=None, staff_user_id=owner_id, now=now)
    with pytest.raises(Conflict):
        imports.confirm(session, checked, consent_statement=None, staff_user_id=owner_id, now=now)
    with pytest.raises(Conflict):
        imports.discard(session, checked, now=now)
