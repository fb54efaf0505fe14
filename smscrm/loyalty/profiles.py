"""What staff keep about a member on their page: name, birthday, language, interests and notes."""
from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from smscrm.errors import N_, ValidationError
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
    wanted = dict.fromkeys(topic for topic in (members.clean_topic(item) for item in profile.interests) if topic)
    members.write_interests(session, [member.id], [(member, topic) for topic in wanted], now=now, is_replacing=True)


def _check(profile: Profile) -> None:
    if profile.language not in {language.value for language in Language}:
        raise ValidationError(N_("%(language)r is not a language of the texts"), language=profile.language)
    if profile.birthday is not None and not is_day_of_year(*profile.birthday):
        raise ValidationError(N_("%(month)s/%(day)s is not a day of the year"), month=profile.birthday[0],
                              day=profile.birthday[1])
    if len((profile.notes or "").strip()) > MAX_NOTES_CHARS:
        raise ValidationError(N_("notes are at most %(count)s characters"), count=MAX_NOTES_CHARS)
    if len(profile.interests) > MAX_INTERESTS:
        raise ValidationError(N_("a member has at most %(count)s interests"), count=MAX_INTERESTS)
    for topic in profile.interests:
        if len(members.clean_topic(topic) or "") > members.MAX_TOPIC_CHARS:
            raise ValidationError(N_("an interest is at most %(count)s characters"), count=members.MAX_TOPIC_CHARS)


def is_day_of_year(month: int, day: int) -> bool:
    """Whether `month`/`day` is a birthday someone can have (29 February included)."""
    return 1 <= month <= 12 and 1 <= day <= calendar.monthrange(2024, month)[1]  # 2024: a leap year
