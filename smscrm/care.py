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
"""
from __future__ import annotations

import logging
import re
from calendar import isleap
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Select,
    String,
    and_,
    case,
    cast,
    exists,
    func,
    literal,
    or_,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from smscrm.db.types import UTCDateTime
from smscrm.loyalty.ledger import lock_members, resum_balances
from smscrm.loyalty.periods import months_before
from smscrm.marketing import campaign_texts, festivals, segments
from smscrm.messaging import texts
from smscrm.messaging.courtesy import SendingWindow
from smscrm.models import (
    DEDUPE_CONFLICT,
    CareKind,
    CareRule,
    CareTouch,
    Category,
    ClassMark,
    EntryKind,
    Language,
    Member,
    Merchant,
    OutboundMessage,
    PointsEntry,
    Purchase,
    Status,
    VisitSurvey,
)

log = logging.getLogger(__name__)

DAY_BASED = (CareKind.BIRTHDAY, CareKind.ANNIVERSARY, CareKind.HOLIDAY, CareKind.WIN_BACK, CareKind.POINTS_EXPIRING)
MEMBERS_PER_EVALUATION = 150_000  # a bounded transaction: ~5 s of writing texts on PostgreSQL
HOLDOUT_SPREAD = 61  # coprime with 100, so consecutive member ids spread over every percentile
_SLUG = re.compile(r"[^a-z0-9]+")


def purpose_of(kind: str) -> str:
    """The outbox `purpose` of a care kind's texts."""
    return f"care_{kind}"


def text_key(kind: str, member_id: int | str, occurrence: str) -> str:
    """The outbox `dedupe_key` of one care text (also the key of its bonus entry or its holdout)."""
    return f"care:{kind}:{member_id}:{occurrence}"


def evaluate(session: Session, *, now: datetime, budget: int = MEMBERS_PER_EVALUATION) -> dict[str, int]:
    """Queue every care text due at `now`, for every merchant's enabled rules; the count queued per kind.

    Day-based occurrences write texts for no more than `budget` members in all (in member order; a
    repeating rule's touch and text count twice): a larger one (a holiday for a million members) goes on
    at the next evaluation from where this one stopped, so every evaluation is a bounded transaction.
    The grace period still applies to what is left. A class comparison counts the merchant's members
    and waits for an evaluation with room for it.
    """
    queued: Counter[str] = Counter()
    allowance = _Budget(budget)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL jit = off"))  # compiling these statements costs more than it saves
    enabled = session.execute(
        select(CareRule, Merchant)
        .join(Merchant, Merchant.id == CareRule.merchant_id)
        .where(CareRule.is_enabled.is_(True))
        .order_by(CareRule.merchant_id, CareRule.id)
    ).all()
    for rule, merchant in enabled:
        count = _Evaluation(session, merchant, rule, now, allowance).run()
        if count:
            queued[rule.kind] += count
    if queued:
        log.info("care texts queued: %s", dict(queued))
    return dict(queued)


@dataclass
class _Budget:
    """How many more members this evaluation may write texts (or touches) for, or compare classes of."""

    total: int
    left: int = field(init=False)

    def __post_init__(self):
        self.left = self.total

    @property
    def is_untouched(self) -> bool:
        return self.left == self.total


@dataclass(frozen=True)
class _Due:
    """The members due an occurrence, and what sending to a batch of them does (returns the texts queued).

    With `touches` (a repeating rule), the batch is first recorded in care_touches and `send` gets the
    members touched now and not held out.
    """

    members: Select
    send: Callable[[Select], int]
    touches: bool = False


