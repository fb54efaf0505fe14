"""Campaign pages: the list, the compose form with its live preview, a campaign's page (preview,
test text, schedule or send, pause/resume/cancel, live progress, report), and the campaign settings (the sending
window, weekly cap and price per SMS part, linked from the owner's Settings). For the owner only.

The compose form works without JavaScript (the Preview button renders the same preview); with it,
`static/campaigns.js` asks `preview.json` for the counts and texts as the merchant types.
"""
from __future__ import annotations

from datetime import date, datetime, time, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

from flask import flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext, ngettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from smscrm import broadcast
from smscrm.broadcast import CampaignDraft
from smscrm.db.engine import utcnow
from smscrm.errors import SmscrmError, ValidationError
from smscrm.marketing import previews, reports, segments
from smscrm.marketing.campaign_texts import check_text
from smscrm.models import Campaign, CampaignStatus, Member, Merchant, Segment
from smscrm.sending.parts import gsm_replacement
from smscrm.web.auth import protected_blueprint
from smscrm.web.campaign_forms import (
    BY_FILTER,
    CampaignForm,
    CampaignSettingsForm,
    ScheduleForm,
    TestTextForm,
)
from smscrm.web.formatting import clock
from smscrm.web.formatting import day as formatted_day
from smscrm.web.i18n import said
from smscrm.web.request_db import db_session

blueprint = protected_blueprint("campaigns", __name__, url_prefix="/campaigns", is_owner_only=True)


def _merchant() -> Merchant:
    return current_user.merchant


def _campaign(campaign_id: int) -> Campaign:
    return broadcast.get_campaign(db_session(), current_user.merchant_id, campaign_id)


@blueprint.get("")
def index():
    session = db_session()
    campaigns = broadcast.list_campaigns(session, current_user.merchant_id)
    sending = [campaign.id for campaign in campaigns if campaign.status == CampaignStatus.SENDING]
    pending = reports.with_texts_pending(session, sending)
    finished = {campaign_id for campaign_id in sending if campaign_id not in pending}
    return render_template("campaigns/index.html", campaigns=campaigns, finished=finished)


@blueprint.route("/new", methods=["GET", "POST"])
def new():
    return _compose(None)


@blueprint.route("/<id:campaign_id>/edit", methods=["GET", "POST"])
def edit(campaign_id: int):
    campaign = _campaign(campaign_id)
    if campaign.status != CampaignStatus.DRAFT:
        flash(gettext("Only a draft can be changed."), "error")
        return redirect(url_for(".show", campaign_id=campaign.id))
    return _compose(campaign)


def _compose(campaign: Campaign | None):
    session, merchant, now = db_session(), _merchant(), utcnow()
    form = CampaignForm()
    _set_choices(form)
    if request.method == "GET" and campaign is not None:
        _fill_form(form, campaign)
    preview, error = None, None
    action = request.form.get("action", "preview")
    if action != "save":
        form.name.validators = []  # a preview needs no name yet
    if request.method == "POST" and action == "use_gsm":
        form.text_en.data = campaign_texts_gsm(form.text_en.data)
        form.text_en.raw_data = [form.text_en.data]
    if request.method == "GET" or form.validate_on_submit():
        try:
            if request.method == "POST" and action == "save":
                campaign = _save(form, campaign, now=now)
                session.commit()
                flash(gettext("Draft saved. Check the preview, send yourself a test, then schedule it."), "info")
                return redirect(url_for(".show", campaign_id=campaign.id))
            preview = _preview_of_form(form, now=now)
        except SmscrmError as exc:
            session.rollback()
            error = said(exc)
    return render_template("campaigns/compose.html", form=form, campaign=campaign, preview=preview, error=error,
                           merchant=merchant)


def campaign_texts_gsm(text: str | None) -> str | None:
    """The English text with look-alikes swapped for GSM characters (the button the preview offers)."""
    return gsm_replacement(text or "") or text


@blueprint.get("/preview.json")
def preview_json():
    """The live preview of the compose form, from its fields in the query string."""
    form = CampaignForm(request.args, meta={"csrf": False})
    form.name.validators = []  # a preview needs no name yet
    _set_choices(form, for_page=False)
    if not form.validate():
        return json_error(first_error(form))
    try:
        preview = _preview_of_form(form, now=utcnow())
    except SmscrmError as exc:
        return json_error(said(exc), code=exc.code, status=exc.http_status)
    html = render_template("campaigns/_preview.html", preview=preview, member_field="preview_member_id")
    return jsonify({**preview.as_json(), "html": html})


def json_error(message: str, *, code: str = "invalid_input", status: int = 400):
    return jsonify(error={"code": code, "message": message}), status


def first_error(form) -> str:
    for field in form:
        if field.errors:
            return f"{field.label.text}: {field.errors[0]}"
    return gettext("check the form")


