"""The inbound webhook end to end: signatures, routing, every keyword in both languages,
idempotency on MessageSid, consent evidence, silence after opt-out, and bad input."""
import unicodedata
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from smscrm import inbound, points
from smscrm.accounts.merchants import create_merchant
from smscrm.loyalty import directory
from smscrm.messaging import phones
from smscrm.models import ConsentEvent, InboundMessage, Member, OutboundMessage, Status
from smscrm.simulator import reply_text
from tests.conftest import MERCHANT_NUMBER, PUBLIC_URL, twilio_signature

ANN = "+14155550100"
LI = "+14155550101"


def reply(response) -> str | None:
    assert response.status_code == 200, response.data
    assert response.mimetype == "text/xml"
    return reply_text(response.get_data(as_text=True))


def member(session, phone=ANN) -> Member:
    session.expire_all()
    return session.scalar(select(Member).where(Member.phone == phone))


def consent_trail(session, phone=ANN):
    session.expire_all()
    return [
        (event.action, event.keyword, event.channel)
        for event in session.scalars(select(ConsentEvent).where(ConsentEvent.phone == phone).order_by(ConsentEvent.id))
    ]


def count(session, model) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model))


class TestSignature:
    def test_missing_signature_is_refused_and_nothing_is_stored(self, client, session, merchant):
        response = client.post("/sms/inbound", data={"MessageSid": "SM1", "From": ANN, "To": MERCHANT_NUMBER, "Body": "JOIN"})
        assert response.status_code == 403
        assert count(session, InboundMessage) == 0 and count(session, Member) == 0

    def test_wrong_signature_is_refused(self, post_signed, session, merchant):
        data = {"MessageSid": "SM1", "From": ANN, "To": MERCHANT_NUMBER, "Body": "JOIN"}
        assert post_signed("/sms/inbound", data, token="someone-elses-token").status_code == 403
        assert count(session, InboundMessage) == 0

    def test_signature_for_other_parameters_is_refused(self, client, session, merchant):
        data = {"MessageSid": "SM1", "From": ANN, "To": MERCHANT_NUMBER, "Body": "JOIN"}
        signature = twilio_signature(PUBLIC_URL + "/sms/inbound", {**data, "Body": "HELP"})
        response = client.post("/sms/inbound", data=data, headers={"X-Twilio-Signature": signature})
        assert response.status_code == 403

    def test_signature_is_checked_against_the_public_url_not_the_internal_one(self, client, merchant):
        data = {"MessageSid": "SM1", "From": ANN, "To": MERCHANT_NUMBER, "Body": "JOIN"}
        internal = twilio_signature("http://localhost/sms/inbound", data)
        assert client.post("/sms/inbound", data=data, headers={"X-Twilio-Signature": internal}).status_code == 403

    def test_a_signature_over_the_url_with_its_port_is_accepted(self, client, merchant):
        """Twilio may sign https URLs with :443 written out; its RequestValidator accepts both forms."""
        data = {"MessageSid": "SM1", "From": ANN, "To": MERCHANT_NUMBER, "Body": "JOIN"}
        with_port = twilio_signature(PUBLIC_URL.replace(".test", ".test:443") + "/sms/inbound", data)
        assert with_port != twilio_signature(PUBLIC_URL + "/sms/inbound", data)
        assert client.post("/sms/inbound", data=data, headers={"X-Twilio-Signature": with_port}).status_code == 200

    def test_a_repeated_field_is_signed_with_all_its_values(self, client, merchant):
        data = MultiDict([("MessageSid", "SM1"), ("From", ANN), ("To", MERCHANT_NUMBER), ("Body", "JOIN"),
                          ("MediaUrl", "https://b.example"), ("MediaUrl", "https://a.example")])
        signature = twilio_signature(PUBLIC_URL + "/sms/inbound", data)  # Twilio signs every value, sorted
        first_only = twilio_signature(PUBLIC_URL + "/sms/inbound", data.to_dict())
        assert signature != first_only
        assert client.post("/sms/inbound", data=data, headers={"X-Twilio-Signature": signature}).status_code == 200
        assert client.post("/sms/inbound", data=data, headers={"X-Twilio-Signature": first_only}).status_code == 403


