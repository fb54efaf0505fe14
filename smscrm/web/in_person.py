"""In person, at the counter: staff add a shopper who agreed there to receive texts, and record an opt-out a
member asked for there. Both are kept as consent evidence (`loyalty.in_person`)."""
from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField
from wtforms.validators import DataRequired, Length

from smscrm.db.engine import utcnow
from smscrm.errors import Conflict
from smscrm.loyalty import in_person, members
from smscrm.messaging import phones
from smscrm.web.auth import protected_blueprint
from smscrm.web.counter import PhoneForm
from smscrm.web.member_detail import LANGUAGE_CHOICES, find_member_or_404
from smscrm.web.request_db import db_session

blueprint = protected_blueprint("in_person", __name__, url_prefix="/members")


class JoinInPersonForm(PhoneForm):
    name = StringField(_l("Name (optional)"), [Length(max=members.MAX_NAME_CHARS, message=_l(
        "A name is at most %(max)d characters.", max=members.MAX_NAME_CHARS))], render_kw={"autocomplete": "off"})
    language = SelectField(_l("Texts in"), choices=LANGUAGE_CHOICES)
    has_agreed = BooleanField(_l("The shopper agreed, here in person, to receive texts from us"), [DataRequired(
        _l("Ask the shopper whether they agree to receive texts, and tick the box only if they say yes."))])


class OptOutForm(FlaskForm):
    """A button: the member asked at the counter to get no more texts."""


@blueprint.route("/new", methods=["GET", "POST"])
def new():
    merchant = current_user.merchant
    form, error = JoinInPersonForm(merchant), None
    if not form.is_submitted():
        form.language.data = merchant.default_language
    if form.validate_on_submit():
        session = db_session()
        try:
            member = in_person.join_in_person(session, merchant, form.e164, name=form.name.data,
                                              language=form.language.data, now=utcnow())
        except Conflict:
            session.rollback()
            existing = members.find(session, merchant.id, form.e164)
            error = gettext("This phone is already a member, opted in.")
            return render_template("members/new.html", form=form, error=error, existing=existing), 409
        session.commit()
        flash(gettext("%(who)s joined in person; their consent is recorded.", who=member.name or phones.mask_for_staff(member.phone)), "info")
        return redirect(url_for("member_detail.show", member_id=member.id))
    status = 400 if form.errors else 200
    return render_template("members/new.html", form=form, error=error, existing=None), status


@blueprint.post("/<id:member_id>/opt-out")
def opt_out(member_id: int):
    session, member, form = db_session(), find_member_or_404(member_id), OptOutForm()
    if not form.validate():
        flash(gettext("This form has expired. Press the button again."), "error")
        return redirect(url_for("member_detail.show", member_id=member.id))
    try:
        in_person.opt_out_in_person(session, member, now=utcnow())
    except Conflict:
        session.rollback()
        flash(gettext("This member has already opted out; nothing changed."), "info")
    else:
        session.commit()
        flash(gettext("Opt-out recorded: this member gets no more marketing or care texts."), "info")
    return redirect(url_for("member_detail.show", member_id=member.id))
