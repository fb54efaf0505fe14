"""The dashboard: the first page after signing in."""
from __future__ import annotations

from flask import render_template
from flask_login import current_user

from smscrm.db.engine import utcnow
from smscrm.loyalty import directory
from smscrm.web.auth import protected_blueprint
from smscrm.web.request_db import db_session

blueprint = protected_blueprint("home", __name__)


@blueprint.get("/")
def dashboard():
    summary = directory.summarise(db_session(), current_user.merchant_id, now=utcnow())
    return render_template("home.html", summary=summary)