class TestRouting:
    def test_unknown_to_number_is_404_and_logged(self, text_in, session, merchant, caplog):
        response = text_in("JOIN", to="+14155559999")
        assert response.status_code == 404
        assert response.json["error"]["code"] == "not_found"
        assert "unknown number" in caplog.text and "+1415•••9999" in caplog.text
        assert count(session, InboundMessage) == 0

    @pytest.mark.parametrize("missing", ["MessageSid", "From", "To"])
    def test_missing_fields_are_400_with_a_message(self, post_signed, merchant, missing):
        data = {"MessageSid": "SM1", "From": ANN, "To": MERCHANT_NUMBER, "Body": "JOIN"}
        del data[missing]
        response = post_signed("/sms/inbound", data)
        assert response.status_code == 400
        assert missing in response.json["error"]["message"]

    @pytest.mark.parametrize("blank", ["", "   ", "\t\n", "\x00"])
    def test_a_blank_message_sid_is_400_and_nothing_is_stored(self, post_signed, session, merchant, blank):
        for path in ("/sms/inbound", "/sms/status"):
            data = {"MessageSid": blank, "From": ANN, "To": MERCHANT_NUMBER, "Body": "JOIN", "MessageStatus": "sent"}
            response = post_signed(path, data)
            assert response.status_code == 400, path
            assert "MessageSid" in response.json["error"]["message"]
        assert count(session, InboundMessage) == count(session, Member) == 0

    def test_local_from_number_is_normalised_with_the_merchants_country(self, text_in, session, merchant):
        reply(text_in("JOIN", sender="(415) 555-0100"))
        assert member(session).phone == ANN

    def test_a_members_number_is_not_parsed_again(self, text_in, session, merchant, monkeypatch):
        """A member's number was read when they joined; their texts find the membership by the number as sent."""
        reply(text_in("JOIN Ann"))
        phones.normalise.cache_clear()  # as in another worker, or long after joining
        parse, parsed = phones.phonenumbers.parse, []
        monkeypatch.setattr(phones.phonenumbers, "parse", lambda text, *rest: parsed.append(text) or parse(text, *rest))
        assert "0 points" in reply(text_in("BAL"))
        assert ANN not in parsed

    @pytest.mark.parametrize("sender", [
        "+15555550100",  # a possible length, but no region issues it
        "12345",  # a short code
        "whatsapp:+14155550100", "WhatsApp:+14155550100", "messenger:1234567890",  # another channel than SMS
        MERCHANT_NUMBER, "(415) 555-0000",  # the merchant's own number, as sent or written locally
        "+14155559999",  # another merchant's number on this platform
    ])
    @pytest.mark.parametrize("body", ["JOIN Ann", "STOP", "Is the shop open?"])
    def test_a_sender_we_may_not_answer_is_kept_for_the_merchant_without_member_or_reply(
        self, text_in, session, merchant, now, sender, body
    ):
        create_merchant(session, name="Blue Door Salon", number="+14155559999", email="owner@salon.example",
                        password="another good password", now=now, country="US")
        session.commit()
        assert reply(text_in(body, sender=sender)) is None
        session.expire_all()
        [text] = session.scalars(select(InboundMessage)).all()
        assert (text.from_phone, text.body, text.member_id, text.reply_id) == (sender, body, None, None)
        [feedback] = directory.list_feedback(session, merchant.id).items  # what the inbox page lists
        assert (feedback.body, feedback.phone) == (body, sender)
        assert count(session, Member) == count(session, OutboundMessage) == count(session, ConsentEvent) == 0

    def test_sender_that_is_not_a_phone_number_is_kept_without_reply(self, text_in, session, merchant):
        assert reply(text_in("JOIN", sender="VODAFONE")) is None
        session.expire_all()
        assert session.scalar(select(InboundMessage.from_phone)) == "VODAFONE"
        assert count(session, Member) == 0


