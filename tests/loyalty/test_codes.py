"""Codes people read out and type: random letters of an alphabet without look-alikes."""
from __future__ import annotations

from collections import Counter

from smscrm.loyalty.codes import CODE_ALPHABET, normalise_code, random_code


def test_every_letter_of_the_alphabet_is_as_likely():
    assert 256 % len(CODE_ALPHABET) == 0  # one random byte a letter, with no letter favoured
    letters = Counter("".join(random_code(8) for _ in range(4000)))  # 32,000 letters, 1,000 of each expected
    assert set(letters) == set(CODE_ALPHABET)
    assert 800 < min(letters.values()) and max(letters.values()) < 1200


def test_a_code_has_the_length_asked_for_and_no_look_alikes():
    code = random_code(6)
    assert len(code) == 6 and not set(code) & set("01IO")


def test_a_code_as_typed_is_read_in_its_canonical_form():
    assert normalise_code(" ａ-2x y ") == "A2XY"
