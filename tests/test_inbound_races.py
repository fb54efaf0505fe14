"""Texts that arrive at the same moment on PostgreSQL: Twilio retrying one MessageSid while the first
try is still running, and a shopper who sends JOIN twice in a row. Each text is answered and stored
once; the membership and its consent evidence exist once."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from smscrm.models import ConsentEvent, InboundMessage, Member, OutboundMessage
from smscrm.simulator import reply_text
from tests.concurrently import run_together
from tests.conftest import MERCHANT_NUMBER, PUBLIC_URL, twilio_signature

pytestmark = pytest.mark.postgres_only(
    "concurrent webhooks need PostgreSQL: SQLite lets one writer at a time into the whole file"
)
ANN = "+14155550100"
THREADS = 8



def post_at_once(app, forms: list[dict]) -> list[tuple[int, str | None]]:
    """POST each form to the webhook from its own thread, released together; (status, reply) of each."""

    def post(n: int, go) -> tuple[int, str | None]:
        client = app.test_client()
        signature = twilio_signature(PUBLIC_URL + "/sms/inbound", forms[n])
        go()
        response = client.post("/sms/inbound", data=forms[n], headers={"X-Twilio-Signature": signature})
        return response.status_code, reply_text(response.get_data(as_text=True))

    return run_together(len(forms), post)


def count(session, model, *where) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model).where(*where))


def test_retries_of_one_text_at_once_act_once_and_answer_alike(app, session, merchant):
    form = {"MessageSid": "SMretry", "From": ANN, "To": MERCHANT_NUMBER, "Body": "JOIN Ann"}

    answers = post_at_once(app, [form] * THREADS)

    assert {status for status, _ in answers} == {200}
    assert len({reply for _, reply in answers}) == 1 and "Welcome" in answers[0][1]
    assert count(session, InboundMessage) == 1
    assert count(session, Member) == 1 and count(session, ConsentEvent) == 1
    assert count(session, OutboundMessage) == 1


def test_join_sent_twice_at_once_makes_one_membership_and_answers_both(app, session, merchant):
    forms = [
        {"MessageSid": f"SMtwice{n}", "From": ANN, "To": MERCHANT_NUMBER, "Body": "JOIN Ann"} for n in range(THREADS)
    ]

    answers = post_at_once(app, forms)

    assert {status for status, _ in answers} == {200}
    assert sum("Welcome" in reply for _, reply in answers) == 1  # the others: already a member
    assert count(session, InboundMessage) == THREADS  # every text is kept
    assert count(session, Member) == 1 and count(session, ConsentEvent) == 1
    assert count(session, OutboundMessage, OutboundMessage.purpose == "welcome") == 1
    assert count(session, OutboundMessage, OutboundMessage.purpose == "already_member") == THREADS - 1