class TestJoin:
    def test_join_in_english(self, text_in, session, merchant):
        text = reply(text_in("JOIN Ann"))
        assert "Welcome to Green Leaf Tea, Ann" in text
        assert "HELP" in text and "Reply STOP to opt out" in text
        joined = member(session)
        assert (joined.name, joined.language, joined.is_joined, joined.is_opted_out) == ("Ann", "en", True, False)
        assert consent_trail(session) == [("opt_in", "JOIN", "sms")]

    def test_join_in_chinese_answers_in_chinese_with_signature(self, text_in, session, merchant):
        text = reply(text_in("入会 李四", sender=LI))
        assert text.startswith("【绿叶茶馆】欢迎加入Green Leaf Tea会员李四")
        assert "帮助" in text and "回复TD退订" in text
        assert member(session, LI).language == "zh"

    def test_full_width_join(self, text_in, session, merchant):
        assert "Welcome" in reply(text_in("ｊｏｉｎ　Ann"))

    def test_joining_twice_is_harmless(self, text_in, session, merchant):
        reply(text_in("JOIN Ann"))
        text = reply(text_in("JOIN"))
        assert "already a member" in text
        assert count(session, Member) == 1
        assert consent_trail(session) == [("opt_in", "JOIN", "sms")]
        assert member(session).name == "Ann"

    def test_language_stays_the_one_joined_with(self, text_in, session, merchant):
        reply(text_in("入会"))
        assert reply(text_in("BAL")).startswith("【绿叶茶馆】")
        assert member(session).language == "zh"

    def test_a_join_keeps_the_text_with_its_membership_and_its_reply(self, text_in, session, merchant):
        welcome = reply(text_in("JOIN Ann", sid="SMjoin"))
        session.expire_all()
        joined, text = member(session), session.scalar(select(InboundMessage))
        consent = session.scalar(select(ConsentEvent))
        assert (text.message_sid, text.intent, text.from_phone, text.to_phone) == ("SMjoin", "join", ANN, MERCHANT_NUMBER)
        assert text.member_id == joined.id and consent.member_id == joined.id
        assert (text.reply.body, text.reply.member_id, text.reply.purpose) == (welcome, joined.id, "welcome")
        assert joined.referral_code is not None

    def test_everything_a_text_writes_is_in_the_callers_transaction(self, session, merchant, now):
        """`handle` flushes and never commits: rolled back, a STOP leaves neither the flag nor its evidence."""
        inbound.handle(session, inbound.InboundSms("SM1", ANN, MERCHANT_NUMBER, "JOIN Ann"), now)
        session.commit()
        assert "unsubscribed" in inbound.handle(session, inbound.InboundSms("SM2", ANN, MERCHANT_NUMBER, "STOP"), now).body
        session.rollback()
        assert not member(session).is_opted_out
        assert consent_trail(session) == [("opt_in", "JOIN", "sms")]
        assert (count(session, InboundMessage), count(session, OutboundMessage)) == (1, 1)

    def test_a_welcome_bonus_is_in_the_welcome(self, text_in, session, merchant):
        points.update_settings(merchant, welcome_bonus=20)
        session.commit()
        assert "You are now a member with 20 points" in reply(text_in("JOIN Ann"))
        assert "您已有20积分" in reply(text_in("入会", sender=LI))
        assert (member(session).points_balance, member(session, LI).points_balance) == (20, 20)
        assert (count(session, Member), count(session, ConsentEvent), count(session, InboundMessage)) == (2, 2, 2)

    def test_points_held_from_purchases_before_joining_are_in_the_welcome(self, text_in, session, merchant, now):
        points.record_purchase(session, merchant, phone=ANN, amount_minor=1250, now=now)  # 12 points, held
        session.commit()
        assert "You are now a member with 12 points" in reply(text_in("JOIN Ann"))

    def test_merchant_can_customise_a_text(self, text_in, session, merchant):
        merchant.texts = {"welcome": {"en": "Hi{name_suffix}, welcome to {merchant}! {opt_out}"}}
        session.commit()
        assert reply(text_in("JOIN Ann")) == "Hi, Ann, welcome to Green Leaf Tea! Reply STOP to opt out."


