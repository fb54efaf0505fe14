"""A member's page: their details (staff edit name, birthday, language, interests, notes), their balance
explained entry by entry, their visits, value class, stage, referrals, their texts both ways and the evidence of
their consent; and, for the owner, a correction of the points with a note saying why."""
from __future__ import annotations

import re

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from smscrm import points
from smscrm.db.engine import utcnow
from smscrm.errors import Conflict, InsufficientPoints
from smscrm.errors import ValidationError as BadValue
from smscrm.loyalty import points_history, profiles, referrals
from smscrm.loyalty.members import MAX_NAME_CHARS
from smscrm.messaging import consent, phones, timeline
from smscrm.models import ConsentChannel, EntryKind, Member, ReferralStatus, Stage, Status
from smscrm.web.auth import protected_blueprint
from smscrm.web.campaign_forms import month_name
from smscrm.web.fields import STALE_FORM, WholeNumberField, form_key, new_form_key
from smscrm.web.formatting import number
from smscrm.web.i18n import sentence
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
LANGUAGE_CHOICES = [SelectChoice("en", "English"), SelectChoice("zh", "中文")]
CONSENT_CHANNELS = {
    ConsentChannel.SMS: _l("by text"), ConsentChannel.CARRIER: _l("by the carrier (the number refuses our texts)"),
    ConsentChannel.WEB: _l("on the web"), ConsentChannel.API: _l("through the shop's system"),
    ConsentChannel.IN_PERSON: _l("in person, recorded by staff"),
}
REFERRAL_STATES = {
    ReferralStatus.INVITED: _l("invited"), ReferralStatus.JOINED: _l("joined"),
    ReferralStatus.REWARDED: _l("bought: both got the bonus"),
}
DELIVERY_STATES = {
    Status.QUEUED: _l("waiting to be sent"), Status.SENDING: _l("sending"), Status.SENT: _l("sent"),
    Status.DELIVERED: _l("delivered"), Status.UNDELIVERED: _l("not delivered"), Status.FAILED: _l("failed"),
    Status.SUPPRESSED: _l("not sent: opted out"), Status.REPLIED: _l("replied at once"),
    Status.HELD: _l("held: campaign paused"), Status.CANCELLED: _l("cancelled"),
    Status.SKIPPED: _l("not sent: a sending rule"),
}
INTERESTS_HINT = _l("Separate them with commas, like: green tea, cakes")
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


class ProfileForm(FlaskForm):
    """The member's details as staff keep them; every field may be left empty but the language."""

    name = StringField(_l("Name"), [Length(max=MAX_NAME_CHARS, message=_l(
        "A name is at most %(max)d characters.", max=MAX_NAME_CHARS))], render_kw={"autocomplete": "off"})
    birthday_month = SelectField(_l("Birthday month"), coerce=lambda value: int(value) if value else None, choices=[
        SelectChoice("", _l("Not known")), *(SelectChoice(str(month), LazyString(month_name, month)) for month in range(1, 13))
    ])
    birthday_day = IntegerField(_l("Birthday day"), [Optional(), NumberRange(1, 31, message=_l(
        "A day of the month is 1 to 31."))], render_kw={"inputmode": "numeric", "autocomplete": "off"})
    language = SelectField(_l("Texts in"), choices=LANGUAGE_CHOICES)
    interests = StringField(_l("Interests"), [Length(max=profiles.MAX_INTERESTS * 42)], description=INTERESTS_HINT,
                            render_kw={"autocomplete": "off"})
    notes = TextAreaField(_l("Notes (only staff see them)"), [Length(max=profiles.MAX_NOTES_CHARS, message=_l(
        "Notes are at most %(max)d characters.", max=profiles.MAX_NOTES_CHARS))])

    def validate(self, extra_validators=None) -> bool:
        is_valid = super().validate(extra_validators)
        month, day = self.birthday_month.data, self.birthday_day.data
        if is_valid and (day is None) != (month is None):
            self.birthday_day.errors = [gettext("Give both the month and the day of the birthday, or neither.")]
            return False
        if is_valid and month and not profiles.is_day_of_year(month, day):
            self.birthday_day.errors = [gettext("%(month)s has no day %(day)d.", month=month_name(month), day=day)]
            return False
        return is_valid

    def fill_from(self, member: Member) -> None:
        self.name.data, self.language.data, self.notes.data = member.name, member.language, member.notes
        self.birthday_month.data, self.birthday_day.data = member.birthday_month, member.birthday_day
        self.interests.data = ", ".join(interest.topic for interest in member.interests)

    def profile(self) -> profiles.Profile:
        birthday = (self.birthday_month.data, self.birthday_day.data) if self.birthday_month.data else None
        topics = tuple(topic for topic in re.split(r"[,，、;；]", self.interests.data or "") if topic.strip())
        return profiles.Profile(name=self.name.data, birthday=birthday, language=self.language.data,
                                interests=topics, notes=self.notes.data)


@blueprint.get("/<id:member_id>")
def show(member_id: int):
    form = AdjustForm(formdata=None, key=new_form_key()) if is_owner() else None
    return _page(find_member_or_404(member_id), form)


@blueprint.post("/<id:member_id>/profile")
def edit_profile(member_id: int):
    session, member, form = db_session(), find_member_or_404(member_id), ProfileForm()
    if form.validate():
        try:
            profiles.update_profile(session, member, form.profile(), now=utcnow())
        except BadValue as exc:
            session.rollback()
            form.birthday_day.errors = [sentence(exc)]
        else:
            session.commit()
            flash(gettext("Details saved."), "info")
            return redirect(url_for(".show", member_id=member.id))
    adjust_form = AdjustForm(formdata=None, key=new_form_key()) if is_owner() else None
    return _page(member, adjust_form, profile_form=form), 400


@blueprint.post("/<id:member_id>/adjust")
@owner_only
def adjust(member_id: int):
    session, member, form = db_session(), find_member_or_404(member_id), AdjustForm()
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


def find_member_or_404(member_id: int) -> Member:
    member = points_history.find_member(db_session(), current_user.merchant_id, member_id)
    if member is None:
        abort(404)
    return member


def _page(member: Member, adjust_form: AdjustForm | None, *, error: str | None = None,
          profile_form: ProfileForm | None = None):
    session = db_session()
    if profile_form is None:
        profile_form = ProfileForm(formdata=None)
        profile_form.fill_from(member)
    ledger = points_history.statement(session, current_user.merchant_id, member.id, page=request.args.get("page", 1, type=int))
    brought_by, brought = referrals.referrals_of(session, member)
    return render_template(
        "members/detail.html", member=member, ledger=ledger, held=points_history.held_points(session, member.id),
        adjust_form=adjust_form, adjust_error=error, stage_labels=STAGE_LABELS, class_labels=CLASS_LABELS,
        entry_labels=ENTRY_LABELS, code_states=CODE_STATES, profile_form=profile_form,
        texts=timeline.texts(session, member), consents=consent.evidence(session, member.merchant_id, member.phone),
        brought_by=brought_by, brought=brought, consent_channels=CONSENT_CHANNELS, referral_states=REFERRAL_STATES,
        delivery_states=DELIVERY_STATES, month_name=month_name,
    )
