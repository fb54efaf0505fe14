"""The counter: record a purchase, redeem a reward for a member who is there, confirm a code a shopper shows.

What was recorded or redeemed is shown on its own page (post/redirect/get), so reloading never
repeats it. The purchase and redemption forms carry a random key in a hidden field: the same form
sent twice (a double tap, a retried request) records one purchase, one redemption.
"""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, SelectField, StringField, TelField
from wtforms.validators import (
    DataRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from smscrm import points
from smscrm.db.engine import utcnow
from smscrm.errors import (
    Conflict,
    InsufficientPoints,
    InvalidPhone,
    RedemptionCodeExpired,
    RedemptionCodeInvalid,
    RedemptionCodeUsed,
    RewardUnavailable,
)
from smscrm.loyalty import members, points_history, receipts, rewards
from smscrm.messaging import phones
from smscrm.models import Member, Merchant, Reward
from smscrm.web.auth import protected_blueprint
from smscrm.web.fields import STALE_FORM, AmountField, form_key, new_form_key
from smscrm.web.formatting import local_datetime
from smscrm.web.i18n import said
from smscrm.web.request_db import db_session
from smscrm.web.rows import MAX_ROW_ID, row_id

blueprint = protected_blueprint("counter", __name__, url_prefix="/counter")

NOT_A_PHONE = _l(
    "That is not a phone number. Type the number the way the shopper says it, "
    "or with + and the country code, like +44 7700 900123."
)
MAX_CODE_CHARS = 20  # a 6-character code with room for the spaces or dashes a shopper reads it out with


class PhoneForm(FlaskForm):
    """A form with the shopper's phone, read as a local number of the merchant's country or with +."""

    phone = TelField(_l("Shopper's phone"), validators=[Length(max=40, message=NOT_A_PHONE)],
                     render_kw={"autocomplete": "off"})
    is_phone_required = True

    def __init__(self, merchant: Merchant, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.merchant = merchant
        self.e164: str | None = None

    def validate_phone(self, field):
        if not field.data:
            if self.is_phone_required:
                raise ValidationError(gettext("Enter the shopper's phone number."))
            return
        try:
            self.e164 = phones.normalise(field.data, self.merchant.country)
        except InvalidPhone:
            raise ValidationError(NOT_A_PHONE) from None


class PurchaseForm(PhoneForm):
    amount = AmountField(_l("Amount paid"), [DataRequired(_l("Enter the amount paid."))],
                         maximum=points.MAX_AMOUNT_MINOR, render_kw={"autocomplete": "off"})
    reference = StringField(
        _l("Receipt number (optional)"),
        [Optional(), Length(max=points.MAX_REFERENCE_CHARS,
                            message=_l("A receipt number is at most %(max)d characters.", max=points.MAX_REFERENCE_CHARS))],
        render_kw={"autocomplete": "off"},
    )
    key = form_key()


@blueprint.route("", methods=["GET", "POST"])
def purchase():
    merchant = current_user.merchant
    form, error = PurchaseForm(merchant), None
    if form.validate_on_submit():
        session = db_session()
        try:
            result = points.record_purchase(
                session, merchant, phone=form.e164, amount_minor=form.amount.data, now=utcnow(),
                reference=form.reference.data, idempotency_key=form.key.data, channel="web",
            )
        except Conflict:
            session.rollback()
            error = (
                gettext("Receipt %(reference)s is already recorded with a different phone or amount. "
                        "Check the receipt number, or leave it empty.", reference=form.reference.data.strip())
                if form.reference.data and form.reference.data.strip()
                else gettext("This form was already sent with a different phone or amount. "
                             "Check the details and press Record again.")
            )
            form.key.data = new_form_key()
        else:
            session.commit()
            if result.is_replay and result.purchase.idempotency_key != form.key.data:
                recorded = local_datetime(result.purchase.created_at, merchant.timezone)
                flash(gettext("This receipt was already recorded on %(when)s; no new points were given.", when=recorded),
                      "info")
            return redirect(url_for(".purchase_done", purchase_id=result.purchase.id))
    elif form.key.errors:
        error, form.key.errors = STALE_FORM, []
        form.key.data = new_form_key()
    if not form.key.data:
        form.key.data = new_form_key()
    return render_template("counter/purchase.html", form=form, error=error)


@blueprint.get("/purchases/<id:purchase_id>")
def purchase_done(purchase_id: int):
    outcome = receipts.purchase_outcome(db_session(), current_user.merchant_id, purchase_id)
    if outcome is None:
        abort(404)
    return render_template("counter/purchase_done.html", outcome=outcome)


class RedeemForm(PhoneForm):
    """Step one: who (by phone, or the member whose page staff came from) and which reward."""

    member = HiddenField()
    reward = SelectField(_l("Reward"), validate_choice=False)
    is_phone_required = False  # when staff came from the member's page; else `_member_with_phone` asks for it

    def __init__(self, merchant: Merchant, catalog: list[Reward], *args, **kwargs):
        super().__init__(merchant, *args, **kwargs)
        self.catalog = {str(reward.id): reward for reward in catalog}
        self.reward.choices = [("", gettext("Pick a reward…"))] + [
            (key, _reward_label(reward), {"disabled": True} if reward.stock == 0 else {})
            for key, reward in self.catalog.items()
        ]
        self.chosen: Reward | None = None

    def validate_reward(self, field):
        self.chosen = self.catalog.get(field.data or "")
        if self.chosen is None:
            raise ValidationError(gettext("Pick a reward from the list."))
        if self.chosen.stock == 0:
            raise ValidationError(gettext("%(reward)s is out of stock.", reward=self.chosen.name))


def _reward_label(reward: Reward) -> str:
    if reward.stock == 0:
        return gettext("%(reward)s (%(points)d points) — out of stock", reward=reward.name, points=reward.points_cost)
    if reward.stock:
        return gettext("%(reward)s (%(points)d points) — %(left)d left", reward=reward.name,
                       points=reward.points_cost, left=reward.stock)
    return gettext("%(reward)s (%(points)d points)", reward=reward.name, points=reward.points_cost)


class ConfirmRedemptionForm(FlaskForm):
    """Step two: the member and reward staff saw on the review, and the key."""

    member = IntegerField(validators=[DataRequired(), NumberRange(1, MAX_ROW_ID)])
    reward = IntegerField(validators=[DataRequired(), NumberRange(1, MAX_ROW_ID)])
    key = form_key()


@blueprint.route("/redeem", methods=["GET", "POST"])
def redeem():
    merchant, session = current_user.merchant, db_session()
    form, error = RedeemForm(merchant, rewards.list_rewards(session, merchant, active_only=True)), None
    if request.method == "GET":
        form.member.data = request.args.get("member")
    member = _chosen_member(form)
    if form.validate_on_submit():
        member = member or _member_with_phone(form)
        error = _why_not(member, form.chosen) if member is not None else None
        if member is not None and error is None:
            confirm = ConfirmRedemptionForm(member=member.id, reward=form.chosen.id, key=new_form_key())
            return render_template("counter/redeem_review.html", member=member, reward=form.chosen, form=confirm)
    return render_template("counter/redeem.html", form=form, member=member, error=error)


def _chosen_member(form: RedeemForm) -> Member | None:
    """The member staff came from (their page's Redeem button), else None: the phone says who."""
    if not form.member.data:
        return None
    member_id = row_id(form.member.data)
    member = points_history.find_member(db_session(), current_user.merchant_id, member_id) if member_id else None
    if member is None:
        abort(404)
    return member


def _member_with_phone(form: RedeemForm) -> Member | None:
    if not form.e164:
        form.phone.errors.append(gettext("Enter the shopper's phone number."))
        return None
    member = members.find(db_session(), current_user.merchant_id, form.e164)
    if member is None:
        form.phone.errors.append(gettext(
            "No member has this number. Check it with the shopper; they can join by texting JOIN to %(number)s.",
            number=current_user.merchant.primary_number,
        ))
    return member


def _why_not(member: Member, reward: Reward) -> str | None:
    """What would make the redemption fail, said at once (the domain checks again when it is confirmed)."""
    who = member.name or phones.mask_for_staff(member.phone)
    if not member.is_joined:
        return gettext("%(who)s has not joined yet, so there are no points to spend. "
                       "They join by texting JOIN to %(number)s.", who=who, number=current_user.merchant.primary_number)
    if member.points_balance < reward.points_cost:
        return gettext("%(who)s has %(balance)d points; %(reward)s needs %(cost)d.", who=who,
                       balance=member.points_balance, reward=reward.name, cost=reward.points_cost)
    return None


@blueprint.post("/redeem/confirm")
def confirm_redemption():
    merchant, session = current_user.merchant, db_session()
    form = ConfirmRedemptionForm()
    if not form.validate():
        flash(STALE_FORM, "error")
        return redirect(url_for(".redeem"))
    member = points_history.find_member(session, merchant.id, form.member.data)
    if member is None:
        abort(404)
    reward = rewards.get_reward(session, merchant, form.reward.data)  # NotFound: another merchant's → 404
    try:
        redemption = points.redeem_at_counter(
            session, merchant, member, reward, now=utcnow(), idempotency_key=form.key.data
        )
    except (InsufficientPoints, RewardUnavailable, Conflict) as refused:
        session.rollback()
        flash(_refusal(refused, member, reward), "error")
        return redirect(url_for(".redeem", member=member.id))
    session.commit()
    return redirect(url_for(".redemption_done", redemption_id=redemption.id))


def _refusal(refused: Conflict, member: Member, reward: Reward) -> str:
    if isinstance(refused, InsufficientPoints):
        return gettext("Not redeemed: %(why)s", why=_why_not(member, reward) or said(refused))
    if isinstance(refused, RewardUnavailable):
        if not reward.is_active:
            return gettext("Not redeemed: %(reward)s is switched off.", reward=reward.name)
        return gettext("Not redeemed: %(reward)s is out of stock.", reward=reward.name)
    return gettext("Not redeemed: this form was already used for another redemption. Pick the reward again.")


@blueprint.get("/redemptions/<id:redemption_id>")
def redemption_done(redemption_id: int):
    outcome = receipts.redemption_outcome(db_session(), current_user.merchant_id, redemption_id)
    if outcome is None:
        abort(404)
    return render_template("counter/redemption_done.html", outcome=outcome)


class CodeForm(FlaskForm):
    code = StringField(
        _l("Code the shopper shows"),
        [DataRequired(_l("Enter the code from the shopper's text.")),
         Length(max=MAX_CODE_CHARS, message=_l("That is too long for a code: codes have 6 letters and digits."))],
        render_kw={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"},
    )


@blueprint.route("/code", methods=["GET", "POST"])
def confirm_code():
    merchant, session = current_user.merchant, db_session()
    form, error, used = CodeForm(), None, None
    if form.validate_on_submit():
        try:
            redemption = points.confirm_redemption(session, merchant, form.code.data, now=utcnow())
        except RedemptionCodeInvalid:
            session.rollback()
            form.code.errors.append(gettext(
                "There is no such code at this shop. Check it with the shopper: "
                "codes have 6 letters and digits, without 0, 1, I or O."
            ))
        except RedemptionCodeUsed:
            session.rollback()
            used = receipts.redemption_for_code(session, merchant.id, form.code.data)
            error = gettext(
                "Code %(code)s was already used on %(when)s for %(reward)s. Do not hand it over again.",
                code=used.code, when=local_datetime(used.confirmed_at, merchant.timezone), reward=used.reward.name,
            )
        except RedemptionCodeExpired:
            session.commit()  # the points of the expired code go back to the member now
            expired = receipts.redemption_for_code(session, merchant.id, form.code.data)
            error = gettext(
                "Code %(code)s expired on %(when)s. Its %(points)d points are back on the member's balance; "
                "they can text REDEEM again for a new code.",
                code=expired.code, when=local_datetime(expired.expires_at, merchant.timezone), points=expired.points_cost,
            )
        else:
            session.commit()
            flash(gettext("Code %(code)s confirmed: hand over the reward.", code=redemption.code), "info")
            return redirect(url_for(".redemption_done", redemption_id=redemption.id))
    return render_template("counter/code.html", form=form, error=error, used=used)
