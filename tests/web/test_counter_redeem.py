"""Redeeming at the counter: pick the member by phone (or come from their page), pick an active reward,
check and confirm; and confirming the one-time code a shopper got by texting REDEEM. Refusals are
messages, never errors, and nothing of another merchant can be reached."""
from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from smscrm import points
from smscrm.db.engine import utcnow
from smscrm.models import (
    EntryKind,
    Member,
    PointsEntry,
    Redemption,
    RedemptionStatus,
    Reward,
)
from tests.web.points_pages import (  # noqa: F401
    ANN,
    add_reward,
    fresh,
    give_points,
    hidden_fields,
    join,
    ledger_invariant,
    submit,
)

pytestmark = pytest.mark.usefixtures("ledger_invariant")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")  # the test merchant's timezone


@pytest.fixture
def ann(session, merchant, now):
    """Ann Lee, a member with 150 points."""
    member = join(session, merchant, now=now - timedelta(days=30))
    give_points(session, merchant, ANN, 15000, now=now - timedelta(days=1))
    return member


@pytest.fixture
def tea(session, merchant, now):
    return add_reward(session, merchant, now=now, stock=5)


def review(client, **data):
    """Step one: who and which reward; returns the review page (or the form again, with a message)."""
    return submit(client, "/counter/redeem", {"phone": "", **data})


def confirm(client, review_page: str):
    return client.post("/counter/redeem/confirm", data=hidden_fields(review_page, "/counter/redeem/confirm"))


def balance_of(session, member) -> int:
    fresh(session)
    return session.scalar(select(Member.points_balance).where(Member.id == member.id))


def redemptions(session):
    fresh(session)
    return session.scalars(select(Redemption).order_by(Redemption.id)).all()


def test_staff_redeem_a_reward_for_a_member_found_by_phone(owner, session, ann, tea):
    form = owner.get("/counter/redeem").text
    assert "Free tea (100 points) — 5 left" in form
    page = review(owner, phone="415-555-0142", reward=str(tea.id))
    assert page.status_code == 200
    assert "Give Free tea?" in page.text
    assert "<dt>Points now</dt><dd>150</dd>" in page.text
    assert "<dt>Points after</dt><dd><strong>50</strong></dd>" in page.text
    assert redemptions(session) == []  # the review changes nothing

    done = confirm(owner, page.text)
    assert done.status_code == 302
    [redemption] = redemptions(session)
    assert done.location == f"/counter/redemptions/{redemption.id}"
    assert (redemption.member_id, redemption.reward_id, redemption.status) == (ann.id, tea.id, RedemptionStatus.CONFIRMED)
    assert balance_of(session, ann) == 50
    assert session.scalar(select(Reward.stock).where(Reward.id == tea.id)) == 4
    shown = owner.get(done.location).text
    assert "Give Ann Lee: Free tea" in shown
    assert "<dt>Balance after</dt><dd><strong>50</strong></dd>" in shown


def test_a_confirmation_sent_twice_redeems_once(owner, session, ann, tea):
    page = review(owner, phone=ANN, reward=str(tea.id)).text
    first, second = confirm(owner, page), confirm(owner, page)
    assert first.location == second.location
    assert len(redemptions(session)) == 1
    assert balance_of(session, ann) == 50


def test_too_few_points_is_said_before_the_review(owner, session, merchant, ann, now):
    feast = add_reward(session, merchant, now=now, code="FEAST", name="Tea feast", points_cost=500)
    page = review(owner, phone=ANN, reward=str(feast.id))
    assert page.status_code == 200
    assert "Ann Lee has 150 points; Tea feast needs 500." in page.text
    assert "Give Tea feast?" not in page.text


def test_points_spent_between_review_and_confirmation_refuse_it_with_a_message(owner, session, merchant, ann, tea, now):
    page = review(owner, phone=ANN, reward=str(tea.id)).text
    member = session.get(Member, ann.id)
    points.adjust(session, member, points=-100, note="correction", now=now, idempotency_key="fix-1")
    session.commit()
    refused = confirm(owner, page)
    assert refused.status_code == 302
    assert refused.location == f"/counter/redeem?member={ann.id}"
    again = owner.get(refused.location).text
    assert "Not redeemed: Ann Lee has 50 points; Free tea needs 100." in again
    assert redemptions(session) == []


