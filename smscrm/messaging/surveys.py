"""Satisfaction surveys: a member's 1-5 reply to the after-visit question becomes the visit's rating.

A reply counts as an answer when the member has an unanswered question about a visit that actually
left the outbox within the last ANSWER_DAYS days (a question still waiting for the morning, or never
sent, is not one they can be answering). A rating of 1 or 2 opens an urgent inbox item.
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
