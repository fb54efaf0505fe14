"""What a staff password must be: 8 to 72 characters and not easy to guess.

"Easy to guess" is zxcvbn's judgement (Dropbox's estimator, the `zxcvbn` package on PyPI): it matches the
password against its bundled lists of the most common passwords (from leaked password sets), English words,
names, keyboard patterns, dates and sequences, and against words of this account (its email, the shop's name).
A password it scores below MIN_SCORE (fewer than 10^8 guesses) is refused, saying what made it easy (the longest
pattern zxcvbn found) in the page's language: `12345678` and `password1` are, although long enough.
"""
from __future__ import annotations

from zxcvbn import zxcvbn

from smscrm.errors import N_, PasswordRefused

MIN_LENGTH = 8
MAX_LENGTH = 72  # zxcvbn's limit
MIN_SCORE = 3  # zxcvbn's scale 0-4; 3 is "safely unguessable" (at least 10^8 guesses)
TOO_EASY = {  # by the kind of zxcvbn's longest match (its own advice is English only)
    "dictionary": N_("that password is too easy to guess: it is a common password, a word or a name. Use a few "
                     "words that do not belong together."),
    "user_inputs": N_("that password is too easy to guess: it is made of your email or the shop's name. Use a few "
                      "words that do not belong together."),
    "spatial": N_("that password is too easy to guess: it is a row or a pattern of keys. Use a few words that do not "
                  "belong together."),
    "repeat": N_("that password is too easy to guess: it repeats characters or words. Use a few words that do not "
                 "belong together."),
    "sequence": N_("that password is too easy to guess: it is a sequence like abc or 6543. Use a few words that do "
                   "not belong together."),
    "regex": N_("that password is too easy to guess: it is built on a recent year. Use a few words that do not "
                "belong together."),
    "date": N_("that password is too easy to guess: it is built on a date. Use a few words that do not belong "
               "together."),
    None: N_("that password is too easy to guess. Use a few words that do not belong together."),
}


def check_password(password: str, *, personal: tuple[str, ...] = ()) -> None:
    """Raise PasswordRefused saying why `password` will not do; `personal`: words of this account."""
    password = password or ""
    if len(password) < MIN_LENGTH:
        raise PasswordRefused(N_("the password must be at least %(count)s characters"), count=MIN_LENGTH)
    if len(password) > MAX_LENGTH:
        raise PasswordRefused(N_("the password must be at most %(count)s characters"), count=MAX_LENGTH)
    judgement = zxcvbn(password, user_inputs=[word for word in personal if word])
    if judgement["score"] < MIN_SCORE:
        raise PasswordRefused(TOO_EASY.get(_easiest_part(judgement), TOO_EASY[None]))


def _easiest_part(judgement: dict) -> str | None:
    """The kind of the longest pattern zxcvbn matched (None: no pattern, only too short to resist guessing)."""
    found = [match for match in judgement["sequence"] if match["pattern"] != "bruteforce"]
    if not found:
        return None
    longest = max(found, key=lambda match: len(match["token"]))
    return "user_inputs" if longest.get("dictionary_name") == "user_inputs" else longest["pattern"]
