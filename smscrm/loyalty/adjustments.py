"""Staff corrections of a member's points, each with a note saying why."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from smscrm.errors import N_, ValidationError
from smscrm.loyalty.ledger import post
from smscrm.loyalty.purchases import MAX_KEY_CHARS, optional_text
from smscrm.models import EntryKind, Member, PointsEntry

MAX_ADJUST_POINTS = 1_000_000
MAX_NOTE_CHARS = 200


def adjust(
    session: Session, member: Member, *, points: int, note: str, now: datetime, idempotency_key: str
) -> PointsEntry:
    """A staff correction of `points` (negative takes points away, never below zero), with a note saying why."""
    if isinstance(points, bool) or not isinstance(points, int) or points == 0:
        raise ValidationError(N_("points must be a whole number other than 0"))
    if abs(points) > MAX_ADJUST_POINTS:
        raise ValidationError(N_("an adjustment is at most %(count)s points either way"), count=MAX_ADJUST_POINTS)
    note = " ".join((note or "").split())
    if not note:
        raise ValidationError(N_("a note saying why the points change is required"))
    if len(note) > MAX_NOTE_CHARS:
        raise ValidationError(N_("the note must be at most %(count)s characters"), count=MAX_NOTE_CHARS)
    key = optional_text(idempotency_key, "idempotency key", MAX_KEY_CHARS)
    if key is None:
        raise ValidationError("an idempotency key is required, so that a retried adjustment counts once")
    posted = post(session, member, kind=EntryKind.ADJUST, points=points, key=f"adjust:{key}", now=now, note=note)
    return session.get(PointsEntry, posted.entry_id)
