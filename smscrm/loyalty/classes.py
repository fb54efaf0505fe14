"""Who a member is to the merchant: their stage on the loyalty ladder, their value class, their visit statistics.

Each purchase, join and referral updates the member's stage and visit statistics as it happens;
`recompute` rebuilds all of them, and the value classes, from the purchases in one set-based statement.

Value classes rank a merchant's joined members by spend over the trailing 12 months (ties by join
order): A = the top members who together bring `class_a_revenue_pct` % of that revenue, but at most
`class_a_max_members_pct` % of the members (rounded down); B = the next `class_b_members_pct` % of
the members (rounded down) who spent something; C = everyone else. Pending members have no class.

A visit is a purchase. Visits on one (UTC) calendar day are one visit day, and the typical gap between
visits is the average gap between visit days: (last day − first day) / (visit days − 1), so never under a
day; with fewer than two visit days there is none.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    and_,
    bindparam,
    case,
    cast,
    exists,
    func,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session, aliased, object_session
from sqlalchemy.types import Float

from smscrm.db.sqltime import epoch_day
from smscrm.db.types import UTCDateTime
from smscrm.loyalty.periods import months_before
from smscrm.models import Member, Merchant, Purchase, Referral, Stage

CLASS_WINDOW_MONTHS = 12
# PostgreSQL, for the recompute's transaction only: sort a million members in memory, and aggregate the purchases
# in member order from the covering index rather than in a hash table of a million groups (5x faster, measured
# with bench/recompute; the planner underestimates the number of members and picks the hash).
RECOMPUTE_SETTINGS = {"work_mem": "256MB", "enable_hashagg": "off"}
_SEGMENT_COLUMNS = (
    "stage", "value_class", "visit_count", "total_spend_minor", "first_visit_at", "last_visit_at",
    "typical_visit_gap_days",
)


def stage_for(*, is_joined: bool, visit_count: int, is_advocate: bool) -> Stage:
    """The ladder: pending → joined → first_purchase → repeat; advocate once a referred friend joined and bought."""
    if not is_joined:
        return Stage.PENDING
    if is_advocate:
        return Stage.ADVOCATE
    if visit_count >= 2:
        return Stage.REPEAT
    if visit_count == 1:
        return Stage.FIRST_PURCHASE
    return Stage.JOINED


def refresh_stage(member: Member, *, is_advocate: bool = False) -> None:
    """Move the member to the stage their membership and visits say (an advocate stays one)."""
    member.stage = stage_for(
        is_joined=member.is_joined,
        visit_count=member.visit_count,
        is_advocate=is_advocate or member.stage == Stage.ADVOCATE,
    )



def stage_case(*, is_joined, visit_count, is_advocate):
    """`stage_for` as an SQL expression over columns, for set-based and single-row UPDATEs."""
    return case(
        (~is_joined, literal(Stage.PENDING)),
        (is_advocate, literal(Stage.ADVOCATE)),
        (visit_count >= literal(2), literal(Stage.REPEAT)),
        (visit_count == literal(1), literal(Stage.FIRST_PURCHASE)),
        else_=literal(Stage.JOINED),
    )


def _visit_values() -> dict:
    """The SET clause counting one visit of `visit_amount` at `visit_at` (bound parameters) in a member's row."""
    members = Member.__table__.c
    at = bindparam("visit_at", type_=UTCDateTime())
    first = case((or_(members.first_visit_at.is_(None), members.first_visit_at > at), at), else_=members.first_visit_at)
    last = case((or_(members.last_visit_at.is_(None), members.last_visit_at < at), at), else_=members.last_visit_at)
    visits = members.visit_count + literal(1)
    return {
        "visit_count": visits,
        "total_spend_minor": members.total_spend_minor + bindparam("visit_amount"),
        "first_visit_at": first,
        "last_visit_at": last,
        "typical_visit_gap_days": typical_gap(first, last, _visit_days()),
        "stage": stage_case(
            is_joined=members.joined_at.is_not(None), visit_count=visits,
            is_advocate=members.stage == literal(Stage.ADVOCATE),
        ),
    }


def _visit_days():
    """The member's visit days, counting the purchase just inserted (under the member's row lock)."""
    return (
        select(func.count(func.distinct(epoch_day(Purchase.created_at))))
        .where(Purchase.member_id == Member.__table__.c.id)
        .scalar_subquery()
    )


def typical_gap(first, last, visit_days):
    """The average gap in days between visit days (see the module docstring); NULL under two visit days."""
    return case(
        (visit_days >= 2, cast(epoch_day(last) - epoch_day(first), Float) / (visit_days - 1)),
        else_=None,
    )


VISIT_VALUES = _visit_values()
"""One purchase in the member's row: visit count, spend, first and last visit, typical gap and stage, written by
`record_visit`'s UPDATE under the member's row lock, with `visit_amount` and `visit_at` bound."""


_RECORD_VISIT = update(Member.__table__).where(Member.__table__.c.id == bindparam("member_id")).values(VISIT_VALUES)


def record_visit(member: Member, amount_minor: int, at: datetime) -> None:
    """Count a purchase in the member's visit statistics and stage (the caller holds the member's row lock); the
    purchase itself is written first (the visit days are counted from the purchases)."""
    session = object_session(member)
    session.flush()
    session.connection().execute(_RECORD_VISIT, {"member_id": member.id, "visit_amount": amount_minor, "visit_at": at})
    session.expire(member, [*_SEGMENT_COLUMNS, "at_risk_from"])  # the database writes at_risk_from with the visits


