"""The rewards catalog: what members can get for their points. Staff see it; the owner adds rewards,
changes them, switches them off and on, and keeps their stock."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
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
from smscrm.web.request_db import db_session
from smscrm.web.roles import is_owner, owner_only

blueprint = protected_blueprint("rewards", __name__, url_prefix="/rewards")

WHOLE_POINTS = "Type the points as a whole number, like 100."
WHOLE_STOCK = "Type how many are left as a whole number, like 20, or leave it empty for no limit."


class RewardForm(FlaskForm):
    name = StringField("Name", [
        DataRequired("Give the reward a name, like Free tea."),
        Length(max=rewards.MAX_REWARD_NAME_CHARS,
               message=f"A name is at most {rewards.MAX_REWARD_NAME_CHARS} characters."),
    ])
    points_cost = WholeNumberField("Points it costs", [
        InputRequired("Say how many points the reward costs, like 100."),
        NumberRange(1, rewards.MAX_POINTS_COST,
                    message=f"A reward costs from 1 to {rewards.MAX_POINTS_COST:,} points."),
    ], message=WHOLE_POINTS, render_kw={"inputmode": "numeric"})
    stock = WholeNumberField("How many are left (empty: no limit)", [
        Optional(),
        NumberRange(0, rewards.MAX_STOCK, message=f"Stock is from 0 to {rewards.MAX_STOCK:,}, or empty for no limit."),
    ], message=WHOLE_STOCK, render_kw={"inputmode": "numeric"})
    is_active = BooleanField("Members can redeem it now", default=True)


class NewRewardForm(RewardForm):
    code = StringField("Code shoppers text (REDEEM code)", [
        DataRequired("Give the reward a short code shoppers can text, like TEA."),
        Length(max=20, message="A code is 1 to 12 letters or digits, like TEA or A1."),
    ], render_kw={"autocapitalize": "characters", "autocomplete": "off"})

    def validate_code(self, field):
        if not rewards.REWARD_CODE.match(normalise_code(field.data)):
            raise ValidationError("A code is 1 to 12 letters or digits, like TEA or A1.")


class SwitchForm(FlaskForm):
    is_active = HiddenField(validators=[AnyOf(("on", "off"))])


@blueprint.get("")
def index():
    catalog = rewards.list_rewards(db_session(), current_user.merchant)
    return render_template("rewards/index.html", catalog=catalog, switch=SwitchForm(), can_edit=is_owner())


@blueprint.route("/new", methods=["GET", "POST"])
@owner_only
def new():
    form = NewRewardForm()
    if form.validate_on_submit():
        session = db_session()
        try:
            reward = rewards.create_reward(
                session, current_user.merchant, code=form.code.data, name=form.name.data,
                points_cost=form.points_cost.data, stock=form.stock.data, is_active=form.is_active.data, now=utcnow(),
            )
        except Conflict:
            session.rollback()
            form.code.errors.append(
                f"You already have a reward with the code {normalise_code(form.code.data)}. Pick another code."
            )
        else:
            session.commit()
            flash(f"{reward.name} is in the catalog: members text REDEEM {reward.code} to get it.", "info")
            return redirect(url_for(".index"))
    return render_template("rewards/form.html", form=form, reward=None)


@blueprint.route("/<id:reward_id>/edit", methods=["GET", "POST"])
@owner_only
def edit(reward_id: int):
    session = db_session()
    reward = _reward(reward_id)
    form = RewardForm(obj=reward)
    if form.validate_on_submit():
        rewards.update_reward(
            session, reward, name=form.name.data, points_cost=form.points_cost.data, stock=form.stock.data,
            is_active=form.is_active.data,
        )
        session.commit()
        flash(f"{reward.name} is saved.", "info")
        return redirect(url_for(".index"))
    return render_template("rewards/form.html", form=form, reward=reward)


@blueprint.post("/<id:reward_id>/active")
@owner_only
def switch(reward_id: int):
    reward, form = _reward(reward_id), SwitchForm()
    if not form.validate():
        abort(400, "Switch the reward on or off with the buttons on the rewards page.")
    rewards.update_reward(db_session(), reward, is_active=form.is_active.data == "on")
    db_session().commit()
    state = "on: members can redeem it" if reward.is_active else "off: members cannot redeem it until you switch it on"
    flash(f"{reward.name} is {state}.", "info")
    return redirect(url_for(".index"))


def _reward(reward_id: int) -> Reward:
    """The merchant's reward; another merchant's is a 404 (rewards.get_reward raises NotFound)."""
    return rewards.get_reward(db_session(), current_user.merchant, reward_id)
