"""Who is due a care text a fixed time after an event: joining (welcome, welcome follow-up), a purchase
(after-visit, with its satisfaction question) or a class recompute (class upgrade). Each kind queues
its texts and returns how many; an event older than the rule's delay plus the grace is skipped.
"""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import String, and_, cast, exists, func, literal, or_, select

from smscrm.db.types import UTCDateTime
from smscrm.marketing import care_audience, care_texts
from smscrm.marketing.care_evaluation import RuleEvaluation
from smscrm.models import ClassMark, Member, Purchase, VisitSurvey


def welcome(evaluation: RuleEvaluation) -> int:
    """Members who joined `delay_hours` ago (and at most the grace more)."""
    sent_at = evaluation.now - timedelta(hours=evaluation.rule.delay_hours or 0)
    joined = and_(Member.joined_at <= sent_at, Member.joined_at > sent_at - evaluation.grace)
    return care_texts.queue(evaluation, care_audience.members(evaluation).where(joined), literal("joined"))


def welcome_follow_up(evaluation: RuleEvaluation) -> int:
    """Members who joined `days` days ago (and at most the grace more) and have not visited yet."""
    due_at = evaluation.now - timedelta(days=evaluation.rule.days)
    joined = and_(Member.joined_at <= due_at, Member.joined_at > due_at - evaluation.grace)
    members = care_audience.members(evaluation).where(joined, Member.visit_count == 0)
    return care_texts.queue(evaluation, members, literal("joined"))


def after_visit(evaluation: RuleEvaluation) -> int:
    """A member's latest purchase once it is `delay_hours` old (and at most the grace more), unless
    they were asked about a visit in the last `days` days. The survey row records what was asked."""
    rule, merchant, now = evaluation.rule, evaluation.merchant, evaluation.now
    visited_by = now - timedelta(hours=rule.delay_hours)
    newer = Purchase.__table__.alias("newer")
    later = exists().where(newer.c.member_id == Purchase.member_id, newer.c.id > Purchase.id)
    asked = exists().where(VisitSurvey.member_id == Member.id, VisitSurvey.asked_at > now - timedelta(days=rule.days))
    members = (
        care_audience.members(evaluation)
        .join(Purchase, Purchase.member_id == Member.id)
        .where(
            Purchase.merchant_id == merchant.id,
            Purchase.created_at <= visited_by,
            Purchase.created_at > visited_by - evaluation.grace,
            ~later,
            ~asked,
        )
    )
    occurrence = literal("p").concat(cast(Purchase.id, String))
    queued = care_texts.queue(evaluation, members, occurrence)
    evaluation.session.execute(
        evaluation.insert(VisitSurvey)
        .from_select(
            ["merchant_id", "member_id", "purchase_id", "asked_at"],
            members.with_only_columns(literal(merchant.id), Member.id, Purchase.id, literal(now, UTCDateTime())),
        )
        .on_conflict_do_nothing(index_elements=["purchase_id"])
    )
    return queued


def class_upgrade(evaluation: RuleEvaluation) -> int:
    """After each recompute: members whose class is better than the one last seen; then every
    member's class is noted. A recompute older than the grace only updates what was seen."""
    session, merchant, rule, budget = evaluation.session, evaluation.merchant, evaluation.rule, evaluation.budget
    computed_at = merchant.classes_computed_at
    looked_at = rule.evaluated_through
    if computed_at is None or (looked_at is not None and computed_at <= looked_at):
        return 0
    compared = session.scalar(select(func.count()).select_from(Member).where(Member.merchant_id == merchant.id))  # index only
    if compared > budget.left and not budget.is_untouched:
        return 0  # the comparison reads every member: it waits for an evaluation with room for it
    budget.left -= compared
    rule.evaluated_through = computed_at
    queued = 0
    if computed_at > evaluation.now - evaluation.grace:
        moved_up = care_audience.members(evaluation).join(ClassMark, ClassMark.member_id == Member.id).where(
            ClassMark.merchant_id == merchant.id,
            ClassMark.value_class.is_not(None),
            Member.value_class.is_not(None),
            Member.value_class < ClassMark.value_class,  # A < B < C
        )
        occurrence = literal(f"{computed_at:%Y%m%dT%H%M}:").concat(Member.value_class)
        queued = care_texts.queue(evaluation, moved_up, occurrence)
    _note_classes(evaluation)
    return queued


def _note_classes(evaluation: RuleEvaluation) -> None:
    """Remember every member's current class: one upsert of the members whose class is new or changed."""
    merchant_id = evaluation.merchant.id
    seen = ClassMark.__table__.alias("seen")
    changed = (
        select(Member.id, literal(merchant_id), Member.value_class, literal(evaluation.now, UTCDateTime()))
        .outerjoin(seen, seen.c.member_id == Member.id)
        .where(
            Member.merchant_id == merchant_id,
            or_(seen.c.member_id.is_(None), seen.c.value_class.is_distinct_from(Member.value_class)),
        )
    )
    upsert = evaluation.insert(ClassMark).from_select(["member_id", "merchant_id", "value_class", "seen_at"], changed)
    evaluation.session.execute(upsert.on_conflict_do_update(
        index_elements=["member_id"],
        set_={"value_class": upsert.excluded.value_class, "seen_at": upsert.excluded.seen_at},
    ))
