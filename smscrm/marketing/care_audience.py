"""Who a care text may go to: the respect rules every care rule applies.

- Only joined members who have not opted out (checked again at send time by the delivery worker, which
  also applies the weekly cap and the recipient's quiet hours).
- Once per occurrence: the text's key is unique (`care_texts.queue`).
- A repeating rule (win-back, points expiring) reaches a member at most once per `days` days: each
  reach is a touch in care_touches, and the members drawn into the holdout get a touch without a text.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import BigInteger, ColumnElement, Select, cast, literal, select

from smscrm.db.types import UTCDateTime
from smscrm.marketing.care_evaluation import RuleEvaluation
from smscrm.models import CareTouch, Member

HOLDOUT_SPREAD = 61  # coprime with 100, so consecutive member ids spread over every percentile


def members(evaluation: RuleEvaluation) -> Select:
    """The merchant's members a care text may go to: joined, not opted out."""
    return select(Member).where(
        Member.merchant_id == evaluation.merchant.id, Member.joined_at.is_not(None), Member.is_opted_out.is_(False)
    )


def not_touched_since(evaluation: RuleEvaluation, day: date) -> ColumnElement[bool]:
    """Not touched by this repeating rule on one of the last `days` local days."""
    since = datetime.combine(day - timedelta(days=evaluation.rule.days - 1), time(0), tzinfo=evaluation.zone)
    return Member.id.not_in(
        select(CareTouch.member_id).where(
            CareTouch.merchant_id == evaluation.merchant.id, CareTouch.purpose == evaluation.purpose,
            CareTouch.created_at >= since,
        )
    )


def touch(evaluation: RuleEvaluation, selected: Select, day: date) -> list[int]:
    """For a rule that repeats at most once per `days`: record a touch of `day` for every member
    `selected` selects — or, for the members drawn into the holdout (deterministically per
    occurrence, so concurrent runs agree), a holdout. Returns the ids touched."""
    rule, session = evaluation.rule, evaluation.session
    drawn = literal(False)
    if rule.holdout_pct:
        salt = day.toordinal()
        drawn = (cast(Member.id, BigInteger) * HOLDOUT_SPREAD + salt) % 100 < rule.holdout_pct
    return list(session.execute(
        evaluation.insert(CareTouch)
        .from_select(
            ["merchant_id", "member_id", "purpose", "dedupe_key", "is_holdout", "created_at"],
            selected.with_only_columns(
                literal(evaluation.merchant.id), Member.id, literal(evaluation.purpose),
                evaluation.key(literal(day.isoformat())), drawn, literal(evaluation.now, UTCDateTime()),
            ),
        )
        .on_conflict_do_nothing(index_elements=["merchant_id", "dedupe_key"])
        .returning(CareTouch.member_id)
    ).scalars())


def touched_now(evaluation: RuleEvaluation) -> Select:
    """The members this evaluation touched and did not hold out: the ones to text."""
    return members(evaluation).join(CareTouch, CareTouch.member_id == Member.id).where(
        CareTouch.merchant_id == evaluation.merchant.id,
        CareTouch.purpose == evaluation.purpose,
        CareTouch.created_at == evaluation.now,
        CareTouch.is_holdout.is_(False),
    )
