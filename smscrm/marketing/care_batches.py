"""Day-based occurrences in bounded batches: which local days are due, and how far a day got.

A day-based rule's occurrence falls due at `send_hour` on a local day and is sent until `grace_hours`
later. An evaluation writes texts for at most its budget of members: it goes through the members in
ranges of ids, each range as many ids wide as the budget has members left, so one INSERT … SELECT of a
range never writes more than that and needs no count first; every merchant's range of one evaluation
covers the same ids, so their statements read the same pages. A larger occurrence goes on at the next
evaluation from the member id the rule remembers (`resume_after`).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import Select, func, select

from smscrm.marketing import care_audience
from smscrm.marketing.care_evaluation import RuleEvaluation
from smscrm.models import Member


@dataclass(frozen=True)
class Due:
    """The members due an occurrence, and what sending to a batch of them does (returns the texts queued).

    With `touches` (a repeating rule), the batch is first recorded in care_touches and `send` gets the
    members touched now and not held out.
    """

    members: Select
    send: Callable[[Select], int]
    touches: bool = False


DueOn = Callable[[RuleEvaluation, date, datetime], Due | None]


def queue_due_days(evaluation: RuleEvaluation, due_on: DueOn) -> int:
    """Send each due day's occurrence to its members, a batch at a time (see `care.evaluate`), and remember
    in the rule how far it got; who is due is decided once per occurrence (a birthday told after that
    day's greetings went out waits for next year). Returns the texts queued."""
    rule, budget = evaluation.rule, evaluation.budget
    queued = 0
    for day, due_at, after in due_days(evaluation):
        due = due_on(evaluation, day, due_at)
        resume = None
        if due is not None:
            if budget.is_spent:
                break  # this evaluation's budget is spent: the next one goes on
            if due.touches:
                members = due.members.where(Member.id > after) if after is not None else due.members
                members, resume = _touch_batch(evaluation, members, day)
                queued += due.send(members)
            else:
                sent, resume = _send_by_id_ranges(evaluation, due, after)
                queued += sent
        rule.evaluated_through, rule.resume_after = due_at, resume
        if resume is not None:
            break
    return queued


def due_days(evaluation: RuleEvaluation) -> list[tuple[date, datetime, int | None]]:
    """The local days whose occurrence (at `send_hour`) is due now and at most `grace_hours` late,
    and not finished yet: each with the member id an unfinished one got up to."""
    rule, now, zone = evaluation.rule, evaluation.now, evaluation.zone
    today = now.astimezone(zone).date()
    looked_at, resume = rule.evaluated_through, rule.resume_after
    due = []
    for back in range(rule.grace_hours // 24 + 2):
        day = today - timedelta(days=back)
        due_at = datetime.combine(day, time(rule.send_hour), tzinfo=zone)
        if not due_at <= now < due_at + evaluation.grace:
            continue
        if looked_at is None or due_at > looked_at:
            due.append((day, due_at, None))
        elif due_at == looked_at and resume is not None:
            due.append((day, due_at, resume))
    return sorted(due)


def _send_by_id_ranges(evaluation: RuleEvaluation, due: Due, after: int | None) -> tuple[int, int | None]:
    """Send to the due members with ids after `after`, a range of ids at a time, each range as wide as the
    budget has members left, until the budget is spent or the ranges pass the last member; the texts
    queued and the id to resume after when members are left. (A concurrent evaluation that sent a range
    first makes this one find conflicts there; both remember a range they covered.)"""
    budget, session = evaluation.budget, evaluation.session
    first, last = session.execute(select(func.min(Member.id), func.max(Member.id))).one()
    if last is None:
        return 0, None
    start = first - 1 if after is None else after
    queued = 0
    while start < last:
        if budget.is_spent:
            return queued, start
        end = start + budget.left
        sent = due.send(due.members.where(Member.id > start, Member.id <= end))
        budget.left -= sent
        queued += sent
        start = end
    return queued, None


def _touch_batch(evaluation: RuleEvaluation, members: Select, day: date) -> tuple[Select, int | None]:
    """Touch the first members of `members` (by id) the budget allows — touched members leave the
    candidates of a repeating rule, so no count is needed: fewer touches than allowed means done.
    (Should a concurrent evaluation have touched them first, the day counts as done and what is
    left is found by the next day's look.)"""
    limit = max(1, evaluation.budget.left // 2)  # a touch and a text for each
    touched = care_audience.touch(evaluation, members.order_by(Member.id).limit(limit), day)
    evaluation.budget.left -= 2 * len(touched)
    return care_audience.touched_now(evaluation), (max(touched) if len(touched) >= limit else None)
