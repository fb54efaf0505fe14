"""SMS part counting: GSM-7 vs UCS-2, extension characters, concatenation limits."""
import pytest

from smscrm.sending.parts import count, gsm_replacement


@pytest.mark.parametrize(
    "text, encoding, units, parts",
    [
        ("", "GSM-7", 0, 0),
        ("Hello", "GSM-7", 5, 1),
        ("a" * 160, "GSM-7", 160, 1),
        ("a" * 161, "GSM-7", 161, 2),
        ("a" * 306, "GSM-7", 306, 2),
        ("a" * 307, "GSM-7", 307, 3),
        ("€" * 80, "GSM-7", 160, 1),  # extension characters count twice
        ("€" * 81, "GSM-7", 162, 2),
        ("a" * 159 + "€", "GSM-7", 161, 2),
        ("你" * 70, "UCS-2", 70, 1),
        ("你" * 71, "UCS-2", 71, 2),
        ("a" * 134, "GSM-7", 134, 1),
        ("a" * 133 + "’", "UCS-2", 134, 2),  # one curly quote makes the whole text UCS-2
        ("😀" * 35, "UCS-2", 70, 1),  # an emoji is two UTF-16 units
        ("😀" * 36, "UCS-2", 72, 2),
    ],
)
def test_counts(text, encoding, units, parts):
    info = count(text)
    assert (info.encoding, info.units, info.parts) == (encoding, units, parts)


def test_escape_pair_is_not_split_between_parts():
    # 152 plain septets then a 2-septet character: the pair moves whole to part two.
    assert count("a" * 152 + "€" + "a" * 151).parts == 2
    assert count("a" * 152 + "€" + "a" * 152).parts == 3


def test_forcing_characters_are_listed_once_in_order():
    assert count("It’s “great” — it’s").ucs2_characters == ("’", "“", "”", "—")


def test_replacement_offered_only_when_it_makes_the_text_gsm():
    assert gsm_replacement("It’s “great” — see you…") == "It's \"great\" - see you..."
    assert gsm_replacement("It’s 好") is None
    assert gsm_replacement("plain text") is None
