"""What staff keep about a member on their page: name, birthday, language, interests and notes."""
from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from smscrm.errors import ValidationError
from smscrm.loyalty import members
from smscrm.models import Language, Member

MAX_NOTES_CHARS = 1000
MAX_INTERESTS = 20


@dataclass(frozen=True)
class Profile:
    name: str | None
    birthday: tuple[int, int] | None  # (month, day); no year
    language: str
    interests: tuple[str, ...]
    notes: str | None


def update_profile(session: Session, member: Member, profile: Profile, *, now: datetime) -> None:
    """Replace the member's details with `profile`: interests not listed are removed, new ones added; an
    empty name, birthday or note clears it. Checked first, so a bad value changes nothing."""
    _check(profile)
    member.name = members.clean_name(profile.name)
    member.birthday_month, member.birthday_day = profile.birthday or (None, None)
    member.language = profile.language
    member.notes = (profile.notes or "").strip() or None
    wanted = [topic for topic in (members.clean_topic(item) for item in profile.interests) if topic]
    member.interests[:] = [interest for interest in member.interests if interest.topic in wanted]
    for topic in wanted:
        members.add_interest(session, member, topic, now=now)
    session.flush()


def _check(profile: Profile) -> None:
    if profile.language not in {language.value for language in Language}:
        raise ValidationError(f"{profile.language!r} is not a language of the texts")
    if profile.birthday is not None and not is_day_of_year(*profile.birthday):
        raise ValidationError(f"{profile.birthday[0]}/{profile.birthday[1]} is not a day of the year")
    if len((profile.notes or "").strip()) > MAX_NOTES_CHARS:
        raise ValidationError(f"notes are at most {MAX_NOTES_CHARS} characters")
    if len(profile.interests) > MAX_INTERESTS:
        raise ValidationError(f"a member has at most {MAX_INTERESTS} interests")
    for topic in profile.interests:
        if len(members.clean_topic(topic) or "") > members.MAX_TOPIC_CHARS:
            raise ValidationError(f"an interest is at most {members.MAX_TOPIC_CHARS} characters")


def is_day_of_year(month: int, day: int) -> bool:
    """Whether `month`/`day` is a birthday someone can have (29 February included)."""
    return 1 <= month <= 12 and 1 <= day <= calendar.monthrange(2024, month)[1]  # 2024: a leap year
