"""The language switch in the navigation: the signed-in user's choice is kept on their login."""
from __future__ import annotations

from flask import abort, redirect, request, url_for
from flask_babel import gettext
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import HiddenField
from wtforms.validators import AnyOf

from smscrm.accounts import logins
from smscrm.web import i18n
from smscrm.web.auth import protected_blueprint, safe_next
from smscrm.web.request_db import db_session

blueprint = protected_blueprint("language", __name__)


class LanguageForm(FlaskForm):
    language = HiddenField(validators=[AnyOf(i18n.LANGUAGES)])


@blueprint.post("/language")
def switch():
    form = LanguageForm()
    if not form.validate():
        abort(400, gettext("Choose English or Chinese."))
    user = current_user.user
    logins.choose_language(user, form.language.data)
    db_session().commit()
    i18n.remember(user)
    return redirect(safe_next(request.form.get("next")) or url_for("home.dashboard"))
