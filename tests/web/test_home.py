"""The dashboard's counts: members, opted out, feedback in the last 7 days, for this merchant only."""
from __future__ import annotations

import re
from datetime import timedelta

from smscrm.db.engine import utcnow
from smscrm.messaging import consent
from smscrm.models import ConsentAction, ConsentChannel
from tests.web.conftest import add_feedback, add_members

STAT = re.compile(r"<strong>(\d+)</strong> ([^<]+)<")


def stats_on(html: str) -> dict[str, int]:
    return {label.strip(): int(number) for number, label in STAT.findall(html)}


def test_the_counts_cover_this_merchant_only(owner, session, merchant, other_merchant, now):
    add_members(session, merchant, 3, first_joined=now)
    consent.record_consent(
        session, merchant_id=merchant.id, phone="+14156660001", action=ConsentAction.OPT_OUT, keyword="STOP",
        channel=ConsentChannel.SMS, now=now,
    )
    session.commit()
    add_members(session, other_merchant, 4, first_joined=now)
    today = utcnow()
    add_feedback(session, merchant, "yesterday", received_at=today - timedelta(days=1))
    add_feedback(session, merchant, "last month", received_at=today - timedelta(days=30))
    add_feedback(session, other_merchant, "elsewhere", received_at=today - timedelta(days=1))

    assert stats_on(owner.get("/").text) == {
        "members": 2,
        "invited, not joined yet": 0,
        "opted out of texts": 1,
        "feedback texts in the last 7 days": 1,
    }


def test_the_home_page_says_how_shoppers_join(owner):
    page = owner.get("/").text
    assert "Today at Green Leaf Tea" in page
    assert "texting JOIN" in page and "+14155550000" in page
