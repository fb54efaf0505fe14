"""The calendar of upcoming texts: day by day for the next 30 days, which care rules and scheduled campaigns
will text how many members (a dry run of the scheduler's own selections, `care_calendar`); and, on a
member's page (which staff read too), the texts coming to that member."""
from __future__ import annotations

from itertools import groupby

from flask import render_template, url_for
from flask_login import current_user
from sqlalchemy import select

from smscrm.care import AFTER_EVENTS
from smscrm.db.engine import utcnow
from smscrm.marketing import care_calendar, care_rules
from smscrm.models import CareRule, Member
from smscrm.web.auth import protected_blueprint
from smscrm.web.care import rule_title
from smscrm.web.request_db import db_session
from smscrm.web.roles import is_owner

blueprint = protected_blueprint("calendar", __name__, url_prefix="/calendar", is_owner_only=True)
blueprint.add_app_template_global(care_calendar.DAYS_AHEAD, "calendar_days")


@blueprint.get("")
def index():
    session, merchant, now = db_session(), current_user.merchant, utcnow()
    upcoming = care_calendar.calendar(session, merchant, now=now)
    by_event = session.scalars(
        select(CareRule).where(
            CareRule.merchant_id == merchant.id, CareRule.is_enabled.is_(True), CareRule.kind.in_(list(AFTER_EVENTS))
        ).order_by(CareRule.id)
    )
    return render_template(
        "calendar/index.html", days=[(day, list(items)) for day, items in groupby(upcoming, key=lambda i: i.day)],
        by_event=[care_rules.SPECS[rule.kind] for rule in by_event],
    )


@blueprint.app_template_global()
def upcoming_texts(member: Member) -> list[care_calendar.Upcoming]:
    """The texts coming to `member` in the calendar's days (for the member's page)."""
    return care_calendar.calendar(db_session(), current_user.merchant, now=utcnow(), member_id=member.id)


@blueprint.app_template_global()
def upcoming_label(item: care_calendar.Upcoming) -> str:
    """What sends the texts: the rule's name, or the campaign's."""
    if item.campaign is not None:
        return item.campaign.name
    return rule_title(care_rules.SPECS[item.rule.kind], item.rule.holiday)


@blueprint.app_template_global()
def upcoming_link(item: care_calendar.Upcoming) -> str | None:
    """The page of the rule or campaign, for the owner (the rules and campaigns are the owner's pages)."""
    if not is_owner():
        return None
    if item.campaign is not None:
        return url_for("campaigns.show", campaign_id=item.campaign.id)
    if item.rule.holiday:
        return url_for("care.edit_holiday", holiday=item.rule.holiday)
    return url_for("care.edit", kind=item.rule.kind)
