"""The merchant's listings in the domain: paging, what a search matches, and the dashboard counts."""
from __future__ import annotations

from datetime import timedelta

import pytest

from smscrm.loyalty import directory, members
from smscrm.models import InboundMessage, Intent


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