class TestOptOut:
    @pytest.mark.parametrize("word", ["STOP", "stop", "ＳＴＯＰ", "UNSUBSCRIBE", "QUIT", "TD", "退订", "取消"])
    def test_opt_out_confirms_once_then_silence(self, text_in, session, merchant, word):
        reply(text_in("JOIN Ann"))
        confirmation = reply(text_in(word))
        assert confirmation and ("unsubscribed" in confirmation or "退订" in confirmation)
        assert member(session).is_opted_out
        for later in ("BAL", "HELP", "hello?", word, "BDAY 03-08"):
            assert reply(text_in(later)) is None
        keyword = unicodedata.normalize("NFKC", word).upper()
        assert consent_trail(session) == [("opt_in", "JOIN", "sms"), ("opt_out", keyword, "sms")]

    def test_chinese_member_gets_chinese_confirmation(self, text_in, session, merchant):
        reply(text_in("入会"))
        assert reply(text_in("TD")).startswith("【绿叶茶馆】您已退订")

    def test_opt_in_after_opt_out(self, text_in, session, merchant):
        reply(text_in("JOIN Ann"))
        reply(text_in("STOP"))
        text = reply(text_in("START"))
        assert "subscribed to Green Leaf Tea again" in text
        assert not member(session).is_opted_out
        assert [e[:2] for e in consent_trail(session)] == [("opt_in", "JOIN"), ("opt_out", "STOP"), ("opt_in", "START")]
        assert "0 points" in reply(text_in("BAL"))

    def test_join_after_opt_out_opts_back_in(self, text_in, session, merchant):
        reply(text_in("JOIN Ann"))
        reply(text_in("STOP"))
        assert "you will get our texts again" in reply(text_in("JOIN"))
        assert not member(session).is_opted_out
        assert consent_trail(session)[-1][:2] == ("opt_in", "JOIN")

    @pytest.mark.parametrize("word", ["订阅", "开通", "入会"])
    def test_opting_back_in_in_chinese(self, text_in, session, merchant, word):
        """Issue 21: a Chinese member who texted TD can come back in Chinese, and is told texts will come again."""
        reply(text_in("入会"))
        assert "回复“订阅”可重新订阅" in reply(text_in("TD"))
        assert reply(text_in(word)) == "【绿叶茶馆】您已重新订阅Green Leaf Tea的短信，将再次收到我们的消息。回复TD退订"
        assert not member(session).is_opted_out
        assert consent_trail(session) == [("opt_in", "入会", "sms"), ("opt_out", "TD", "sms"), ("opt_in", word, "sms")]
        assert reply(text_in("积分")).endswith("积分为0分。")

    def test_a_stranger_who_opted_out_opts_in_in_chinese(self, text_in, session, merchant):
        reply(text_in("退订"))
        assert "将再次收到" in reply(text_in("订阅"))
        assert consent_trail(session) == [("opt_out", "退订", "sms"), ("opt_in", "订阅", "sms")]

    def test_non_member_opt_out_is_kept_as_evidence(self, text_in, session, merchant):
        assert "unsubscribed" in reply(text_in("STOP"))
        assert consent_trail(session) == [("opt_out", "STOP", "sms")]
        assert reply(text_in("hello")) is None

    def test_consent_events_keep_the_source_message(self, text_in, session, merchant):
        text_in("JOIN", sid="SMjoin")
        text_in("STOP", sid="SMstop")
        session.expire_all()
        assert session.scalars(select(ConsentEvent.source_sid).order_by(ConsentEvent.id)).all() == ["SMjoin", "SMstop"]


class TestOtherKeywords:
    def test_help_in_both_languages(self, text_in, merchant):
        assert "text JOIN to join" in reply(text_in("HELP"))
        assert "Reply STOP to opt out" in reply(text_in("INFO"))
        assert reply(text_in("帮助")).startswith("【绿叶茶馆】发送：入会 加入，积分 查询")

    def test_balance(self, text_in, merchant):
        reply(text_in("JOIN"))
        assert reply(text_in("BAL")) == "Green Leaf Tea: you have 0 points."
        reply(text_in("入会", sender=LI))
        assert reply(text_in("积分", sender=LI)) == "【绿叶茶馆】您在Green Leaf Tea的积分为0分。"

    def test_balance_from_a_non_member_hints_to_join(self, text_in, merchant):
        assert "Text JOIN" in reply(text_in("BAL"))

    def test_birthday_english_and_chinese(self, text_in, session, merchant):
        reply(text_in("JOIN"))
        assert "03-08" in reply(text_in("BDAY 03-08"))
        assert (member(session).birthday_month, member(session).birthday_day) == (3, 8)
        reply(text_in("入会", sender=LI))
        assert "12-25" in reply(text_in("生日 12月25日", sender=LI))
        assert (member(session, LI).birthday_month, member(session, LI).birthday_day) == (12, 25)

    @pytest.mark.parametrize("body, shown, saved", [
        ("BDAY 1990-03-08", "1990-03-08", (3, 8, 1990)),
        ("BDAY March 8", "03-08", (3, 8, None)),
        ("bday 8 Mar 1990", "1990-03-08", (3, 8, 1990)),
        ("生日 1990年3月8日", "1990-03-08", (3, 8, 1990)),
    ])
    def test_birthday_with_a_year_or_a_months_name(self, text_in, session, merchant, body, shown, saved):
        """Issue 21: the year is kept when given; a month's name is understood."""
        reply(text_in("JOIN"))
        assert shown in reply(text_in(body))
        joined = member(session)
        assert (joined.birthday_month, joined.birthday_day, joined.birth_year) == saved

    @pytest.mark.parametrize("body", ["BDAY 02-30", "BDAY 1990-02-29", "BDAY February 30", "BDAY 2990-01-01",
                                      "BDAY 1066-10-14", "BDAY soon"])
    def test_impossible_birthday_gets_help(self, text_in, session, merchant, body):
        reply(text_in("JOIN"))
        assert "for example BDAY 03-08, BDAY March 8 or BDAY 1990-03-08" in reply(text_in(body))
        assert member(session).birthday_month is None

    def test_impossible_birthday_gets_help_in_chinese(self, text_in, session, merchant):
        reply(text_in("入会"))
        assert "例如：生日 3月8日 或 生日 1990年3月8日" in reply(text_in("生日 2月30日"))

    def test_interests(self, text_in, session, merchant):
        reply(text_in("JOIN"))
        assert "green tea" in reply(text_in("LIKE Green  Tea"))
        reply(text_in("LIKE green tea"))
        reply(text_in("兴趣 绿茶"))
        assert [i.topic for i in member(session).interests] == ["green tea", "绿茶"]
        assert "LIKE green tea" in reply(text_in("LIKE"))