@dataclass
class _Evaluation:
    """One rule of one merchant, evaluated at `now`."""

    session: Session
    merchant: Merchant
    rule: CareRule
    now: datetime
    budget: _Budget = field(default_factory=lambda: _Budget(MEMBERS_PER_EVALUATION))

    def run(self) -> int:
        due_on = getattr(self, f"_{self.rule.kind}")
        return self._each_due_day(due_on) if self.rule.kind in DAY_BASED else due_on()

    def _each_due_day(self, due_on: Callable[[date, datetime], _Due | None]) -> int:
        """Send the day's occurrence to its members, a batch at a time (see `evaluate`), and remember in
        the rule how far it got; who is due is decided once per occurrence (a birthday told after that
        day's greetings went out waits for next year)."""
        queued = 0
        for day, due_at, after in self.due_days():
            due = due_on(day, due_at)
            resume = None
            if due is not None:
                if self.budget.left <= 0:
                    break  # this evaluation's budget is spent: the next one goes on
                members = due.members.where(Member.id > after) if after is not None else due.members
                if due.touches:
                    members, resume = self._touch_batch(members, day)
                else:
                    members, resume = self._next_batch(members)
                queued += due.send(members)
            self.rule.evaluated_through, self.rule.resume_after = due_at, resume
            if resume is not None:
                break
        return queued

    def _next_batch(self, members: Select) -> tuple[Select, int | None]:
        """The first members of `members` (by id) the budget allows, and the id to resume after when
        more are left. (Counted before sending: a concurrent evaluation that sent them first makes the
        sending find conflicts, not fewer members.)"""
        ids = members.with_only_columns(Member.id).order_by(Member.id).limit(self.budget.left).subquery("batch")
        count, last = self.session.execute(select(func.count(), func.max(ids.c.id))).one()
        self.budget.left -= count
        if not count:
            return members, None
        return members.where(Member.id <= last), (last if self.budget.left <= 0 else None)

    def _touch_batch(self, members: Select, day: date) -> tuple[Select, int | None]:
        """Touch the first members of `members` (by id) the budget allows — touched members leave the
        candidates of a repeating rule, so no count is needed: fewer touches than allowed means done.
        (Should a concurrent evaluation have touched them first, the day counts as done and what is
        left is found by the next day's look.)"""
        limit = max(1, self.budget.left // 2)  # a touch and a text for each
        touched = self.touch(members.order_by(Member.id).limit(limit), day)
        self.budget.left -= 2 * len(touched)
        return self.touched_now(), (max(touched) if len(touched) >= limit else None)

    # --- the kinds -------------------------------------------------------------------------------

    def _welcome(self) -> int:
        sent_at = self.now - timedelta(hours=self.rule.delay_hours or 0)
        joined = and_(Member.joined_at <= sent_at, Member.joined_at > sent_at - self.grace)
        return self.queue(self.members().where(joined), literal("joined"))

    def _welcome_follow_up(self) -> int:
        due_at = self.now - timedelta(days=self.rule.days)
        joined = and_(Member.joined_at <= due_at, Member.joined_at > due_at - self.grace)
        return self.queue(self.members().where(joined, Member.visit_count == 0), literal("joined"))

    def _birthday(self, day: date, due_at: datetime) -> _Due:
        born = [and_(Member.birthday_month == day.month, Member.birthday_day == day.day)]
        if (day.month, day.day) == (2, 28) and not isleap(day.year):
            born.append(and_(Member.birthday_month == 2, Member.birthday_day == 29))
        return _Due(
            self.members().where(or_(*born), Member.joined_at <= due_at),
            lambda members: self.queue(members, literal(str(day.year))),
        )

    def _anniversary(self, day: date, due_at: datetime) -> _Due | None:
        first = self.session.scalar(select(func.min(Member.joined_at)).where(Member.merchant_id == self.merchant.id))
        if first is None:
            return None
        joined_on = [
            and_(Member.joined_at >= start, Member.joined_at < end)
            for start, end in self._anniversary_days(day, first.astimezone(self.zone).year)
        ]
        if not joined_on:
            return None
        return _Due(self.members().where(or_(*joined_on)), lambda members: self.queue(members, literal(str(day.year))))

    def _holiday(self, day: date, due_at: datetime) -> _Due | None:
        festival = festivals.festival_on(self.merchant.country, self.rule.holiday, day)
        if festival is None:
            return None
        occurrence = literal(f"{_slug(festival.name)}:{day.isoformat()}")
        names = {Language.EN: festival.greeting_name, Language.ZH: festival.name_zh}
        return _Due(
            self.members().where(Member.joined_at <= due_at),
            lambda members: self.queue(members, occurrence, holiday=names),
        )

    def _after_visit(self) -> int:
        """A member's latest purchase once it is `delay_hours` old (and at most the grace more), unless
        they were asked about a visit in the last `days` days. The survey row records what was asked."""
        visited_by = self.now - timedelta(hours=self.rule.delay_hours)
        newer = Purchase.__table__.alias("newer")
        later = exists().where(newer.c.member_id == Purchase.member_id, newer.c.id > Purchase.id)
        asked = exists().where(
            VisitSurvey.member_id == Member.id, VisitSurvey.asked_at > self.now - timedelta(days=self.rule.days)
        )
        members = (
            self.members()
            .join(Purchase, Purchase.member_id == Member.id)
            .where(
                Purchase.merchant_id == self.merchant.id,
                Purchase.created_at <= visited_by,
                Purchase.created_at > visited_by - self.grace,
                ~later,
                ~asked,
            )
        )
        occurrence = literal("p").concat(cast(Purchase.id, String))
        queued = self.queue(members, occurrence)
        self.session.execute(
            _insert(self.session, VisitSurvey)
            .from_select(
                ["merchant_id", "member_id", "purchase_id", "asked_at"],
                members.with_only_columns(
                    literal(self.merchant.id), Member.id, Purchase.id, literal(self.now, UTCDateTime())
                ),
            )
            .on_conflict_do_nothing(index_elements=["purchase_id"])
        )
        return queued

    def _win_back(self, day: date, due_at: datetime) -> _Due:
        """At-risk members of the chosen class, at most once per `days` days (a holdout counts as a time)."""
        chosen = segments.SegmentFilter(
            value_classes=(self.rule.value_class,) if self.rule.value_class else (), at_risk_days=self.rule.days
        )
        at_risk = segments.filter_condition(chosen, now=due_at, timezone=self.merchant.timezone)

        return _Due(
            self.members().where(at_risk, self._not_touched_since(day)),
            lambda touched: self.queue(touched, literal(day.isoformat())),
            touches=True,
        )

    def _points_expiring(self, day: date, due_at: datetime) -> _Due | None:
        """Members with points that expire within `days` days, reminded at most once per `days` days.

        Points older than the expiry period are expired every night (`points.expire_points`), so only
        members who earned points in the `days` (and one more) days before the cutoff can be due: only
        their ledgers are summed."""
        if not self.merchant.points_expiry_months:
            return None
        expires_by = due_at + timedelta(days=self.rule.days)
        cutoff = months_before(expires_by, self.merchant.points_expiry_months)
        earned_lately = select(PointsEntry.member_id).where(
            PointsEntry.merchant_id == self.merchant.id,
            PointsEntry.points > 0,
            PointsEntry.created_at >= cutoff - timedelta(days=self.rule.days + 1),
            PointsEntry.created_at < cutoff,
        )
        expiring = self._expiring_points(cutoff, among=earned_lately).subquery()
        local = expires_by.astimezone(self.zone)
        date_text = {Language.EN: f"{local:%b} {local.day}", Language.ZH: f"{local.month}月{local.day}日"}

        def remind(touched: Select) -> int:
            with_points = touched.join(expiring, expiring.c.member_id == Member.id)
            return self.queue(with_points, literal(day.isoformat()), expiring=expiring.c.points, date=date_text)

        holders = self.members().join(expiring, expiring.c.member_id == Member.id).where(
            Member.points_balance > 0, expiring.c.points > 0, self._not_touched_since(day)
        )
        return _Due(holders, remind, touches=True)

    def _expiring_points(self, cutoff: datetime, *, among: Select) -> Select:
        """Per member of `among`, the points that expire by `cutoff` unless spent first: what is
        left of the credits made before it once every debit has taken the oldest points first (the rule
        of `points.unspent_before`; with entries in time order it is one sum per member instead of a window
        over every credit)."""
        old_credits = case((and_(PointsEntry.points > 0, PointsEntry.created_at < cutoff), PointsEntry.points), else_=0)
        debits = case((PointsEntry.points < 0, PointsEntry.points), else_=0)
        return (
            select(PointsEntry.member_id, (func.sum(old_credits) + func.sum(debits)).label("points"))
            .where(PointsEntry.member_id.in_(among))
            .group_by(PointsEntry.member_id)
        )

    def _class_upgrade(self) -> int:
        """After each recompute: members whose class is better than the one last seen; then every
        member's class is noted. A recompute older than the grace only updates what was seen."""
        computed_at = self.merchant.classes_computed_at
        looked_at = self.rule.evaluated_through
        if computed_at is None or (looked_at is not None and computed_at <= looked_at):
            return 0
        compared = self.session.scalar(select(func.count(Member.id)).where(Member.merchant_id == self.merchant.id))
        if compared > self.budget.left and not self.budget.is_untouched:
            return 0  # the comparison reads every member: it waits for an evaluation with room for it
        self.budget.left -= compared
        self.rule.evaluated_through = computed_at
        queued = 0
        if computed_at > self.now - self.grace:
            moved_up = self.members().join(ClassMark, ClassMark.member_id == Member.id).where(
                ClassMark.merchant_id == self.merchant.id,
                ClassMark.value_class.is_not(None),
                Member.value_class.is_not(None),
                Member.value_class < ClassMark.value_class,  # A < B < C
            )
            occurrence = literal(f"{computed_at:%Y%m%dT%H%M}:").concat(Member.value_class)
            queued = self.queue(moved_up, occurrence)
        self._note_classes()
        return queued

    # --- shared machinery ------------------------------------------------------------------------

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.merchant.timezone)

    @property
    def grace(self) -> timedelta:
        return timedelta(hours=self.rule.grace_hours)

    @property
    def purpose(self) -> str:
        return purpose_of(self.rule.kind)

    def members(self) -> Select:
        """The merchant's members a care text may go to: joined, not opted out."""
        return select(Member).where(
            Member.merchant_id == self.merchant.id, Member.joined_at.is_not(None), Member.is_opted_out.is_(False)
        )

    def due_days(self) -> list[tuple[date, datetime, int | None]]:
        """The local days whose occurrence (at `send_hour`) is due now and at most `grace_hours` late,
        and not finished yet: each with the member id an unfinished one got up to."""
        today = self.now.astimezone(self.zone).date()
        looked_at, resume = self.rule.evaluated_through, self.rule.resume_after
        due = []
        for back in range(self.rule.grace_hours // 24 + 2):
            day = today - timedelta(days=back)
            due_at = datetime.combine(day, time(self.rule.send_hour), tzinfo=self.zone)
            if not due_at <= self.now < due_at + self.grace:
                continue
            if looked_at is None or due_at > looked_at:
                due.append((day, due_at, None))
            elif due_at == looked_at and resume is not None:
                due.append((day, due_at, resume))
        return sorted(due)

    def _not_touched_since(self, day: date) -> ColumnElement[bool]:
        """Not touched by this repeating rule on one of the last `days` local days."""
        since = datetime.combine(day - timedelta(days=self.rule.days - 1), time(0), tzinfo=self.zone)
        return Member.id.not_in(
            select(CareTouch.member_id).where(
                CareTouch.merchant_id == self.merchant.id, CareTouch.purpose == self.purpose,
                CareTouch.created_at >= since,
            )
        )

    def touch(self, members: Select, day: date) -> list[int]:
        """For a rule that repeats at most once per `days`: record a touch of `day` for every member
        `members` selects — or, for the members drawn into the holdout (deterministically per
        occurrence, so concurrent runs agree), a holdout. Returns the ids touched."""
        drawn = literal(False)
        if self.rule.holdout_pct:
            salt = day.toordinal()
            drawn = (cast(Member.id, BigInteger) * HOLDOUT_SPREAD + salt) % 100 < self.rule.holdout_pct
        return list(self.session.execute(
            _insert(self.session, CareTouch)
            .from_select(
                ["merchant_id", "member_id", "purpose", "dedupe_key", "is_holdout", "created_at"],
                members.with_only_columns(
                    literal(self.merchant.id), Member.id, literal(self.purpose),
                    self._key(literal(day.isoformat())), drawn, literal(self.now, UTCDateTime()),
                ),
            )
            .on_conflict_do_nothing(index_elements=["merchant_id", "dedupe_key"])
            .returning(CareTouch.member_id)
        ).scalars())

    def touched_now(self) -> Select:
        """The members this evaluation touched and did not hold out: the ones to text."""
        return self.members().join(CareTouch, CareTouch.member_id == Member.id).where(
            CareTouch.merchant_id == self.merchant.id,
            CareTouch.purpose == self.purpose,
            CareTouch.created_at == self.now,
            CareTouch.is_holdout.is_(False),
        )

    def _key(self, occurrence: ColumnElement[str]) -> ColumnElement[str]:
        """`text_key` in SQL, for the member of each row."""
        prefix = text_key(self.rule.kind, "", "").removesuffix(":")  # care:<kind>:
        return literal(prefix).concat(cast(Member.id, String)).concat(":").concat(occurrence)

    def _anniversary_days(self, day: date, first_year: int) -> list[tuple[datetime, datetime]]:
        """The local days, in earlier years, whose joiners have their anniversary on `day`."""
        same_days = [(day.month, day.day)]
        if (day.month, day.day) == (2, 28) and not isleap(day.year):
            same_days.append((2, 29))
        ranges = []
        for year in range(first_year, day.year):
            for month, day_of_month in same_days:
                if (month, day_of_month) == (2, 29) and not isleap(year):
                    continue
                start = datetime.combine(date(year, month, day_of_month), time(0), tzinfo=self.zone)
                ranges.append((start, datetime.combine(start.date() + timedelta(days=1), time(0), tzinfo=self.zone)))
        return ranges

    def queue(
        self,
        members: Select,
        occurrence: ColumnElement[str],
        *,
        expiring: ColumnElement[int] | None = None,
        **values,
    ) -> int:
        """Write the rule's text for every member `members` selects, once per occurrence.

        Returns how many were queued. The rule's bonus points go with the texts (same key, same transaction).
        """
        key = self._key(occurrence)
        window = SendingWindow(self.merchant.sending_window_opens, self.merchant.sending_window_closes)
        body = _body(self.merchant, self.rule, expiring=expiring, **values)
        statement = (
            _insert(self.session, OutboundMessage)
            .from_select(
                [
                    "merchant_id", "member_id", "to_phone", "from_phone", "body", "category", "purpose", "status",
                    "dedupe_key", "send_after", "attempts", "created_at",
                ],
                members.with_only_columns(
                    literal(self.merchant.id), Member.id, Member.phone, literal(self.merchant.primary_number), body,
                    literal(Category.CARE.value), literal(self.purpose), literal(Status.QUEUED.value), key,
                    literal(window.next_open(self.now, self.merchant.timezone), UTCDateTime()), literal(0),
                    literal(self.now, UTCDateTime()),
                ),
            )
            .on_conflict_do_nothing(**DEDUPE_CONFLICT)
        )
        queued = self.session.execute(statement.execution_options(preserve_rowcount=True)).rowcount
        if queued and self._bonus_points:
            self._grant_bonus(members, key)
        return queued

    @property
    def _bonus_points(self) -> int:
        return self.merchant.birthday_bonus if self.rule.kind == CareKind.BIRTHDAY else self.rule.bonus_points

    def _grant_bonus(self, members: Select, key: ColumnElement[str]) -> None:
        """The rule's bonus for the members texted, set-based through the ledger's set-based path (their
        rows locked, one entry each, balances re-summed): the entry's key is the text's key, so a member
        gets the bonus of an occurrence once, with its text (a birthday's once a year)."""
        ids = lock_members(self.session, members.with_only_columns(Member.id))
        self.session.execute(
            _insert(self.session, PointsEntry)
            .from_select(
                [
                    "merchant_id", "member_id", "kind", "points", "balance_after", "idempotency_key", "note",
                    "created_at",
                ],
                members.with_only_columns(
                    literal(self.merchant.id), Member.id, literal(EntryKind.BONUS.value), literal(self._bonus_points),
                    Member.points_balance + self._bonus_points, key,
                    literal(f"{self.rule.kind.replace('_', ' ')} bonus"), literal(self.now, UTCDateTime()),
                ).where(Member.id.in_(ids)),
            )
            .on_conflict_do_nothing(index_elements=["merchant_id", "idempotency_key"])
        )
        resum_balances(self.session, ids)

    def _note_classes(self) -> None:
        """Remember every member's current class: one upsert of the members whose class is new or changed."""
        seen = ClassMark.__table__.alias("seen")
        changed = (
            select(Member.id, literal(self.merchant.id), Member.value_class, literal(self.now, UTCDateTime()))
            .outerjoin(seen, seen.c.member_id == Member.id)
            .where(
                Member.merchant_id == self.merchant.id,
                or_(seen.c.member_id.is_(None), seen.c.value_class.is_distinct_from(Member.value_class)),
            )
        )
        upsert = _insert(self.session, ClassMark).from_select(
            ["member_id", "merchant_id", "value_class", "seen_at"], changed
        )
        self.session.execute(upsert.on_conflict_do_update(
            index_elements=["member_id"],
            set_={"value_class": upsert.excluded.value_class, "seen_at": upsert.excluded.seen_at},
        ))


def _body(merchant: Merchant, rule: CareRule, *, expiring: ColumnElement[int] | None, **values) -> ColumnElement[str]:
    """The text in each member's language, its member placeholders filled in SQL (as campaigns fill them)."""
    branches = {}
    for language in Language:
        template = care_template(merchant, rule, language, **{name: value[language] for name, value in values.items()})
        filled = campaign_texts.fill_sql(template, merchant_name=merchant.name, language=language)
        if expiring is not None and "{expiring}" in template:
            filled = func.replace(filled, "{expiring}", cast(expiring, String))
        branches[language] = filled
    return case((Member.language == Language.ZH.value, branches[Language.ZH]), else_=branches[Language.EN])


def care_template(merchant: Merchant, rule: CareRule, language: str, **values) -> str:
    """The rule's text in `language` (the merchant's wording, else the default), with the bonus line
    when the rule grants one, the opt-out line and the 【signature】; member placeholders stay."""
    wording = (rule.texts or {}).get(language) or texts.DEFAULT_TEXTS[f"care_{rule.kind}"][language]
    bonus = merchant.birthday_bonus if rule.kind == CareKind.BIRTHDAY else rule.bonus_points
    if bonus > 0 and "{bonus}" not in wording:
        joiner = "" if language == Language.ZH else " "
        wording = wording.rstrip() + joiner + texts.DEFAULT_TEXTS["care_bonus"][language]
    body = texts.render(merchant, f"care_{rule.kind}", language, template=wording, bonus=bonus, **values)
    return campaign_texts.with_opt_out(merchant, body, language)


def _insert(session: Session, model):
    """INSERT with ON CONFLICT for the session's database (PostgreSQL or SQLite)."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(model)


def _slug(name: str) -> str:
    return _SLUG.sub("-", name.lower()).strip("-")[:40]
