"""How many SMS parts a text costs: GSM-7 or UCS-2, and the parts it splits into.

GSM-7 carries 160 septets in one part, 153 per part when concatenated; characters of the
extension table (€ [ ] { } ^ ~ | \\ and form feed) take two septets and are never split.
One character outside GSM-7 makes the whole text UCS-2: 70 UTF-16 units, 67 per part.
"""
from __future__ import annotations

from dataclasses import dataclass

GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION = frozenset("^{}\\[~]|€\f")
GSM_SINGLE, GSM_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67

# Look-alikes that force UCS-2 although a GSM character would do.
GSM_REPLACEMENTS = {
    "‘": "'", "’": "'", "‚": "'", "′": "'", "“": '"', "”": '"', "„": '"', "″": '"',
    "–": "-", "—": "-", "‐": "-", "‑": "-", "−": "-", "…": "...", "\u00a0": " ", "\u2009": " ",
    "\u200b": "", "•": "-", "·": "-", "`": "'", "´": "'", "«": '"', "»": '"',
}


@dataclass(frozen=True)
class SegmentInfo:
    encoding: str  # "GSM-7" or "UCS-2"
    characters: int  # as a person counts them
    units: int  # septets for GSM-7, UTF-16 code units for UCS-2
    parts: int
    per_part: int  # capacity of a part for this length (160/153 or 70/67)
    ucs2_characters: tuple[str, ...]  # the characters that forced UCS-2, in order of appearance


def is_gsm(text: str) -> bool:
    return all(char in GSM_BASIC or char in GSM_EXTENSION for char in text)


def count(text: str) -> SegmentInfo:
    """The encoding, length and number of parts of `text`."""
    if is_gsm(text):
        units = [2 if char in GSM_EXTENSION else 1 for char in text]
        return _info("GSM-7", text, units, GSM_SINGLE, GSM_PART, ())
    units = [2 if ord(char) > 0xFFFF else 1 for char in text]
    forcing = tuple(dict.fromkeys(char for char in text if char not in GSM_BASIC and char not in GSM_EXTENSION))
    return _info("UCS-2", text, units, UCS2_SINGLE, UCS2_PART, forcing)


def _info(encoding, text, units, single, per_part, forcing) -> SegmentInfo:
    total = sum(units)
    if total <= single:
        return SegmentInfo(encoding, len(text), total, 1 if text else 0, single, forcing)
    return SegmentInfo(encoding, len(text), total, _pack(units, per_part), per_part, forcing)


def _pack(units: list[int], capacity: int) -> int:
    """Parts needed when no character (escape pair, surrogate pair) may straddle two parts."""
    parts, used = 1, 0
    for size in units:
        if used + size > capacity:
            parts, used = parts + 1, 0
        used += size
    return parts


def gsm_replacement(text: str) -> str | None:
    """`text` with look-alikes swapped for GSM characters, when that makes it all GSM-7; else None."""
    if is_gsm(text):
        return None
    replaced = "".join(GSM_REPLACEMENTS.get(char, char) for char in text)
    return replaced if is_gsm(replaced) else None
