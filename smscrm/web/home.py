"""The dashboard, the owner's first page after signing in: is the loyalty programme working? (figures:
smscrm.dashboard, read as kept ahead of time: smscrm.dashboard_kept). Staff start at the counter."""
from __future__ import annotations

from flask import redirect, render_template, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from smscrm import dashboard_kept
from smscrm.db.engine import utcnow
from smscrm.models import Category, Stage
from smscrm.web import charts
from smscrm.web.auth import protected_blueprint
from smscrm.web.campaign_forms import CLASS_LABELS
from smscrm.web.request_db import db_session
from smscrm.web.roles import is_owner

blueprint = protected_blueprint("home", __name__)

KIND_LABELS = {
    Category.REPLY: _l("Replies to shoppers' texts"),
    Category.TRANSACTIONAL: _l("Receipts and notices"),
    Category.CARE: _l("Care texts"),
    Category.MARKETING: _l("Campaigns"),
}
RUNG_LABELS = {  # the ladder as a funnel: each rung counts the memberships at that stage or a later one
    Stage.PENDING: _l("Every membership, invited ones too"),
    Stage.JOINED: _l("Joined"),
    Stage.FIRST_PURCHASE: _l("Made a first purchase"),
    Stage.REPEAT: _l("Came back (repeat customer)"),
    Stage.ADVOCATE: _l("Brought a friend (advocate)"),
}
RATING_SCALE = 5


@blueprint.get("/")
def dashboard():
    if not is_owner():
        return redirect(url_for("counter.purchase"))
    session = db_session()
    shown, computed_at = dashboard_kept.kept(session, current_user.merchant, now=utcnow())
    session.commit()  # the read, and figures counted now (with the return rates of closed campaigns) are kept
    return render_template(
        "home.html",
        figures=shown,
        computed_at=computed_at,
        weeks_chart=charts.columns([week.joined for week in shown.weeks], [week.opted_out for week in shown.weeks]),
        ratings_chart=charts.columns([month.average or 0 for month in shown.ratings], scale=RATING_SCALE),
        lift_axis=charts.interval_scale(*(value for lift in shown.campaigns if lift.outcome.lift
                                          for value in (lift.outcome.lift.low, lift.outcome.lift.high,
                                                        lift.outcome.lift.difference))),
        position=charts.position,
        class_labels=CLASS_LABELS,
        rung_labels=RUNG_LABELS,
        kind_labels=KIND_LABELS,
    )
