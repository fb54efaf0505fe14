"""Helpers for the tests of the points pages: fill in a form the way a browser does (the CSRF token and
any hidden key read from the page), people and rewards to work with, and the ledger invariant."""
from __future__ import annotations

import html
import re

import pytest

from smscrm import points
from smscrm.loyalty import members, rewards
from tests.loyalty.conftest import assert_ledger_consistent

ANN = "+14155550142"
_HIDDEN = re.compile(r'<input(?=[^>]*type="hidden")(?=[^>]*name="([^"]+)")(?=[^>]*value="([^"]*)")[^>]*>')


def fresh(session):
    """Let the test's session see what the web requests committed since it last looked."""
    session.rollback()  # a new transaction: no older snapshot
    session.expire_all()  # and no row kept from before (the sessions do not expire on commit)
    return session


def hidden_fields(page: str, action: str) -> dict[str, str]:
    """The hidden fields (CSRF token, keys, chosen ids) of the form on `page` that posts to `action`."""
    start = page.index(f'action="{action}"')
    form = page[start:page.index("</form>", start)]
    return {name: html.unescape(value) for name, value in _HIDDEN.findall(form)}


def submit(client, page_url: str, data: dict, *, action: str | None = None, page: str | None = None):
    """Open `page_url` (or use the `page` already shown) and send its form to `action` with `data`."""
    action = action or page_url.partition("?")[0]
    page = page if page is not None else client.get(page_url).text
    return client.post(action, data={**hidden_fields(page, action), **data})


def join(session, merchant, phone: str = ANN, *, name: str = "Ann Lee", now, language: str = "en"):
    """A member who joined the way the JOIN keyword does it; committed."""
    member = members.join(session, merchant, phone, name=name, language=language, now=now)
    points.on_join(session, merchant, member, now=now)
    session.commit()
    return member


def give_points(session, merchant, phone: str, amount_minor: int, *, now, reference: str | None = None):
    """A purchase recorded straight through the domain (1 point a whole currency unit by default); committed."""
    result = points.record_purchase(session, merchant, phone=phone, amount_minor=amount_minor, now=now,
                                    reference=reference)
    session.commit()
    return result


def add_reward(session, merchant, *, now, code: str = "TEA", name: str = "Free tea", points_cost: int = 100,
               stock: int | None = None, is_active: bool = True):
    reward = rewards.create_reward(session, merchant, code=code, name=name, points_cost=points_cost, stock=stock,
                                   is_active=is_active, now=now)
    session.commit()
    return reward


@pytest.fixture
def ledger_invariant(session):
    """After the test: every balance is explained by its entries (see tests/loyalty/conftest.py)."""
    yield
    assert_ledger_consistent(fresh(session))
