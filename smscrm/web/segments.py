"""Segment pages, under Campaigns: the saved segments, the filter form with its live member count
(`count.json`, which `static/campaigns.js` calls as the merchant changes the filter), and deleting."""
from __future__ import annotations

from flask import flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from smscrm.db.engine import utcnow
from smscrm.errors import SmscrmError
from smscrm.marketing import segments
from smscrm.models import Segment
from smscrm.web.campaign_forms import STAGE_LABELS, SegmentForm, month_name
from smscrm.web.campaigns import blueprint, first_error, json_error
from smscrm.web.i18n import said, sentence
from smscrm.web.request_db import db_session


@blueprint.get("/segments")
def segment_list():
    saved = segments.saved_segments(db_session(), current_user.merchant_id)
    names = {segment.id: segment.name for segment in saved}
    return render_template(
        "campaigns/segments.html",
        segments=[(segment, describe(segment.rules, names.get(segment.exclude_segment_id))) for segment in saved],
    )


@blueprint.route("/segments/new", methods=["GET", "POST"])
def new_segment():
    return _segment_form(None)


@blueprint.route("/segments/<id:segment_id>/edit", methods=["GET", "POST"])
def edit_segment(segment_id: int):
    return _segment_form(segments.get_segment(db_session(), current_user.merchant_id, segment_id))


def _segment_form(segment: Segment | None):
    session, merchant, now = db_session(), current_user.merchant, utcnow()
    form = SegmentForm()
    _set_choices(form, segment)
    if request.method == "GET" and segment is not None:
        form.name.data = segment.name
        form.fill_from(segment.rules, segment.exclude_segment_id)
    count, error = None, None
    if form.validate_on_submit():
        try:
            saved = segments.save_segment(
                session, merchant, name=form.name.data, rules=form.rules(), now=now,
                exclude_segment_id=form.exclude_segment_id.data, segment=segment,
            )
        except SmscrmError as exc:
            session.rollback()
            error = said(exc)
        else:
            session.commit()
            flash(gettext("Segment “%(segment)s” saved.", segment=saved.name), "info")
            return redirect(url_for(".segment_list"))
    if error is None and not form.errors:
        count = _count(form)
    return render_template("campaigns/segment_form.html", form=form, segment=segment, count=count, error=error)


def _set_choices(form: SegmentForm, segment: Segment | None, *, for_page: bool = True) -> None:
    session = db_session()
    form.set_choices(
        interests=segments.known_interests(session, current_user.merchant_id) if for_page else [],
        segments=segments.saved_segments(session, current_user.merchant_id),
        editing_id=segment.id if segment else None,
    )


def _count(form: SegmentForm) -> segments.SegmentCount:
    session, merchant = db_session(), current_user.merchant
    exclude = segments.get_segment(session, merchant.id, form.exclude_segment_id.data) if form.exclude_segment_id.data else None
    segment_filter = segments.SegmentFilter.from_rules(form.rules())
    return segments.count(session, segments.audience_condition(session, merchant, segment_filter, exclude, now=utcnow()))


@blueprint.get("/segments/count.json")
def segment_count():
    """{"matching", "reachable"} for the filter in the query string: one SQL statement."""
    form = SegmentForm(request.args, meta={"csrf": False})
    _set_choices(form, None, for_page=False)
    form.name.validators = []
    if not form.validate():
        return json_error(first_error(form))
    try:
        count = _count(form)
    except SmscrmError as exc:
        return json_error(said(exc), code=exc.code, status=exc.http_status)
    return jsonify(matching=count.matching, reachable=count.reachable)


@blueprint.post("/segments/<id:segment_id>/delete")
def delete_segment(segment_id: int):
    session = db_session()
    segment = segments.get_segment(session, current_user.merchant_id, segment_id)
    try:
        segments.delete_segment(session, segment)
    except SmscrmError as exc:
        session.rollback()
        flash(sentence(exc), "error")
        return redirect(url_for(".segment_list"))
    session.commit()
    flash(gettext("Segment “%(segment)s” deleted.", segment=segment.name), "info")
    return redirect(url_for(".segment_list"))


def describe(rules: dict, excluded_name: str | None) -> str:
    """A segment's filter in a line a merchant reads: "Class A or B · 30+ days since last visit"."""
    parts, either = [], gettext(" or ")
    if rules.get("value_classes"):
        parts.append(gettext("Class %(classes)s", classes=either.join(rules["value_classes"])))
    if rules.get("stages"):
        parts.append(either.join(str(STAGE_LABELS[stage]) for stage in rules["stages"]))
    if rules.get("languages"):
        names = {"en": gettext("English"), "zh": gettext("Chinese")}
        parts.append(either.join(names[language] for language in rules["languages"]))
    if rules.get("birthday_months"):
        months = ", ".join(month_name(month) for month in rules["birthday_months"])
        parts.append(gettext("Birthday in %(months)s", months=months))
    if rules.get("interests"):
        parts.append(gettext("Likes %(interests)s", interests=either.join(rules["interests"])))
    for low, high, unit, scale in (
        ("points_min", "points_max", _l("%(range)s points"), 1),
        ("visits_min", "visits_max", _l("%(range)s visits"), 1),
        ("spend_min_minor", "spend_max_minor", _l("%(range)s spent"), 100),
        ("last_visit_days_min", "last_visit_days_max", _l("%(range)s days since last visit"), 1),
    ):
        text = _range(rules.get(low), rules.get(high), scale)
        if text:
            parts.append(str(unit) % {"range": text})
    if rules.get("joined_from") or rules.get("joined_to"):
        parts.append(gettext("Joined %(start)s to %(end)s", start=rules.get("joined_from", "…"),
                             end=rules.get("joined_to") or gettext("today")))
    if rules.get("at_risk_days"):
        parts.append(gettext("At risk (away over %(days)d days, or twice their usual gap)", days=rules["at_risk_days"]))
    if excluded_name:
        parts.append(gettext("not in “%(segment)s”", segment=excluded_name))
    return " · ".join(parts) or gettext("Every member")


def _range(low, high, scale: int) -> str:
    show = (lambda value: f"{value / scale:g}") if scale != 1 else str
    if low is not None and high is not None:
        return f"{show(low)}–{show(high)}"
    if low is not None:
        return f"{show(low)}+"
    if high is not None:
        return gettext("up to %(value)s", value=show(high))
    return ""
