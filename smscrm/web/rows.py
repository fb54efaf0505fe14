"""Row ids in URLs and forms: whole numbers from 1 to PostgreSQL's largest integer, so a made-up id
finds nothing (a 404) instead of failing in the database."""
from __future__ import annotations

from flask import Flask
from werkzeug.routing import IntegerConverter, ValidationError

MAX_ROW_ID = 2**31 - 1


def row_id(text: str | None) -> int | None:
    """The id `text` names, or None when it is not one."""
    if not text or not text.isascii() or not text.isdigit() or len(text) > len(str(MAX_ROW_ID)):
        return None
    number = int(text)
    return number if 1 <= number <= MAX_ROW_ID else None


class RowIdConverter(IntegerConverter):
    """The URL converter of every route with a row id, `<id:member_id>`: anything but an id does not match (404)."""

    def __init__(self, map, *args, **kwargs):
        super().__init__(map, min=1, max=MAX_ROW_ID)

    def to_python(self, value: str) -> int:
        number = row_id(value)
        if number is None:
            raise ValidationError()
        return number


def init_app(app: Flask) -> None:
    """Registers `id`; it must come before the blueprints, whose rules are read when they are registered."""
    app.url_map.converters["id"] = RowIdConverter
