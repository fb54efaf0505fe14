"""What a staff password must be: 8 to 72 characters and not easy to guess.

"Easy to guess" is zxcvbn's judgement (Dropbox's estimator, the `zxcvbn` package on PyPI): it matches the
password against its bundled lists of the most common passwords (from leaked password sets), English words,
names, keyboard patterns, dates and sequences, and against words of this account (its email, the shop's name).
A password it scores below MIN_SCORE (fewer than 10^8 guesses) is refused with its advice: `12345678` and
`password1` are, although long enough.
"""
from __future__ import annotations

from zxcvbn import zxcvbn

from smscrm.errors import N_, PasswordRefused

MIN_LENGTH = 8
MAX_LENGTH = 72  # zxcvbn's limit
MIN_SCORE = 3  # zxcvbn's scale 0-4; 3 is "safely unguessable" (at least 10^8 guesses)


def check_password(password: str, *, personal: tuple[str, ...] = ()) -> None:
    """Raise PasswordRefused saying why `password` will not do; `personal`: words of this account."""
    password = password or ""
    if len(password) < MIN_LENGTH:
        raise PasswordRefused(N_("the password must be at least %(count)s characters"), count=MIN_LENGTH)
    if len(password) > MAX_LENGTH:
        raise PasswordRefused(N_("the password must be at most %(count)s characters"), count=MAX_LENGTH)
    judgement = zxcvbn(password, user_inputs=[word for word in personal if word])
    if judgement["score"] < MIN_SCORE:
        feedback = judgement["feedback"]
        why = feedback["warning"] or "It is too easy to guess."
        advice = " ".join(feedback["suggestions"]) or "Use a few words that do not belong together."
        raise PasswordRefused(f"that password is too easy to guess. {why} {advice}")
