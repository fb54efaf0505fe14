"""What the webhook reads when a text arrives (`smscrm.messaging.arrival`): the merchant, the sender's membership,
a stranger's consent, whether the sender is one of our numbers, and whether the MessageSid was handled before."""
import pytest

from smscrm.loyalty import members
from smscrm.messaging.arrival import arrive, card_for, reply_address
from smscrm.messaging.consent import record_consent
from smscrm.models import ConsentAction, ConsentChannel
from tests.conftest import MERCHANT_NUMBER

ANN = "+14155550100"


def opt_out(session, merchant, now, phone=ANN):
    record_consent(session, merchant_id=merchant.id, phone=phone, action=ConsentAction.OPT_OUT, keyword="STOP",
                   channel=ConsentChannel.SMS, now=now)


def test_a_stranger_who_opted_out_is_known_by_their_consent_events(session, merchant, now):
    opt_out(session, merchant, now)
    arrival = arrive(session, message_sid="SM1", to_phone=MERCHANT_NUMBER, from_phone=ANN)
    assert arrival.card is None and arrival.is_stranger_opted_out
    assert card_for(session, merchant.id, ANN) == (None, True, False)


def test_a_stranger_without_consent_events_has_not_opted_out(session, merchant):
    arrival = arrive(session, message_sid="SM1", to_phone=MERCHANT_NUMBER, from_phone=ANN)
    assert arrival.card is None and not arrival.is_stranger_opted_out


def test_a_members_consent_is_their_membership_s_flag_and_their_events_are_not_read(session, merchant, now):
    opt_out(session, merchant, now)  # as a stranger; then they joined, which opts in
    members.join(session, merchant, ANN, name="Ann", language="en", now=now)
    arrival = arrive(session, message_sid="SM1", to_phone=MERCHANT_NUMBER, from_phone=ANN)
    assert arrival.card.name == "Ann" and not arrival.card.is_opted_out
    assert not arrival.is_stranger_opted_out
    card, is_stranger_opted_out, _is_own_number = card_for(session, merchant.id, ANN)
    assert card.name == "Ann" and not is_stranger_opted_out


def test_an_unknown_number_texted_has_no_arrival(session, merchant):
    assert arrive(session, message_sid="SM1", to_phone="+14155559999", from_phone=ANN) is None


def test_a_text_from_one_of_our_own_numbers_is_known_as_such(session, merchant):
    assert arrive(session, message_sid="SM1", to_phone=MERCHANT_NUMBER, from_phone=MERCHANT_NUMBER).is_own_number
    assert not arrive(session, message_sid="SM1", to_phone=MERCHANT_NUMBER, from_phone=ANN).is_own_number
    assert card_for(session, merchant.id, MERCHANT_NUMBER) == (None, False, True)


@pytest.mark.parametrize(("sender", "address"), [
    ("+14155550100", "+14155550100"),
    ("(415) 555-0100", "+14155550100"),  # a local number of the merchant's country
    ("+8613800138000", "+8613800138000"),
    ("+15555550100", None),  # possible, but not a number any region issues
    ("whatsapp:+14155550100", None),
    ("tel:+14155550100", None),
    ("VODAFONE", None),
    ("12345", None),
    ("", None),
])
def test_reply_address_is_a_valid_phone_on_sms_only(sender, address):
    assert reply_address(sender, "US") == address