@pytest.mark.parametrize(("change", "message"), [({"stock": 0}, "out of stock"), ({"is_active": False}, "switched off")])
def test_a_reward_gone_between_review_and_confirmation_is_a_message(owner, session, ann, tea, change, message):
    page = review(owner, phone=ANN, reward=str(tea.id)).text
    session.execute(update(Reward).where(Reward.id == tea.id).values(**change))
    session.commit()
    refused = confirm(owner, page)
    assert f"Not redeemed: Free tea is {message}." in owner.get(refused.location).text
    assert redemptions(session) == []
    assert balance_of(session, ann) == 150


def test_a_reward_out_of_stock_cannot_be_picked(owner, session, merchant, ann, now):
    scone = add_reward(session, merchant, now=now, code="SCONE", name="Scone", points_cost=50, stock=0)
    form = owner.get("/counter/redeem").text
    assert f'<option disabled value="{scone.id}">Scone (50 points) — out of stock</option>' in form
    page = review(owner, phone=ANN, reward=str(scone.id))
    assert "Scone is out of stock." in page.text


def test_switched_off_rewards_are_not_offered(owner, session, merchant, ann, tea, now):
    cake = add_reward(session, merchant, now=now, code="CAKE", name="Cake", points_cost=60, is_active=False)
    assert "Cake" not in owner.get("/counter/redeem").text
    assert "Pick a reward from the list." in review(owner, phone=ANN, reward=str(cake.id)).text
    assert "Pick a reward from the list." in review(owner, phone=ANN, reward="").text


def test_a_phone_that_is_no_member_is_a_message(owner, ann, tea):
    page = review(owner, phone="4155550199", reward=str(tea.id))
    assert "No member has this number." in page.text
    assert "texting JOIN to +14155550000" in page.text
    assert "Enter the shopper&#39;s phone number." in review(owner, phone="", reward=str(tea.id)).text


def test_a_pending_member_has_no_points_to_spend(owner, session, merchant, tea, now):
    give_points(session, merchant, "+14155550177", 30000, now=now)  # not joined: the points are held
    page = review(owner, phone="+14155550177", reward=str(tea.id))
    assert "•••• 0177 has not joined yet, so there are no points to spend." in page.text


def test_coming_from_the_members_page_needs_no_phone(owner, session, ann, tea):
    form = owner.get(f"/counter/redeem?member={ann.id}").text
    assert "For <strong>Ann Lee</strong>" in form
    assert 'name="phone"' not in form
    page = submit(owner, f"/counter/redeem?member={ann.id}", {"reward": str(tea.id)}, action="/counter/redeem", page=form)
    assert "Give Free tea?" in page.text
    confirm(owner, page.text)
    assert balance_of(session, ann) == 50


def test_the_page_says_when_there_is_nothing_to_redeem(owner, ann):
    assert "There are no rewards to redeem yet." in owner.get("/counter/redeem").text


def test_another_merchants_member_or_reward_is_not_found(owner, session, other_merchant, ann, tea, now):
    stranger = join(session, other_merchant, "+14155550100", name="Other", now=now)
    their_reward = add_reward(session, other_merchant, now=now, code="CUT", name="Haircut", points_cost=1)
    page = review(owner, phone=ANN, reward=str(tea.id)).text
    fields = hidden_fields(page, "/counter/redeem/confirm")
    assert owner.post("/counter/redeem/confirm", data={**fields, "member": stranger.id}).status_code == 404
    assert owner.post("/counter/redeem/confirm", data={**fields, "reward": their_reward.id}).status_code == 404
    assert owner.get(f"/counter/redeem?member={stranger.id}").status_code == 404
    assert owner.get("/counter/redeem?member=99999999999999999999").status_code == 404
    assert "Haircut" not in owner.get("/counter/redeem").text
    assert "Pick a reward from the list." in review(owner, phone=ANN, reward=str(their_reward.id)).text
    assert redemptions(session) == []


def test_a_tampered_confirmation_goes_back_to_the_start(owner, session, ann, tea):
    page = review(owner, phone=ANN, reward=str(tea.id)).text
    fields = hidden_fields(page, "/counter/redeem/confirm")
    response = owner.post("/counter/redeem/confirm", data={**fields, "reward": "lots"})
    assert response.location == "/counter/redeem"
    assert "This form is out of date." in owner.get("/counter/redeem").text
    assert redemptions(session) == []


