"""The rewards catalog: the owner adds, changes, switches off and on, and keeps the stock; staff can
only look; another merchant's rewards cannot be reached."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from smscrm.accounts import logins
from smscrm.models import Reward, Role
from tests.web.points_pages import add_reward, fresh, hidden_fields, submit

STAFF_EMAIL, STAFF_PASSWORD = "staff@tea.example", "counter staff password"


def catalog(session):
    fresh(session)
    return session.scalars(select(Reward).order_by(Reward.id)).all()


def add(client, **data):
    return submit(client, "/rewards/new", {"code": "TEA", "name": "Free tea", "points_cost": "100", "stock": "",
                                           "is_active": "y", **data})


@pytest.fixture
def staff(client, session, merchant, now, sign_in):
    logins.create_staff_user(session, merchant, email=STAFF_EMAIL, password=STAFF_PASSWORD, role=Role.STAFF, now=now)
    session.commit()
    assert sign_in(STAFF_EMAIL, STAFF_PASSWORD).status_code == 302
    return client


def test_the_owner_adds_a_reward(owner, session):
    response = add(owner, code=" t-ea ", stock="20")
    assert response.status_code == 302
    assert response.location == "/rewards"
    [reward] = catalog(session)
    assert (reward.code, reward.name, reward.points_cost, reward.stock, reward.is_active) == ("TEA", "Free tea", 100, 20, True)
    page = owner.get("/rewards").text
    assert "Free tea is in the catalog: members text REDEEM TEA to get it." in page
    assert "20 left" in page and "100 points" in page


def test_a_reward_without_stock_has_no_limit_and_can_start_switched_off(owner, session):
    add(owner, is_active="")
    [reward] = catalog(session)
    assert (reward.stock, reward.is_active) == (None, False)
    page = owner.get("/rewards").text
    assert "no limit" in page and '<tr class="inactive">' in page


def test_a_code_in_use_is_refused_with_a_message(owner, session, merchant, now):
    add_reward(session, merchant, now=now)
    response = add(owner, code="tea", name="Another tea")
    assert response.status_code == 200
    assert "You already have a reward with the code TEA. Pick another code." in response.text
    assert len(catalog(session)) == 1


@pytest.mark.parametrize(
    ("field", "typed", "message"),
    [
        ("code", "", "Give the reward a short code shoppers can text, like TEA."),
        ("code", "茶", "A code is 1 to 12 letters or digits, like TEA or A1."),
        ("code", "THIRTEENCHARS", "A code is 1 to 12 letters or digits, like TEA or A1."),
        ("name", "  ", "Give the reward a name, like Free tea."),
        ("name", "x" * 31, "A name is at most 30 characters."),
        ("points_cost", "", "Say how many points the reward costs, like 100."),
        ("points_cost", "a lot", "Type the points as a whole number, like 100."),
        ("points_cost", "2.5", "Type the points as a whole number, like 100."),
        ("points_cost", "0", "A reward costs from 1 to 10,000,000 points."),
        ("stock", "-1", "Stock is from 0 to 1,000,000, or empty for no limit."),
        ("stock", "some", "Type how many are left as a whole number"),
    ],
)
def test_what_is_not_a_reward_is_refused_with_one_message(owner, session, field, typed, message):
    response = add(owner, **{field: typed})
    assert response.status_code == 200
    assert response.text.count('class="field-error"') == 1
    assert message in response.text
    assert catalog(session) == []


def test_the_owner_changes_a_reward_and_its_stock_but_not_its_code(owner, session, merchant, now):
    reward = add_reward(session, merchant, now=now, stock=3)
    form = owner.get(f"/rewards/{reward.id}/edit").text
    assert "Shoppers text <strong>REDEEM TEA</strong>" in form
    assert 'value="Free tea"' in form and 'value="3"' in form
    response = submit(owner, f"/rewards/{reward.id}/edit",
                      {"name": "Pot of tea", "points_cost": "120", "stock": "", "is_active": "y", "code": "NEW"})
    assert response.location == "/rewards"
    [changed] = catalog(session)
    assert (changed.code, changed.name, changed.points_cost, changed.stock, changed.is_active) == ("TEA", "Pot of tea", 120, None, True)


def test_a_reward_has_a_name_for_chinese_texts(owner, session, merchant, now):
    """Issue 21: added, listed and changed on the rewards page; empty means the name above."""
    add(owner, name_zh=" 免费 茶 ")
    [reward] = catalog(session)
    assert reward.name_zh == "免费 茶"
    assert '<span class="muted" lang="zh-Hans">免费 茶</span>' in owner.get("/rewards").text
    submit(owner, f"/rewards/{reward.id}/edit", {"name": "Free tea", "name_zh": "", "points_cost": "100", "is_active": "y"})
    assert catalog(session)[0].name_zh is None
    response = submit(owner, f"/rewards/{reward.id}/edit",
                      {"name": "Free tea", "name_zh": "茶" * 11, "points_cost": "100", "is_active": "y"})
    assert "A Chinese name is at most 10 characters." in response.text


def test_a_change_that_is_not_valid_keeps_the_reward(owner, session, merchant, now):
    reward = add_reward(session, merchant, now=now)
    response = submit(owner, f"/rewards/{reward.id}/edit", {"name": "", "points_cost": "120", "is_active": "y"})
    assert "Give the reward a name, like Free tea." in response.text
    assert catalog(session)[0].name == "Free tea"


def test_the_owner_switches_a_reward_off_and_on(owner, session, merchant, now):
    reward = add_reward(session, merchant, now=now)
    page = owner.get("/rewards").text
    action = f"/rewards/{reward.id}/active"
    assert hidden_fields(page, action)["is_active"] == "off"
    response = submit(owner, "/rewards", {}, action=action, page=page)
    assert response.location == "/rewards"
    assert catalog(session)[0].is_active is False
    assert "Free tea is off: members cannot redeem it until you switch it on." in owner.get("/rewards").text
    assert "Free tea" not in owner.get("/counter/redeem").text

    submit(owner, "/rewards", {}, action=action, page=page)  # the same button again: stays off
    assert catalog(session)[0].is_active is False
    submit(owner, "/rewards", {}, action=action)  # the page now offers to switch it on
    assert catalog(session)[0].is_active is True


def test_a_switch_that_says_neither_on_nor_off_is_refused(owner, session, merchant, now):
    reward = add_reward(session, merchant, now=now)
    response = submit(owner, "/rewards", {"is_active": "maybe"}, action=f"/rewards/{reward.id}/active")
    assert response.status_code == 400
    assert catalog(session)[0].is_active is True


def test_the_catalog_lists_cheapest_first_and_says_what_is_out_of_stock(owner, session, merchant, now):
    add_reward(session, merchant, now=now, code="CAKE", name="Cake", points_cost=300)
    add_reward(session, merchant, now=now, code="SCONE", name="Scone", points_cost=50, stock=0)
    add_reward(session, merchant, now=now)
    page = owner.get("/rewards").text
    assert page.index("Scone") < page.index("Free tea") < page.index("Cake")
    assert "Out of stock" in page


def test_staff_redeem_at_the_counter_but_neither_read_nor_change_the_catalog(staff, session, merchant, now):
    reward = add_reward(session, merchant, now=now)
    counter = staff.get("/counter/redeem")
    assert counter.status_code == 200 and '<a href="/rewards"' not in counter.text
    for path in ("/rewards", "/rewards/new", f"/rewards/{reward.id}/edit"):
        refused = staff.get(path)
        assert refused.status_code == 403, path
        assert "Only the owner can change this." in refused.text
    token = hidden_fields(counter.text, "/sign-out")["csrf_token"]
    assert staff.post(f"/rewards/{reward.id}/active", data={"csrf_token": token, "is_active": "off"}).status_code == 403
    assert staff.post("/rewards/new", data={"csrf_token": token, "code": "X", "name": "X", "points_cost": "1"}).status_code == 403
    assert catalog(session)[0].is_active is True and len(catalog(session)) == 1


def test_staff_are_not_offered_to_add_a_reward_where_there_is_none(staff):
    page = staff.get("/counter/redeem").text
    assert "There are no rewards to redeem yet." in page and "Add a reward" not in page


def test_another_merchants_rewards_are_not_shown_or_reachable(owner, session, other_merchant, merchant, now):
    theirs = add_reward(session, other_merchant, now=now, code="CUT", name="Haircut", points_cost=10)
    assert "Haircut" not in owner.get("/rewards").text
    assert owner.get(f"/rewards/{theirs.id}/edit").status_code == 404
    response = submit(owner, "/rewards", {"is_active": "off"}, action=f"/rewards/{theirs.id}/active",
                      page=owner.get("/rewards/new").text.replace('action="/rewards/new"', f'action="/rewards/{theirs.id}/active"'))
    assert response.status_code == 404
    assert catalog(session)[0].is_active is True
    assert owner.get("/rewards/99999999999/edit").status_code == 404
