"""The inbox: feedback texts only, newest first, with who sent them and when (merchant's time)."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from smscrm.loyalty import members
from smscrm.loyalty.directory import PER_PAGE
from tests.web.conftest import add_feedback

BODY = re.compile(r'<p class="message-body">([^<]*)</p>')


def bodies_on(html: str) -> list[str]:
    return BODY.findall(html)


def test_feedback_texted_by_a_member_shows_with_their_name(owner, text_in):
    text_in("JOIN Ann Lee")
    text_in("BAL")
    text_in("The jasmine tea was lovely")
    page = owner.get("/inbox")
    assert page.status_code == 200
    assert bodies_on(page.text) == ["The jasmine tea was lovely"]  # keywords are not feedback
    assert '<span class="sender">Ann Lee</span>' in page.text
    assert "•••• 0100" in page.text and "4155550100" not in page.text


def test_feedback_from_someone_who_is_not_a_member_shows_the_masked_phone(owner, text_in):
    text_in("Are you open on Sunday?", sender="+14155550188")
    page = owner.get("/inbox").text
    assert bodies_on(page) == ["Are you open on Sunday?"]
    assert '<span class="sender">•••• 0188</span>' in page
    assert "Not a member" in page


def test_the_time_is_in_the_merchants_timezone(owner, session, merchant):
    # 02:30 UTC on 10 March is 19:30 on 9 March in Los Angeles (PDT, UTC-7)
    add_feedback(session, merchant, "Lovely", received_at=datetime(2026, 3, 10, 2, 30, tzinfo=timezone.utc))
    assert '<time datetime="2026-03-10T02:30:00+00:00">Mar 9, 2026 7:30\u202fPM</time>' in owner.get("/inbox").text


def test_newest_first_fifty_a_page(owner, session, merchant, now):
    ann = members.join(session, merchant, "+14155550100", name="Ann Lee", language="en", now=now)
    for index in range(PER_PAGE + 3):
        add_feedback(session, merchant, f"note {index}", received_at=now + timedelta(minutes=index), member=ann)
    first = owner.get("/inbox").text
    assert bodies_on(first) == [f"note {index}" for index in range(PER_PAGE + 2, 2, -1)]
    assert "Page 1 of 2" in first and 'href="/inbox?page=2"' in first
    assert bodies_on(owner.get("/inbox?page=2").text) == ["note 2", "note 1", "note 0"]


def test_the_body_is_shown_as_text(owner, session, merchant, now):
    add_feedback(session, merchant, "<b>hi</b> & bye", received_at=now)
    page = owner.get("/inbox").text
    assert "&lt;b&gt;hi&lt;/b&gt; &amp; bye" in page and "<b>hi</b>" not in page


def test_an_empty_inbox_says_where_feedback_comes_from(owner):
    assert "No feedback yet." in owner.get("/inbox").text


def test_another_merchants_feedback_never_shows(owner, session, merchant, other_merchant, now, text_in):
    text_in("JOIN Ann Lee", to=other_merchant.primary_number)
    text_in("A secret for the salon", to=other_merchant.primary_number)
    add_feedback(session, other_merchant, "Another secret", received_at=now)
    text_in("Hello tea shop")
    page = owner.get("/inbox").text
    assert bodies_on(page) == ["Hello tea shop"]
    assert "Ann Lee" not in page
