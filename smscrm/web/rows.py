"""Row ids in URLs and forms: whole numbers from 1 to PostgreSQL's largest integer, so a made-up id
finds nothing (a 404) instead of failing in the database."""
from __future__ import annotations

MAX_ROW_ID = 2**31 - 1
ROW_ID = f"int(min=1, max={MAX_ROW_ID})"  # the URL converter: `<{ROW_ID}:member_id>`


def row_id(text: str | None) -> int | None:
    """The id `text` names, or None when it is not one."""
    if not text or not text.isascii() or not text.isdigit() or len(text) > len(str(MAX_ROW_ID)):
        return None
    number = int(text)
    return number if 1 <= number <= MAX_ROW_ID else None
