"""Every automatic text a shopper gets fits one SMS part (160 GSM-7 / 70 UCS-2), in both languages, with the
longest merchant names, signature, opt-out line and reward names the settings accept (issue 21)."""
from __future__ import annotations

import pytest

from smscrm import points
from smscrm.accounts import merchants
from smscrm.loyalty import rewards
from smscrm.messaging import texts
from smscrm.sending import parts
from smscrm.simulator import reply_text

AUTOMATIC = [key for key in texts.DEFAULT_TEXTS if not key.startswith("care_")]  # care texts: the care page counts
VALUES = {  # what the texts are filled with: generous, as a busy member would see them
    "en": dict(name_suffix=", Annabelle", friend="Annabelle", topic="x" * 40, catalog="TEA Free tea (100)",
               reward="R" * rewards.MAX_REWARD_NAME_CHARS),
    "zh": dict(name_suffix="欧阳娜娜", friend="欧阳娜娜", topic="绿" * 40, catalog="TEA 绿茶 (100)",
               reward="奖" * rewards.MAX_REWARD_NAME_ZH_CHARS),
}
NUMBERS = dict(points=123456, balance=123456, cost=123456, bonus=123456, limit=5, birthday="1990-03-08",
               example="TEA", code="ABC123", expires="2026-03-17", phone="+8613800138000", number="+14155550000",
               last4="0100")


@pytest.fixture
def longest_names(session, merchant):
    """The merchant with the longest names, signature and Chinese opt-out line its settings page accepts."""
    merchants.update_profile(
        session, merchant, name=("Green Leaf Tea House " * 3)[:merchants.MAX_NAME_CHARS],
        name_zh="绿" * merchants.MAX_NAME_ZH_CHARS, signature="叶" * merchants.MAX_SIGNATURE_CHARS,
        opt_out_zh=("回复TD退订" + "谢" * 20)[:merchants.MAX_OPT_OUT_CHARS], language="en", timezone="UTC",
        country="US",
    )
    session.commit()
    return merchant


@pytest.mark.parametrize("language", ["en", "zh"])
@pytest.mark.parametrize("key", AUTOMATIC)
def test_every_automatic_text_fits_one_part(longest_names, key, language):
    body = texts.render(longest_names, key, language, **VALUES[language], **NUMBERS)
    assert "{" not in body, body
    if language == "zh":  # Chinese throughout: the Chinese name, never the English one
        assert longest_names.name not in body and ("{merchant}" not in texts.DEFAULT_TEXTS[key]["zh"]
                                                    or longest_names.name_zh in body), body
    info = parts.count(body)
    assert info.encoding == ("GSM-7" if language == "en" else "UCS-2")
    assert info.parts == 1, f"{key} ({language}) is {info.units} units: {body}"


@pytest.mark.parametrize("join, redeem", [("JOIN", "REDEEM"), ("入会", "兑换")])
def test_the_catalog_and_the_code_fit_one_part_with_the_longest_reward_names(
    session, longest_names, text_in, now, join, redeem
):
    for index, code in enumerate(["TEA", "CAKE", "MUG", "POT", "FEAST"]):
        rewards.create_reward(
            session, longest_names, code=code, name=("Free pot of tea " * 4)[:rewards.MAX_REWARD_NAME_CHARS],
            name_zh="免" * rewards.MAX_REWARD_NAME_ZH_CHARS, points_cost=100_000 + index, now=now,
        )
    session.commit()
    text_in(join)
    points.record_purchase(session, longest_names, phone="+14155550100", amount_minor=99_999_999, now=now)
    session.commit()
    for body in (f"{redeem}", f"{redeem} NOPE", f"{redeem} TEA"):
        answer = reply_text(text_in(body).get_data(as_text=True))
        assert parts.count(answer).parts == 1, answer
        assert "TEA" in answer or "100000" in answer
