"""A campaign's text as it is counted and sent: opt-out line, signature, placeholders, encoding, parts, cost."""
from __future__ import annotations

import pytest

from smscrm.errors import ValidationError
from smscrm.marketing import campaign_texts
from smscrm.models import Campaign


def test_english_gets_the_opt_out_line_once(merchant):
    assert campaign_texts.with_opt_out(merchant, "New teas are in!", "en") == "New teas are in! Reply STOP to opt out."
    written = "New teas are in! Reply STOP to opt out."
    assert campaign_texts.with_opt_out(merchant, written, "en") == written


def test_chinese_gets_the_signature_and_the_merchants_own_opt_out_line(merchant):
    assert campaign_texts.with_opt_out(merchant, "新茶到店", "zh") == "【绿叶茶馆】新茶到店，回复TD退订"
    assert campaign_texts.with_opt_out(merchant, "新茶到店！", "zh") == "【绿叶茶馆】新茶到店！回复TD退订"
    merchant.texts = {"opt_out": {"zh": "拒收请回复R"}}
    assert campaign_texts.with_opt_out(merchant, "新茶到店。", "zh") == "【绿叶茶馆】新茶到店。拒收请回复R"


def test_placeholders_fill_with_fallbacks(merchant):
    template = "{name}, {points} pts, class {class} at {merchant}"
    filled = campaign_texts.fill(template, name=None, points=5, value_class=None, merchant_name="Tea", language="en")
    assert filled == "friend, 5 pts, class  at Tea"
    chinese = campaign_texts.fill("{name}您好", name=None, points=0, value_class="A", merchant_name="茶", language="zh")
    assert chinese == "会员您好"


def test_unknown_placeholders_are_refused_and_braces_alone_are_fine():
    with pytest.raises(ValidationError, match=r"\{nom\} is not a placeholder"):
        campaign_texts.check_text("Bonjour {nom}", "the English text")
    assert campaign_texts.check_text("  Use code {SPRING 10} or { } ", "t") == "Use code {SPRING 10} or { }"
    assert campaign_texts.check_text("   ", "t") is None


def test_a_member_gets_their_language_when_written(merchant):
    campaign = Campaign(text_en="Hi {name}", text_zh="{name}您好")
    assert campaign_texts.language_of_text(campaign, "zh") == "zh"
    assert campaign_texts.language_of_text(campaign, "en") == "en"
    assert campaign_texts.template_for(merchant, campaign, "zh") == "【绿叶茶馆】{name}您好，回复TD退订"
    assert campaign_texts.template_for(merchant, campaign, "en") == "Hi {name} Reply STOP to opt out."
    only_english = Campaign(text_en="Hi {name}", text_zh=None)
    assert campaign_texts.language_of_text(only_english, "zh") == "en"


@pytest.mark.parametrize(
    "text, encoding, parts",
    [
        # 136 + " Reply STOP to opt out." (23) = 159 GSM characters: one part
        ("a" * 136, "GSM-7", 1),
        ("a" * 138, "GSM-7", 2),  # 161: two parts of up to 153
        ("€" * 68, "GSM-7", 1),  # extension characters count twice: 136 + 23 = 159 septets
        ("€" * 69, "GSM-7", 2),  # 161 septets
        ("a" * 283, "GSM-7", 2),  # 306 = 2 × 153
        ("a" * 284, "GSM-7", 3),
        ("a" * 46 + "’", "UCS-2", 1),  # a curly quote: 47 + 23 = 70, one UCS-2 part
        ("a" * 47 + "’", "UCS-2", 2),  # 71 UTF-16 units: two parts of up to 67
    ],
)
def test_counts_include_the_opt_out_line(merchant, text, encoding, parts):
    full = campaign_texts.with_opt_out(merchant, text, "en")
    counted = campaign_texts.count_text(merchant, text, full, "en")
    assert (counted.info.encoding, counted.info.parts) == (encoding, parts)


def test_chinese_counts_include_signature_and_opt_out(merchant):
    full = campaign_texts.with_opt_out(merchant, "新" * 57, "zh")
    # 【绿叶茶馆】 (6) + 57 + ， (1) + 回复TD退订 (6) = 70: one part; one more character makes two.
    assert campaign_texts.count_text(merchant, "新" * 57, full, "zh").info.parts == 1
    longer = campaign_texts.with_opt_out(merchant, "新" * 58, "zh")
    assert campaign_texts.count_text(merchant, "新" * 58, longer, "zh").info.parts == 2


def test_replacing_look_alikes_is_offered_when_it_makes_the_text_gsm(merchant):
    text = "It’s our birthday — 20% off “everything” today, come and celebrate with us"
    counted = campaign_texts.count_text(merchant, text, campaign_texts.with_opt_out(merchant, text, "en"), "en")
    assert counted.info.encoding == "UCS-2" and counted.info.ucs2_characters == ("’", "—", "“", "”")
    assert counted.gsm_suggestion == "It's our birthday - 20% off \"everything\" today, come and celebrate with us"
    assert (counted.info.parts, counted.gsm_parts) == (2, 1)


def test_no_replacement_is_offered_when_the_text_stays_ucs2(merchant):
    text = "It’s tea time 🍵"
    counted = campaign_texts.count_text(merchant, text, campaign_texts.with_opt_out(merchant, text, "en"), "en")
    assert counted.gsm_suggestion is None and counted.gsm_parts is None


def test_estimated_cost_is_parts_times_recipients_times_price(merchant):
    merchant.price_per_part_millis = 0
    assert campaign_texts.estimated_cost_minor(merchant, {"en": 2}, {"en": 100}) is None
    merchant.price_per_part_millis = 830  # 0.83 cents
    assert campaign_texts.estimated_cost_minor(merchant, {"en": 2, "zh": 1}, {"en": 100, "zh": 50}) == 207.5
