"""The signed-in user's own account: changing their password (owner and staff alike). The new password ends
every other session of theirs; this one goes on."""
from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext
from flask_login import current_user

from smscrm.accounts import logins
from smscrm.errors import PasswordRefused, ValidationError
from smscrm.web.auth import open_session, protected_blueprint
from smscrm.web.i18n import sentence
from smscrm.web.request_db import db_session
from smscrm.web.settings_forms import ChangePasswordForm

blueprint = protected_blueprint("account", __name__, url_prefix="/account")


@blueprint.route("/password", methods=["GET", "POST"])
def password():
    session, user = db_session(), current_user.user
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            logins.change_password(session, user, current=form.current.data, new=form.password.data)
        except PasswordRefused as refused:
            session.rollback()
            form.password.errors.append(sentence(refused))
        except ValidationError as refused:  # the current password is not right
            session.rollback()
            form.current.errors.append(sentence(refused))
        else:
            session.commit()
            open_session(user)
            flash(gettext("Your password is changed. You are signed out everywhere else."), "info")
            return redirect(url_for("home.dashboard"))
    return render_template("account/password.html", form=form)
