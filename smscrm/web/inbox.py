"""The inbox: conversations waiting for a reply (urgent first, with the member's context), every feedback
text newest first, and each conversation with its reply form."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import TextAreaField

from smscrm.db.engine import utcnow
from smscrm.errors import NotFound, ValidationError
from smscrm.loyalty import directory
from smscrm.messaging import inbox
from smscrm.models import Purchase
from smscrm.web.auth import protected_blueprint
from smscrm.web.i18n import said
from smscrm.web.request_db import db_session

blueprint = protected_blueprint("inbox", __name__, url_prefix="/inbox")


class ReplyForm(FlaskForm):
    body = TextAreaField(_l("Reply by SMS"))


class ResolveForm(FlaskForm):
    """The resolve button."""


@blueprint.get("")
def index():
    session, merchant_id = db_session(), current_user.merchant_id
    page = directory.list_feedback(session, merchant_id, page=request.args.get("page", 1, type=int))
    return render_template(
        "inbox/index.html", page=page, waiting=inbox.open_items(session, merchant_id).items,
        times=inbox.response_times(session, merchant_id, now=utcnow()),
        conversations=inbox.conversations_of(session, merchant_id, page.items),
    )


@blueprint.get("/<id:item_id>")
def show(item_id: int):
    return _show(_item(item_id), ReplyForm())


@blueprint.post("/<id:item_id>/reply")
def reply(item_id: int):
    session, item, form = db_session(), _item(item_id), ReplyForm()
    if form.validate_on_submit():
        try:
            inbox.reply(session, current_user.merchant, item, staff=current_user.user, body=form.body.data,
                        now=utcnow())
        except ValidationError as exc:
            session.rollback()
            form.body.errors = [said(exc)]
        else:
            session.commit()
            flash(gettext("Reply sent by SMS."), "success")
            return redirect(url_for("inbox.show", item_id=item.id))
    return _show(item, form), 400


@blueprint.post("/<id:item_id>/resolve")
def resolve(item_id: int):
    session, item = db_session(), _item(item_id)
    if not ResolveForm().validate_on_submit():
        abort(400, gettext("This form has expired. Reload the page and try again."))
    inbox.resolve(session, item, staff=current_user.user, now=utcnow())
    session.commit()
    flash(gettext("Marked as resolved."), "success")
    return redirect(url_for("inbox.index"))


def _item(item_id: int):
    try:
        return inbox.get_item(db_session(), current_user.merchant_id, item_id)
    except NotFound as exc:
        abort(404, said(exc))


def _show(item, form: ReplyForm):
    session = db_session()
    purchase = session.get(Purchase, item.survey.purchase_id) if item.survey else None
    return render_template(
        "inbox/item.html", item=item, member=item.member, survey=item.survey, purchase=purchase, form=form,
        resolve=ResolveForm(), entries=inbox.conversation(session, item),
        is_opted_out=inbox.is_opted_out(session, item), is_answered=inbox.is_answered(session, item),
    )
