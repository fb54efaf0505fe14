"""The members page: each member links to their page; masked phones, local dates; newest first (or another sort),
50 a page keyset-style; search by phone in any format, name or code; the segment filter; one merchant only."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

from smscrm import points
from smscrm.loyalty import members
from smscrm.loyalty.directory import PER_PAGE
from smscrm.messaging import consent
from smscrm.models import ConsentAction, ConsentChannel, Member
from tests.web.conftest import add_members

NAME_CELL = re.compile(r'<td class="name"><a href="/members/(\d+)">(?:<span class="unnamed">)?([^<]*)<')
NEXT = re.compile(r'<a rel="next" href="([^"]+)"')
PREVIOUS = re.compile(r'<a rel="prev" href="([^"]+)"')


def names_on(html: str) -> list[str]:
    return [name for _id, name in NAME_CELL.findall(html)]


def link(pattern: re.Pattern, html: str) -> str:
    return pattern.search(html).group(1).replace("&amp;", "&")


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


def test_newest_first_fifty_a_page_by_keyset(owner, session, merchant, now):
    add_members(session, merchant, PER_PAGE + 5, first_joined=now)
    first = owner.get("/members").text
    assert names_on(first) == [f"Member {index:04d}" for index in range(PER_PAGE + 4, 4, -1)]
    assert "55 members" in first
    assert 'rel="prev"' not in first

    second = owner.get(link(NEXT, first)).text
    assert names_on(second) == [f"Member {index:04d}" for index in range(4, -1, -1)]
    assert 'rel="next"' not in second
    back = owner.get(link(PREVIOUS, second)).text
    assert names_on(back) == names_on(first)
    assert 'rel="prev"' not in back


def test_a_member_who_joins_meanwhile_does_not_shift_the_next_page(owner, session, merchant, now):
    add_members(session, merchant, PER_PAGE + 5, first_joined=now)
    first = owner.get("/members").text
    members.join(session, merchant, "+14155550199", name="Late Comer", language="en", now=now + timedelta(days=1))
    session.commit()
    assert names_on(owner.get(link(NEXT, first)).text) == [f"Member {index:04d}" for index in range(4, -1, -1)]


@pytest.mark.parametrize(("sort", "expected"), [
    ("name", ["Ann Lee", "Bo Chen", "Joanna Wu", "No name yet"]),
    ("points", ["Bo Chen", "Joanna Wu", "Ann Lee", "No name yet"]),
    ("last_visit", ["Joanna Wu", "Ann Lee", "Bo Chen", "No name yet"]),
])
def test_sorts_put_missing_values_last(owner, session, merchant, now, sort, expected):
    for phone, name, points_balance, visited in [("+14155550101", "Joanna Wu", 20, 1), ("+14155550102", "Ann Lee", 5, 3),
                                                 ("+14155550103", "Bo Chen", 90, 9), ("+14155550104", None, 0, None)]:
        member = members.join(session, merchant, phone, name=name or "", language="en", now=now)
        member.points_balance = points_balance
        member.last_visit_at = now - timedelta(days=visited) if visited else None
    session.commit()
    assert names_on(owner.get("/members", query_string={"sort": sort}).text) == expected


@pytest.mark.parametrize("sort", ["name", "points", "last_visit"])
def test_every_sort_pages_through_everyone_once(owner, session, merchant, now, sort):
    add_members(session, merchant, PER_PAGE * 2 + 3, first_joined=now)
    for index, member in enumerate(session.query(Member).filter_by(merchant_id=merchant.id)):
        member.points_balance = index % 7  # ties: the id decides
        member.last_visit_at = now - timedelta(days=index % 5) if index % 3 else None
        member.name = None if index % 11 == 0 else member.name
    session.commit()
    seen, url = [], f"/members?sort={sort}"
    while url:
        page = owner.get(url).text
        seen += [int(member_id) for member_id, _name in NAME_CELL.findall(page)]
        url = link(NEXT, page) if NEXT.search(page) else None
    assert len(seen) == len(set(seen)) == PER_PAGE * 2 + 3


@pytest.mark.parametrize("cursor", ["garbage", "WzFd", "W10"])
def test_a_damaged_page_link_is_refused_with_a_message(owner, ann, cursor):
    response = owner.get("/members", query_string={"after": cursor})
    assert response.status_code == 400
    assert "start again from the first page" in response.text


def test_an_unknown_sort_is_refused(owner, ann):
    response = owner.get("/members", query_string={"sort": "phone"})
    assert response.status_code == 400
    assert names_on(response.text) == []


def test_search_by_part_of_a_name_ignores_case(owner, session, merchant, now):
    for phone, name in [("+14155550101", "Ann Lee"), ("+14155550102", "Joanna Wu"), ("+14155550103", "Bo Chen")]:
        members.join(session, merchant, phone, name=name, language="en", now=now)
    session.commit()
    page = owner.get("/members", query_string={"q": "ANN"}).text
    assert sorted(names_on(page)) == ["Ann Lee", "Joanna Wu"]
    assert "2 matches for “ANN”" in page
    assert 'value="ANN"' in page  # the box keeps what was searched


@pytest.mark.parametrize("query", ["0102", "55-0102", "555 0102", "5550102", "•••• 0102", "(415) 555-0102",
                                   "+1 415 555 0102", "4155550102"])
def test_search_by_the_phone_in_any_format_or_its_last_digits(owner, session, merchant, now, query):
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


def test_search_by_referral_code_as_typed(owner, session, merchant, now):
    ann = members.join(session, merchant, "+14155550101", name="Ann Lee", language="en", now=now)
    members.join(session, merchant, "+14155550102", name="Joanna Wu", language="en", now=now)
    ann.referral_code = "K7M2QP"
    session.commit()
    assert names_on(owner.get("/members", query_string={"q": "k7m-2qp"}).text) == ["Ann Lee"]


def test_a_search_a_sort_and_a_filter_are_kept_across_pages(owner, session, merchant, now):
    add_members(session, merchant, PER_PAGE + 2, first_joined=now)
    page = owner.get("/members", query_string={"q": "member", "sort": "name", "languages": "en"}).text
    assert "q=member" in link(NEXT, page) and "sort=name" in link(NEXT, page) and "languages=en" in link(NEXT, page)
    assert names_on(owner.get(link(NEXT, page)).text) == ["Member 0050", "Member 0051"]


def test_the_segment_filter_narrows_the_list(owner, session, merchant, now):
    for phone, name, language, topic in [("+14155550101", "Ann Lee", "en", "cakes"), ("+14155550102", "王芳", "zh", "oolong"),
                                         ("+14155550103", "李雷", "zh", "cakes")]:
        members.add_interest(session, members.join(session, merchant, phone, name=name, language=language, now=now),
                             topic, now=now)
    session.commit()
    page = owner.get("/members", query_string={"languages": "zh", "interests": "cakes"}).text
    assert names_on(page) == ["李雷"]
    assert "1 member matches" in page


def test_a_saved_segment_lists_its_members(owner, session, merchant, now):
    from smscrm.marketing import segments

    members.join(session, merchant, "+14155550101", name="Ann Lee", language="en", now=now)
    members.join(session, merchant, "+14155550102", name="王芳", language="zh", now=now)
    segment = segments.save_segment(session, merchant, name="Chinese", rules={"languages": ["zh"]}, now=now)
    session.commit()
    assert names_on(owner.get("/members", query_string={"segment_id": segment.id}).text) == ["王芳"]


def test_an_overlong_search_is_refused_with_a_message(owner, ann):
    response = owner.get("/members", query_string={"q": "x" * 81})
    assert response.status_code == 400
    assert "Field cannot be longer than 80 characters." in response.text
    assert names_on(response.text) == []


def test_another_merchants_members_never_show(owner, session, merchant, other_merchant, now, ann):
    members.join(session, other_merchant, "+14155550100", name="Ann Other", language="en", now=now)
    add_members(session, other_merchant, PER_PAGE + 1, first_joined=now, phone_prefix="+1415777")
    for query in ({}, {"q": "ann"}, {"q": "0100"}, {"q": "(415) 555-0100"}, {"q": "member"}, {"sort": "name"}):
        page = owner.get("/members", query_string=query).text
        assert "Ann Other" not in page and "Member 00" not in page, query
    assert re.search(r"1 member\s+·", owner.get("/members").text)


def test_the_interests_to_filter_by_are_listed_when_the_filter_is_shown(owner, session, merchant, now):
    members.add_interest(session, members.join(session, merchant, "+14155550101", name="Ann Lee", language="en", now=now),
                         "matcha", now=now)
    session.commit()
    assert 'value="matcha"' not in owner.get("/members").text  # not asked for: not counted on every visit
    assert 'value="matcha"' in owner.get("/members?filter=1").text
    assert 'value="matcha"' in owner.get("/members?languages=en").text


def test_the_count_is_of_every_match_on_any_page(owner, session, merchant, now):
    add_members(session, merchant, PER_PAGE + 5, first_joined=now)
    first = owner.get("/members", query_string={"q": "member"}).text
    assert "55 matches for “member”" in first
    second = owner.get(link(NEXT, first)).text
    assert "55 matches for “member”" in second
    assert "55 matches for “member”" in owner.get(link(PREVIOUS, second)).text
    assert "1 match for “0054”" in owner.get("/members", query_string={"q": "0054"}).text


    

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
    assert re.search(r"1 member\s+· 2 invited, not joined yet\s+· 0 opted out", page)
    home = owner.get("/").text
    assert re.search(r"<strong>1</strong> members<", home) and re.search(r"<strong>2</strong> invited, not joined", home)
