"""Writing care texts: one outbox row per member and occurrence (INSERT … SELECT … ON CONFLICT DO
NOTHING on the text's key, so however often and however concurrently the rule is evaluated a member
gets an occurrence once), in the member's language with the opt-out line, and the rule's bonus points
in the same transaction under the same key.

The texts wait for the merchant's sending window to open; the delivery worker applies the recipient's
own timezone, the opt-out and the weekly cap again at send time.
"""
from __future__ import annotations

from sqlalchemy import ColumnElement, Select, String, case, cast, func, literal

from smscrm.db.types import UTCDateTime
from smscrm.loyalty.ledger import lock_members, resum_balances
from smscrm.marketing import campaign_texts
from smscrm.marketing.care_evaluation import RuleEvaluation
from smscrm.messaging import texts
from smscrm.messaging.courtesy import SendingWindow
from smscrm.models import (
    DEDUPE_CONFLICT,
    CareKind,
    CareRule,
    Category,
    EntryKind,
    Language,
    Member,
    Merchant,
    OutboundMessage,
    PointsEntry,
    Status,
)
from smscrm.sending.parts import parts_sql


def queue(
    evaluation: RuleEvaluation,
    members: Select,
    occurrence: ColumnElement[str],
    *,
    expiring: ColumnElement[int] | None = None,
    **values,
) -> int:
    """Write the rule's text for every member `members` selects, once per occurrence.

    Returns how many were queued. The rule's bonus points go with the texts (same key, same transaction).
    """
    merchant, rule, now = evaluation.merchant, evaluation.rule, evaluation.now
    key = evaluation.key(occurrence)
    window = SendingWindow(merchant.sending_window_opens, merchant.sending_window_closes)
    body = _body(merchant, rule, expiring=expiring, **values)
    statement = (
        evaluation.insert(OutboundMessage)
        .from_select(
            [
                "merchant_id", "member_id", "to_phone", "from_phone", "body", "parts", "category", "purpose", "status",
                "dedupe_key", "send_after", "attempts", "created_at",
            ],
            members.with_only_columns(
                literal(merchant.id), Member.id, Member.phone, literal(merchant.primary_number), body, parts_sql(body),
                literal(Category.CARE.value), literal(evaluation.purpose), literal(Status.QUEUED.value), key,
                literal(window.next_open(now, merchant.timezone), UTCDateTime()), literal(0),
                literal(now, UTCDateTime()),
            ),
        )
        .on_conflict_do_nothing(**DEDUPE_CONFLICT)
    )
    queued = evaluation.session.execute(statement.execution_options(preserve_rowcount=True)).rowcount
    if queued and _bonus_points(merchant, rule):
        _grant_bonus(evaluation, members, key)
    return queued


def care_template(merchant: Merchant, rule: CareRule, language: str, **values) -> str:
    """The rule's text in `language` (the merchant's wording, else the default), with the bonus line
    when the rule grants one, the opt-out line and the 【signature】; member placeholders stay."""
    wording = (rule.texts or {}).get(language) or texts.DEFAULT_TEXTS[f"care_{rule.kind}"][language]
    bonus = _bonus_points(merchant, rule)
    if bonus > 0 and "{bonus}" not in wording:
        joiner = "" if language == Language.ZH else " "
        wording = wording.rstrip() + joiner + texts.DEFAULT_TEXTS["care_bonus"][language]
    body = texts.render(merchant, f"care_{rule.kind}", language, template=wording, bonus=bonus, **values)
    return campaign_texts.with_opt_out(merchant, body, language)


def _body(merchant: Merchant, rule: CareRule, *, expiring: ColumnElement[int] | None, **values) -> ColumnElement[str]:
    """The text in each member's language, its member placeholders filled in SQL (as campaigns fill them)."""
    branches = {}
    for language in Language:
        template = care_template(merchant, rule, language, **{name: value[language] for name, value in values.items()})
        filled = campaign_texts.fill_sql(
            template, merchant_name=texts.merchant_name(merchant, language), language=language
        )
        if expiring is not None and "{expiring}" in template:
            filled = func.replace(filled, "{expiring}", cast(expiring, String))
        branches[language] = filled
    return case((Member.language == Language.ZH.value, branches[Language.ZH]), else_=branches[Language.EN])


def _bonus_points(merchant: Merchant, rule: CareRule) -> int:
    """The points that go with the rule's text (a birthday's are the merchant's birthday bonus)."""
    return merchant.birthday_bonus if rule.kind == CareKind.BIRTHDAY else rule.bonus_points


def _grant_bonus(evaluation: RuleEvaluation, members: Select, key: ColumnElement[str]) -> None:
    """The rule's bonus for the members texted, set-based through the ledger's set-based path (their
    rows locked, one entry each, balances re-summed): the entry's key is the text's key, so a member
    gets the bonus of an occurrence once, with its text (a birthday's once a year)."""
    session, merchant, rule = evaluation.session, evaluation.merchant, evaluation.rule
    bonus = _bonus_points(merchant, rule)
    ids = lock_members(session, members.with_only_columns(Member.id))
    session.execute(
        evaluation.insert(PointsEntry)
        .from_select(
            [
                "merchant_id", "member_id", "kind", "points", "balance_after", "idempotency_key", "note",
                "created_at",
            ],
            members.with_only_columns(
                literal(merchant.id), Member.id, literal(EntryKind.BONUS.value), literal(bonus),
                Member.points_balance + bonus, key,
                literal(f"{rule.kind.replace('_', ' ')} bonus"), literal(evaluation.now, UTCDateTime()),
            ).where(Member.id.in_(ids)),
        )
        .on_conflict_do_nothing(index_elements=["merchant_id", "idempotency_key"])
    )
    resum_balances(session, ids)
