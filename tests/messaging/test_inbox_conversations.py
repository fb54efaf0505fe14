"""The inbox domain and the survey answers, through the real webhook: conversations per phone, urgent low
ratings, replies by SMS, resolving, and the time to first response."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from smscrm import care, points
from smscrm.db.engine import utcnow
from smscrm.errors import ValidationError
from smscrm.marketing import care_rules
from smscrm.messaging import inbox
from smscrm.models import (
    CareKind,
    Category,
    InboundMessage,
    InboxItem,
    InboxKind,
    Intent,
    OutboundMessage,
    StaffUser,
    Status,
    VisitSurvey,
)

ANN = "+14155550100"


@pytest.fixture
def wall_now():
    """The webhook reads the real clock, so questions are asked relative to it."""
    return utcnow()


@pytest.fixture
def owner_user(session, merchant) -> StaffUser:
    return session.scalar(select(StaffUser).where(StaffUser.merchant_id == merchant.id))


def items(session) -> list[InboxItem]:
    session.expire_all()
    return list(session.scalars(select(InboxItem).order_by(InboxItem.id)))


def ask_about_a_visit(session, merchant, now, *, sent: bool = True) -> VisitSurvey:
    """Ann buys, three hours later the after-visit question is queued (and, if `sent`, leaves)."""
    care_rules.save_rule(session, merchant, CareKind.AFTER_VISIT, now=now, is_enabled=True, delay_hours=3)
    points.record_purchase(session, merchant, phone=ANN, amount_minor=1800, now=now - timedelta(hours=4))
    session.commit()
    assert care.evaluate(session, now=now - timedelta(minutes=30)) == {"after_visit": 1}
    if sent:
        session.execute(update(OutboundMessage).where(OutboundMessage.purpose == "care_after_visit")
                        .values(status=Status.SENT, sent_at=now - timedelta(minutes=29)))
    session.commit()
    return session.scalar(select(VisitSurvey))


class TestConversations:
    def test_texts_from_one_phone_gather_until_resolved(self, session, merchant, text_in, owner_user, now):
        text_in("JOIN Ann")
        text_in("Loved the oolong")
        text_in("Do you sell it in tins?")
        [item] = items(session)
        assert (item.kind, item.is_urgent, item.member.name) == (InboxKind.QUESTION, False, "Ann")
        assert [entry.body for entry in inbox.conversation(session, item)] == [
            "Loved the oolong", "Do you sell it in tins?",
        ]

        inbox.resolve(session, item, staff=owner_user, now=now)
        session.commit()
        text_in("Thanks!")
        first, second = items(session)
        assert first.resolved_at is not None and second.resolved_at is None
        assert [entry.body for entry in inbox.conversation(session, second)] == ["Thanks!"]

    def test_keywords_are_not_filed_but_strangers_are(self, session, merchant, text_in):
        text_in("JOIN")
        text_in("BAL")
        text_in("Are you open on Sunday?", sender="+14155550188")
        [item] = items(session)
        assert item.phone == "+14155550188" and item.member_id is None

    def test_a_reply_is_texted_and_stamps_the_first_response(self, session, merchant, text_in, owner_user, now):
        text_in("JOIN Ann")
        text_in("Is the shop open on Sunday?")
        [item] = items(session)

        inbox.reply(session, merchant, item, staff=owner_user, body="  Yes, 10 to 6!  ",
                    now=item.opened_at + timedelta(minutes=12))
        inbox.reply(session, merchant, item, staff=owner_user, body="See you", now=item.opened_at + timedelta(hours=2))
        session.commit()

        sent = session.scalars(select(OutboundMessage).where(OutboundMessage.purpose == "inbox_reply")).all()
        assert [(text.to_phone, text.body, text.category, text.status) for text in sent] == [
            (ANN, "Yes, 10 to 6!", Category.REPLY, Status.QUEUED), (ANN, "See you", Category.REPLY, Status.QUEUED),
        ]
        assert item.first_response_at - item.opened_at == timedelta(minutes=12)
        assert [(entry.is_from_shopper, entry.author) for entry in inbox.conversation(session, item)] == [
            (True, ""), (False, owner_user.email), (False, owner_user.email),
        ]

    def test_a_reply_to_a_chinese_member_carries_the_signature(self, session, merchant, text_in, owner_user, now):
        """Issue 21: like every other text to them, and once."""
        text_in("入会")
        text_in("周日营业吗？")
        [item] = items(session)
        inbox.reply(session, merchant, item, staff=owner_user, body="营业，10点到6点。", now=now)
        inbox.reply(session, merchant, item, staff=owner_user, body="【绿叶茶馆】欢迎光临", now=now)
        session.commit()
        sent = session.scalars(select(OutboundMessage.body).where(OutboundMessage.purpose == "inbox_reply")
                               .order_by(OutboundMessage.id)).all()
        assert sent == ["【绿叶茶馆】营业，10点到6点。", "【绿叶茶馆】欢迎光临"]

    @pytest.mark.parametrize("body, message", [("   ", "write a reply"), ("x" * 481, "at most 480")])
    def test_a_reply_must_say_something_short(self, session, merchant, text_in, owner_user, now, body, message):
        text_in("Hello?")
        with pytest.raises(ValidationError, match=message):
            inbox.reply(session, merchant, items(session)[0], staff=owner_user, body=body, now=now)

    def test_no_reply_to_a_phone_that_opted_out(self, session, merchant, text_in, owner_user, now):
        text_in("JOIN Ann")
        text_in("Too many texts")
        text_in("STOP")
        with pytest.raises(ValidationError, match="opted out"):
            inbox.reply(session, merchant, items(session)[0], staff=owner_user, body="Sorry!", now=now)

    def test_open_conversations_urgent_first_then_the_longest_unanswered(self, session, merchant, text_in,
                                                                         owner_user, now):
        for phone, body in (("+14155550101", "first"), ("+14155550102", "second"), ("+14155550103", "third")):
            text_in(body, sender=phone)
        first, second, third = items(session)
        inbox.reply(session, merchant, first, staff=owner_user, body="Hi", now=first.last_message_at)
        third.is_urgent = True
        session.commit()

        listed = inbox.open_items(session, merchant.id).items
        assert [(summary.item.id, summary.last_text) for summary in listed] == [
            (third.id, "third"), (second.id, "second"), (first.id, "first"),
        ]

    def test_a_new_text_after_the_answer_makes_the_conversation_unanswered_again(
        self, session, merchant, text_in, owner_user
    ):
        text_in("Is the shop open on Sunday?", sender="+14155550101")
        text_in("Do you sell tins?", sender="+14155550102")
        asked, other = items(session)
        inbox.reply(session, merchant, asked, staff=owner_user, body="Yes, 10 to 6", now=utcnow())
        session.commit()
        assert [(s.item.id, s.is_answered) for s in inbox.open_items(session, merchant.id).items] == [
            (other.id, False), (asked.id, True),
        ]
        assert inbox.response_times(session, merchant.id, now=utcnow()).waiting == 1

        text_in("And on Monday?", sender="+14155550101")
        session.expire_all()
        assert [(s.item.id, s.is_answered) for s in inbox.open_items(session, merchant.id).items] == [
            (asked.id, False), (other.id, False),
        ]
        assert inbox.is_answered(session, asked) is False
        assert inbox.response_times(session, merchant.id, now=utcnow()).waiting == 2

    def test_response_times(self, session, merchant, text_in, owner_user, now):
        for index, minutes in enumerate((10, 30, 50)):
            text_in(f"question {index}?", sender=f"+1415555020{index}")
        text_in("unanswered", sender="+14155550299")
        for item, minutes in zip(items(session), (10, 30, 50)):
            inbox.reply(session, merchant, item, staff=owner_user, body="ok",
                        now=item.opened_at + timedelta(minutes=minutes))
        session.commit()

        times = inbox.response_times(session, merchant.id, now=items(session)[0].opened_at + timedelta(hours=1))
        assert (times.answered, times.waiting, times.urgent) == (3, 1, 0)
        assert (times.median, times.slowest) == (timedelta(minutes=30), timedelta(minutes=50))


class TestRatings:
    def test_a_low_rating_is_stored_and_opens_an_urgent_item(self, session, merchant, text_in, wall_now):
        text_in("JOIN Ann")
        survey = ask_about_a_visit(session, merchant, wall_now)

        reply = text_in("2")
        assert "sorry" in reply.text and "Green Leaf Tea will get in touch" in reply.text
        session.refresh(survey)
        assert survey.rating == 2 and survey.rated_at is not None
        [item] = items(session)
        assert (item.kind, item.is_urgent, item.survey_id) == (InboxKind.LOW_RATING, True, survey.id)
        assert [entry.body for entry in inbox.conversation(session, item)] == ["2"]
        assert session.scalar(select(InboundMessage.intent).where(InboundMessage.body == "2")) == Intent.RATING

    def test_a_good_rating_is_thanked_and_files_nothing(self, session, merchant, text_in, wall_now):
        text_in("JOIN Ann")
        survey = ask_about_a_visit(session, merchant, wall_now)

        assert "Thank you for rating your visit" in text_in("5 stars").text
        session.refresh(survey)
        assert survey.rating == 5
        assert items(session) == []
        assert "Thank you" not in text_in("4").text  # answered already: now it is just a message
        assert len(items(session)) == 1

    def test_chinese_members_rate_in_chinese(self, session, merchant, text_in, wall_now):
        text_in("入会")
        ask_about_a_visit(session, merchant, wall_now)
        assert "感谢您对Green Leaf Tea的评价" in text_in("４分").text

    def test_a_rating_before_the_question_left_rates_the_visit(self, session, merchant, text_in, wall_now):
        text_in("JOIN Ann")
        survey = ask_about_a_visit(session, merchant, wall_now, sent=False)  # still waiting in the outbox

        assert "sorry" in text_in("1").text
        session.refresh(survey)
        assert survey.rating == 1
        [item] = items(session)
        assert (item.kind, item.is_urgent, item.survey_id) == (InboxKind.LOW_RATING, True, survey.id)

    @pytest.mark.parametrize("rating, is_low", [("1", True), ("2", True), ("3", False), ("5", False)])
    def test_a_rating_after_a_recent_visit_counts_without_a_question(self, session, merchant, text_in, wall_now,
                                                                     rating, is_low):
        """Issue 21: no survey was sent (no after-visit rule), but the member visited two days ago."""
        text_in("JOIN Ann")
        visit = points.record_purchase(session, merchant, phone=ANN, amount_minor=1800, now=wall_now - timedelta(days=2))
        session.commit()

        answer = text_in(rating).text
        assert ("sorry" in answer) if is_low else ("Thank you for rating your visit" in answer)
        [survey] = session.scalars(select(VisitSurvey)).all()
        assert (survey.rating, survey.purchase_id) == (int(rating), visit.purchase_id)
        urgent = [(item.kind, item.survey_id) for item in items(session) if item.is_urgent]
        assert urgent == ([(InboxKind.LOW_RATING, survey.id)] if is_low else [])
        assert session.scalar(select(InboundMessage.intent).where(InboundMessage.body == rating)) == Intent.RATING
        assert "get back to you" in text_in("4").text  # the visit is rated: now it is just a message

    def test_a_number_long_after_the_last_visit_is_just_a_message(self, session, merchant, text_in, wall_now):
        text_in("JOIN Ann")
        points.record_purchase(session, merchant, phone=ANN, amount_minor=1800, now=wall_now - timedelta(days=4))
        session.commit()

        assert "will get back to you" in text_in("1").text
        assert session.scalars(select(VisitSurvey)).all() == []
        [item] = items(session)
        assert (item.kind, item.is_urgent) == (InboxKind.MESSAGE, False)

    def test_an_old_question_is_not_answered_days_later(self, session, merchant, text_in, wall_now):
        text_in("JOIN Ann")
        survey = ask_about_a_visit(session, merchant, wall_now - timedelta(days=4))

        text_in("1")
        session.refresh(survey)
        assert survey.rating is None
        assert items(session)[0].is_urgent is False
