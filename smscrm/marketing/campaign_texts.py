"""A campaign's text as members receive it: placeholders filled, opt-out line and signature added.

The merchant writes `{name}`, `{points}`, `{class}` and `{merchant}`; no other `{word}` is accepted.
Every campaign text ends with the opt-out instruction (unless the merchant already wrote it) and a
Chinese text begins with the 【signature】; both are part of what is counted and paid for.

The same filling is written twice, once in Python (preview, test text) and once as SQL (fan-out,
where a million rows are rendered inside the INSERT … SELECT); `PLACEHOLDERS` fixes the order for
both, with `{name}` last so a member's own name is never read as a placeholder.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import ColumnElement, case, cast, func, literal
from sqlalchemy.types import String

from smscrm.errors import ValidationError
from smscrm.messaging import texts
from smscrm.models import Campaign, Language, Member, Merchant
from smscrm.sending import parts

PLACEHOLDERS = ("points", "class", "merchant", "name")
NAME_FALLBACK = {Language.EN: "friend", Language.ZH: "会员"}  # {name} of a member who gave none
MAX_TEXT_CHARS = 1000
CHINESE_CLOSING_PUNCTUATION = "。！？；，…）」』”"
_PLACEHOLDER = re.compile(r"\{([^{}\s]{1,30})\}")


def check_text(text: str | None, label: str) -> str | None:
    """The merchant's text, trimmed; None when empty. Unknown placeholders are an error."""
    text = (text or "").strip()
    if not text:
        return None
    if len(text) > MAX_TEXT_CHARS:
        raise ValidationError(f"{label} is {len(text)} characters; keep it under {MAX_TEXT_CHARS}")
    unknown = [name for name in _PLACEHOLDER.findall(text) if name not in PLACEHOLDERS]
    if unknown:
        allowed = ", ".join("{" + name + "}" for name in ("name", "points", "class", "merchant"))
        raise ValidationError(f"{label}: {{{unknown[0]}}} is not a placeholder; use {allowed}")
    return text


def with_opt_out(merchant: Merchant, text: str, language: str) -> str:
    """The text with the opt-out instruction at the end (once) and, for Chinese, the 【signature】 first."""
    instruction = texts.opt_out_instruction(merchant, language)
    body = text.strip()
    if instruction not in body:
        if language == Language.ZH:
            separator = "" if body.endswith(tuple(CHINESE_CLOSING_PUNCTUATION)) else "，"
        else:
            separator = " "
        body = f"{body}{separator}{instruction}"
    return texts.with_signature(merchant, body, language)


def language_of_text(campaign: Campaign, member_language: str) -> str:
    """Which of the campaign's texts a member gets: their language's, else the one there is."""
    if member_language == Language.ZH and campaign.text_zh:
        return Language.ZH
    return Language.EN if campaign.text_en else Language.ZH


def template_for(merchant: Merchant, campaign: Campaign, language: str) -> str:
    """The full template in `language` (opt-out line and signature included, placeholders not filled)."""
    text = campaign.text_zh if language == Language.ZH else campaign.text_en
    return with_opt_out(merchant, text, language)


def fill(template: str, *, name: str | None, points: int, value_class: str | None, merchant_name: str, language: str) -> str:
    """The placeholders of `template` filled for one member (the Python twin of `fill_sql`)."""
    values = {
        "points": str(points),
        "class": value_class or "",
        "merchant": merchant_name,
        "name": name or NAME_FALLBACK[Language(language)],
    }
    for placeholder in PLACEHOLDERS:
        template = template.replace("{" + placeholder + "}", values[placeholder])
    return template


def fill_sql(template: str, *, merchant_name: str, language: str) -> ColumnElement[str]:
    """`fill` as an SQL expression over `members`, for INSERT … SELECT."""
    values = {
        "points": cast(Member.points_balance, String),
        "class": func.coalesce(Member.value_class, ""),
        "merchant": literal(merchant_name, String),
        "name": func.coalesce(Member.name, NAME_FALLBACK[Language(language)]),
    }
    expression: ColumnElement[str] = literal(template, String)
    for placeholder in PLACEHOLDERS:
        if "{" + placeholder + "}" in template:
            expression = func.replace(expression, "{" + placeholder + "}", values[placeholder])
    return expression


def body_sql(merchant: Merchant, campaign: Campaign) -> ColumnElement[str]:
    """Each member's text: in their language when the campaign has it, with the placeholders filled."""
    bodies = {
        language: fill_sql(
            template_for(merchant, campaign, language), merchant_name=texts.merchant_name(merchant, language),
            language=language,
        )
        for language in (Language.EN, Language.ZH)
        if (campaign.text_zh if language == Language.ZH else campaign.text_en)
    }
    if len(bodies) == 1:
        return next(iter(bodies.values()))
    return case((Member.language == Language.ZH, bodies[Language.ZH]), else_=bodies[Language.EN])


@dataclass(frozen=True)
class TextCount:
    """What one version of the text costs, as rendered for one member."""

    language: str
    text: str  # as sent: filled, with the opt-out line and signature
    info: parts.SegmentInfo
    gsm_suggestion: str | None  # the merchant's text with look-alikes replaced, when that makes it GSM-7
    gsm_parts: int | None  # parts after that replacement


def count_text(merchant: Merchant, merchant_text: str, full_text: str, language: str) -> TextCount:
    """Encoding and parts of `full_text`, and whether replacing look-alikes in the merchant's text
    (curly quotes, dashes, …) would make it GSM-7."""
    suggestion = parts.gsm_replacement(merchant_text) if language == Language.EN else None
    gsm_parts = None
    if suggestion is not None:
        replaced = full_text
        for char, substitute in parts.GSM_REPLACEMENTS.items():
            replaced = replaced.replace(char, substitute)
        if parts.is_gsm(replaced):
            gsm_parts = parts.count(replaced).parts
        else:
            suggestion = None  # the name, opt-out line or merchant name keeps it UCS-2 anyway
    return TextCount(language, full_text, parts.count(full_text), suggestion, gsm_parts)


def estimated_cost_minor(merchant: Merchant, parts_by_language: dict[str, int], recipients_by_language: dict[str, int]) -> float | None:
    """Parts × recipients × the merchant's price per part, in minor units; None when no price is set."""
    parts = sum(parts_by_language.get(language, 0) * recipients for language, recipients in recipients_by_language.items())
    return price_of_parts(merchant, parts)


def price_of_parts(merchant: Merchant, parts: int) -> float | None:
    """What `parts` SMS parts cost at the merchant's price per part, in minor units; None when no price is set."""
    if not merchant.price_per_part_millis:
        return None
    return parts * merchant.price_per_part_millis / 1000
