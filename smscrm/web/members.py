"""The member list: newest first, 50 a page, searchable by name or the phone's last digits."""
from __future__ import annotations

from flask import render_template, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SearchField
from wtforms.validators import Length

from smscrm.loyalty import directory
from smscrm.web.auth import protected_blueprint
from smscrm.web.request_db import db_session

blueprint = protected_blueprint("members", __name__, url_prefix="/members")


class MemberSearchForm(FlaskForm):
    """A GET form: it changes nothing, so it carries no CSRF token."""

    class Meta:
        csrf = False

    q = SearchField(_l("Search by name or last digits"), validators=[Length(max=80)])


@blueprint.get("")
def index():
    form = MemberSearchForm(request.args)
    search = form.q.data if form.validate() else ""
    session = db_session()
    page = directory.list_members(
        session, current_user.merchant_id, search=search or "", page=request.args.get("page", 1, type=int)
    )
    counts = None if search else directory.member_counts(session, current_user.merchant_id)
    return render_template("members/index.html", form=form, search=search, page=page, counts=counts)
