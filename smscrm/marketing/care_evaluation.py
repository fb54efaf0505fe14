"""One care rule of one merchant evaluated at `now`: what every part of the evaluation reads (the rule's
zone, grace and purpose), the budget the rules of one evaluation share, and the keys their rows carry.

A care text's key is `text_key`: `care:<kind>:<member id>:<occurrence>`, unique per merchant in the
outbox; a touch, a holdout and a bonus entry carry the same key, so each goes with its occurrence once.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, String, cast, func, literal, select
from sqlalchemy.orm import Session

from smscrm.db.conflicts import insert_on_conflict
from smscrm.models import CareRule, Member, Merchant

MEMBERS_PER_EVALUATION = 150_000  # a bounded transaction: ~5 s of writing texts on PostgreSQL


def purpose_of(kind: str) -> str:
    """The outbox `purpose` of a care kind's texts."""
    return f"care_{kind}"


def text_key(kind: str, member_id: int | str, occurrence: str) -> str:
    """The outbox `dedupe_key` of one care text (also the key of its bonus entry or its holdout)."""
    return f"care:{kind}:{member_id}:{occurrence}"


@dataclass
class Budget:
    """How many more members this evaluation may write texts (or touches) for, or compare classes of."""

    total: int
    left: int = field(init=False)

    def __post_init__(self):
        self.left = self.total

    @property
    def is_untouched(self) -> bool:
        return self.left == self.total

    @property
    def is_spent(self) -> bool:
        """Nothing left, or too little (under 1 %) for another range of member ids to be worth a statement."""
        return self.left <= self.total // 100


@dataclass
class RuleEvaluation:
    """One rule of one merchant, evaluated at `now`, within what is left of the evaluation's budget."""

    session: Session
    merchant: Merchant
    rule: CareRule
    now: datetime
    budget: Budget = field(default_factory=lambda: Budget(MEMBERS_PER_EVALUATION))

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.merchant.timezone)

    @property
    def grace(self) -> timedelta:
        return timedelta(hours=self.rule.grace_hours)

    @cached_property
    def first_joined_at(self) -> datetime | None:
        """When the merchant's first member joined (anniversaries look back to its year), looked up once."""
        return self.session.scalar(select(func.min(Member.joined_at)).where(Member.merchant_id == self.merchant.id))

    @property
    def purpose(self) -> str:
        return purpose_of(self.rule.kind)

    def key(self, occurrence: ColumnElement[str]) -> ColumnElement[str]:
        """`text_key` in SQL, for the member of each row."""
        prefix = text_key(self.rule.kind, "", "").removesuffix(":")  # care:<kind>:
        return literal(prefix).concat(cast(Member.id, String)).concat(":").concat(occurrence)

    def insert(self, model):
        """INSERT with ON CONFLICT for the session's database (PostgreSQL or SQLite)."""
        return insert_on_conflict(self.session, model)
