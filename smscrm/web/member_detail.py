"""A member's page: their balance explained entry by entry, their visits, value class, stage and referral
code; and, for the owner, a correction of the points with a note saying why."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    ValidationError,
)

from smscrm import points
from smscrm.db.engine import utcnow
from smscrm.errors import Conflict, InsufficientPoints
from smscrm.loyalty import points_history
from smscrm.messaging import phones
from smscrm.models import EntryKind, Member, Stage
from smscrm.web.auth import protected_blueprint
from smscrm.web.fields import STALE_FORM, WholeNumberField, form_key, new_form_key
from smscrm.web.request_db import db_session
from smscrm.web.roles import is_owner, owner_only

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
MAX_ADJUST, MAX_NOTE = points.MAX_ADJUST_POINTS, points.MAX_NOTE_CHARS  # the form's `points` field hides the module
WHOLE_POINTS = f"Type a whole number of points from -{MAX_ADJUST:,} to {MAX_ADJUST:,}, like 10 or -10."


class AdjustForm(FlaskForm):
    """A correction by the owner: points to add (negative to take away) and why."""

    points = WholeNumberField("Points to add (negative takes away)", [
        InputRequired(WHOLE_POINTS), NumberRange(-MAX_ADJUST, MAX_ADJUST, message=WHOLE_POINTS),
    ], message=WHOLE_POINTS, render_kw={"inputmode": "numeric", "autocomplete": "off"})
    note = StringField("Why (shown in the ledger)", [
        DataRequired("Say why the points change, like “stamp card from before we used texts”."),
        Length(max=MAX_NOTE, message=f"A note is at most {MAX_NOTE} characters."),
    ], render_kw={"autocomplete": "off"})
    key = form_key()

    def validate_points(self, field):
        if field.data == 0:
            raise ValidationError("A correction of 0 points changes nothing: type how many to add or take away.")


@blueprint.get("/<id:member_id>")
def show(member_id: int):
    form = AdjustForm(formdata=None, key=new_form_key()) if is_owner() else None
    return _page(_member(member_id), form)


@blueprint.post("/<id:member_id>/adjust")
@owner_only
def adjust(member_id: int):
    session, member, form = db_session(), _member(member_id), AdjustForm()
    error = None
    if not member.is_joined:
        abort(409, "Points can be corrected once the shopper has joined; until then their points wait for them.")
    if form.validate():
        try:
            entry = points.adjust(session, member, points=form.points.data, note=form.note.data, now=utcnow(),
                                  idempotency_key=f"web:{form.key.data}")
        except InsufficientPoints:
            session.rollback()
            who = member.name or phones.mask_for_staff(member.phone)
            form.points.errors.append(
                f"{who} has {member.points_balance} points: you can take away at most {member.points_balance}."
            )
        except Conflict:
            session.rollback()
            error = "This form was already sent for another correction. Check it and press the button again."
            form.key.data = new_form_key()
        else:
            session.commit()
            flash(f"{entry.points:+d} points: {entry.note}. The balance is now {entry.balance_after}.", "info")
            return redirect(url_for(".show", member_id=member.id))
    elif form.key.errors:
        error, form.key.errors = STALE_FORM, []
        form.key.data = new_form_key()
    return _page(member, form, error=error)


def _member(member_id: int) -> Member:
    member = points_history.find_member(db_session(), current_user.merchant_id, member_id)
    if member is None:
        abort(404)
    return member


def _page(member: Member, adjust_form: AdjustForm | None, *, error: str | None = None):
    session = db_session()
    ledger = points_history.statement(session, current_user.merchant_id, member.id, page=request.args.get("page", 1, type=int))
    return render_template(
        "members/detail.html", member=member, ledger=ledger, held=points_history.held_points(session, member.id),
        adjust_form=adjust_form, adjust_error=error, stage_labels=STAGE_LABELS, class_labels=CLASS_LABELS,
        entry_labels=ENTRY_LABELS, code_states=CODE_STATES,
    )
