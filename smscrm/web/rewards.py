"""The rewards catalog: what members can get for their points. Staff see it; the owner adds rewards,
changes them, switches them off and on, and keeps their stock."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, StringField
from wtforms.validators import (
    AnyOf,
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from smscrm.db.engine import utcnow
from smscrm.errors import Conflict
from smscrm.loyalty import rewards
from smscrm.loyalty.codes import normalise_code
from smscrm.models import Reward
from smscrm.web.auth import protected_blueprint
from smscrm.web.fields import WholeNumberField
from smscrm.web.formatting import number
from smscrm.web.request_db import db_session

blueprint = protected_blueprint("rewards", __name__, url_prefix="/rewards", is_owner_only=True)

WHOLE_POINTS = _l("Type the points as a whole number, like 100.")
WHOLE_STOCK = _l("Type how many are left as a whole number, like 20, or leave it empty for no limit.")


class RewardForm(FlaskForm):
    name = StringField(_l("Name"), [
        DataRequired(_l("Give the reward a name, like Free tea.")),
        Length(max=rewards.MAX_REWARD_NAME_CHARS,
               message=_l("A name is at most %(max)d characters.", max=rewards.MAX_REWARD_NAME_CHARS)),
    ])
    name_zh = StringField(_l("Name in Chinese texts (empty: the name above)"), [
        Optional(),
        Length(max=rewards.MAX_REWARD_NAME_ZH_CHARS,
               message=_l("A Chinese name is at most %(max)d characters.", max=rewards.MAX_REWARD_NAME_ZH_CHARS)),
    ])
    points_cost = WholeNumberField(_l("Points it costs"), [
        InputRequired(_l("Say how many points the reward costs, like 100.")),
        NumberRange(1, rewards.MAX_POINTS_COST,
                    message=_l("A reward costs from 1 to %(max)s points.", max=LazyString(number, rewards.MAX_POINTS_COST))),
    ], message=WHOLE_POINTS, render_kw={"inputmode": "numeric"})
    stock = WholeNumberField(_l("How many are left (empty: no limit)"), [
        Optional(),
        NumberRange(0, rewards.MAX_STOCK,
                    message=_l("Stock is from 0 to %(max)s, or empty for no limit.", max=LazyString(number, rewards.MAX_STOCK))),
    ], message=WHOLE_STOCK, render_kw={"inputmode": "numeric"})
    is_active = BooleanField(_l("Members can redeem it now"), default=True)


class NewRewardForm(RewardForm):
    code = StringField(_l("Code shoppers text (REDEEM code)"), [
        DataRequired(_l("Give the reward a short code shoppers can text, like TEA.")),
        Length(max=20, message=_l("A code is 1 to 12 letters or digits, like TEA or A1.")),
    ], render_kw={"autocapitalize": "characters", "autocomplete": "off"})

    def validate_code(self, field):
        if not rewards.REWARD_CODE.match(normalise_code(field.data)):
            raise ValidationError(gettext("A code is 1 to 12 letters or digits, like TEA or A1."))


class SwitchForm(FlaskForm):
    is_active = HiddenField(validators=[AnyOf(("on", "off"))])


@blueprint.get("")
def index():
    catalog = rewards.list_rewards(db_session(), current_user.merchant)
    return render_template("rewards/index.html", catalog=catalog, switch=SwitchForm())


@blueprint.route("/new", methods=["GET", "POST"])
def new():
    form = NewRewardForm()
    if form.validate_on_submit():
        session = db_session()
        try:
            reward = rewards.create_reward(
                session, current_user.merchant, code=form.code.data, name=form.name.data, name_zh=form.name_zh.data,
                points_cost=form.points_cost.data, stock=form.stock.data, is_active=form.is_active.data, now=utcnow(),
            )
        except Conflict:
            session.rollback()
            form.code.errors.append(gettext(
                "You already have a reward with the code %(code)s. Pick another code.",
                code=normalise_code(form.code.data),
            ))
        else:
            session.commit()
            flash(gettext("%(reward)s is in the catalog: members text REDEEM %(code)s to get it.",
                          reward=reward.name, code=reward.code), "info")
            return redirect(url_for(".index"))
    return render_template("rewards/form.html", form=form, reward=None)


@blueprint.route("/<id:reward_id>/edit", methods=["GET", "POST"])
def edit(reward_id: int):
    session = db_session()
    reward = _reward(reward_id)
    form = RewardForm(obj=reward)
    if form.validate_on_submit():
        rewards.update_reward(
            session, reward, name=form.name.data, name_zh=form.name_zh.data, points_cost=form.points_cost.data,
            stock=form.stock.data, is_active=form.is_active.data,
        )
        session.commit()
        flash(gettext("%(reward)s is saved.", reward=reward.name), "info")
        return redirect(url_for(".index"))
    return render_template("rewards/form.html", form=form, reward=reward)


@blueprint.post("/<id:reward_id>/active")
def switch(reward_id: int):
    reward, form = _reward(reward_id), SwitchForm()
    if not form.validate():
        abort(400, gettext("Switch the reward on or off with the buttons on the rewards page."))
    rewards.update_reward(db_session(), reward, is_active=form.is_active.data == "on")
    db_session().commit()
    if reward.is_active:
        flash(gettext("%(reward)s is on: members can redeem it.", reward=reward.name), "info")
    else:
        flash(gettext("%(reward)s is off: members cannot redeem it until you switch it on.", reward=reward.name), "info")
    return redirect(url_for(".index"))


def _reward(reward_id: int) -> Reward:
    """The merchant's reward; another merchant's is a 404 (rewards.get_reward raises NotFound)."""
    return rewards.get_reward(db_session(), current_user.merchant, reward_id)