def recompute(session: Session, *, now: datetime) -> int:
    """Rebuild every member's visit statistics, stage and value class from the purchases; the number changed.

    One UPDATE … FROM over the whole membership (window functions rank members within each merchant);
    only rows whose values differ are written. Stamps each merchant's `classes_computed_at` with `now`.
    """
    if session.get_bind().dialect.name == "postgresql":
        for name, value in RECOMPUTE_SETTINGS.items():  # SET LOCAL, with the values bound
            session.execute(select(func.set_config(name, value, True)))
    computed = _segments(session, since=months_before(now, CLASS_WINDOW_MONTHS)).subquery("computed")
    changed = or_(*(getattr(Member, name).is_distinct_from(computed.c[name]) for name in _SEGMENT_COLUMNS))
    result = session.execute(
        update(Member)
        .where(Member.id == computed.c.member_id, changed)
        .values({name: computed.c[name] for name in _SEGMENT_COLUMNS})
        .execution_options(synchronize_session=False)
    )
    session.execute(update(Merchant).values(classes_computed_at=now).execution_options(synchronize_session=False))
    for loaded in list(session.identity_map.values()):
        if isinstance(loaded, (Member, Merchant)):
            session.expire(loaded)
    return result.rowcount


def _segments(session: Session, *, since: datetime):
    """Per member: the visit statistics, stage and value class the purchases and referrals say."""
    visits = (
        select(
            Purchase.member_id,
            func.count().label("visits"),
            func.sum(Purchase.amount_minor).label("spend"),
            func.min(Purchase.created_at).label("first_at"),
            func.max(Purchase.created_at).label("last_at"),
            func.count(func.distinct(epoch_day(Purchase.created_at))).label("visit_days"),
            func.sum(case((Purchase.created_at >= since, Purchase.amount_minor), else_=0)).label("recent"),
        )
        .group_by(Purchase.member_id)
        .subquery("visits")
    )
    friend = aliased(Member)
    advocates = (
        select(Referral.referrer_id)
        .join(friend, friend.id == Referral.referred_id)
        .where(friend.joined_at.is_not(None), exists().where(Purchase.member_id == friend.id))
        .group_by(Referral.referrer_id)
        .subquery("advocates")
    )
    is_joined = Member.joined_at.is_not(None)
    recent = func.coalesce(visits.c.recent, 0)
    # one window for rank and running sum (ids are unique, so the default frame ends at the current row)
    ranking = {"partition_by": (Member.merchant_id, is_joined), "order_by": (recent.desc(), Member.id)}
    ranked = (
        select(
            Member.id.label("member_id"),
            Member.merchant_id,
            is_joined.label("is_joined"),
            func.coalesce(visits.c.visits, 0).label("visit_count"),
            func.coalesce(visits.c.spend, 0).label("total_spend_minor"),
            visits.c.first_at.label("first_visit_at"),
            visits.c.last_at.label("last_visit_at"),
            func.coalesce(visits.c.visit_days, 0).label("visit_days"),
            advocates.c.referrer_id.is_not(None).label("is_advocate"),
            recent.label("recent"),
            func.row_number().over(**ranking).label("rank"),
            (func.sum(recent).over(**ranking) - recent).label("spend_before"),
            func.sum(recent).over(partition_by=ranking["partition_by"]).label("total"),
            func.count().over(partition_by=ranking["partition_by"]).label("members"),
        )
        .outerjoin(visits, visits.c.member_id == Member.id)
        .outerjoin(advocates, advocates.c.referrer_id == Member.id)
        .subquery("ranked")
    )
    is_a = and_(
        ranked.c.recent > 0,
        ranked.c.spend_before * 100 < ranked.c.total * Merchant.class_a_revenue_pct,
        ranked.c.rank * 100 <= ranked.c.members * Merchant.class_a_max_members_pct,
    )
    flagged = (
        select(ranked, case((is_a, 1), else_=0).label("is_a"), Merchant.class_b_members_pct)
        .join(Merchant, Merchant.id == ranked.c.merchant_id)
        .subquery("flagged")
    )
    a_count = func.sum(flagged.c.is_a).over(partition_by=(flagged.c.merchant_id, flagged.c.is_joined))
    counted = select(flagged, a_count.label("a_count")).subquery("counted")
    c = counted.c
    is_b = and_(c.recent > 0, (c.rank - c.a_count) * 100 <= c.members * c.class_b_members_pct)
    visit_count = c.visit_count
    return select(
        c.member_id,
        stage_case(is_joined=c.is_joined, visit_count=visit_count, is_advocate=c.is_advocate).label("stage"),
        case((~c.is_joined, None), (c.is_a == 1, "A"), (is_b, "B"), else_="C").label("value_class"),
        visit_count.label("visit_count"),
        c.total_spend_minor,
        c.first_visit_at,
        c.last_visit_at,
        typical_gap(c.first_visit_at, c.last_visit_at, c.visit_days).label("typical_visit_gap_days"),
    ).order_by(c.member_id)  # the UPDATE then writes the rows in table order, not scattered over it
