"""Rewards through the API: the catalog, redeeming at the counter, and confirming a one-time code.

Redeeming takes the points at once (the member is at the counter); a retry with the same
`Idempotency-Key` returns the first redemption. A code a member got by texting REDEEM is
confirmed with `POST /redemptions/confirm`: 404 unknown, 409 already used, 410 expired (its
points are back on the member's balance by the time the answer arrives).
"""
from __future__ import annotations

import re

from flask import jsonify
from sqlalchemy import select

from smscrm import points
from smscrm.api import blueprint, inputs
from smscrm.api.auth import current_merchant
from smscrm.api.members import iso, member_by_phone
from smscrm.db.engine import utcnow
from smscrm.errors import NotFound, RedemptionCodeExpired, ValidationError
from smscrm.loyalty import codes, rewards
from smscrm.models import EntryKind, Member, PointsEntry, Redemption, Reward
from smscrm.web.request_db import db_session

REDEMPTION_CODE = re.compile(rf"^[{codes.CODE_ALPHABET}]{{{rewards.REDEMPTION_CODE_LENGTH}}}$")
MAX_CODE_CHARS = 20  # room for spaces or dashes the way a shopper reads a code out


def reward_json(reward: Reward) -> dict:
    return {
        "id": reward.id,
        "code": reward.code,
        "name": reward.name,
        "name_zh": reward.name_zh,
        "points_cost": reward.points_cost,
        "stock": reward.stock,
        "is_active": reward.is_active,
    }


def redemption_json(redemption: Redemption) -> dict:
    session = db_session()
    balance_after = session.scalar(
        select(PointsEntry.balance_after).where(
            PointsEntry.redemption_id == redemption.id, PointsEntry.kind == EntryKind.REDEEM
        )
    )
    return {
        "id": redemption.id,
        "member_id": redemption.member_id,
        "phone": session.get(Member, redemption.member_id).phone,
        "reward": {"code": redemption.reward.code, "name": redemption.reward.name},
        "points_cost": redemption.points_cost,
        "balance_after": balance_after,
        "channel": redemption.channel,
        "status": redemption.status,
        "code": redemption.code,
        "expires_at": iso(redemption.expires_at),
        "confirmed_at": iso(redemption.confirmed_at),
        "created_at": iso(redemption.created_at),
    }


@blueprint.get("/rewards")
def list_rewards():
    """The rewards members can redeem now, cheapest first."""
    inputs.only_query_parameters()
    catalog = rewards.list_rewards(db_session(), current_merchant(), active_only=True)
    return jsonify(rewards=[reward_json(reward) for reward in catalog])


@blueprint.post("/redemptions")
def redeem():
    inputs.only_query_parameters()
    merchant = current_merchant()
    key = inputs.idempotency_key()
    body = inputs.json_body(required=("phone", "reward"))
    reward_code = inputs.text(body["reward"], field="reward", max_chars=MAX_CODE_CHARS)
    member = member_by_phone(body["phone"])
    session = db_session()
    reward = rewards.find_reward(session, merchant, reward_code)
    if reward is None:
        raise NotFound(f"there is no reward with the code {reward_code!r}; GET /rewards lists them", code="reward_not_found")
    now = utcnow()
    redemption = points.redeem_at_counter(session, merchant, member, reward, now=now, idempotency_key=key)
    session.commit()
    response = jsonify(redemption_json(redemption))
    response.status_code = 201
    if redemption.created_at != now:
        response.headers["Idempotent-Replayed"] = "true"
    return response


@blueprint.post("/redemptions/confirm")
def confirm():
    inputs.only_query_parameters()
    body = inputs.json_body(required=("code",))
    raw = inputs.text(body["code"], field="code", max_chars=MAX_CODE_CHARS)
    code = codes.normalise_code(raw)
    if not REDEMPTION_CODE.match(code):
        raise ValidationError(
            f"{raw!r} is not a redemption code: they are {rewards.REDEMPTION_CODE_LENGTH} letters and digits "
            "(no 0, 1, I or O), e.g. K7Q2MX",
            code="invalid_code",
        )
    session = db_session()
    try:
        redemption = points.confirm_redemption(session, current_merchant(), code, now=utcnow())
    except RedemptionCodeExpired:
        session.commit()  # the expired reservation's points go back to the member now
        raise
    session.commit()
    return jsonify(redemption_json(redemption))
