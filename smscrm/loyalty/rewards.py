"""The rewards catalog and redeeming points for rewards: at the counter, or by SMS with a one-time code.

`REDEEM <reward code>` reserves the points (a `redeem` ledger entry) and texts a one-time code valid
for the merchant's `redemption_code_days`; staff confirm the code at the counter. A code not
confirmed in time expires and its points come back as a `reversal` entry (`release_expired_redemptions`,
run by the scheduler and before a member redeems again). Stock is taken with the points and returned
with them.
"""
from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import (
    String,
    and_,
    cast,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from smscrm.db.types import UTCDateTime
from smscrm.errors import (
    N_,
    Conflict,
    InsufficientPoints,
    NotFound,
    RedemptionCodeExpired,
    RedemptionCodeInvalid,
    RedemptionCodeUsed,
    RewardUnavailable,
    ValidationError,
)
from smscrm.loyalty.codes import normalise_code, random_code
from smscrm.loyalty.ledger import lock_members, post, resum_balances
from smscrm.messaging import texts
from smscrm.models import (
    EntryKind,
    Language,
    Member,
    Merchant,
    PointsEntry,
    Redemption,
    RedemptionChannel,
    RedemptionStatus,
    Reward,
)
from smscrm.sending import parts

REDEMPTION_CODE_LENGTH = 6
REWARD_CODE = re.compile(r"^[A-Z0-9]{1,12}$")
MAX_REWARD_NAME_CHARS = 30  # the redemption code's text fits one SMS part (tests/messaging/test_reply_parts.py)
MAX_REWARD_NAME_ZH_CHARS = 10
MAX_POINTS_COST = 10_000_000
MAX_STOCK = 1_000_000
MAX_KEY_CHARS = 80
CATALOG_IN_A_TEXT = 5
_UNCHANGED = object()


# -- the catalog -------------------------------------------------------------------------------------


def create_reward(
    session: Session,
    merchant: Merchant,
    *,
    code: str,
    name: str,
    points_cost: int,
    now: datetime,
    name_zh: str | None = None,
    stock: int | None = None,
    is_active: bool = True,
) -> Reward:
    """A reward in the merchant's catalog; `code` is what shoppers text (REDEEM <code>), unique per merchant.
    `name_zh` is its name in Chinese texts (None: `name`)."""
    code = normalise_code(code)
    if not REWARD_CODE.match(code):
        raise ValidationError(N_("the reward code must be 1 to 12 letters or digits, e.g. TEA or A1"))
    if find_reward(session, merchant, code) is not None:
        raise Conflict(N_("the merchant already has a reward with the code %(reward)s"), reward=code)
    reward = Reward(merchant_id=merchant.id, code=code, created_at=now, is_active=True)
    update_reward(session, reward, name=name, name_zh=name_zh, points_cost=points_cost, stock=stock,
                  is_active=is_active)
    session.add(reward)
    session.flush()
    return reward


def update_reward(session: Session, reward: Reward, *, name=_UNCHANGED, name_zh=_UNCHANGED, points_cost=_UNCHANGED,
                  stock=_UNCHANGED, is_active=_UNCHANGED) -> Reward:
    """Change what is passed, after checking all of it. `stock=None` means unlimited, `name_zh=None` no Chinese
    name."""
    if name is not _UNCHANGED:
        name = " ".join((name or "").split()) if isinstance(name, str) else ""
        if not name or len(name) > MAX_REWARD_NAME_CHARS:
            raise ValidationError(N_("the reward name must be 1 to %(count)s characters"), count=MAX_REWARD_NAME_CHARS)
    if name_zh is not _UNCHANGED:
        if name_zh is not None and not isinstance(name_zh, str):
            raise ValidationError(N_("the Chinese name must be text"))
        name_zh = " ".join((name_zh or "").split()) or None
        if name_zh and len(name_zh) > MAX_REWARD_NAME_ZH_CHARS:
            raise ValidationError(N_("the reward's Chinese name must be at most %(count)s characters"),
                                  count=MAX_REWARD_NAME_ZH_CHARS)
    if points_cost is not _UNCHANGED and not _whole(points_cost, 1, MAX_POINTS_COST):
        raise ValidationError(f"points_cost must be a whole number from 1 to {MAX_POINTS_COST}")
    if stock is not _UNCHANGED and stock is not None and not _whole(stock, 0, MAX_STOCK):
        raise ValidationError(f"stock must be empty (unlimited) or a whole number from 0 to {MAX_STOCK}")
    if is_active is not _UNCHANGED and not isinstance(is_active, bool):
        raise ValidationError("is_active must be true or false")
    changes = (("name", name), ("name_zh", name_zh), ("points_cost", points_cost), ("stock", stock),
               ("is_active", is_active))
    for field, value in changes:
        if value is not _UNCHANGED:
            setattr(reward, field, value)
    session.flush()
    return reward


def _whole(value, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def list_rewards(session: Session, merchant: Merchant, *, active_only: bool = False) -> list[Reward]:
    """The catalog, cheapest first."""
    query = select(Reward).where(Reward.merchant_id == merchant.id)
    if active_only:
        query = query.where(Reward.is_active)
    return list(session.scalars(query.order_by(Reward.points_cost, Reward.code)))


def find_reward(session: Session, merchant: Merchant, code: str) -> Reward | None:
    return session.scalar(select(Reward).where(Reward.merchant_id == merchant.id, Reward.code == normalise_code(code)))


def reward_for_text(session: Session, merchant: Merchant, text: str) -> Reward | None:
    """The reward a shopper asked for after REDEEM / 兑换: by its code, else by its name in either language
    (兑换 绿茶; letters in any case)."""
    name = " ".join(unicodedata.normalize("NFKC", text or "").split()).lower()
    return find_reward(session, merchant, text) or session.scalars(
        select(Reward)
        .where(Reward.merchant_id == merchant.id,
               or_(func.lower(Reward.name_zh) == name, func.lower(Reward.name) == name))
        .order_by(Reward.id)
        .limit(1)
    ).first()


def reward_name(reward: Reward, language: str) -> str:
    """The reward's name in a text in `language`: its Chinese name in Chinese, when it has one."""
    return (reward.name_zh if language == Language.ZH else None) or reward.name


def get_reward(session: Session, merchant: Merchant, reward_id: int) -> Reward:
    reward = session.get(Reward, reward_id)
    if reward is None or reward.merchant_id != merchant.id:
        raise NotFound(N_("the merchant has no reward %(id)s"), id=reward_id)
    return reward


# -- redeeming ---------------------------------------------------------------------------------------


def redeem_at_counter(
    session: Session,
    merchant: Merchant,
    member: Member,
    reward: Reward,
    *,
    now: datetime,
    idempotency_key: str | None = None,
) -> Redemption:
    """Staff give a member who is present a reward: the points leave the balance at once.

    A retry with the same idempotency key returns the first redemption. Raises InsufficientPoints,
    RewardUnavailable (switched off or out of stock), NotFound for another merchant's member or reward.
    """
    _check_owner(merchant, member, reward)
    key = _key(idempotency_key)
    if key is not None:
        seen = _redemption_by_key(session, merchant, key)
        if seen is not None:
            return _replayed(seen, member, reward)
    release_expired_redemptions(session, now=now, member=member)
    try:
        return _redeem(
            session, merchant, member, reward, now=now, channel=RedemptionChannel.COUNTER,
            status=RedemptionStatus.CONFIRMED, idempotency_key=key, confirmed_at=now,
        )
    except IntegrityError:
        seen = _redemption_by_key(session, merchant, key) if key is not None else None  # a concurrent retry won
        if seen is None:
            raise
        return _replayed(seen, member, reward)


def request_redemption(
    session: Session, merchant: Merchant, member: Member, reward_code: str, *, now: datetime
) -> Redemption:
    """REDEEM <code> by SMS: reserve the reward's points and issue a one-time code valid for N days.

    Raises NotFound for an unknown reward code, RewardUnavailable, InsufficientPoints.
    """
    _check_owner(merchant, member, None)
    reward = find_reward(session, merchant, reward_code)
    if reward is None:
        shown = normalise_code(reward_code) or "(empty)"
        raise NotFound(N_("there is no reward with the code %(reward)s"), code="reward_not_found", reward=shown)
    release_expired_redemptions(session, now=now, member=member)
    return _redeem(
        session, merchant, member, reward, now=now, channel=RedemptionChannel.SMS, status=RedemptionStatus.RESERVED,
        code=_new_redemption_code(session, merchant), expires_at=now + timedelta(days=merchant.redemption_code_days),
    )


def confirm_redemption(session: Session, merchant: Merchant, code: str, *, now: datetime) -> Redemption:
    """Staff confirm a one-time code at the counter: the reservation is consumed and the reward handed over.

    Raises RedemptionCodeInvalid (no such code here), RedemptionCodeUsed (confirmed before),
    RedemptionCodeExpired (too late: the points go back to the member, flushed before raising, so a caller
    that commits returns them at once; otherwise `release_expired_redemptions` does on its next run).
    """
    redemption = session.scalar(
        select(Redemption).where(Redemption.merchant_id == merchant.id, Redemption.code == normalise_code(code))
    )
    if redemption is None:
        raise RedemptionCodeInvalid(N_("there is no redemption code %(given)s at this shop"),
                                    given=normalise_code(code) or "(empty)")
    consumed = session.execute(
        update(Redemption)
        .where(
            Redemption.id == redemption.id,
            Redemption.status == RedemptionStatus.RESERVED,
            Redemption.expires_at > now,
        )
        .values(status=RedemptionStatus.CONFIRMED, confirmed_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    session.refresh(redemption)
    if consumed:
        return redemption
    if redemption.status == RedemptionStatus.CONFIRMED:
        raise RedemptionCodeUsed(
            N_("the code %(given)s was already used on %(at)s UTC"), given=redemption.code,
            at=f"{redemption.confirmed_at:%Y-%m-%d %H:%M}",
        )
    release_expired_redemptions(session, now=now, member=session.get(Member, redemption.member_id))
    raise RedemptionCodeExpired(
        N_("the code %(given)s expired on %(at)s UTC; its points go back to the member"), given=redemption.code,
        at=f"{redemption.expires_at:%Y-%m-%d %H:%M}",
    )


def _check_owner(merchant: Merchant, member: Member, reward: Reward | None) -> None:
    if member.merchant_id != merchant.id:
        raise NotFound(N_("no such member at this shop"))
    if reward is not None and reward.merchant_id != merchant.id:
        raise NotFound(N_("no such reward at this shop"))


def _key(value: str | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value.strip()) > MAX_KEY_CHARS:
        raise ValidationError(f"the idempotency key must be text of at most {MAX_KEY_CHARS} characters")
    return value.strip() or None


def _redemption_by_key(session: Session, merchant: Merchant, key: str) -> Redemption | None:
    return session.scalar(
        select(Redemption).where(Redemption.merchant_id == merchant.id, Redemption.idempotency_key == key)
    )


def _replayed(redemption: Redemption, member: Member, reward: Reward) -> Redemption:
    if (redemption.member_id, redemption.reward_id) != (member.id, reward.id):
        raise Conflict(
            "this idempotency key was already used for a different redemption", code="idempotency_key_reused"
        )
    return redemption


def _redeem(
    session: Session, merchant: Merchant, member: Member, reward: Reward, *, now: datetime, **fields
) -> Redemption:
    """Take the points (member row lock first) and one of the stock (reward row lock second), or nothing."""
    if not member.is_joined:
        raise InsufficientPoints(N_("only members who have joined can redeem points"))
    if not reward.is_active:
        raise RewardUnavailable(N_("the reward %(reward)s is switched off"), reward=reward.code)
    try:
        with session.begin_nested():
            redemption = Redemption(
                merchant_id=merchant.id, member_id=member.id, reward_id=reward.id, points_cost=reward.points_cost,
                created_at=now, **fields,
            )
            session.add(redemption)
            session.flush()
            post(
                session, member, kind=EntryKind.REDEEM, points=-reward.points_cost,
                key=f"redemption:{redemption.id}", now=now, redemption_id=redemption.id, note=reward.name,
            )
            _take_stock(session, reward)
    except Exception:
        session.expire(member, ["points_balance"])  # the savepoint rolled back what was read into them
        session.expire(reward, ["stock"])
        raise
    return redemption


def _take_stock(session: Session, reward: Reward) -> None:
    stock = session.execute(
        update(Reward)
        .where(Reward.id == reward.id, Reward.is_active, or_(Reward.stock.is_(None), Reward.stock > 0))
        .values(stock=Reward.stock - 1)
        .returning(Reward.id, Reward.stock)
        .execution_options(synchronize_session=False)
    ).first()
    if stock is None:
        raise RewardUnavailable(N_("the reward %(reward)s is out of stock"), reward=reward.code)
    set_committed_value(reward, "stock", stock.stock)


def _new_redemption_code(session: Session, merchant: Merchant) -> str:
    """A fresh code no redemption at this merchant has had (32^6 ≈ 10^9 codes, so a retry is rare)."""
    while True:
        code = random_code(REDEMPTION_CODE_LENGTH)
        taken = exists().where(Redemption.merchant_id == merchant.id, Redemption.code == code)
        if not session.scalar(select(taken)):
            return code


def release_expired_redemptions(session: Session, *, now: datetime, member: Member | None = None) -> int:
    """Give back the points and stock of every code past its validity (only `member`'s when given); how many.

    Set-based; safe to run twice (a released reservation is no longer `reserved`, and its reversal
    entry's key is unique).
    """
    due = and_(Redemption.status == RedemptionStatus.RESERVED, Redemption.expires_at <= now)
    if member is not None:
        due = and_(due, Redemption.member_id == member.id)
    holders = select(Redemption.member_id).where(due)
    if not session.scalar(select(exists().where(due))):
        return 0
    _lock_due(session, due)
    running = func.sum(Redemption.points_cost).over(partition_by=Redemption.member_id, order_by=Redemption.id)
    session.execute(
        insert(PointsEntry).from_select(
            ["merchant_id", "member_id", "kind", "points", "balance_after", "idempotency_key", "note",
             "redemption_id", "created_at"],
            select(
                Redemption.merchant_id, Redemption.member_id, literal(EntryKind.REVERSAL.value), Redemption.points_cost,
                Member.points_balance + running, literal("release:").concat(cast(Redemption.id, String)),
                literal("code ").concat(Redemption.code).concat(" expired unused"), Redemption.id,
                literal(now, UTCDateTime()),
            )
            .join(Member, Member.id == Redemption.member_id)
            .where(due),
        )
    )
    returned_stock = select(func.count()).where(due, Redemption.reward_id == Reward.id).scalar_subquery()
    session.execute(
        update(Reward)
        .where(Reward.stock.is_not(None), Reward.id.in_(select(Redemption.reward_id).where(due)))
        .values(stock=Reward.stock + returned_stock)
        .execution_options(synchronize_session=False)
    )
    resum_balances(session, holders)
    released = session.execute(
        update(Redemption)
        .where(due)
        .values(status=RedemptionStatus.EXPIRED, released_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    for loaded in list(session.identity_map.values()):
        if isinstance(loaded, (Redemption, Reward)):
            session.expire(loaded)
    return released


def _lock_due(session: Session, due) -> None:
    """PostgreSQL: lock the due reservations, so a confirmation cannot slip in, and their members' rows."""
    if session.get_bind().dialect.name != "postgresql":
        return
    locked = select(Redemption.id).where(due).order_by(Redemption.id).with_for_update()
    session.execute(select(func.count()).select_from(locked.subquery()))
    lock_members(session, select(Redemption.member_id).where(due))


# -- the REDEEM text ---------------------------------------------------------------------------------


def answer_redeem_text(
    session: Session, merchant: Merchant, member: Member, argument: str, *, now: datetime
) -> tuple[str, dict]:
    """The reply key and values for `REDEEM <code>` / `兑换 <code or name>` from a member who has joined."""
    rewards = list_rewards(session, merchant, active_only=True)
    if not rewards:
        return "redeem_no_rewards", {}
    language = member.language
    if not normalise_code(argument):
        values = {"example": rewards[0].code, "balance": member.points_balance}
        return "redeem_catalog", _with_catalog(merchant, rewards, "redeem_catalog", language, values)
    reward = reward_for_text(session, merchant, argument)
    if reward is None:
        values = {"code": normalise_code(argument)[:12]}
        return "redeem_unknown", _with_catalog(merchant, rewards, "redeem_unknown", language, values)
    name = reward_name(reward, language)
    try:
        redemption = request_redemption(session, merchant, member, reward.code, now=now)
    except RewardUnavailable:
        return "redeem_unavailable", {"reward": name}
    except InsufficientPoints:
        return "redeem_insufficient", {"reward": name, "cost": reward.points_cost, "balance": member.points_balance}
    expires = redemption.expires_at.astimezone(ZoneInfo(merchant.timezone))
    return "redemption_code", {
        "reward": name, "code": redemption.code, "expires": f"{expires:%Y-%m-%d}",
        "cost": reward.points_cost, "balance": member.points_balance,
    }


def _with_catalog(merchant: Merchant, rewards: list[Reward], key: str, language: str, values: dict) -> dict:
    """`values` with the catalog: the cheapest rewards, as many as the reply holds in one SMS part (at least one)."""
    for shown in range(min(len(rewards), CATALOG_IN_A_TEXT), 0, -1):
        catalog = "; ".join(f"{r.code} {reward_name(r, language)} ({r.points_cost})" for r in rewards[:shown])
        if parts.count(texts.render(merchant, key, language, catalog=catalog, **values)).parts == 1:
            break
    return {**values, "catalog": catalog}
