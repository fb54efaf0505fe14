"""The holidays a merchant can greet its members on: its country's calendar plus the lunar festivals.

From the `holidays` package: the country's public holidays (and the unofficial ones it knows, such
as Mother's Day), and — for every country, since members keep them wherever they live — Spring
Festival, Dragon Boat Festival and Mid-Autumn Festival from the Chinese lunisolar calendar.
A holiday is named by its English name and greeted on its first day in a year; observed and
substituted days off are not holidays to greet on.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import holidays

LUNAR_CALENDAR = "CN"
LUNAR_FESTIVALS = ("Chinese New Year (Spring Festival)", "Dragon Boat Festival", "Mid-Autumn Festival")
GREETING_CATEGORIES = ("public", "unofficial")
_NOT_A_FESTIVAL = re.compile(r"\(observed\)|^Day off|substituted|^Bridge", re.IGNORECASE)
_PARENTHESES = re.compile(r"\s*\([^)]*\)")


@dataclass(frozen=True)
class Festival:
    """One holiday in one year: `name` (English) identifies it, `name_zh` is for Chinese texts."""

    name: str
    day: date
    name_zh: str

    @property
    def greeting_name(self) -> str:
        """The name as a greeting says it: "Chinese New Year (Spring Festival)" → "Chinese New Year"."""
        return _PARENTHESES.sub("", self.name).strip() or self.name

    @property
    def is_lunar(self) -> bool:
        return self.name in LUNAR_FESTIVALS


def festivals(country: str, year: int) -> list[Festival]:
    """The holidays to greet on in `year` for a merchant in `country`, by date."""
    found: dict[str, Festival] = {}
    for festival in _country_festivals(country, year):
        found.setdefault(festival.name, festival)
    known = {(festival.day, festival.greeting_name) for festival in found.values()}
    for festival in _country_festivals(LUNAR_CALENDAR, year):
        if festival.is_lunar and festival.name not in found and (festival.day, festival.greeting_name) not in known:
            found[festival.name] = festival
    return sorted(found.values(), key=lambda festival: (festival.day, festival.name))


def festival_on(country: str, name: str, day: date) -> Festival | None:
    """The holiday `name` if `day` is the day to greet on, else None."""
    return next((f for f in festivals(country, day.year) if f.name == name and f.day == day), None)


@lru_cache(maxsize=256)
def _country_festivals(country: str, year: int) -> tuple[Festival, ...]:
    country = (country or "").upper()
    if country not in holidays.list_supported_countries():
        return ()
    kind = holidays.country_holidays(country)
    categories = tuple(c for c in GREETING_CATEGORIES if c in kind.supported_categories) or None
    english = _calendar(country, year, categories, "en_US" if "en_US" in kind.supported_languages else None)
    chinese = _calendar(country, year, categories, "zh_CN") if "zh_CN" in kind.supported_languages else {}
    first_days: dict[str, Festival] = {}
    for day, names in sorted(english.items()):
        for index, name in enumerate(names):
            if _NOT_A_FESTIVAL.search(name) or name in first_days:
                continue
            zh_names = chinese.get(day, [])
            first_days[name] = Festival(name, day, zh_names[index] if index < len(zh_names) else name)
    return tuple(first_days.values())


def _calendar(country: str, year: int, categories, language: str | None) -> dict[date, list[str]]:
    options = {"years": year, "categories": categories}
    if language:
        options["language"] = language
    calendar = holidays.country_holidays(country, **options)
    return {day: calendar.get_list(day) for day in calendar}