class TestCodes:
    @pytest.fixture
    def code(self, session, merchant, ann, tea):
        """A code Ann got by texting REDEEM TEA an hour ago (valid 7 days; the counter works in real time)."""
        return self.request(session, merchant, ann, asked_at=utcnow() - timedelta(hours=1)).code

    @staticmethod
    def request(session, merchant, member, *, asked_at):
        redemption = points.request_redemption(session, merchant, session.get(Member, member.id), "TEA", now=asked_at)
        session.commit()
        return redemption

    def test_a_code_is_confirmed_and_the_reward_handed_over(self, owner, session, ann, code):
        response = submit(owner, "/counter/code", {"code": f" {code[:3].lower()}-{code[3:]} "})
        assert response.status_code == 302
        [redemption] = redemptions(session)
        assert redemption.status == RedemptionStatus.CONFIRMED
        assert response.location == f"/counter/redemptions/{redemption.id}"
        page = owner.get(response.location).text
        assert f"Code {code} confirmed: hand over the reward." in page
        assert "Give Ann Lee: Free tea" in page
        assert balance_of(session, ann) == 50

    def test_a_used_code_says_when_and_what(self, owner, session, code):
        submit(owner, "/counter/code", {"code": code})
        again = submit(owner, "/counter/code", {"code": code})
        assert again.status_code == 200
        [redemption] = redemptions(session)
        local = redemption.confirmed_at.astimezone(LOS_ANGELES)
        used_at = f"{local:%b} {local.day}, {local:%Y} {local:%-I:%M}\u202f{local:%p}"  # Babel's English, medium
        assert f"Code {code} was already used on {used_at} for Free tea. Do not hand it over again." in again.text
        assert f'href="/counter/redemptions/{redemption.id}"' in again.text

    def test_an_expired_code_gives_the_points_back_and_says_so(self, owner, session, merchant, ann, tea):
        redemption = self.request(session, merchant, ann, asked_at=utcnow() - timedelta(days=8))
        assert balance_of(session, ann) == 50
        response = submit(owner, "/counter/code", {"code": redemption.code})
        assert response.status_code == 200
        local = redemption.expires_at.astimezone(LOS_ANGELES)
        expired_at = f"{local:%b} {local.day}, {local:%Y} {local:%-I:%M}\u202f{local:%p}"
        assert f"Code {redemption.code} expired on {expired_at}." in response.text
        assert "Its 100 points are back on the member&#39;s balance" in response.text
        assert balance_of(session, ann) == 150
        kinds = session.scalars(select(PointsEntry.kind).where(PointsEntry.member_id == ann.id).order_by(PointsEntry.id))
        assert list(kinds)[-2:] == [EntryKind.REDEEM, EntryKind.REVERSAL]

    @pytest.mark.parametrize("typed", ["ZZZZZZ", "hello", "0O1I00"])
    def test_an_unknown_code_is_a_message(self, owner, session, code, typed):
        response = submit(owner, "/counter/code", {"code": typed})
        assert response.status_code == 200
        assert "There is no such code at this shop." in response.text
        assert redemptions(session)[0].status == RedemptionStatus.RESERVED

    def test_an_empty_or_overlong_code_is_a_message(self, owner, code):
        assert "Enter the code from the shopper's text." in submit(owner, "/counter/code", {"code": ""}).text
        assert "That is too long for a code" in submit(owner, "/counter/code", {"code": "A" * 21}).text

    def test_another_merchants_code_is_unknown_here(self, owner, session, other_merchant, now):
        stranger = join(session, other_merchant, "+14155550100", name="Other", now=now - timedelta(days=2))
        give_points(session, other_merchant, "+14155550100", 10000, now=now - timedelta(days=2))
        add_reward(session, other_merchant, now=now, code="CUT", name="Haircut", points_cost=10)
        theirs = points.request_redemption(session, other_merchant, session.get(Member, stranger.id), "CUT",
                                           now=utcnow())
        session.commit()
        response = submit(owner, "/counter/code", {"code": theirs.code})
        assert "There is no such code at this shop." in response.text
        assert owner.get(f"/counter/redemptions/{theirs.id}").status_code == 404
        fresh(session)
        assert session.get(Redemption, theirs.id).status == RedemptionStatus.RESERVED
