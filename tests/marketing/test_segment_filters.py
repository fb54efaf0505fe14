"""Segment filters: each filter, their AND, exclusions, "at risk", validation, and one SQL statement per count."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from smscrm.errors import Conflict, ValidationError
from smscrm.marketing import segments
from smscrm.marketing.segments import SegmentFilter
from smscrm.models import Member, Stage
from tests.campaign_members import add_member

UTC = timezone.utc


@pytest.fixture
def population(session, merchant, now):
    """Eight members of the test merchant with different facts, by name."""
    day = timedelta(days=1)
    people = {
        "ann": dict(value_class="A", stage=Stage.REPEAT, points_balance=500, visit_count=12, total_spend_minor=90000,
                    last_visit_at=now - 3 * day, first_visit_at=now - 90 * day, typical_visit_gap_days=7.0,
                    birthday_month=3, interests=["green tea", "cakes"]),
        "bo": dict(value_class="B", stage=Stage.REPEAT, points_balance=120, visit_count=4, total_spend_minor=20000,
                   last_visit_at=now - 50 * day, first_visit_at=now - 200 * day, typical_visit_gap_days=30.0,
                   language="zh", birthday_month=3, interests=["oolong"]),
        "cy": dict(value_class="C", stage=Stage.FIRST_PURCHASE, points_balance=20, visit_count=1, total_spend_minor=2000,
                   last_visit_at=now - 70 * day, first_visit_at=now - 70 * day, birthday_month=11),
        "di": dict(value_class="B", stage=Stage.REPEAT, points_balance=300, visit_count=6, total_spend_minor=30000,
                   last_visit_at=now - 65 * day, first_visit_at=now - 300 * day, typical_visit_gap_days=30.0,
                   interests=["green tea"]),
        "ed": dict(stage=Stage.JOINED, points_balance=10, language="zh", joined_at=now - 2 * day),
        "fay": dict(value_class="C", stage=Stage.REPEAT, points_balance=0, visit_count=2, total_spend_minor=1000,
                    last_visit_at=now - 25 * day, first_visit_at=now - 40 * day, typical_visit_gap_days=15.0,
                    is_opted_out=True),
        "gus": dict(stage=Stage.PENDING, joined_at=None, points_balance=40, visit_count=1, total_spend_minor=4000,
                    last_visit_at=now - 1 * day, first_visit_at=now - 1 * day),
        "hal": dict(value_class="A", stage=Stage.ADVOCATE, points_balance=800, visit_count=20, total_spend_minor=150000,
                    last_visit_at=now - 10 * day, first_visit_at=now - 365 * day, typical_visit_gap_days=18.0,
                    birthday_month=12, interests=["cakes"]),
    }
    members = {name: add_member(session, merchant, now=now, name=name, **facts) for name, facts in people.items()}
    session.commit()
    return members


def matching(session, merchant, now, rules, exclude=None) -> set[str]:
    condition = segments.audience_condition(session, merchant, SegmentFilter.from_rules(rules), exclude, now=now)
    return set(session.scalars(select(Member.name).where(condition)))


EVERYONE = {"ann", "bo", "cy", "di", "ed", "fay", "gus", "hal"}


@pytest.mark.parametrize(
    "rules, expected",
    [
        ({}, EVERYONE),
        ({"value_classes": ["A"]}, {"ann", "hal"}),
        ({"value_classes": ["B", "C"]}, {"bo", "cy", "di", "fay"}),
        ({"stages": ["repeat"]}, {"ann", "bo", "di", "fay"}),
        ({"stages": ["pending", "joined"]}, {"ed", "gus"}),
        ({"languages": ["zh"]}, {"bo", "ed"}),
        ({"birthday_months": [3]}, {"ann", "bo"}),
        ({"birthday_months": [11, 12]}, {"cy", "hal"}),
        ({"interests": ["green tea"]}, {"ann", "di"}),
        ({"interests": ["oolong", "cakes"]}, {"ann", "bo", "hal"}),
        ({"points_min": 120}, {"ann", "bo", "di", "hal"}),
        ({"points_max": 20}, {"cy", "ed", "fay"}),
        ({"points_min": 20, "points_max": 300}, {"bo", "cy", "di", "gus"}),
        ({"visits_min": 4, "visits_max": 12}, {"ann", "bo", "di"}),
        ({"visits_max": 0}, {"ed"}),
        ({"spend_min_minor": 20000}, {"ann", "bo", "di", "hal"}),
        ({"spend_max_minor": 2000}, {"cy", "ed", "fay"}),
        ({"last_visit_days_min": 50}, {"bo", "cy", "di"}),
        ({"last_visit_days_max": 10}, {"ann", "gus", "hal"}),
        ({"last_visit_days_min": 25, "last_visit_days_max": 65}, {"bo", "di", "fay"}),
        ({"value_classes": ["B"], "interests": ["green tea"]}, {"di"}),
        ({"stages": ["repeat"], "languages": ["en"], "points_min": 200}, {"ann", "di"}),
    ],
)
def test_each_filter_and_their_and(session, merchant, now, population, rules, expected):
    assert matching(session, merchant, now, rules) == expected


def test_at_risk_is_past_the_larger_of_n_and_twice_the_usual_interval(session, merchant, now, population):
    # N = 20: ann (3 days, gap 7) no; bo (50 days, gap 30 → 60) no; cy (70, one visit → 20) yes;
    # di (65, gap 30 → 60) yes; fay (25, gap 15 → 30) no; hal (10, gap 18 → 36) no; ed, never visited: no.
    assert matching(session, merchant, now, {"at_risk_days": 20}) == {"cy", "di"}
    # N = 66 lifts every threshold above 60: only cy (70 days) is past it.
    assert matching(session, merchant, now, {"at_risk_days": 66}) == {"cy"}
    # N = 2: gus visited yesterday; the rest keep their own rhythm.
    assert matching(session, merchant, now, {"at_risk_days": 2}) == {"cy", "di"}


def test_at_risk_counts_fractions_of_a_day(session, merchant, now):
    add_member(session, merchant, now=now, name="just", last_visit_at=now - timedelta(days=60, hours=1),
               typical_visit_gap_days=30.0, visit_count=3)
    add_member(session, merchant, now=now, name="not yet", last_visit_at=now - timedelta(days=59, hours=23),
               typical_visit_gap_days=30.0, visit_count=3)
    assert matching(session, merchant, now, {"at_risk_days": 14}) == {"just"}


def test_at_risk_is_the_rule_in_days_for_every_rhythm(session, merchant, now):
    """The filter (the last visit and `Member.at_risk_from` compared with `now`) counts exactly the members whose
    days since the last visit exceed max(N, 2 × typical gap), on both sides of each threshold and on it."""
    rhythms = {}
    for days in (9, 10, 19, 20, 23, 30, 61):
        for hours in (-1, 0, 1):
            for gap in (None, 1.0, 4.5, 10.0, 10 / 3, 11.5, 30.0):
                name = f"away {days} days {hours} hours, gap {gap}"
                rhythms[name] = (timedelta(days=days, hours=hours), gap)
                add_member(session, merchant, now=now, name=name, last_visit_at=now - rhythms[name][0],
                           typical_visit_gap_days=gap, visit_count=3)
    add_member(session, merchant, now=now, name="never visited")
    session.commit()
    for days in (1, 10, 20, 23):
        expected = {name for name, (away, gap) in rhythms.items() if away > timedelta(days=max(days, 2 * (gap or 0)))}
        assert matching(session, merchant, now, {"at_risk_days": days}) == expected, days


def test_joined_between_uses_the_merchants_calendar(session, merchant, now):
    # The merchant is in Los Angeles (UTC-8 in February): 07:30 UTC on 1 March is still 28 February there.
    add_member(session, merchant, now=now, name="late feb", joined_at=datetime(2026, 3, 1, 7, 30, tzinfo=UTC))
    add_member(session, merchant, now=now, name="march", joined_at=datetime(2026, 3, 1, 8, 30, tzinfo=UTC))
    add_member(session, merchant, now=now, name="early feb", joined_at=datetime(2026, 2, 1, 8, 0, tzinfo=UTC))
    add_member(session, merchant, now=now, name="january", joined_at=datetime(2026, 2, 1, 7, 59, tzinfo=UTC))
    february = {"joined_from": "2026-02-01", "joined_to": "2026-02-28"}
    assert matching(session, merchant, now, february) == {"late feb", "early feb"}
    assert matching(session, merchant, now, {"joined_from": "2026-03-01"}) == {"march"}


def test_the_joined_dates_reach_the_database_as_constants(session, merchant, now, engine):
    """The plan PostgreSQL keeps for a count run often is made without its parameters' values; the joined dates, a
    range on an indexed column, are in the SQL itself so that plan knows how many members they hold."""
    from sqlalchemy import event

    sent = []

    def note(_connection, _cursor, statement, parameters, *_args) -> None:
        sent.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", note)
    try:
        matching(session, merchant, now, {"joined_from": "2026-02-01", "joined_to": "2026-02-28"})
    finally:
        event.remove(engine, "before_cursor_execute", note)
    (statement, parameters), = [(statement, parameters) for statement, parameters in sent
                                 if "FROM members" in statement]
    assert "2026-02-01 08:00:00" in statement and "2026-03-01 08:00:00" in statement  # Los Angeles midnights, in UTC
    values = parameters.values() if isinstance(parameters, dict) else parameters  # PostgreSQL's names, SQLite's places
    assert not any(isinstance(value, (datetime, str)) and "2026-0" in str(value) for value in values)


def test_other_merchants_members_never_match(session, merchant, now, population):
    from smscrm.accounts.merchants import create_merchant

    other = create_merchant(session, name="Blue Door", number="+14155559999", email="o@blue.example",
                            password="another good password", now=now)
    add_member(session, other, now=now, name="stranger", value_class="A")
    assert matching(session, merchant, now, {"value_classes": ["A"]}) == {"ann", "hal"}


def test_a_segment_excludes_another(session, merchant, now, population):
    recent = segments.save_segment(session, merchant, name="Visited this month", rules={"last_visit_days_max": 30}, now=now)
    assert matching(session, merchant, now, {"value_classes": ["A", "B"]}, exclude=recent) == {"bo", "di"}


def test_exclusion_is_null_safe(session, merchant, now, population):
    """Members who never visited are not in "last visit 40+ days ago", so excluding it keeps them."""
    lapsed = segments.save_segment(session, merchant, name="Lapsed", rules={"last_visit_days_min": 40}, now=now)
    assert matching(session, merchant, now, {}, exclude=lapsed) == EVERYONE - {"bo", "cy", "di"}


def test_exclusions_chain(session, merchant, now, population):
    a_class = segments.save_segment(session, merchant, name="A", rules={"value_classes": ["A"]}, now=now)
    cake_lovers_not_a = segments.save_segment(
        session, merchant, name="Cakes, not A", rules={"interests": ["cakes"]}, exclude_segment_id=a_class.id, now=now
    )
    # cake lovers are ann and hal, both A: "Cakes, not A" is empty, so excluding it removes no one.
    assert matching(session, merchant, now, {"value_classes": ["A"]}, exclude=cake_lovers_not_a) == {"ann", "hal"}
    tea = segments.save_segment(session, merchant, name="Tea, not cakes-not-A", rules={"interests": ["green tea"]},
                                exclude_segment_id=cake_lovers_not_a.id, now=now)
    assert segments.count(session, segments.members_condition(session, tea, merchant=merchant, now=now)).matching == 2


def test_a_segment_cannot_exclude_itself_even_in_a_circle(session, merchant, now):
    first = segments.save_segment(session, merchant, name="First", rules={}, now=now)
    second = segments.save_segment(session, merchant, name="Second", rules={}, exclude_segment_id=first.id, now=now)
    with pytest.raises(ValidationError, match="cannot exclude itself"):
        segments.save_segment(session, merchant, name="First", rules={}, exclude_segment_id=second.id, segment=first, now=now)
    with pytest.raises(ValidationError, match="cannot exclude itself"):
        segments.save_segment(session, merchant, name="First", rules={}, exclude_segment_id=first.id, segment=first, now=now)


def test_a_segment_cannot_exclude_another_merchants_segment(session, merchant, now):
    from smscrm.accounts.merchants import create_merchant

    other = create_merchant(session, name="Blue Door", number="+14155559999", email="o@blue.example",
                            password="another good password", now=now)
    theirs = segments.save_segment(session, other, name="Theirs", rules={}, now=now)
    with pytest.raises(ValidationError, match="does not exist"):
        segments.save_segment(session, merchant, name="Mine", rules={}, exclude_segment_id=theirs.id, now=now)


def test_count_gives_matching_reachable_and_languages(session, merchant, now, population):
    condition = segments.audience_condition(session, merchant, SegmentFilter.from_rules({"points_min": 10}), None, now=now)
    result = segments.count(session, condition)
    # matching: ann bo cy di ed gus hal; fay (0 points) does not. gus has not joined: not reachable.
    assert (result.matching, result.reachable, result.reachable_chinese) == (7, 6, 2)  # bo and ed speak Chinese
    assert result.reachable_by_language == {"en": 4, "zh": 2}


def test_rules_round_trip_and_only_keep_what_filters():
    rules = {
        "value_classes": ["B", "A"], "stages": ["repeat"], "interests": ["  Green   Tea "], "points_min": "10",
        "joined_from": "2026-01-01", "at_risk_days": 30, "birthday_months": [12, 3, 3], "languages": [],
        "visits_max": "",
    }
    parsed = SegmentFilter.from_rules(rules)
    assert parsed.value_classes == ("A", "B")
    assert parsed.interests == ("green tea",)
    assert parsed.birthday_months == (3, 12)
    assert parsed.joined_from == date(2026, 1, 1)
    assert parsed.to_rules() == {
        "value_classes": ["A", "B"], "stages": ["repeat"], "birthday_months": [3, 12], "interests": ["green tea"],
        "points_min": 10, "joined_from": "2026-01-01", "at_risk_days": 30,
    }
    assert SegmentFilter.from_rules(parsed.to_rules()) == parsed
    assert SegmentFilter.from_rules({}).is_everyone


@pytest.mark.parametrize(
    "rules, message",
    [
        ({"value_classes": ["D"]}, "not a value class"),
        ({"stages": ["vip"]}, "not a stage"),
        ({"languages": ["fr"]}, "not a language"),
        ({"birthday_months": [13]}, "1 to 12"),
        ({"points_min": "lots"}, "whole number"),
        ({"points_min": -1}, "between 0"),
        ({"points_min": 10, "points_max": 5}, "lower bound is above"),
        ({"joined_from": "2026-02-30"}, "a date such as"),
        ({"joined_from": "2026-03-02", "joined_to": "2026-03-01"}, "lower bound is above"),
        ({"at_risk_days": 0}, "1 to"),
        ({"interests": ["x" * 41]}, "at most 40"),
        ({"vip": True}, "unknown segment filter"),
    ],
)
def test_bad_rules_are_refused_with_a_reason(rules, message):
    with pytest.raises(ValidationError, match=message):
        SegmentFilter.from_rules(rules)


def test_saved_segment_names_are_unique_per_merchant(session, merchant, now):
    segments.save_segment(session, merchant, name="Regulars", rules={"visits_min": 5}, now=now)
    with pytest.raises(Conflict):
        segments.save_segment(session, merchant, name=" regulars ", rules={}, now=now)
    # an audience built inside a campaign form is not a saved segment and may share a name
    segments.save_segment(session, merchant, name="Regulars", rules={}, now=now, is_saved=False)
    assert [segment.name for segment in segments.saved_segments(session, merchant.id)] == ["Regulars"]


def test_a_segment_in_use_is_not_deleted(session, merchant, now):
    base = segments.save_segment(session, merchant, name="Base", rules={}, now=now)
    segments.save_segment(session, merchant, name="Uses base", rules={}, exclude_segment_id=base.id, now=now)
    with pytest.raises(Conflict, match="excluded by"):
        segments.delete_segment(session, base)
    unused = segments.save_segment(session, merchant, name="Unused", rules={}, now=now)
    segments.delete_segment(session, unused)
    assert [segment.name for segment in segments.saved_segments(session, merchant.id)] == ["Base", "Uses base"]


def test_known_interests_most_common_first(session, merchant, now, population):
    assert segments.known_interests(session, merchant.id) == ["cakes", "green tea", "oolong"]


def test_excluding_segments_that_look_at_interests(session, merchant, now, population):
    cake_lovers = segments.save_segment(session, merchant, name="Cakes", rules={"interests": ["cakes"]}, now=now)
    green_tea_b = segments.save_segment(
        session, merchant, name="Green tea, class B", rules={"interests": ["green tea"], "value_classes": ["B"]}, now=now
    )
    assert matching(session, merchant, now, {}, exclude=cake_lovers) == EVERYONE - {"ann", "hal"}
    assert matching(session, merchant, now, {"interests": ["green tea"]}, exclude=green_tea_b) == {"ann"}
    # an exclusion whose own exclusion looks at interests: A-class, minus cake lovers = nobody; so excluding it keeps all
    a_not_cakes = segments.save_segment(session, merchant, name="A, no cakes", rules={"value_classes": ["A"]},
                                        exclude_segment_id=cake_lovers.id, now=now)
    assert matching(session, merchant, now, {"value_classes": ["A"]}, exclude=a_not_cakes) == {"ann", "hal"}
