"""How many SMS parts a text costs: GSM-7 or UCS-2, and the parts it splits into.

GSM-7 carries 160 septets in one part, 153 per part when concatenated; characters of the
extension table (€ [ ] { } ^ ~ | \\ and form feed) take two septets and are never split.
One character outside GSM-7 makes the whole text UCS-2: 70 UTF-16 units, 67 per part.

`parts_sql` counts the parts of a column of texts in SQL, for sums over many texts; it agrees with `count`
except for the rare long text where an escape pair or a character outside the BMP (an emoji) would straddle
two parts, or that holds such characters (counted as one UTF-16 unit each there): a part short at most.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import reduce

from sqlalchemy import Boolean, ColumnElement, case, func, literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

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


class _is_gsm(FunctionElement):
    """SQL: every character of the text is in GSM-7 (basic or extension table)."""

    type = Boolean()
    inherit_cache = True
    name = "is_gsm"


_GSM_CHARACTERS = "".join(sorted(GSM_BASIC | GSM_EXTENSION))


@compiles(_is_gsm, "postgresql")
def _is_gsm_postgresql(element, compiler, **kw):
    escaped = "".join("\\" + char if char in "\\[]^-" else char for char in _GSM_CHARACTERS)
    pattern = compiler.process(literal(f"[^{escaped}]"), **kw)
    return f"({compiler.process(element.clauses, **kw)} !~ {pattern})"


@compiles(_is_gsm, "sqlite")
def _is_gsm_sqlite(element, compiler, **kw):
    # GLOB: a "]" first in a set and a "-" last are themselves; there is no escape character
    others = "".join(char for char in _GSM_CHARACTERS if char not in "]-")
    pattern = compiler.process(literal(f"*[^]{others}-]*"), **kw)
    return f"({compiler.process(element.clauses, **kw)} NOT GLOB {pattern})"


def parts_sql(text: ColumnElement[str]) -> ColumnElement[int]:
    """`count(text).parts` as an SQL expression (see the module docstring for where it may differ)."""
    length = func.length(text)
    without_extension = reduce(lambda expression, char: func.replace(expression, char, ""), sorted(GSM_EXTENSION), text)
    septets = length + (length - func.length(without_extension))
    return case(  # in order of cost: most texts are decided by their length alone
        (length == 0, 0),
        (length <= UCS2_SINGLE, 1),  # one part in either encoding (an extension character takes two of 160)
        (~_is_gsm(text), (length + UCS2_PART - 1) // UCS2_PART),
        (septets <= GSM_SINGLE, 1),
        else_=(septets + GSM_PART - 1) // GSM_PART,
    )
