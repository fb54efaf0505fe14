"""Interests are written by one function (`members.write_interests`): the SMS LIKE keyword, the member page and an
import all go through it, and the topics on the member's row (`interest_topics`, what segments test) always agree
with member_interests. Segments count the members who like a topic exactly as a look-up in member_interests does."""
from __future__ import annotations

from sqlalchemy import exists, select

from smscrm.loyalty import members, profiles
from smscrm.loyalty.profiles import Profile
from smscrm.marketing import segments
from smscrm.marketing.segments import SegmentFilter
from smscrm.models import Member, MemberInterest
from tests.campaign_members import add_member, topics_by_member

TRICKY = ["green tea", "tea", "100% matcha", "a_b", "c/d", "绿茶", "oolong"]


def test_the_keyword_the_member_page_and_the_row_agree(session, merchant, now):
    ann = members.join(session, merchant, "+14155550100", name="Ann", language="en", now=now)
    bo = members.join(session, merchant, "+14155550101", name="Bo", language="zh", now=now)
    assert members.add_interest(session, ann, "  Green   TEA ", now=now) == "green tea"
    assert members.add_interest(session, ann, "green tea", now=now) == "green tea"  # already there: kept once
    members.add_interest(session, ann, "100% Matcha", now=now)
    members.add_interest(session, bo, "绿茶", now=now)
    assert ann.interest_topics in ("\ngreen tea\n100% matcha\n", "\n100% matcha\ngreen tea\n")
    assert [interest.topic for interest in ann.interests] == ["100% matcha", "green tea"]
    on_rows, in_table = topics_by_member(session)
    assert on_rows == in_table == {ann.id: {"green tea", "100% matcha"}, bo.id: {"绿茶"}}

    profiles.update_profile(session, ann, Profile(name="Ann", birthday=None, language="en",
                                                  interests=("oolong", "Green tea"), notes=None), now=now)
    on_rows, in_table = topics_by_member(session)
    assert on_rows == in_table == {ann.id: {"green tea", "oolong"}, bo.id: {"绿茶"}}
    profiles.update_profile(session, ann, Profile(name="Ann", birthday=None, language="en", interests=(), notes=None),
                            now=now)
    session.commit()
    on_rows, in_table = topics_by_member(session)
    assert on_rows == in_table == {ann.id: set(), bo.id: {"绿茶"}}
    assert (ann.interest_topics, ann.interests) == ("", [])


def test_interest_segments_count_the_members_member_interests_names(session, merchant, now):
    """Every topic and pair of topics, liked and excluded, against the semi-join segments used to run: a topic
    that is part of another ("tea" in "green tea") or holds LIKE's wildcards matches only itself."""
    likes = [[], ["green tea"], ["tea"], ["100% matcha", "a_b"], ["c/d", "绿茶"], ["green tea", "oolong", "tea"],
             ["a_b"], ["100% matcha"]]
    for number, topics in enumerate(likes):
        add_member(session, merchant, now=now, name=f"m{number}", interests=topics)
    add_member(session, merchant, now=now, name="lookalike", interests=["axb", "100x matcha", "c/dd", "tea leaves"])
    session.commit()
    for chosen in [[topic] for topic in TRICKY] + [["tea", "a_b"], ["绿茶", "100% matcha"], ["axb"]]:
        by_table = set(session.scalars(select(Member.name).where(Member.merchant_id == merchant.id, exists().where(
            MemberInterest.member_id == Member.id, MemberInterest.topic.in_(chosen)))))
        condition = segments.audience_condition(session, merchant, SegmentFilter(interests=tuple(chosen)), None, now=now)
        assert set(session.scalars(select(Member.name).where(condition))) == by_table, chosen
        assert segments.count(session, condition).matching == len(by_table)
        excluded = segments.save_segment(session, merchant, name=f"likes {chosen}", rules={"interests": chosen},
                                         now=now)
        everyone_else = segments.audience_condition(session, merchant, SegmentFilter(), excluded, now=now)
        all_names = set(session.scalars(select(Member.name).where(Member.merchant_id == merchant.id)))
        assert set(session.scalars(select(Member.name).where(everyone_else))) == all_names - by_table, chosen
