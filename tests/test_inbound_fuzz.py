"""Whatever arrives at the webhook, the answer is TwiML or a clear 4xx, never a 500."""
import itertools
import string

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from twilio.twiml.messaging_response import MessagingResponse

from smscrm.webhooks import twiml
from tests.conftest import MERCHANT_NUMBER

keywords = st.sampled_from(
    ["JOIN", "入会", "STOP", "TD", "START", "HELP", "帮助", "BAL", "积分", "BDAY", "生日", "LIKE", "兴趣", "退订", ""]
)
bodies = st.one_of(
    st.text(max_size=400),
    st.builds(lambda k, rest: f"{k} {rest}", keywords, st.text(max_size=60)),
    st.builds(lambda k, rest: k + rest, keywords, st.text(alphabet="0123456789-/.月日号 ", max_size=12)),
)
senders = st.one_of(
    st.sampled_from(["+14155550100", "+8613800138000", "4155550101", "(415) 555-0102"]),
    st.text(min_size=1, max_size=30),
    st.from_regex(r"\+[0-9]{1,18}", fullmatch=True),
)
sids = itertools.count()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies, sender=senders, repeat=st.booleans())
@example(body="", sender=" ", repeat=False)  # found by CI on 2026-12-07
def test_webhook_never_errors(text_in, merchant, body, sender, repeat):
    sid = f"SMfuzz{next(sids)}"
    for _ in range(2 if repeat else 1):
        response = text_in(body, sender=sender, sid=sid)
        if not sender.strip(string.whitespace + "\x00"):  # no sender at all: Twilio never sends that
            assert response.status_code == 400, (body, sender, response.data)
            assert response.json["error"]["message"] == "missing or blank form field(s): From"
            continue
        assert response.status_code == 200, (body, sender, response.data)
        assert response.get_data(as_text=True).startswith("<?xml")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sid=st.text(max_size=100), to=st.text(max_size=30))
def test_odd_sids_and_destinations_get_200_or_4xx(text_in, merchant, sid, to):
    response = text_in("JOIN", sid=sid or None, to=to or MERCHANT_NUMBER)
    assert response.status_code in (200, 400, 404), response.data


@given(body=st.one_of(st.none(), st.text(max_size=200)))
def test_the_twiml_answer_is_what_twilios_messaging_response_renders(body):
    expected = MessagingResponse()
    if body:
        expected.message(body)
    assert twiml(body) == str(expected)
