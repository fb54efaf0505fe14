"""Satisfaction surveys: a member's 1-5 reply to the after-visit question becomes the visit's rating.

A reply counts as an answer when the member has an unanswered question about a visit that actually
left the outbox within the last ANSWER_DAYS days (a question still waiting for the morning, or never
sent, is not one they can be answering). Without one, it rates the member's latest visit of the last
ANSWER_DAYS days, unasked, unless that visit is rated already. A rating of 1 or 2 opens an urgent inbox item.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from smscrm.care import text_key
from smscrm.messaging import inbox
from smscrm.models import (
    CareKind,
    Member,
    Merchant,
    OutboundMessage,
    Purchase,
    Status,
    VisitSurvey,
)

ANSWER_DAYS = 3
LOW_RATING = 2
SENT_STATUSES = (Status.SENDING, Status.SENT, Status.DELIVERED)


def pending_survey(session: Session, member: Member, *, now: datetime) -> VisitSurvey | None:
    """The latest unanswered question the member was sent about a visit, if it is recent enough to answer."""
    survey = session.scalar(
        select(VisitSurvey)
        .where(
            VisitSurvey.member_id == member.id,
            VisitSurvey.rating.is_(None),
            VisitSurvey.asked_at > now - timedelta(days=ANSWER_DAYS),
        )
        .order_by(VisitSurvey.asked_at.desc(), VisitSurvey.id.desc())
        .limit(1)
    )
    if survey is None:
        return None
    status = session.scalar(
        select(OutboundMessage.status).where(
            OutboundMessage.merchant_id == member.merchant_id,
            OutboundMessage.dedupe_key == text_key(CareKind.AFTER_VISIT, member.id, f"p{survey.purchase_id}"),
        )
    )
    return survey if status in SENT_STATUSES else None


def visit_to_rate(session: Session, member: Member, *, now: datetime) -> VisitSurvey | None:
    """The survey a 1-5 reply answers: the pending question, else one for the member's latest visit of the last
    ANSWER_DAYS days (made now: asked_at is when the member rated it unasked); None when there is nothing to rate."""
    survey = pending_survey(session, member, now=now)
    if survey is not None:
        return survey
    purchase_id = session.scalar(
        select(Purchase.id)
        .where(Purchase.member_id == member.id, Purchase.created_at > now - timedelta(days=ANSWER_DAYS))
        .order_by(Purchase.created_at.desc(), Purchase.id.desc())
        .limit(1)
    )
    if purchase_id is None:
        return None
    survey = session.scalar(select(VisitSurvey).where(VisitSurvey.purchase_id == purchase_id))
    if survey is None:
        survey = VisitSurvey(merchant_id=member.merchant_id, member_id=member.id, purchase_id=purchase_id, asked_at=now)
        session.add(survey)
        session.flush()
    return survey if survey.rating is None else None


def record_rating(
    session: Session, merchant: Merchant, member: Member, survey: VisitSurvey, rating: int, *,
    body: str, now: datetime,
) -> bool:
    """Store the rating on the survey; a low one opens an urgent inbox item. True when it was low."""
    survey.rating, survey.rated_at = rating, now
    is_low = rating <= LOW_RATING
    if is_low:
        inbox.file_low_rating(session, merchant, member=member, survey=survey, body=body, now=now)
    session.flush()
    return is_low
