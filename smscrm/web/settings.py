"""Settings, for the owner only: the shop (names in both languages, 【signature】, Chinese opt-out line,
language, timezone, country), its sender numbers, API keys (created and shown once, listed by prefix, revoked)
and staff logins (added with a role, deactivated, a new password set). The sending window, weekly cap and price
per SMS part are the campaign settings, linked from here. Staff get 403 on every page of it."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext
from flask_login import current_user
from flask_wtf import FlaskForm

from smscrm.accounts import api_keys, logins, merchants
from smscrm.db.engine import utcnow
from smscrm.errors import PasswordRefused, SmscrmError
from smscrm.messaging.texts import opt_out_instruction
from smscrm.models import Language
from smscrm.web.auth import protected_blueprint
from smscrm.web.i18n import sentence
from smscrm.web.request_db import db_session
from smscrm.web.settings_forms import ApiKeyForm, NumberForm, ProfileForm, ResetPasswordForm, StaffForm

blueprint = protected_blueprint("settings", __name__, url_prefix="/settings", is_owner_only=True)


@blueprint.route("", methods=["GET", "POST"])
def profile():
    session, merchant = db_session(), current_user.merchant
    form = ProfileForm(obj=merchant, opt_out_zh=(merchant.texts or {}).get("opt_out", {}).get(Language.ZH.value))
    error = None
    if form.validate_on_submit():
        try:
            merchants.update_profile(
                session, merchant, name=form.name.data, name_zh=form.name_zh.data, signature=form.signature.data,
                opt_out_zh=form.opt_out_zh.data, language=form.default_language.data, timezone=form.timezone.data,
                country=form.country.data,
            )
        except SmscrmError as refused:
            session.rollback()
            error = sentence(refused)
        else:
            session.commit()
            flash(gettext("The shop's settings are saved."), "info")
            return redirect(url_for(".profile"))
    return render_template("settings/profile.html", form=form, error=error, merchant=merchant,
                           opt_out_zh=opt_out_instruction(merchant, Language.ZH))


@blueprint.route("/numbers", methods=["GET", "POST"])
def numbers():
    session, merchant = db_session(), current_user.merchant
    form, error = NumberForm(), None
    if form.validate_on_submit():
        try:
            sender = merchants.add_number(session, merchant, form.number.data)
        except SmscrmError as refused:
            session.rollback()
            error = sentence(refused)
        else:
            session.commit()
            flash(gettext("%(number)s is added. Point its Messaging webhook at /sms/inbound as for the first.",
                          number=sender.number), "info")
            return redirect(url_for(".numbers"))
    return render_template("settings/numbers.html", form=form, error=error, merchant=merchant, remove=FlaskForm())


@blueprint.post("/numbers/<id:number_id>/remove")
def remove_number(number_id: int):
    session = db_session()
    if not FlaskForm().validate_on_submit():
        abort(400)
    try:
        merchants.remove_number(session, current_user.merchant, number_id)
    except SmscrmError as refused:
        session.rollback()
        if refused.http_status == 404:
            abort(404)
        flash(sentence(refused), "error")
    else:
        session.commit()
        flash(gettext("The number is removed: texts to it are no longer answered."), "info")
    return redirect(url_for(".numbers"))


@blueprint.route("/api-keys", methods=["GET", "POST"])
def keys():
    """Create a key (shown on this page once: it is not kept) and list the keys by prefix."""
    session, merchant = db_session(), current_user.merchant
    form, created, error = ApiKeyForm(), None, None
    if form.validate_on_submit():
        try:
            _row, created = api_keys.create(session, merchant, now=utcnow(), name=form.name.data)
        except SmscrmError as refused:
            session.rollback()
            error = sentence(refused)
        else:
            session.commit()
            form = ApiKeyForm(formdata=None)
    return render_template("settings/api_keys.html", form=form, error=error, created=created,
                           keys=api_keys.keys_of(session, merchant), revoke=FlaskForm())


@blueprint.post("/api-keys/<prefix>/revoke")
def revoke_key(prefix: str):
    session = db_session()
    if not FlaskForm().validate_on_submit():
        abort(400)
    try:
        revoked = api_keys.revoke(session, prefix, now=utcnow(), merchant=current_user.merchant)
    except SmscrmError:
        abort(404)
    session.commit()
    flash(gettext("The key %(prefix)s… is revoked: requests with it are refused from now on.", prefix=revoked.prefix), "info")
    return redirect(url_for(".keys"))


@blueprint.route("/staff", methods=["GET", "POST"])
def staff():
    session, merchant = db_session(), current_user.merchant
    form, error = StaffForm(), None
    if form.validate_on_submit():
        try:
            added = logins.create_staff_user(session, merchant, email=form.email.data, password=form.password.data,
                                             role=form.role.data, now=utcnow())
        except PasswordRefused as refused:
            session.rollback()
            form.password.errors.append(sentence(refused))
        except SmscrmError as refused:
            session.rollback()
            error = sentence(refused)
        else:
            session.commit()
            flash(gettext("%(email)s can sign in now. Give them their password in person.", email=added.email), "info")
            return redirect(url_for(".staff"))
    return render_template("settings/staff.html", form=form, error=error,
                           logins=logins.staff_of(session, merchant), action=FlaskForm())


@blueprint.post("/staff/<id:user_id>/deactivate")
def deactivate(user_id: int):
    session = db_session()
    if not FlaskForm().validate_on_submit():
        abort(400)
    user = _colleague(user_id)
    try:
        logins.deactivate(session, user, by=current_user.user, now=utcnow())
    except SmscrmError as refused:
        session.rollback()
        flash(sentence(refused), "error")
    else:
        session.commit()
        flash(gettext("%(email)s is deactivated: they are signed out and cannot sign in.", email=user.email), "info")
    return redirect(url_for(".staff"))


@blueprint.route("/staff/<id:user_id>/password", methods=["GET", "POST"])
def reset_password(user_id: int):
    session, user = db_session(), _colleague(user_id)
    form, error = ResetPasswordForm(), None
    if form.validate_on_submit():
        try:
            logins.reset_password(session, user, password=form.password.data)
        except PasswordRefused as refused:
            session.rollback()
            form.password.errors.append(sentence(refused))
        except SmscrmError as refused:
            session.rollback()
            error = sentence(refused)
        else:
            session.commit()
            flash(gettext("%(email)s has a new password; they are signed out everywhere. Give it to them in person.",
                          email=user.email), "info")
            return redirect(url_for(".staff"))
    return render_template("settings/reset_password.html", form=form, error=error, user=user)


def _colleague(user_id: int):
    try:
        return logins.colleague(db_session(), current_user.merchant, user_id)
    except SmscrmError:
        abort(404)

