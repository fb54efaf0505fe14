"""What the owner sees of a checked member file before confirming it: the counts, the first rows with their numbers
in E.164, the rows merged into an earlier row of the same number, and the refused rows with their reason."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Row, and_, exists, func, select
from sqlalchemy.orm import Session

from smscrm.models import Member, MemberImport, MemberImportRow

SHOWN = 50  # rows of each list shown


@dataclass(frozen=True)
class Preview:
    new: int  # numbers the merchant has not met
    existing: int  # numbers of members the merchant has already: merged with them
    merged: int  # rows merged into an earlier row of the same number
    rejected: int
    rows: list[Row]  # line, written, phone, name, language, birthday_month, birthday_day, is_member
    merged_rows: list[Row]  # line, written, phone, merged_into
    rejected_rows: list[Row]  # line, written, rejection


def preview(session: Session, member_import: MemberImport) -> Preview:
    """The preview of a checked import (the rejected rows also of a written one: they are kept)."""
    of_import = MemberImportRow.import_id == member_import.id
    is_member = exists().where(Member.merchant_id == member_import.merchant_id, Member.phone == MemberImportRow.phone)
    staged = and_(of_import, MemberImportRow.rejection.is_(None), MemberImportRow.merged_into.is_(None))
    new, existing = session.execute(
        select(func.count().filter(~is_member), func.count().filter(is_member)).where(staged)
    ).one()
    rows = session.execute(
        select(MemberImportRow.line, MemberImportRow.written, MemberImportRow.phone, MemberImportRow.name,
               MemberImportRow.language, MemberImportRow.birthday_month, MemberImportRow.birthday_day,
               is_member.label("is_member"))
        .where(staged).order_by(MemberImportRow.line).limit(SHOWN)
    ).all()
    merged_rows = session.execute(
        select(MemberImportRow.line, MemberImportRow.written, MemberImportRow.phone, MemberImportRow.merged_into)
        .where(of_import, MemberImportRow.merged_into.is_not(None)).order_by(MemberImportRow.line).limit(SHOWN)
    ).all()
    return Preview(new or 0, existing or 0, member_import.merged_rows, member_import.rejected_rows, rows, merged_rows,
                   rejected_rows(session, member_import))


def rejected_rows(session: Session, member_import: MemberImport) -> list[Row]:
    """The first refused rows of the file: line, as written, the reason."""
    return session.execute(
        select(MemberImportRow.line, MemberImportRow.written, MemberImportRow.rejection)
        .where(MemberImportRow.import_id == member_import.id, MemberImportRow.rejection.is_not(None))
        .order_by(MemberImportRow.line).limit(SHOWN)
    ).all()
