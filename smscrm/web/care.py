"""The care page: the care rules a merchant turns on, their texts in each language, the holidays to
greet on, and what care did lately; a day-based rule's page shows who it texts today. Staff can read it;
the owner changes it."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, NumberRange, Optional

from smscrm.care import care_template
from smscrm.db.engine import utcnow
from smscrm.errors import NotFound, ValidationError
from smscrm.marketing import campaign_texts, care_calendar, care_rules
from smscrm.messaging import texts
from smscrm.models import CareKind, Language
from smscrm.web.auth import protected_blueprint
from smscrm.web.i18n import said
from smscrm.web.request_db import db_session

blueprint = protected_blueprint("care", __name__, url_prefix="/care", is_owner_only=True)
SAMPLE_NAMES = {Language.EN: "Ann", Language.ZH: "王芳"}
SETTING_LABELS = {
    "send_hour": _l("Send at (hour of the day, your time)"),
    "delay_hours": {
        CareKind.WELCOME: _l("Hours after joining"),
        CareKind.AFTER_VISIT: _l("Hours after the purchase"),
    },
    "days": {
        CareKind.WELCOME_FOLLOW_UP: _l("Days after joining"),
        CareKind.AFTER_VISIT: _l("Ask each member at most once every (days)"),
        CareKind.WIN_BACK: _l("Days without a visit (and at most one win-back text per as many days)"),
        CareKind.POINTS_EXPIRING: _l("Days before the points expire"),
    },
    "value_class": _l("Members of class"),
    "holdout_pct": _l("Holdout (percentage of at-risk members who are not texted, to compare)"),
    "bonus_points": _l("Bonus points with the text"),
    "grace_hours": _l("Still send up to (hours late) after the scheduler was down"),
}


class RuleForm(FlaskForm):
    """Every setting a rule may have; the page shows (and saves) only those of the rule's kind."""

    is_enabled = BooleanField(_l("On: send this text"))
    text_en = TextAreaField(_l("English text"), [Optional()])
    text_zh = TextAreaField(_l("Chinese text (中文)"), [Optional()])
    send_hour = SelectField(coerce=int, validate_choice=True)
    delay_hours = IntegerField(validators=[InputRequired(_l("Type a number of hours.")), NumberRange(0, 720)])
    days = IntegerField(validators=[InputRequired(_l("Type a number of days.")), NumberRange(1, 365)])
    value_class = SelectField(choices=[SelectChoice("", _l("Every class")), *(SelectChoice(c) for c in "ABC")])
    holdout_pct = IntegerField(validators=[InputRequired(_l("Type a percentage.")), NumberRange(0, 50)])
    bonus_points = IntegerField(validators=[InputRequired(_l("Type 0 for no bonus.")), NumberRange(0, 100_000)])
    grace_hours = IntegerField(validators=[InputRequired(_l("Type a number of hours.")), NumberRange(1, 168)])

    @classmethod
    def for_kind(cls, spec: care_rules.KindSpec, **kwargs) -> "RuleForm":
        """The form with only the settings of `spec`'s kind (and the grace period)."""
        form = cls(**kwargs)
        for name in SETTINGS:
            if name not in spec.settings and name != "grace_hours":
                del form[name]
        return form

    def settings(self) -> dict:
        return {name: self[name].data for name in SETTINGS if name in self}


SETTINGS = ("send_hour", "delay_hours", "days", "value_class", "holdout_pct", "bonus_points", "grace_hours")


class SwitchForm(FlaskForm):
    """The on/off button on the overview."""


@blueprint.get("")
def index():
    session, merchant, now = db_session(), current_user.merchant, utcnow()
    saved = care_rules.rules(session, merchant.id)
    rules = []
    for spec in care_rules.SPECS.values():
        if spec.kind != CareKind.HOLIDAY:
            rule = care_rules.rule_for(session, merchant, spec.kind, now=now)
            rules.append((spec, rule, describe(merchant, rule)))
    holidays = [
        (festival, saved.get((CareKind.HOLIDAY.value, festival.name)))
        for festival in care_rules.holiday_choices(merchant, now=now)
    ]
    return render_template(
        "care/index.html", rules=rules, holidays=holidays, switch=SwitchForm(),
        report=care_rules.report(session, merchant.id, now=now),
    )


@blueprint.route("/<kind>", methods=["GET", "POST"])
def edit(kind: str):
    return _edit(kind, holiday="")


@blueprint.route("/holiday", methods=["GET", "POST"])
def edit_holiday():
    name = request.values.get("holiday", "")
    if not any(festival.name == name for festival in care_rules.holiday_choices(current_user.merchant, now=utcnow())):
        abort(404, gettext("That holiday is not in your calendar."))
    return _edit(CareKind.HOLIDAY.value, holiday=name)