def _set_choices(form: CampaignForm, *, for_page: bool = True) -> None:
    """The merchant's choices; a JSON endpoint skips the list of known interests (a GROUP BY over
    every interest of every member), since it renders no checkboxes."""
    session = db_session()
    saved = segments.saved_segments(session, current_user.merchant_id)
    interests = segments.known_interests(session, current_user.merchant_id) if for_page else []
    form.set_choices(interests=interests, segments=saved)
    form.segment_id.choices = [BY_FILTER] + [SelectChoice(str(segment.id), segment.name) for segment in saved]


def _fill_form(form: CampaignForm, campaign: Campaign) -> None:
    form.name.data = campaign.name
    form.text_en.data, form.text_zh.data = campaign.text_en, campaign.text_zh
    form.holdout_pct.data, form.return_window_days.data = campaign.holdout_pct, campaign.return_window_days
    segment = campaign.segment
    if segment is not None and segment.is_saved:
        form.segment_id.data = segment.id
    elif segment is not None:
        form.fill_from(segment.rules, segment.exclude_segment_id)


def _audience(form: CampaignForm, *, now: datetime):
    """The audience the form describes: a saved segment, or its filter (less an excluded segment)."""
    session, merchant = db_session(), _merchant()
    if form.segment_id.data:
        segment = segments.get_segment(session, merchant.id, form.segment_id.data)
        return segments.members_condition(session, segment, merchant=merchant, now=now)
    segment_filter = segments.SegmentFilter.from_rules(form.rules())
    exclude = _excluded(form)
    return segments.audience_condition(session, merchant, segment_filter, exclude, now=now)


def _excluded(form) -> Segment | None:
    if not form.exclude_segment_id.data:
        return None
    return segments.get_segment(db_session(), current_user.merchant_id, form.exclude_segment_id.data)


def _preview_of_form(form: CampaignForm, *, now: datetime) -> previews.Preview:
    text_en = check_text(form.text_en.data, "the English text")
    text_zh = check_text(form.text_zh.data, "the Chinese text")
    preview = previews.preview(
        db_session(), _merchant(), condition=_audience(form, now=now), text_en=text_en, text_zh=text_zh,
        holdout_pct=form.holdout_pct.data or 0, member_id=form.preview_member_id.data,
    )
    form.preview_member_id.choices = [SelectChoice(str(member.id), _member_label(member)) for member in preview.samples]
    form.preview_member_id.data = preview.member.id if preview.member else None
    return preview


def _member_label(member: Member) -> str:
    return f"{member.name or 'No name'} (•••• {member.phone[-4:]})"


def _save(form: CampaignForm, campaign: Campaign | None, *, now: datetime) -> Campaign:
    """Save the draft and its audience: the chosen segment, a new named segment, or the campaign's own filter."""
    session, merchant = db_session(), _merchant()
    if form.segment_id.data:
        segment = segments.get_segment(session, merchant.id, form.segment_id.data)
    else:
        own = campaign.segment if campaign is not None and campaign.segment and not campaign.segment.is_saved else None
        save_as = (form.save_segment_as.data or "").strip()
        segment = segments.save_segment(
            session, merchant, name=save_as or f"{form.name.data} (audience)"[:segments.MAX_NAME_CHARS],
            rules=form.rules(), exclude_segment_id=form.exclude_segment_id.data, now=now,
            segment=None if save_as else own, is_saved=bool(save_as),
        )
    draft = CampaignDraft(
        name=form.name.data, text_en=form.text_en.data, text_zh=form.text_zh.data,
        holdout_pct=form.holdout_pct.data or 0, return_window_days=form.return_window_days.data or 14,
    )
    return broadcast.save_draft(session, merchant, draft, segment=segment, now=now, campaign=campaign)


@blueprint.get("/<id:campaign_id>")
def show(campaign_id: int):
    session, merchant, now = db_session(), _merchant(), utcnow()
    campaign = _campaign(campaign_id)
    preview = error = None
    if campaign.status == CampaignStatus.DRAFT:
        try:
            preview = previews.preview(
                session, merchant, condition=broadcast.audience(session, merchant, campaign, now=now),
                text_en=campaign.text_en, text_zh=campaign.text_zh, holdout_pct=campaign.holdout_pct,
                member_id=request.args.get("member", type=int),
            )
        except SmscrmError as exc:
            error = said(exc)
    report = reports.report(session, campaign, now=now) if campaign.started_at else None
    session.commit()  # its return rates are kept once the window has closed (reports.outcome)
    schedule_form = ScheduleForm()
    test_form = TestTextForm(phone=merchant.test_phone or "")
    return render_template(
        "campaigns/show.html", campaign=campaign, merchant=merchant, preview=preview, error=error, report=report,
        progress=reports.progress(session, campaign), schedule_form=schedule_form, test_form=test_form,
    )


@blueprint.get("/<id:campaign_id>/progress.json")
def progress_json(campaign_id: int):
    campaign = _campaign(campaign_id)
    return jsonify(reports.progress(db_session(), campaign).as_json())


