"""The inbox pages: conversations waiting for a reply (urgent first, with the member's context), replying
by SMS, resolving, and the time to first response."""
from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select, update

from smscrm.db.engine import utcnow
from smscrm.models import Category, InboxItem, Member, OutboundMessage, Status
from smscrm.web.formatting import duration
from tests.messaging.test_inbox_conversations import ask_about_a_visit
from tests.web.conftest import csrf_token, other_merchant, owner, sign_in  # noqa: F401  (fixtures)

WAITING = re.compile(r'<span class="sender">([^<]*)</span>')


def open_items(session) -> list[InboxItem]:
    session.expire_all()
    return list(session.scalars(select(InboxItem).order_by(InboxItem.id)))


def waiting_senders(html: str) -> list[str]:
    section = html.split("<h2>Needs a reply</h2>", 1)[1].split("<h2>All feedback</h2>", 1)[0]
    return WAITING.findall(section)


def test_an_urgent_low_rating_comes_first_with_the_members_context(owner, session, merchant, text_in):
    text_in("Do you have oolong?", sender="+14155550188")
    text_in("JOIN Ann")
    session.execute(update(Member).where(Member.phone == "+14155550100").values(value_class="B"))
    session.commit()
    ask_about_a_visit(session, merchant, utcnow())
    text_in("1")

    page = owner.get("/inbox").text
    assert waiting_senders(page) == ["Ann", "•••• 0188"]
    assert "Rated 1/5" in page and "Urgent" in page and "2 waiting for a reply" in page
    assert re.search(r"Class B\s+· 18 points\s+· last visit \w{3} \d{1,2}, \d{4}, 1 visit", page)
    assert "Not a member" in page


def test_replying_from_the_conversation_texts_the_shopper(owner, session, merchant, text_in):
    text_in("JOIN Ann")
    text_in("Is the shop open on Sunday?")
    [item] = open_items(session)
    page = owner.get(f"/inbox/{item.id}").text
    assert "Is the shop open on Sunday?" in page and "Not answered yet" in page

    response = owner.post(f"/inbox/{item.id}/reply", data={"csrf_token": csrf_token(page), "body": "Yes, 10 to 6"})
    assert response.status_code == 302
    [sent] = session.scalars(select(OutboundMessage).where(OutboundMessage.purpose == "inbox_reply")).all()
    assert (sent.to_phone, sent.body, sent.category, sent.status) == (
        "+14155550100", "Yes, 10 to 6", Category.REPLY, Status.QUEUED)
    page = owner.get(f"/inbox/{item.id}").text
    assert "Reply sent by SMS." in page and "First answered after" in page and "owner@tea.example" in page
    assert "median" in owner.get("/inbox").text


def test_a_new_text_after_the_answer_shows_the_conversation_unanswered_again(owner, session, merchant, text_in):
    text_in("Is the shop open on Sunday?")
    [item] = open_items(session)
    page = owner.get(f"/inbox/{item.id}").text
    owner.post(f"/inbox/{item.id}/reply", data={"csrf_token": csrf_token(page), "body": "Yes, 10 to 6"})
    listing = owner.get("/inbox").text
    assert "0 waiting for a reply" in listing and ">Answered</span>" in listing

    text_in("And on Monday?")
    listing = owner.get("/inbox").text
    assert "1 waiting for a reply" in listing and ">Answered</span>" not in listing
    assert "New text since the answer" in listing
    assert "A new text since the last answer is waiting" in owner.get(f"/inbox/{item.id}").text


def test_an_empty_reply_is_explained(owner, session, merchant, text_in):
    text_in("Hello?")
    [item] = open_items(session)
    page = owner.get(f"/inbox/{item.id}").text
    response = owner.post(f"/inbox/{item.id}/reply", data={"csrf_token": csrf_token(page), "body": "  "})
    assert response.status_code == 400 and "write a reply before sending it" in response.text


def test_resolving_takes_it_off_the_waiting_list(owner, session, merchant, text_in):
    text_in("Thanks for the tea")
    [item] = open_items(session)
    token = csrf_token(owner.get(f"/inbox/{item.id}").text)
    assert owner.post(f"/inbox/{item.id}/resolve", data={"csrf_token": token}).status_code == 302
    assert open_items(session)[0].resolved_at is not None
    page = owner.get("/inbox").text
    assert "Needs a reply" not in page and "0 waiting for a reply" in page
    assert "Thanks for the tea" in page  # still in all feedback, with a link to the conversation
    assert f'href="/inbox/{item.id}"' in page


def test_no_reply_form_for_a_phone_that_opted_out(owner, session, merchant, text_in):
    text_in("JOIN Ann")
    text_in("Please stop")
    text_in("STOP")
    [item] = open_items(session)
    page = owner.get(f"/inbox/{item.id}").text
    assert "a reply cannot be sent" in page and "Send reply" not in page


def test_another_merchants_conversation_is_not_found(owner, session, other_merchant, text_in):
    text_in("Secret", to=other_merchant.primary_number)
    [item] = open_items(session)
    assert owner.get(f"/inbox/{item.id}").status_code == 404
    assert owner.post(f"/inbox/{item.id}/resolve", data={}).status_code in (400, 404)
    assert open_items(session)[0].resolved_at is None


def test_durations_read_as_staff_say_them():
    assert [duration(timedelta(seconds=s)) for s in (30, 12 * 60, 3 * 3600 + 300, 3 * 3600, 2 * 86400 + 4 * 3600)] == [
        "under a minute", "12 min", "3 h 5 min", "3 h", "2 d 4 h",
    ]


def test_a_text_from_a_sender_we_may_not_answer_is_listed_without_a_reply_link(owner, session, merchant, text_in):
    text_in("Hi from WhatsApp", sender="whatsapp:+14155550123")
    page = owner.get("/inbox").text
    feedback = page.split("<h2>All feedback</h2>", 1)[1]
    assert "Hi from WhatsApp" in feedback and "•••• 0123" in feedback
    assert "Needs a reply" not in page and 'href="/inbox/' not in feedback
    assert open_items(session) == []
