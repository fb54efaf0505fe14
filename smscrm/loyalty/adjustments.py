"""Staff corrections of a member's points, each with a note saying why."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from smscrm.errors import ValidationError
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
        raise ValidationError("points must be a whole number other than 0")
    if abs(points) > MAX_ADJUST_POINTS:
        raise ValidationError(f"an adjustment is at most {MAX_ADJUST_POINTS} points either way")
    note = " ".join((note or "").split())
    if not note:
        raise ValidationError("a note saying why the points change is required")
    if len(note) > MAX_NOTE_CHARS:
        raise ValidationError(f"the note must be at most {MAX_NOTE_CHARS} characters")
    key = optional_text(idempotency_key, "idempotency key", MAX_KEY_CHARS)
    if key is None:
        raise ValidationError("an idempotency key is required, so that a retried adjustment counts once")
    posted = post(session, member, kind=EntryKind.ADJUST, points=points, key=f"adjust:{key}", now=now, note=note)
    return session.get(PointsEntry, posted.entry_id)
