"""The forms of the campaign pages: the segment filter (shared by segments and campaigns), the
campaign itself, scheduling, the test text, and the campaign settings."""
from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from babel.dates import get_month_names
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    DecimalField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from smscrm.broadcast import MAX_HOLDOUT_PCT, MAX_RETURN_WINDOW_DAYS
from smscrm.marketing.campaign_texts import MAX_TEXT_CHARS
from smscrm.models import Stage

STAGE_LABELS = {
    Stage.PENDING: _l("Invited, not joined"), Stage.JOINED: _l("Joined, no purchase"),
    Stage.FIRST_PURCHASE: _l("First purchase"), Stage.REPEAT: _l("Repeat customer"),
    Stage.ADVOCATE: _l("Advocate (brought a friend)"),
}
CLASS_LABELS = {"A": _l("A — top spenders"), "B": _l("B — next tier"), "C": _l("C — the rest")}
NO_ONE = SelectChoice("", _l("No one"))
BY_FILTER = SelectChoice("", _l("Members matching the filter below"))


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def month_name(month: int) -> str:
    """Jan, Feb, … / 1月, 2月, … in the language of the page."""
    return get_month_names("abbreviated", locale=get_locale())[month]


def _optional_int(value):
    return int(value) if value not in (None, "", "None") else None


def minor_units(amount: Decimal | None) -> int | None:
    """An amount typed in the currency's main unit (12.50) in minor units (1250)."""
    return None if amount is None else int((amount * 100).to_integral_value(ROUND_HALF_UP))


class FilterFields:
    """Who a segment is: every field is optional and they combine with AND."""

    value_classes = MultiCheckboxField(_l("Value class"), choices=[SelectChoice(*item) for item in CLASS_LABELS.items()])
    stages = MultiCheckboxField(_l("Stage"), choices=[SelectChoice(stage.value, label) for stage, label in STAGE_LABELS.items()])
    languages = MultiCheckboxField(_l("Language"), choices=[SelectChoice("en", "English"), SelectChoice("zh", "中文")])
    birthday_months = MultiCheckboxField(
        _l("Birthday in"), choices=[SelectChoice(str(month), LazyString(month_name, month)) for month in range(1, 13)]
    )
    interests = MultiCheckboxField(_l("Likes any of"), choices=[])
    points_min = IntegerField(_l("Points from"), validators=[Optional(), NumberRange(min=0)])
    points_max = IntegerField(_l("Points to"), validators=[Optional(), NumberRange(min=0)])
    visits_min = IntegerField(_l("Visits from"), validators=[Optional(), NumberRange(min=0)])
    visits_max = IntegerField(_l("Visits to"), validators=[Optional(), NumberRange(min=0)])
    spend_min = DecimalField(_l("Total spend from"), places=2, validators=[Optional(), NumberRange(min=0)])
    spend_max = DecimalField(_l("Total spend to"), places=2, validators=[Optional(), NumberRange(min=0)])
    last_visit_days_min = IntegerField(_l("Last visit at least (days ago)"), validators=[Optional(), NumberRange(min=0)])
    last_visit_days_max = IntegerField(_l("Last visit at most (days ago)"), validators=[Optional(), NumberRange(min=0)])
    joined_from = DateField(_l("Joined from"), validators=[Optional()])
    joined_to = DateField(_l("Joined to"), validators=[Optional()])
    at_risk_days = IntegerField(_l("At risk: away longer than (days)"), validators=[Optional(), NumberRange(min=1)])
    exclude_segment_id = SelectField(_l("Leave out the members of"), coerce=_optional_int, choices=[NO_ONE],
                                     validate_choice=False)

    def set_choices(self, *, interests: list[str], segments: list, editing_id: int | None = None) -> None:
        """Choices that depend on the merchant: the topics members named, the segments to exclude."""
        chosen = self.interests.data or []
        self.interests.choices = [SelectChoice(topic) for topic in dict.fromkeys([*interests, *chosen])]
        self.exclude_segment_id.choices = [NO_ONE] + [
            SelectChoice(str(segment.id), segment.name) for segment in segments if segment.id != editing_id
        ]

    def rules(self) -> dict:
        """The filter in the shape `smscrm.marketing.segments.SegmentFilter.from_rules` reads."""
        return {
            "value_classes": self.value_classes.data or [],
            "stages": self.stages.data or [],
            "languages": self.languages.data or [],
            "birthday_months": self.birthday_months.data or [],
            "interests": self.interests.data or [],
            "points_min": self.points_min.data, "points_max": self.points_max.data,
            "visits_min": self.visits_min.data, "visits_max": self.visits_max.data,
            "spend_min_minor": minor_units(self.spend_min.data), "spend_max_minor": minor_units(self.spend_max.data),
            "last_visit_days_min": self.last_visit_days_min.data, "last_visit_days_max": self.last_visit_days_max.data,
            "joined_from": self.joined_from.data, "joined_to": self.joined_to.data,
            "at_risk_days": self.at_risk_days.data,
        }

    def fill_from(self, rules: dict, exclude_segment_id: int | None) -> None:
        """Show a saved filter in the form."""
        for name in ("value_classes", "stages", "languages", "interests", "points_min", "points_max", "visits_min",
                     "visits_max", "last_visit_days_min", "last_visit_days_max", "at_risk_days"):
            getattr(self, name).data = rules.get(name, getattr(self, name).default)
        self.birthday_months.data = [str(month) for month in rules.get("birthday_months", [])]
        for field, key in ((self.spend_min, "spend_min_minor"), (self.spend_max, "spend_max_minor")):
            field.data = Decimal(rules[key]) / 100 if key in rules else None
        for field, key in ((self.joined_from, "joined_from"), (self.joined_to, "joined_to")):
            field.data = date.fromisoformat(rules[key]) if key in rules else None
        self.exclude_segment_id.data = exclude_segment_id


