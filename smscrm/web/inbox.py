"""The inbox: feedback texts from shoppers, newest first."""
from __future__ import annotations

from flask import render_template, request
from flask_login import current_user

from smscrm import directory
from smscrm.request_db import db_session
from smscrm.web.auth import protected_blueprint

blueprint = protected_blueprint("inbox", __name__, url_prefix="/inbox")


@blueprint.get("")
def index():
    page = directory.list_feedback(db_session(), current_user.merchant_id, page=request.args.get("page", 1, type=int))
    return render_template("inbox/index.html", page=page)
