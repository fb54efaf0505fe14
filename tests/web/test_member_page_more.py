"""A member's page beyond their points: staff edit the details; the texts both ways with delivery status; the
consent evidence; referrals both ways; an opt-out asked for in person; and adding a member in person."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from smscrm.db.engine import utcnow
from smscrm.loyalty import members, referrals
from smscrm.messaging import outbox
from smscrm.models import Category, ConsentEvent, Member, OutboundMessage, Status
from tests.web.points_pages import fresh, hidden_fields, submit

PHONE = "+14155550100"


@pytest.fixture
def ann(session, merchant, now):
    member = members.join(session, merchant, PHONE, name="Ann Lee", language="en", now=now)
    session.commit()
    return member


def edit(client, member, **changes):
    data = {"name": "Someone Else", "birthday_month": "", "birthday_day": "", "language": "en", "interests": "",
            "notes": "", **changes}
    return submit(client, f"/members/{member.id}", data, action=f"/members/{member.id}/profile")


class TestEditingTheDetails:
    def test_staff_save_the_details(self, owner, session, ann):
        response = edit(owner, ann, name="Ann  Li", birthday_month="3", birthday_day="14", language="zh",
                        interests="Green tea，cakes、 oolong", notes="Prefers texts in the evening")
        assert response.status_code == 302
        member = fresh(session).get(Member, ann.id)
        assert (member.name, member.birthday_month, member.birthday_day, member.language, member.notes) == (
            "Ann Li", 3, 14, "zh", "Prefers texts in the evening")
        assert [interest.topic for interest in member.interests] == ["cakes", "green tea", "oolong"]
        page = owner.get(f"/members/{ann.id}").text
        assert "Details saved." in page and "cakes, green tea, oolong" in page and "Prefers texts in the evening" in page
        assert 'value="cakes, green tea, oolong"' in page  # the form shows what is kept

    @pytest.mark.parametrize(("changes", "message"), [
        ({"birthday_month": "2", "birthday_day": "30"}, "Feb has no day 30."),
        ({"birthday_month": "2"}, "Give both the month and the day of the birthday, or neither."),
        ({"birthday_day": "40"}, "A day of the month is 1 to 31."),
        ({"notes": "x" * 1001}, "Notes are at most 1000 characters."),
        ({"language": "fr"}, "Not a valid choice."),
        ({"name": "x" * 81}, "A name is at most 80 characters."),
    ])
    def test_a_bad_value_is_refused_and_changes_nothing(self, owner, session, ann, changes, message):
        response = edit(owner, ann, **changes)
        assert response.status_code == 400
        assert message in response.text
        assert "<details class=\"edit-profile\" open>" in response.text
        assert fresh(session).get(Member, ann.id).name == "Ann Lee"

    def test_another_merchants_member_is_not_found(self, owner, session, other_merchant, now):
        other = members.join(session, other_merchant, PHONE, name="Ann Other", language="en", now=now)
        session.commit()
        page = owner.get("/members").text
        response = owner.post(f"/members/{other.id}/profile", data={**hidden_fields(page, "/sign-out"), "language": "en"})
        assert response.status_code == 404


def test_the_texts_both_ways_with_their_delivery(owner, session, merchant, text_in):
    text_in("JOIN Ann", sender=PHONE)
    text_in("What time do you open on Sunday?", sender=PHONE)
    member = fresh(session).scalar(select(Member).where(Member.phone == PHONE))
    outbox.queue_text(session, merchant, to_phone=PHONE, body="Your code is 4821", category=Category.TRANSACTIONAL,
                      purpose="code", now=utcnow() + timedelta(hours=1), member_id=member.id)
    session.execute(OutboundMessage.__table__.update().where(OutboundMessage.body == "Your code is 4821")
                    .values(status=Status.UNDELIVERED, error_message="Unreachable handset"))
    session.commit()
    page = owner.get(f"/members/{member.id}").text
    texts = page[page.index('<table class="list texts">'):]
    texts = texts[:texts.index("</table>")]
    assert texts.index("Your code is 4821") < texts.index("What time do you open on Sunday?") < texts.index("JOIN Ann")
    assert "not delivered" in texts and "Unreachable handset" in texts
    assert texts.count("They sent") == 2
    assert "replied at once" in texts  # the welcome went back in the webhook's answer


def test_the_consent_evidence_newest_first(owner, session, merchant, text_in):
    text_in("JOIN", sender=PHONE)
    text_in("STOP", sender=PHONE)
    member = fresh(session).scalar(select(Member).where(Member.phone == PHONE))
    page = owner.get(f"/members/{member.id}").text
    consent = page[page.index('<section class="card consent">'):]
    consent = consent[:consent.index("</section>")]
    assert consent.index("Opted out") < consent.index("Opted in")
    assert "keyword “STOP”" in consent and "keyword “JOIN”" in consent and "by text" in consent
    assert "Record an opt-out" not in consent  # already opted out


def test_referrals_both_ways(owner, session, merchant, ann, now):
    referrals.ensure_referral_code(session, ann)
    friend = members.join(session, merchant, "+14155550177", name="Bea Park", language="en", now=now)
    referrals.on_join(session, merchant, friend, referrer=ann, now=now)
    session.commit()
    page = owner.get(f"/members/{ann.id}").text
    assert f'<a href="/members/{friend.id}">Bea Park</a> · joined' in page
    assert f'Brought by <a href="/members/{ann.id}">Ann Lee</a>' in owner.get(f"/members/{friend.id}").text


class TestOptOutInPerson:
    def test_staff_record_it_and_the_evidence_shows(self, owner, session, ann):
        page = owner.get(f"/members/{ann.id}").text
        response = owner.post(f"/members/{ann.id}/opt-out", data=hidden_fields(page, f"/members/{ann.id}/opt-out"))
        assert response.status_code == 302
        assert fresh(session).get(Member, ann.id).is_opted_out is True
        event = session.scalar(select(ConsentEvent))
        assert (event.action, event.keyword, event.channel) == ("opt_out", "in person", "in_person")
        page = owner.get(f"/members/{ann.id}").text
        assert "Opt-out recorded" in page and "in person, recorded by staff" in page
        assert "Record an opt-out" not in page

    def test_without_the_forms_token_nothing_changes(self, owner, session, ann):
        owner.post(f"/members/{ann.id}/opt-out", data={})
        assert fresh(session).get(Member, ann.id).is_opted_out is False


class TestAddingInPerson:
    def add(self, client, **changes):
        data = {"phone": "(415) 555-0177", "name": "Bea Park", "language": "zh", "has_agreed": "y", **changes}
        return submit(client, "/members/new", {key: value for key, value in data.items() if value is not None})

    def test_staff_add_a_member_who_agreed(self, owner, session, merchant):
        response = self.add(owner)
        assert response.status_code == 302
        member = fresh(session).scalar(select(Member).where(Member.phone == "+14155550177"))
        assert response.headers["Location"] == f"/members/{member.id}"
        assert (member.name, member.language, member.is_joined, member.is_opted_out) == ("Bea Park", "zh", True, False)
        event = session.scalar(select(ConsentEvent))
        assert (event.action, event.keyword, event.channel, event.member_id) == ("opt_in", "in person", "in_person",
                                                                               member.id)
        assert "Bea Park joined in person; their consent is recorded." in owner.get(response.headers["Location"]).text

    def test_without_the_shoppers_agreement_nobody_is_added(self, owner, session):
        response = self.add(owner, has_agreed=None)
        assert response.status_code == 400
        assert "tick the box only if they say yes" in response.text
        assert fresh(session).scalar(select(Member)) is None

    def test_a_bad_phone_is_refused(self, owner, session):
        response = self.add(owner, phone="12")
        assert response.status_code == 400
        assert "That is not a phone number." in response.text
        assert fresh(session).scalar(select(Member)) is None

    def test_a_member_already_in_is_linked_not_added_twice(self, owner, session, ann):
        response = self.add(owner, phone="415 555 0100")
        assert response.status_code == 409
        assert "This phone is already a member, opted in." in response.text
        assert f'href="/members/{ann.id}"' in response.text
        assert fresh(session).scalar(select(ConsentEvent)) is None

    def test_the_counter_has_a_join_tab(self, owner):
        page = owner.get("/counter").text
        assert '<a href="/members/new">Join</a>' in page
