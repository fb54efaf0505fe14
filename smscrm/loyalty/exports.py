"""The merchant's members and consent log as CSV, produced row by row for a streamed download: a header row, phone
numbers in E.164, times in UTC (ISO 8601), UTF-8 with a BOM (so spreadsheets read Chinese names). The member file's
first columns are those an import reads, so an export can be imported again."""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator

from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import Session

from smscrm.models import ConsentEvent, Member, MemberImport, MemberInterest

BATCH = 1_000  # rows fetched (a server-side cursor on PostgreSQL) and written per chunk
MEMBER_HEADER = ("phone", "name", "birthday", "language", "tags", "status", "points", "joined_at", "created_at")
CONSENT_HEADER = ("created_at", "phone", "action", "keyword", "channel", "source_sid", "evidence")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet would run a cell starting so as a formula


def member_lines(session: Session, merchant_id: int) -> Iterator[str]:
    """Every member of the merchant, oldest first: status is pending (not joined yet), joined or opted_out."""
    tags = (
        select(func.aggregate_strings(MemberInterest.topic, ";"))
        .where(MemberInterest.member_id == Member.id)
        .scalar_subquery()
    )
    status = case((Member.is_opted_out, "opted_out"), (Member.joined_at.is_(None), "pending"), else_="joined")
    rows = select(
        Member.phone, Member.name, Member.birthday_month, Member.birthday_day, Member.language, tags, status,
        Member.points_balance, Member.joined_at, Member.created_at,
    ).where(Member.merchant_id == merchant_id).order_by(Member.id)
    return _lines(session, MEMBER_HEADER, rows, lambda row: (
        row.phone, _text(row.name), f"{row.birthday_month:02d}-{row.birthday_day:02d}" if row.birthday_month else "",
        row.language, _text(row[5]), row[6], row.points_balance, _time(row.joined_at), _time(row.created_at),
    ))


def consent_lines(session: Session, merchant_id: int) -> Iterator[str]:
    """Every opt-in and opt-out at the merchant, oldest first; an import's opt-in carries its consent statement."""
    rows = (
        select(ConsentEvent.created_at, ConsentEvent.phone, ConsentEvent.action, ConsentEvent.keyword,
               ConsentEvent.channel, ConsentEvent.source_sid, MemberImport.consent_statement)
        .outerjoin(MemberImport, MemberImport.id == ConsentEvent.import_id)
        .where(ConsentEvent.merchant_id == merchant_id)
        .order_by(ConsentEvent.id)
    )
    return _lines(session, CONSENT_HEADER, rows, lambda row: (
        _time(row.created_at), row.phone, row.action, _text(row.keyword), row.channel, row.source_sid or "",
        _text(row.consent_statement),
    ))


def _lines(session: Session, header: tuple[str, ...], rows: Select, cells) -> Iterator[str]:
    yield "\ufeff" + _csv([header])
    for batch in session.execute(rows.execution_options(yield_per=BATCH)).partitions():
        yield _csv(map(cells, batch))


def _csv(rows: Iterable) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue()


def _text(value: str | None) -> str:
    """Free text as a cell a spreadsheet shows, never runs."""
    if not value:
        return ""
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def _time(value) -> str:
    return value.isoformat() if value else ""
