"""A member's page: their balance explained entry by entry, their visits, value class, stage and referral
code; and, for the owner, a correction of the points with a note saying why."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
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
from smscrm.web.formatting import number
from smscrm.web.request_db import db_session
from smscrm.web.roles import is_owner, owner_only

blueprint = protected_blueprint("member_detail", __name__, url_prefix="/members")

STAGE_LABELS = {
    Stage.PENDING: _l("Invited, not joined yet"),
    Stage.JOINED: _l("Joined, no purchase yet"),
    Stage.FIRST_PURCHASE: _l("First purchase made"),
    Stage.REPEAT: _l("Repeat customer"),
    Stage.ADVOCATE: _l("Advocate: brought a friend who bought"),
}
CLASS_LABELS = {
    "A": _l("A — among the top spenders of the last 12 months"),
    "B": _l("B — the next tier of spenders"),
    "C": _l("C — everyone else"),
}
ENTRY_LABELS = {
    EntryKind.EARN: _l("Purchase"),
    EntryKind.REDEEM: _l("Reward"),
    EntryKind.BONUS: _l("Bonus"),
    EntryKind.ADJUST: _l("Adjustment"),
    EntryKind.EXPIRE: _l("Expired"),
    EntryKind.REVERSAL: _l("Returned"),
}
CODE_STATES = {"reserved": _l("waiting at the counter"), "confirmed": _l("handed over"), "expired": _l("expired unused")}
MAX_ADJUST, MAX_NOTE = points.MAX_ADJUST_POINTS, points.MAX_NOTE_CHARS  # the form's `points` field hides the module
WHOLE_POINTS = _l("Type a whole number of points from -%(max)s to %(max)s, like 10 or -10.", max=LazyString(number, MAX_ADJUST))


class AdjustForm(FlaskForm):
    """A correction by the owner: points to add (negative to take away) and why."""

    points = WholeNumberField(_l("Points to add (negative takes away)"), [
        InputRequired(WHOLE_POINTS), NumberRange(-MAX_ADJUST, MAX_ADJUST, message=WHOLE_POINTS),
    ], message=WHOLE_POINTS, render_kw={"inputmode": "numeric", "autocomplete": "off"})
    note = StringField(_l("Why (shown in the ledger)"), [
        DataRequired(_l("Say why the points change, like “stamp card from before we used texts”.")),
        Length(max=MAX_NOTE, message=_l("A note is at most %(max)d characters.", max=MAX_NOTE)),
    ], render_kw={"autocomplete": "off"})
    key = form_key()

    def validate_points(self, field):
        if field.data == 0:
            raise ValidationError(gettext("A correction of 0 points changes nothing: type how many to add or take away."))


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
        abort(409, gettext("Points can be corrected once the shopper has joined; until then their points wait for them."))
    if form.validate():
        try:
            entry = points.adjust(session, member, points=form.points.data, note=form.note.data, now=utcnow(),
                                  idempotency_key=f"web:{form.key.data}")
        except InsufficientPoints:
            session.rollback()
            who = member.name or phones.mask_for_staff(member.phone)
            form.points.errors.append(gettext(
                "%(who)s has %(balance)d points: you can take away at most %(balance)d.",
                who=who, balance=member.points_balance,
            ))
        except Conflict:
            session.rollback()
            error = gettext("This form was already sent for another correction. Check it and press the button again.")
            form.key.data = new_form_key()
        else:
            session.commit()
            flash(gettext("%(points)s points: %(note)s. The balance is now %(balance)d.", points=format(entry.points, "+d"),
                          note=entry.note, balance=entry.balance_after), "info")
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
