"""What staff keep about a member: name, birthday, language, interests and notes, replaced as a whole and
checked before anything changes."""
from __future__ import annotations

import pytest

from smscrm.errors import ValidationError
from smscrm.loyalty import members, profiles
from smscrm.loyalty.profiles import Profile


@pytest.fixture
def ann(session, merchant, now):
    member = members.join(session, merchant, "+14155550100", name="Ann", language="en", now=now)
    members.add_interest(session, member, "oolong", now=now)
    members.add_interest(session, member, "cakes", now=now)
    return member


def test_the_details_are_replaced(session, ann, now):
    profiles.update_profile(session, ann, Profile(name=" Ann  Lee ", birthday=(2, 29), language="zh",
                                                  interests=(" Green  Tea", "cakes", "CAKES"), notes="  likes a window seat "),
                            now=now)
    session.commit()
    session.expire_all()
    assert (ann.name, ann.birthday_month, ann.birthday_day, ann.language, ann.notes) == ("Ann Lee", 2, 29, "zh",
                                                                                         "likes a window seat")
    assert [interest.topic for interest in ann.interests] == ["cakes", "green tea"]


def test_empty_values_clear_them(session, ann, now):
    profiles.update_profile(session, ann, Profile(name="", birthday=None, language="en", interests=(), notes=" "), now=now)
    assert (ann.name, ann.birthday_month, ann.birthday_day, ann.notes, ann.interests) == (None, None, None, None, [])


@pytest.mark.parametrize(("profile", "message"), [
    (Profile(name="A", birthday=(2, 30), language="en", interests=(), notes=None), "not a day of the year"),
    (Profile(name="A", birthday=(13, 1), language="en", interests=(), notes=None), "not a day of the year"),
    (Profile(name="A", birthday=None, language="fr", interests=(), notes=None), "not a language"),
    (Profile(name="A", birthday=None, language="en", interests=("x" * 41,), notes=None), "at most 40"),
    (Profile(name="A", birthday=None, language="en", interests=(), notes="x" * 1001), "at most 1000"),
])
def test_a_bad_value_changes_nothing(session, ann, now, profile, message):
    with pytest.raises(ValidationError, match=message):
        profiles.update_profile(session, ann, profile, now=now)
    assert (ann.name, ann.language, sorted(interest.topic for interest in ann.interests)) == ("Ann", "en", ["cakes", "oolong"])
