"""Fixtures for the merchant web app: signing in through the real form (CSRF stays ON in these
tests, so every POST carries the token read from the page), members, and a second merchant."""
from __future__ import annotations

import itertools
import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import insert

from smscrm.accounts.merchants import create_merchant
from smscrm.models import InboundMessage, Intent, Member, Merchant
from tests.conftest import OWNER_EMAIL, OWNER_PASSWORD

_message_sids = itertools.count(1)
_CSRF_FIELD = re.compile(r'<input[^>]*name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token(html: str) -> str:
    """The CSRF token of the first form on a page."""
    match = _CSRF_FIELD.search(html)
    assert match, "the page has no form with a CSRF token"
    return match.group(1)


@pytest.fixture
def sign_in(client):
    """Fill in the sign-in form; returns the response to the POST."""

    def submit(email: str = OWNER_EMAIL, password: str = OWNER_PASSWORD, *, next_url: str | None = None):
        query = {"next": next_url} if next_url else {}
        token = csrf_token(client.get("/sign-in", query_string=query).text)
        return client.post(
            "/sign-in", query_string=query, data={"csrf_token": token, "email": email, "password": password}
        )

    return submit


@pytest.fixture
def owner(client, merchant, sign_in):
    """The test client, signed in as the owner of the test merchant."""
    response = sign_in()
    assert response.status_code == 302
    return client


@pytest.fixture
def other_merchant(session, now) -> Merchant:
    merchant = create_merchant(
        session, name="Blue Door Salon", number="+14155559999", email="owner@salon.example",
        password="another good password", now=now, timezone="Asia/Shanghai", country="US",
    )
    session.commit()
    return merchant


def add_members(session, merchant: Merchant, count: int, *, first_joined: datetime, phone_prefix: str = "+1415666"):
    """`count` joined members in one INSERT, the i-th joining i minutes after `first_joined`."""
    session.execute(
        insert(Member),
        [
            {
                "merchant_id": merchant.id, "phone": f"{phone_prefix}{index:04d}", "name": f"Member {index:04d}",
                "language": "en", "joined_at": first_joined + timedelta(minutes=index),
                "created_at": first_joined + timedelta(minutes=index), "is_opted_out": False, "points_balance": 0,
            }
            for index in range(count)
        ],
    )
    session.commit()


def add_feedback(session, merchant: Merchant, body: str, *, received_at: datetime, phone: str = "+14155550100",
                 member: Member | None = None) -> InboundMessage:
    """A feedback text as the webhook stores it, at a chosen time."""
    message = InboundMessage(
        merchant_id=merchant.id, message_sid=f"SMweb{next(_message_sids):029d}",
        from_phone=phone, to_phone=merchant.primary_number, body=body, intent=Intent.FEEDBACK,
        member_id=member.id if member else None, received_at=received_at,
    )
    session.add(message)
    session.commit()
    return message
