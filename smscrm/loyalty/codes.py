"""Short codes people read out and type: redemption codes and personal referral codes."""
from __future__ import annotations

import re
import secrets
import unicodedata

CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O or 1/I: easy to read out and to type


def random_code(length: int) -> str:
    """`length` letters of CODE_ALPHABET, each equally likely: the alphabet's 32 letters divide a random
    byte's 256 values evenly, so one byte a letter, read with one call to the system's random source."""
    return "".join(CODE_ALPHABET[byte % len(CODE_ALPHABET)] for byte in secrets.token_bytes(length))


def normalise_code(raw: str | None) -> str:
    """A code as typed (full-width, lower case, spaces or dashes) in its canonical form: `a-1` → `A1`."""
    return re.sub(r"[\s\-]", "", unicodedata.normalize("NFKC", raw or "").upper())
