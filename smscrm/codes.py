"""Short codes people read out and type: redemption codes and personal referral codes."""
from __future__ import annotations

import re
import secrets
import unicodedata

CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O or 1/I: easy to read out and to type


def random_code(length: int) -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))


def normalise_code(raw: str | None) -> str:
    """A code as typed (full-width, lower case, spaces or dashes) in its canonical form: `a-1` → `A1`."""
    return re.sub(r"[\s\-]", "", unicodedata.normalize("NFKC", raw or "").upper())