class SegmentForm(FilterFields, FlaskForm):
    name = StringField(_l("Segment name"), validators=[DataRequired(_l("Give the segment a name.")), Length(max=80)])


class CampaignForm(FilterFields, FlaskForm):
    name = StringField(_l("Campaign name"), validators=[DataRequired(_l("Give the campaign a name.")), Length(max=80)])
    segment_id = SelectField(_l("Send to"), coerce=_optional_int, choices=[BY_FILTER], validate_choice=False)
    save_segment_as = StringField(_l("Save the filter as a segment named (optional)"), validators=[Length(max=80)])
    text_en = TextAreaField(_l("Text in English"), validators=[Length(max=MAX_TEXT_CHARS)])
    text_zh = TextAreaField(_l("Text in Chinese (for members who speak Chinese)"), validators=[Length(max=MAX_TEXT_CHARS)])
    holdout_pct = IntegerField(_l("Holdout (percent of recipients not texted, to measure the effect)"), default=0,
                               validators=[Optional(), NumberRange(0, MAX_HOLDOUT_PCT)])
    return_window_days = IntegerField(_l("Count a return within (days)"), default=14,
                                      validators=[Optional(), NumberRange(1, MAX_RETURN_WINDOW_DAYS)])
    preview_member_id = SelectField(_l("Preview for"), coerce=_optional_int, choices=[], validate_choice=False)


class ScheduleForm(FlaskForm):
    when = RadioField(_l("When"), choices=[SelectChoice("now", _l("Send now")), SelectChoice("later", _l("Schedule"))], default="later",
                      validators=[DataRequired()])
    date = DateField(_l("Date"), validators=[Optional()])
    time = TimeField(_l("Time"), validators=[Optional()])


class TestTextForm(FlaskForm):
    phone = StringField(_l("Your phone"), validators=[DataRequired(_l("Enter the phone to send the test to.")), Length(max=40)])


class CampaignSettingsForm(FlaskForm):
    sending_window_opens = TimeField(_l("Texts may arrive from"), validators=[DataRequired()])
    sending_window_closes = TimeField(_l("until"), validators=[DataRequired()])
    weekly_marketing_cap = IntegerField(_l("At most this many care and marketing texts per member in any 7 days"),
                                        validators=[DataRequired(), NumberRange(1, 14)])
    price_per_part = DecimalField(_l("Price of one SMS part, in cents"), places=3,
                                  validators=[Optional(), NumberRange(0, 1000)])
    test_phone = StringField(_l("Your phone, for test texts"), validators=[Optional(), Length(max=40)])
