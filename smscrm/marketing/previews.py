"""What the campaign form shows while the merchant writes: who it reaches, what a real member
reads, the encoding and parts of each text, and what it will cost.

Recipients are the reachable members of the audience less the holdout. Members read the text in
their language when the campaign has it, else the other one; the estimate prices each text's
parts, as rendered for the member shown, for the members who will get that text.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from smscrm import broadcast
from smscrm.marketing import campaign_texts, segments
from smscrm.messaging.texts import merchant_name
from smscrm.models import Campaign, Language, Member, Merchant


@dataclass(frozen=True)
class TextPreview:
    count: campaign_texts.TextCount
    recipients: int  # members expected to get this text (holdout taken out)
    is_members_text: bool  # the text the member shown receives


@dataclass(frozen=True)
class Preview:
    audience: segments.SegmentCount
    holdout: int
    recipients: int
    texts: list[TextPreview]
    member: Member | None  # whose text is shown; None when the audience reaches no one
    samples: list[Member]
    cost_minor: float | None

    def as_json(self) -> dict:
        return {
            "matching": self.audience.matching,
            "not_joined": self.audience.invited,
            "opted_out": self.audience.opted_out,
            "reachable": self.audience.reachable,
            "holdout": self.holdout,
            "recipients": self.recipients,
            "cost_minor": self.cost_minor,
            "member_id": self.member.id if self.member else None,
            "texts": [
                {
                    "language": text.count.language,
                    "text": text.count.text,
                    "encoding": text.count.info.encoding,
                    "characters": text.count.info.characters,
                    "units": text.count.info.units,
                    "parts": text.count.info.parts,
                    "per_part": text.count.info.per_part,
                    "ucs2_characters": list(text.count.info.ucs2_characters),
                    "gsm_suggestion": text.count.gsm_suggestion,
                    "gsm_parts": text.count.gsm_parts,
                    "recipients": text.recipients,
                }
                for text in self.texts
            ],
        }


def preview(
    session: Session,
    merchant: Merchant,
    *,
    condition: ColumnElement[bool],
    text_en: str | None,
    text_zh: str | None,
    holdout_pct: int,
    member_id: int | None = None,
) -> Preview:
    """The preview of a campaign being written for the audience `condition` (texts already checked)."""
    draft = Campaign(text_en=text_en, text_zh=text_zh)
    languages = broadcast.written_languages(draft)
    audience = segments.count(session, condition)
    holdout = broadcast.holdout_size(audience.reachable, holdout_pct)
    recipients = audience.reachable - holdout
    samples = broadcast.sample_members(session, condition, languages=languages) if languages else []
    member = next((sample for sample in samples if sample.id == member_id), None) or _chosen(
        session, condition, member_id
    ) or (samples[0] if samples else None)
    shown = member or Member(name=None, points_balance=0, value_class=None, language=merchant.default_language)
    members_language = campaign_texts.language_of_text(draft, shown.language) if languages else None
    texts = []
    for language in languages:
        template = campaign_texts.template_for(merchant, draft, language)
        full = campaign_texts.fill(
            template, name=shown.name, points=shown.points_balance, value_class=shown.value_class,
            merchant_name=merchant_name(merchant, language), language=language,
        )
        written = text_zh if language == Language.ZH else text_en
        texts.append(TextPreview(
            count=campaign_texts.count_text(merchant, written, full, language),
            recipients=_share(audience, languages, language, recipients),
            is_members_text=language == members_language,
        ))
    cost = campaign_texts.estimated_cost_minor(
        merchant, {text.count.language: text.count.info.parts for text in texts},
        {text.count.language: text.recipients for text in texts},
    )
    return Preview(audience, holdout, recipients, texts, member, samples, cost)


def _chosen(session: Session, condition, member_id: int | None) -> Member | None:
    """The member the merchant picked, if they are in the audience and reachable."""
    if member_id is None:
        return None
    return session.scalar(select(Member).where(condition, segments.REACHABLE, Member.id == member_id))


def _share(audience: segments.SegmentCount, languages: tuple[str, ...], language: str, recipients: int) -> int:
    """Recipients of the text in `language`: all of them for a one-language campaign, else those of
    that language, less their share of the holdout."""
    if len(languages) == 1 or not audience.reachable:
        return recipients if len(languages) == 1 else 0
    return round(audience.reachable_by_language[language] * recipients / audience.reachable)
