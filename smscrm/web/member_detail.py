"""A member's page: their balance explained entry by entry, their visits, value class, stage and referral code."""
from __future__ import annotations

from flask import abort, render_template, request
from flask_login import current_user

from smscrm import statements
from smscrm.models import EntryKind, Stage
from smscrm.request_db import db_session
from smscrm.web.auth import protected_blueprint
from smscrm.web.rows import ROW_ID

blueprint = protected_blueprint("member_detail", __name__, url_prefix="/members")

STAGE_LABELS = {
    Stage.PENDING: "Invited, not joined yet",
    Stage.JOINED: "Joined, no purchase yet",
    Stage.FIRST_PURCHASE: "First purchase made",
    Stage.REPEAT: "Repeat customer",
    Stage.ADVOCATE: "Advocate: brought a friend who bought",
}
CLASS_LABELS = {
    "A": "A — among the top spenders of the last 12 months",
    "B": "B — the next tier of spenders",
    "C": "C — everyone else",
}
ENTRY_LABELS = {
    EntryKind.EARN: "Purchase",
    EntryKind.REDEEM: "Reward",
    EntryKind.BONUS: "Bonus",
    EntryKind.ADJUST: "Adjustment",
    EntryKind.EXPIRE: "Expired",
    EntryKind.REVERSAL: "Returned",
}
CODE_STATES = {"reserved": "waiting at the counter", "confirmed": "handed over", "expired": "expired unused"}


@blueprint.get(f"/<{ROW_ID}:member_id>")
def show(member_id: int):
    session = db_session()
    member = statements.find_member(session, current_user.merchant_id, member_id)
    if member is None:
        abort(404)
    ledger = statements.statement(session, current_user.merchant_id, member.id, page=request.args.get("page", 1, type=int))
    return render_template(
        "members/detail.html", member=member, ledger=ledger, held=statements.held_points(session, member.id), stage_labels=STAGE_LABELS, class_labels=CLASS_LABELS,
        entry_labels=ENTRY_LABELS, code_states=CODE_STATES,
    )