def _edit(kind: str, *, holiday: str):
    session, merchant, now = db_session(), current_user.merchant, utcnow()
    try:
        spec = care_rules.spec_for(kind)
        rule = care_rules.rule_for(session, merchant, kind, holiday, now=now)
    except NotFound as exc:
        abort(404, said(exc))
    form, error = RuleForm.for_kind(spec, obj=rule), None
    for name, label in _labels(spec).items():
        form[name].label.text = label
    if "send_hour" in form:
        opens, closes = merchant.sending_window_opens.hour, merchant.sending_window_closes.hour
        form.send_hour.choices = [SelectChoice(hour, f"{hour:02d}:00") for hour in range(opens, closes)]
    if request.method == "GET":
        form.text_en.data = (rule.texts or {}).get(Language.EN, "")
        form.text_zh.data = (rule.texts or {}).get(Language.ZH, "")
        if "value_class" in form:
            form.value_class.data = rule.value_class or ""
        if spec.kind == CareKind.BIRTHDAY:
            form.bonus_points.data = merchant.birthday_bonus
    elif form.validate_on_submit():
        try:
            care_rules.save_rule(
                session, merchant, kind, now=now, holiday=holiday, is_enabled=form.is_enabled.data,
                wording={Language.EN: form.text_en.data or "", Language.ZH: form.text_zh.data or ""},
                **form.settings(),
            )
        except ValidationError as exc:
            session.rollback()
            error = said(exc)
        else:
            session.commit()
            flash(gettext("%(rule)s saved: on.", rule=rule_title(spec, holiday)) if form.is_enabled.data
                  else gettext("%(rule)s saved: off.", rule=rule_title(spec, holiday)), "success")
            return redirect(url_for("care.index"))
    previews = {language: _preview(merchant, rule, language, holiday) for language in Language}
    return render_template(
        "care/edit.html", form=form, spec=spec, rule=rule, holiday=holiday, title=rule_title(spec, holiday),
        error=error, previews=previews, today=care_calendar.due_today(session, merchant, rule, now=now),
        defaults={language: texts.DEFAULT_TEXTS[f"care_{spec.kind.value}"][language] for language in Language},
    )


@blueprint.post("/<kind>/switch")
def switch(kind: str):
    """Turn a rule on or off from the overview, keeping its texts and settings."""
    if not SwitchForm().validate_on_submit():
        abort(400, gettext("This form has expired. Reload the page and try again."))
    session, merchant, now = db_session(), current_user.merchant, utcnow()
    holiday = request.form.get("holiday", "") if kind == CareKind.HOLIDAY else ""
    try:
        spec = care_rules.spec_for(kind)
        was_on = care_rules.rule_for(session, merchant, kind, holiday, now=now).is_enabled
        rule = care_rules.save_rule(session, merchant, kind, now=now, holiday=holiday, is_enabled=not was_on)
    except NotFound as exc:
        abort(404, said(exc))
    except ValidationError as exc:
        session.rollback()
        flash(said(exc), "error")
        return redirect(url_for("care.index"))
    session.commit()
    flash(gettext("%(rule)s is on.", rule=rule_title(spec, holiday)) if rule.is_enabled
          else gettext("%(rule)s is off.", rule=rule_title(spec, holiday)), "success")
    return redirect(url_for("care.index"))


def describe(merchant, rule) -> str:
    """When the rule sends, in a few words, and the bonus it grants."""
    hour = gettext("at %(hour)02d:00", hour=rule.send_hour) if rule.send_hour is not None else ""
    match rule.kind:
        case CareKind.WELCOME:
            when = (gettext("%(hours)d hours after joining", hours=rule.delay_hours) if rule.delay_hours
                    else gettext("Soon after joining"))
        case CareKind.WELCOME_FOLLOW_UP:
            when = gettext("%(days)d days after joining, if they have not visited", days=rule.days)
        case CareKind.BIRTHDAY | CareKind.ANNIVERSARY | CareKind.HOLIDAY:
            when = gettext("On the day %(hour)s", hour=hour)
        case CareKind.AFTER_VISIT:
            when = gettext("%(hours)d hours after a purchase, at most once every %(days)d days",
                           hours=rule.delay_hours, days=rule.days)
        case CareKind.WIN_BACK:
            who = gettext("Class %(value_class)s", value_class=rule.value_class) if rule.value_class \
                else gettext("Every class")
            when = gettext("%(who)s, no visit for %(days)d+ days, %(hour)s; holdout %(pct)d%%",
                           who=who, days=rule.days, hour=hour, pct=rule.holdout_pct)
        case CareKind.POINTS_EXPIRING:
            when = (gettext("%(days)d days before points expire, %(hour)s", days=rule.days, hour=hour)
                    if merchant.points_expiry_months else gettext("Points never expire at your shop, so nothing is sent"))
        case _:
            when = gettext("After the nightly class recompute")
    bonus = merchant.birthday_bonus if rule.kind == CareKind.BIRTHDAY else rule.bonus_points
    return when + (" · " + gettext("%(bonus)d bonus points", bonus=bonus) if bonus else "")


def rule_title(spec: care_rules.KindSpec, holiday: str) -> str:
    """The rule's name as the pages show it: its kind's title, or the holiday it greets on."""
    return gettext("Holiday greeting: %(holiday)s", holiday=holiday) if holiday else gettext(spec.title)


def _labels(spec: care_rules.KindSpec) -> dict[str, str]:
    labels = {}
    for name in (*spec.settings, "grace_hours"):
        label = SETTING_LABELS[name]
        labels[name] = label[spec.kind] if isinstance(label, dict) else label
    return labels


def _preview(merchant, rule, language: str, holiday: str) -> str:
    """The rule's text as a sample member reads it."""
    values = {}
    if holiday:
        festival = next(f for f in care_rules.holiday_choices(merchant, now=utcnow()) if f.name == holiday)
        values["holiday"] = festival.name_zh if language == Language.ZH else festival.greeting_name
    if rule.kind == CareKind.POINTS_EXPIRING:
        values["date"] = "3月31日" if language == Language.ZH else "Mar 31"
    template = care_template(merchant, rule, language, **values).replace("{expiring}", "40")
    return campaign_texts.fill(template, name=SAMPLE_NAMES[language], points=120, value_class="A",
                               merchant_name=merchant.name, language=language)