class TestFeedback:
    def test_feedback_is_kept_and_acknowledged_once_a_day(self, text_in, session, merchant):
        reply(text_in("JOIN"))
        assert "get back to you" in reply(text_in("Do you have oolong?"))
        assert reply(text_in("And jasmine?")) is None
        session.expire_all()
        kept = session.scalars(select(InboundMessage.body).where(InboundMessage.intent == "feedback")).all()
        assert kept == ["Do you have oolong?", "And jasmine?"]

    def test_acknowledgement_again_the_next_local_day(self, session, merchant, now):
        sms = lambda sid, body: inbound.InboundSms(sid, ANN, MERCHANT_NUMBER, body)  # noqa: E731
        inbound.handle(session, sms("SM1", "JOIN"), now)
        assert inbound.handle(session, sms("SM2", "hi"), now).body
        assert inbound.handle(session, sms("SM3", "hi"), now + timedelta(hours=2)).body is None
        assert inbound.handle(session, sms("SM4", "hi"), now + timedelta(days=1)).body

    def test_non_member_gets_a_join_hint_once_a_day(self, text_in, merchant):
        assert "Text JOIN" in reply(text_in("hello"))
        assert reply(text_in("hello?")) is None


class TestIdempotency:
    def test_retry_gives_the_same_reply_and_no_second_effect(self, text_in, session, merchant):
        first = reply(text_in("JOIN Ann", sid="SMretry"))
        second = reply(text_in("JOIN Ann", sid="SMretry"))
        assert first == second and "Welcome" in first
        assert count(session, InboundMessage) == 1
        assert count(session, ConsentEvent) == 1
        assert count(session, OutboundMessage) == 1

    def test_retry_of_a_silent_message_stays_silent(self, text_in, session, merchant):
        text_in("STOP")
        assert reply(text_in("hello", sid="SMquiet")) is None
        assert reply(text_in("hello", sid="SMquiet")) is None
        assert count(session, InboundMessage) == 2

    def test_replies_are_logged_in_the_outbox_as_replied(self, text_in, session, merchant):
        reply(text_in("JOIN"))
        session.expire_all()
        logged = session.scalar(select(OutboundMessage))
        assert (logged.status, logged.category, logged.to_phone, logged.from_phone) == (
            Status.REPLIED, "reply", ANN, MERCHANT_NUMBER)


class TestBadInput:
    @pytest.mark.parametrize(
        "body",
        ["", " ", "😀😀😀", "\x00", "A" * 20000, "é" * 1000, "<Response>&amp;</Response>", "JOIN " + "x" * 500,
         "BDAY 99-99", "\ud7ff", "ＢＡＬ"],
    )
    def test_any_body_is_answered_without_error(self, text_in, merchant, body):
        assert text_in(body).status_code == 200

    def test_long_names_are_cut_to_fit(self, text_in, session, merchant):
        reply(text_in("JOIN " + "Anna" * 50))
        assert len(member(session).name) == 80
