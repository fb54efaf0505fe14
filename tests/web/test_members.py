"""The members page: masked phones, local dates, newest first, 50 a page, search, one merchant only."""
from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest

from smscrm import points
from smscrm.loyalty import members
from smscrm.loyalty.directory import PER_PAGE
from smscrm.messaging import consent
from smscrm.models import ConsentAction, ConsentChannel, Member
from tests.web.conftest import add_members

NAME_CELL = re.compile(r'<td class="name">([^<]*)</td>')


def names_on(html: str) -> list[str]:
    return NAME_CELL.findall(html)


@pytest.fixture
def ann(session, merchant):
    # 03:00 UTC on 10 March is still the evening of 9 March in Los Angeles, the merchant's timezone
    joined = datetime(2026, 3, 10, 3, 0, tzinfo=timezone.utc)
    member = members.join(session, merchant, "+14155550100", name="Ann Lee", language="en", now=joined)
    session.commit()
    return member


def test_a_member_shows_with_the_phone_masked_and_the_local_join_date(owner, ann):
    page = owner.get("/members")
    assert page.status_code == 200
    assert names_on(page.text) == ["Ann Lee"]
    assert "•••• 0100" in page.text
    assert "4155550100" not in page.text and "555" not in page.text
    assert '<time datetime="2026-03-10T03:00:00+00:00">Mar 9, 2026</time>' in page.text
    assert "Opted in" in page.text
    assert "English" in page.text


def test_opted_out_and_chinese_members_say_so(owner, session, merchant, now):
    members.join(session, merchant, "+14155550123", name="王芳", language="zh", now=now)
    consent.record_consent(
        session, merchant_id=merchant.id, phone="+14155550123", action=ConsentAction.OPT_OUT, keyword="TD",
        channel=ConsentChannel.SMS, now=now,
    )
    session.commit()
    page = owner.get("/members").text
    assert "王芳" in page
    assert "中文" in page
    assert "Opted out" in page and "Opted in" not in page


def test_a_member_who_has_not_joined_yet_shows_no_join_date(owner, session, merchant, now):
    session.add(Member(merchant_id=merchant.id, phone="+14155550111", language="en", created_at=now))
    session.commit()
    page = owner.get("/members").text
    assert "No name yet" in page
    assert "not yet" in page


def test_a_member_who_joined_by_text_appears(owner, text_in):
    text_in("JOIN Bea Park", sender="+14155550177")
    page = owner.get("/members").text
    assert names_on(page) == ["Bea Park"]
    assert "•••• 0177" in page


def test_names_are_shown_as_text_never_as_markup(owner, session, merchant, now):
    members.join(session, merchant, "+14155550100", name="<script>alert(1)</script>", language="en", now=now)
    session.commit()
    page = owner.get("/members").text
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_newest_first_fifty_a_page(owner, session, merchant, now):
    add_members(session, merchant, PER_PAGE + 5, first_joined=now)
    first = owner.get("/members").text
    assert names_on(first) == [f"Member {index:04d}" for index in range(PER_PAGE + 4, 4, -1)]
    assert "55 members" in first
    assert "Page 1 of 2" in first
    assert 'href="/members?page=2"' in first and 'rel="prev"' not in first

    second = owner.get("/members?page=2").text
    assert names_on(second) == [f"Member {index:04d}" for index in range(4, -1, -1)]
    assert 'href="/members?page=1"' in second and 'rel="next"' not in second


@pytest.mark.parametrize(("asked", "shown"), [("99", "Page 2 of 2"), ("0", "Page 1 of 2"), ("two", "Page 1 of 2")])
def test_a_page_number_out_of_range_shows_the_nearest_page(owner, session, merchant, now, asked, shown):
    add_members(session, merchant, PER_PAGE + 1, first_joined=now)
    response = owner.get(f"/members?page={asked}")
    assert response.status_code == 200
    assert shown in response.text


def test_search_by_part_of_a_name_ignores_case(owner, session, merchant, now):
    for phone, name in [("+14155550101", "Ann Lee"), ("+14155550102", "Joanna Wu"), ("+14155550103", "Bo Chen")]:
        members.join(session, merchant, phone, name=name, language="en", now=now)
    session.commit()
    page = owner.get("/members", query_string={"q": "ANN"}).text
    assert sorted(names_on(page)) == ["Ann Lee", "Joanna Wu"]
    assert "2 matches for “ANN”" in page
    assert 'value="ANN"' in page  # the box keeps what was searched


@pytest.mark.parametrize("query", ["0102", "55-0102", "•••• 0102"])
def test_search_by_the_last_digits_of_the_phone(owner, session, merchant, now, query):
    members.join(session, merchant, "+14155550101", name="Ann Lee", language="en", now=now)
    members.join(session, merchant, "+14155550102", name="Joanna Wu", language="en", now=now)
    session.commit()
    assert names_on(owner.get("/members", query_string={"q": query}).text) == ["Joanna Wu"]


def test_a_search_with_no_match_says_so(owner, ann):
    page = owner.get("/members", query_string={"q": "zed"}).text
    assert names_on(page) == []
    assert "0 matches for “zed”" in page
    assert "Show all" in page


@pytest.mark.parametrize("wildcard", ["%", "_"])
def test_like_wildcards_are_searched_for_literally(owner, ann, wildcard):
    assert names_on(owner.get("/members", query_string={"q": wildcard}).text) == []


def test_a_search_is_kept_across_pages(owner, session, merchant, now):
    add_members(session, merchant, PER_PAGE + 2, first_joined=now)
    page = owner.get("/members", query_string={"q": "member"}).text
    assert 'href="/members?page=2&amp;q=member"' in page
    assert len(names_on(owner.get("/members", query_string={"q": "member", "page": 2}).text)) == 2


def test_an_overlong_search_is_refused_with_a_message(owner, ann):
    response = owner.get("/members", query_string={"q": "x" * 81})
    assert response.status_code == 200
    assert "Field cannot be longer than 80 characters." in response.text
    assert names_on(response.text) == ["Ann Lee"]


def test_another_merchants_members_never_show(owner, session, merchant, other_merchant, now, ann):
    members.join(session, other_merchant, "+14155550100", name="Ann Other", language="en", now=now)
    add_members(session, other_merchant, PER_PAGE + 1, first_joined=now, phone_prefix="+1415777")
    for query in ({}, {"q": "ann"}, {"q": "0100"}, {"q": "member"}, {"page": 2}):
        page = owner.get("/members", query_string=query).text
        assert "Ann Other" not in page and "Member 00" not in page, query
    assert re.search(r"1 member\s+·", owner.get("/members").text)


def test_invited_people_are_not_listed_as_opted_in_and_the_counts_agree_with_home(owner, session, merchant, now):
    """Someone a member REFERred, or who bought before joining, never opted in: the list says Invited, and the list
    and the dashboard count members, invited and opted out alike."""
    members.join(session, merchant, "+14155550101", name="Ann", language="en", now=now)
    session.add(Member(merchant_id=merchant.id, phone="+14155550102", name="Friend", language="en", created_at=now))
    points.record_purchase(session, merchant, phone="+14155550103", amount_minor=1200, now=now)
    session.commit()

    page = owner.get("/members").text
    badges = re.findall(r'<td class="status">\s*<span class="badge[^"]*">([^<]+)</span>', page)
    assert sorted(badges) == ["Invited", "Invited", "Opted in"]
    assert re.search(r"1 member\s+· 2 invited, not joined yet\s+· 0 opted out · newest first", page)
    home = owner.get("/").text
    assert re.search(r"<strong>1</strong> members<", home) and re.search(r"<strong>2</strong> invited, not joined", home)
