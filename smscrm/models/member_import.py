"""Member imports: a CSV file of members, checked into staging rows, previewed, then written set-based."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, deferred, mapped_column

from smscrm.db.types import Base


class ImportStatus(StrEnum):
    UPLOADED = "uploaded"  # the file is kept; the worker checks its rows next
    CHECKED = "checked"  # the preview is ready: the owner confirms or discards
    CONFIRMED = "confirmed"  # the worker writes the members next
    DONE = "done"
    FAILED = "failed"  # nothing was written (`failure` says why)
    DISCARDED = "discarded"


class RowRejection(StrEnum):
    """Why a row of the file is not imported."""

    NO_PHONE = "no_phone"
    NOT_A_NUMBER = "not_a_number"  # not a possible phone number in the merchant's country
    INVALID_NUMBER = "invalid_number"  # of a possible length, but no region issues it
    BIRTHDAY = "birthday"
    LANGUAGE = "language"


class MemberImport(Base):
    """One file of members. The owner who confirmed it and, when they declared one, the statement of how these
    members consented to marketing (`consent_statement`): the evidence of the consent events it wrote."""

    __tablename__ = "member_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(10), default=ImportStatus.UPLOADED)
    source: Mapped[str | None] = deferred(mapped_column(Text))  # the file's text until its rows are checked
    total_rows: Mapped[int]
    checked_rows: Mapped[int] = mapped_column(default=0)
    rejected_rows: Mapped[int] = mapped_column(default=0)
    merged_rows: Mapped[int] = mapped_column(default=0)  # rows whose number an earlier row of the file has
    created_members: Mapped[int] = mapped_column(default=0)
    updated_members: Mapped[int] = mapped_column(default=0)
    invited_members: Mapped[int] = mapped_column(default=0)
    consent_statement: Mapped[str | None] = mapped_column(Text)
    failure: Mapped[str | None] = mapped_column(String(255))
    uploaded_by: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    confirmed_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    created_at: Mapped[datetime]
    check_started_at: Mapped[datetime | None]  # a check's lease: another job leaves it alone until it runs out
    confirmed_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class MemberImportRow(Base):
    """The staging table: one row of the file as it will be written, or the reason it will not."""

    __tablename__ = "member_import_rows"

    import_id: Mapped[int] = mapped_column(ForeignKey("member_imports.id"), primary_key=True)
    line: Mapped[int] = mapped_column(primary_key=True)  # the line of the file it ends on (a header is line 1)
    written: Mapped[str] = mapped_column(String(40))  # the phone number as the file wrote it
    phone: Mapped[str | None] = mapped_column(String(20))  # E.164
    name: Mapped[str | None] = mapped_column(String(80))
    language: Mapped[str | None] = mapped_column(String(2))
    birthday_month: Mapped[int | None] = mapped_column(SmallInteger)
    birthday_day: Mapped[int | None] = mapped_column(SmallInteger)
    rejection: Mapped[str | None] = mapped_column(String(16))
    merged_into: Mapped[int | None]  # the line of the earlier row with the same number
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))  # set as the import is written
    is_new: Mapped[bool] = mapped_column(default=False)


class MemberImportTag(Base):
    """A tag of a staged row (its member's interest topic)."""

    __tablename__ = "member_import_tags"

    import_id: Mapped[int] = mapped_column(ForeignKey("member_imports.id"), primary_key=True)
    line: Mapped[int] = mapped_column(primary_key=True)
    topic: Mapped[str] = mapped_column(String(40), primary_key=True)
