"""Care rules: which care texts are due at `now`, queued exactly once, in set-based SQL.

Every rule kind names its occurrences — a birthday in a year, a holiday on its day, a purchase,
a win-back day — and each text is an outbox row whose `dedupe_key` is `text_key`:
`care:<kind>:<member id>:<occurrence>`, unique per merchant. However often the evaluation runs,
and however many run at once, a member gets an occurrence once (INSERT … SELECT … ON CONFLICT
DO NOTHING). Bonus points use the same key in the ledger, so text and bonus go together.

Timing: day-based rules (birthday, anniversary, holiday, win-back, points expiring) fall due at
`send_hour` on the day in the merchant's timezone; the others a fixed time after joining, a
purchase or a class recompute. An occurrence is sent when it is due and at most `grace_hours`
late — after downtime the missed ones within the grace are caught up, older ones are skipped.
Care texts go to joined members who have not opted out, arrive inside the merchant's sending
window (quiet hours wait for it to open; the delivery worker applies the recipient's own
timezone and the weekly cap at send time), and carry the opt-out line.

The parts live in `smscrm/marketing/`: who is due, per kind (`care_days`, `care_events`); the respect
rules — joined, not opted out, once per `days`, the holdout (`care_audience`); writing the texts and
their bonus (`care_texts`); due days in bounded batches (`care_batches`); one rule evaluated at `now`,
the budget and the keys (`care_evaluation`).
"""
from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from smscrm.db.engine import without_jit
from smscrm.marketing import care_days, care_events
from smscrm.marketing.care_batches import queue_due_days
from smscrm.marketing.care_evaluation import MEMBERS_PER_EVALUATION, Budget, RuleEvaluation, purpose_of, text_key
from smscrm.marketing.care_texts import care_template
from smscrm.models import CareKind, CareRule, Merchant

__all__ = [
    "AFTER_EVENTS", "DAY_BASED", "MEMBERS_PER_EVALUATION", "care_template", "evaluate", "purpose_of", "text_key",
]

log = logging.getLogger(__name__)

# The kinds due on a local day at `send_hour` (`care_days`), sent in bounded batches (`care_batches`) …
DAY_BASED = {
    CareKind.BIRTHDAY: care_days.birthday,
    CareKind.ANNIVERSARY: care_days.anniversary,
    CareKind.HOLIDAY: care_days.holiday,
    CareKind.WIN_BACK: care_days.win_back,
    CareKind.POINTS_EXPIRING: care_days.points_expiring,
}
# … and the kinds due a fixed time after an event (`care_events`).
AFTER_EVENTS = {
    CareKind.WELCOME: care_events.welcome,
    CareKind.WELCOME_FOLLOW_UP: care_events.welcome_follow_up,
    CareKind.AFTER_VISIT: care_events.after_visit,
    CareKind.CLASS_UPGRADE: care_events.class_upgrade,
}


def evaluate(session: Session, *, now: datetime, budget: int = MEMBERS_PER_EVALUATION) -> dict[str, int]:
    """Queue every care text due at `now`, for every merchant's enabled rules; the count queued per kind.

    Day-based occurrences write texts for no more than `budget` members in all (in ranges of member ids;
    a repeating rule's touch and text count twice): a larger one (a holiday for a million members) goes
    on at the next evaluation from where this one stopped, so every evaluation is a bounded transaction.
    The grace period still applies to what is left. A class comparison counts the merchant's members
    and waits for an evaluation with room for it.
    """
    queued: Counter[str] = Counter()
    allowance = Budget(budget)
    without_jit(session)  # compiling these statements costs more than it saves
    enabled = session.execute(
        select(CareRule, Merchant)
        .join(Merchant, Merchant.id == CareRule.merchant_id)
        .where(CareRule.is_enabled.is_(True))
        .order_by(CareRule.merchant_id, CareRule.id)
    ).all()
    for rule, merchant in enabled:
        evaluation = RuleEvaluation(session, merchant, rule, now, allowance)
        if rule.kind in DAY_BASED:
            count = queue_due_days(evaluation, DAY_BASED[rule.kind])
        else:
            count = AFTER_EVENTS[rule.kind](evaluation)
        if count:
            queued[rule.kind] += count
    if queued:
        log.info("care texts queued: %s", dict(queued))
    return dict(queued)
