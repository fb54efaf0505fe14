"""The merchant's listings in the domain: paging, what a search matches, and the dashboard counts."""
from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from smscrm import points
from smscrm.loyalty import directory, members
from smscrm.messaging import consent
from smscrm.models import ConsentAction, ConsentChannel, InboundMessage, Intent, Member


def test_a_page_knows_its_neighbours():
    assert directory.Page(items=[], number=1, per_page=50, total=0).pages == 1
    middle = directory.Page(items=[], number=2, per_page=50, total=101)
    assert (middle.pages, middle.has_previous, middle.has_next) == (3, True, True)
    last = directory.Page(items=[], number=3, per_page=50, total=101)
    assert (last.has_previous, last.has_next) == (True, False)


@pytest.fixture
def three(session, merchant, now):
    for phone, name in [("+14155550101", "Ann 2nd"), ("+14155550102", "Bo"), ("+14155552222", None)]:
        members.join(session, merchant, phone, name=name or "", language="en", now=now)
    session.flush()


@pytest.mark.parametrize(
    ("search", "names"),
    [
        ("2", ["Ann 2nd", "Bo", None]),  # digits: the phone's last digits, or a name containing them
        ("2nd", ["Ann 2nd"]),  # not phone-like: names only
        ("+1 (415) 555-2222", [None]),
        ("  ann   2nd ", ["Ann 2nd"]),  # spaces are tidied
        ("", ["Ann 2nd", "Bo", None]),
    ],
)
def test_what_a_search_matches(session, merchant, three, search, names):
    page = directory.list_members(session, merchant.id, search=search)
    assert sorted((member.name for member in page.items), key=str) == sorted(names, key=str)


def test_feedback_counts_for_the_last_seven_days_up_to_now(session, merchant, now):
    for age in (timedelta(0), timedelta(days=7), timedelta(days=7, seconds=1)):
        session.add(
            InboundMessage(
                merchant_id=merchant.id, message_sid=f"SM{age.total_seconds():032.0f}", from_phone="+14155550100",
                to_phone=merchant.primary_number, body="hi", intent=Intent.FEEDBACK, received_at=now - age,
            )
        )
    session.add(
        InboundMessage(
            merchant_id=merchant.id, message_sid="SMjoin", from_phone="+14155550100",
            to_phone=merchant.primary_number, body="JOIN", intent=Intent.JOIN, received_at=now,
        )
    )
    session.flush()
    assert directory.summarise(session, merchant.id, now=now).recent_feedback == 2


def test_invited_people_are_neither_members_nor_opted_in(session, merchant, join, now):
    """A friend a member REFERred and a shopper who bought before joining never opted in: they are invited. An
    opt-out wins whether or not the phone joined. The dashboard's three counts add up to everyone listed."""
    join("+14155550101")
    session.add(Member(merchant_id=merchant.id, phone="+14155550102", language="en", created_at=now))  # REFERred
    points.record_purchase(session, merchant, phone="+14155550103", amount_minor=1200, now=now)  # bought first
    join("+14155550104")
    session.add(Member(merchant_id=merchant.id, phone="+14155550105", language="en", created_at=now))
    for phone in ("+14155550104", "+14155550105"):
        consent.record_consent(session, merchant_id=merchant.id, phone=phone, action=ConsentAction.OPT_OUT,
                               keyword="STOP", channel=ConsentChannel.SMS, now=now)
    session.flush()

    listed = directory.list_members(session, merchant.id).items
    assert {member.phone[-1]: members.status_of(member) for member in listed} == {
        "1": "member", "2": "invited", "3": "invited", "4": "opted_out", "5": "opted_out",
    }
    # the counts (conditions in SQL) and `status` (in Python) say the same of every combination of the facts
    assert directory.member_counts(session, merchant.id) == Counter(members.status_of(member) for member in listed)
    summary = directory.summarise(session, merchant.id, now=now)
    assert (summary.members, summary.invited, summary.opted_out) == (1, 2, 2)
    assert summary.members + summary.invited + summary.opted_out == len(listed)
