"""The dashboard: its counts (members, opted out, feedback in the last 7 days, for this merchant only) and its\nfigures, in both languages, for a merchant with nothing yet too."""
from __future__ import annotations

import re
from datetime import timedelta

from smscrm.db.engine import utcnow
from smscrm.messaging import consent, outbox
from smscrm.models import Category, ConsentAction, ConsentChannel
from tests.web.conftest import add_feedback, add_members, csrf_token

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


def test_the_dashboard_of_a_merchant_with_nothing_yet_renders_in_both_languages(owner, session, merchant):
    english = owner.get("/")
    assert english.status_code == 200
    for heading in ("Members over time", "Members who come back", "Value classes", "The loyalty ladder",
                    "Satisfaction", "Texts this month", "The last campaigns"):
        assert f">{heading}</h2>" in english.text
    assert "0 joined and 0 opted out in the last 52 weeks." in english.text
    assert "No campaign has been sent yet." in english.text
    owner.post("/language", data={"language": "zh", "csrf_token": csrf_token(english.text)})
    chinese = owner.get("/")
    assert chinese.status_code == 200 and '<html lang="zh-Hans">' in chinese.text
    assert "会员变化" in chinese.text and "Members over time" not in chinese.text


def test_the_dashboard_formats_its_figures_for_the_language(owner, session, merchant, now):
    add_members(session, merchant, 3, first_joined=utcnow() - timedelta(days=1))
    merchant.price_per_part_millis = 2_000_000  # 20 currency units a part, to see the thousands separator
    for index in range(600):
        outbox.queue_text(session, merchant, to_phone=f"+1415777{index:04d}", body="Hi", category=Category.CARE,
                          purpose="test", now=utcnow())
    session.commit()
    english = owner.get("/").text
    assert "3 joined and 0 opted out in the last 52 weeks." in english
    assert "12,000.00" in english  # 600 parts at 20.00
    owner.post("/language", data={"language": "zh", "csrf_token": csrf_token(english)})
    chinese = owner.get("/").text
    assert "12,000.00" in chinese and "关怀短信" in chinese
    assert re.search(r"\d{4}年\d{1,2}月", chinese)  # the months of the ratings chart