@blueprint.post("/<id:campaign_id>/test")
def send_test(campaign_id: int):
    session, merchant = db_session(), _merchant()
    campaign = _campaign(campaign_id)
    form = TestTextForm()
    if not form.validate():
        return _back(campaign, first_error(form), "error")
    member = _member(request.form.get("member_id", type=int))
    try:
        queued = broadcast.send_test(session, merchant, campaign, to_phone=form.phone.data, member=member, now=utcnow())
    except SmscrmError as exc:
        session.rollback()
        return _back(campaign, said(exc), "error")
    session.commit()
    if member and member.name:
        return _back(campaign, ngettext(
            "Test sent to %(phone)s: %(num)d text, as %(name)s would read it.",
            "Test sent to %(phone)s: %(num)d texts, as %(name)s would read it.",
            len(queued), phone=merchant.test_phone, name=member.name,
        ))
    return _back(campaign, ngettext(
        "Test sent to %(phone)s: %(num)d text, as a member would read it.",
        "Test sent to %(phone)s: %(num)d texts, as a member would read it.",
        len(queued), phone=merchant.test_phone,
    ))


def _member(member_id: int | None) -> Member | None:
    member = db_session().get(Member, member_id) if member_id else None
    return member if member is not None and member.merchant_id == current_user.merchant_id else None


@blueprint.post("/<id:campaign_id>/schedule")
def schedule(campaign_id: int):
    session, merchant, now = db_session(), _merchant(), utcnow()
    campaign = _campaign(campaign_id)
    form = ScheduleForm()
    if not form.validate():
        return _back(campaign, first_error(form), "error")
    try:
        if form.when.data == "now":
            result = broadcast.send_now(session, merchant, campaign, now=now)
            if result is None:
                message = gettext("Starting: a campaign this large is queued by the scheduler within a minute.")
            else:
                message = gettext("Sending: %(queued)d texts queued, %(held)d members held out.",
                                  queued=result.queued, held=result.holdout)
        else:
            at = local_to_utc(form.date.data, form.time.data, merchant.timezone)
            broadcast.schedule_campaign(session, campaign, at=at, now=now)
            message = gettext("Scheduled. It starts at the time you chose; you can still cancel it.")
    except SmscrmError as exc:
        session.rollback()
        return _back(campaign, said(exc), "error")
    session.commit()
    return _back(campaign, message)


def local_to_utc(day: date | None, at: time | None, timezone_name: str) -> datetime:
    """A date and time on the merchant's clock as UTC; a time the clocks skip is refused."""
    if day is None or at is None:
        raise ValidationError(gettext("choose the date and the time to send it"))
    local = datetime.combine(day, at, tzinfo=ZoneInfo(timezone_name))
    moment = local.astimezone(timezone.utc)
    if moment.astimezone(ZoneInfo(timezone_name)).replace(tzinfo=None) != local.replace(tzinfo=None):
        raise ValidationError(gettext("%(time)s does not exist on %(day)s (the clocks go forward); choose another time",
                                      time=clock(at), day=formatted_day(day)))
    return moment


@blueprint.post("/<id:campaign_id>/<any(pause, resume, cancel, unschedule):action>")
def change(campaign_id: int, action: str):
    """Pause, resume, cancel or unschedule the campaign; the form carries only its CSRF token."""
    session = db_session()
    campaign = _campaign(campaign_id)
    operations = {
        "pause": (broadcast.pause_campaign, _l("Paused: %(num)d texts wait until you resume.")),
        "resume": (broadcast.resume_campaign, _l("Sending again: %(num)d texts back in the queue.")),
        "cancel": (broadcast.cancel_campaign, _l("Cancelled: %(num)d texts will not be sent.")),
        "unschedule": (broadcast.unschedule_campaign, _l("Back to a draft: it will not be sent until you schedule it.")),
    }
    operation, message = operations[action]
    try:
        moved = operation(session, campaign, now=utcnow())
    except SmscrmError as exc:
        session.rollback()
        return _back(campaign, said(exc), "error")
    session.commit()
    return _back(campaign, str(message) % {"num": moved})


def _back(campaign: Campaign, message: str, category: str = "info"):
    flash(message, category)
    return redirect(url_for(".show", campaign_id=campaign.id))


@blueprint.route("/settings", methods=["GET", "POST"])
def settings():
    """The sending window, weekly cap and price per SMS part (linked from the owner's Settings)."""
    session, merchant = db_session(), _merchant()
    form = CampaignSettingsForm(
        sending_window_opens=merchant.sending_window_opens, sending_window_closes=merchant.sending_window_closes,
        weekly_marketing_cap=merchant.weekly_marketing_cap, test_phone=merchant.test_phone,
        price_per_part=Decimal(merchant.price_per_part_millis) / 1000 if merchant.price_per_part_millis else None,
    )
    error = None
    if form.validate_on_submit():
        try:
            broadcast.update_settings(
                session, merchant, window_opens=form.sending_window_opens.data,
                window_closes=form.sending_window_closes.data, weekly_cap=form.weekly_marketing_cap.data,
                price_per_part_millis=int((form.price_per_part.data or 0) * 1000), test_phone=form.test_phone.data,
            )
        except SmscrmError as exc:
            session.rollback()
            error = said(exc)
        else:
            session.commit()
            flash(gettext("Campaign settings saved."), "info")
            return redirect(url_for(".settings"))
    return render_template("campaigns/settings.html", form=form, error=error)
