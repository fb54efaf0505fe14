"""The member list: every member links to their page; search by phone (any format), name or referral code;
filter with the segment builder's fields or a saved segment; sort; pages keyset-style (`member_list`)."""
from __future__ import annotations

from flask import render_template, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import and_
from wtforms import SearchField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length

from smscrm.db.engine import utcnow
from smscrm.errors import SmscrmError
from smscrm.loyalty import directory, member_list
from smscrm.marketing import segments
from smscrm.web.auth import protected_blueprint
from smscrm.web.campaign_forms import FilterFields, _optional_int
from smscrm.web.i18n import sentence
from smscrm.web.request_db import db_session

blueprint = protected_blueprint("members", __name__, url_prefix="/members")

SORT_LABELS = {
    "newest": _l("Newest first"), "name": _l("Name, A to Z"), "points": _l("Most points first"),
    "last_visit": _l("Latest visit first"),
}
EVERYONE = SelectChoice("", _l("Every member"))


class MemberListForm(FilterFields, FlaskForm):
    """A GET form: it changes nothing, so it carries no CSRF token."""

    class Meta:
        csrf = False

    q = SearchField(_l("Search by phone, name or code"), validators=[Length(max=80)])
    sort = SelectField(_l("Sort"), choices=[SelectChoice(*item) for item in SORT_LABELS.items()], default="newest")
    segment_id = SelectField(_l("Members of the segment"), coerce=_optional_int, choices=[EVERYONE], validate_choice=False)


@blueprint.get("")
def index():
    session, merchant = db_session(), current_user.merchant
    form = MemberListForm(request.args)
    saved = segments.saved_segments(session, merchant.id)
    is_filtered = any(value not in (None, "", []) for value in form.rules().values()) or bool(
        form.exclude_segment_id.data or form.segment_id.data)
    is_filter_shown = is_filtered or "filter" in request.args
    # the topics members named (a GROUP BY over every interest) only when the filter is shown: most of the
    # list's cost otherwise (bench/member_list)
    form.set_choices(interests=segments.known_interests(session, merchant.id) if is_filter_shown else [], segments=saved)
    form.segment_id.choices = [EVERYONE] + [SelectChoice(str(segment.id), segment.name) for segment in saved]
    page, error = None, None
    if form.validate():
        try:
            page = member_list.list_page(
                session, _condition(form), sort=form.sort.data or "newest",
                after=request.args.get("after") or None, before=request.args.get("before") or None,
            )
        except SmscrmError as exc:
            session.rollback()
            error = sentence(exc)
    args = {key: values for key, values in request.args.lists() if key not in ("after", "before")}
    status = 400 if error or form.errors else 200
    search = (form.q.data or "").strip()
    counts = None if search or is_filtered else directory.member_counts(session, merchant.id)
    return render_template("members/index.html", form=form, page=page, error=error, is_filtered=is_filtered,
                           is_filter_shown=is_filter_shown, search=search, counts=counts, args=args), status


def _condition(form: MemberListForm):
    """The merchant's members that the filter, the segment and the search ask for, as one condition."""
    session, merchant, now = db_session(), current_user.merchant, utcnow()
    exclude = segments.get_segment(session, merchant.id, form.exclude_segment_id.data) if form.exclude_segment_id.data else None
    condition = segments.audience_condition(session, merchant, segments.SegmentFilter.from_rules(form.rules()), exclude,
                                            now=now)
    if form.segment_id.data:
        segment = segments.get_segment(session, merchant.id, form.segment_id.data)
        condition = and_(condition, segments.members_condition(session, segment, merchant=merchant, now=now))
    if (form.q.data or "").strip():
        condition = and_(condition, member_list.matches(form.q.data, merchant.country))
    return condition


