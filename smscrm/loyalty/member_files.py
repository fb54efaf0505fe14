"""Member files: CSV text in UTF-8 (a BOM or not) or GBK, whose first row names the columns; a phone column is
required, name, birthday, language and tags are optional. Each row is read into what a member keeps (the number in
E.164, read in the merchant's country), or the reason it is refused. Pure: no database."""
from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass

import phonenumbers

from smscrm.errors import BadMemberFile, InvalidPhone
from smscrm.inbound import parse_birthday
from smscrm.loyalty.members import MAX_TOPIC_CHARS, clean_name, clean_topic
from smscrm.messaging import phones
from smscrm.models import Language, RowRejection

MAX_BYTES = 16 * 1024 * 1024
MAX_ROWS = 200_000
ENCODINGS = ("utf-8-sig", "gbk")  # tried in this order: UTF-8 (Excel's "CSV UTF-8" starts with a BOM), then GBK
COLUMNS = {  # our field -> the headings that name it (compared lower-cased, spaces and _ ignored)
    "phone": ("phone", "phonenumber", "mobile", "mobilenumber", "cell", "tel", "telephone", "手机", "手机号",
              "手机号码", "电话", "电话号码"),
    "name": ("name", "fullname", "姓名", "名字", "称呼"),
    "birthday": ("birthday", "birthdate", "dateofbirth", "dob", "生日", "出生日期"),
    "language": ("language", "lang", "语言"),
    "tags": ("tags", "tag", "interests", "标签", "兴趣"),
}
LANGUAGES = {
    "en": Language.EN, "english": Language.EN, "英文": Language.EN, "英语": Language.EN,
    "zh": Language.ZH, "zh-cn": Language.ZH, "zh-hans": Language.ZH, "chinese": Language.ZH, "中文": Language.ZH,
    "汉语": Language.ZH, "普通话": Language.ZH,
}
_SPREADSHEETS = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0")  # .xlsx (a zip) and .xls
_YEAR_LAST = re.compile(r"^(.+?)\s*[-/.]\s*(\d{4})$")  # 03/08/1990
_TAG_SEPARATORS = re.compile(r"[;|,，、；]")


@dataclass(frozen=True)
class MemberFile:
    """The file's rows under its header: (line, cells) for each row that is not blank."""

    columns: dict[str, int]  # our field -> its position in a row
    rows: list[tuple[int, list[str]]]


@dataclass(frozen=True)
class MemberRow:
    """One row as a member will keep it, or `rejection` saying why it is not imported."""

    written: str  # the phone number as written
    phone: str | None = None
    name: str | None = None
    language: str | None = None
    birthday: tuple[int, int] | None = None
    tags: tuple[str, ...] = ()
    rejection: RowRejection | None = None


def decode(data: bytes) -> str:
    """The file's text; BadMemberFile when it is too big, a spreadsheet, or not text in UTF-8 or GBK."""
    if len(data) > MAX_BYTES:
        raise BadMemberFile("too_big", "the file is too big", limit=MAX_BYTES)
    if data.startswith(_SPREADSHEETS):
        raise BadMemberFile("spreadsheet", "the file is a spreadsheet, not CSV")
    if b"\x00" in data:
        raise BadMemberFile("not_text", "the file is not text (UTF-16, or not a CSV file)")
    for encoding in ENCODINGS:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise BadMemberFile("encoding", "the file is neither UTF-8 nor GBK text")


def parse(text: str) -> MemberFile:
    """The columns and rows of the file's text; BadMemberFile when it has no rows, no phone column, too many rows
    or is not CSV."""
    if not text.strip():
        raise BadMemberFile("empty", "the file is empty")
    first_line = text.lstrip("\ufeff").splitlines()[0]
    try:
        dialect = csv.Sniffer().sniff(first_line, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel  # one column: nothing to sniff
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""), dialect)
    try:
        header = next(reader)
        columns = _columns(header)
        rows = []
        for cells in reader:
            if any(cell.strip() for cell in cells):
                rows.append((reader.line_num, cells))
                if len(rows) > MAX_ROWS:
                    raise BadMemberFile("too_many_rows", "the file has too many rows", limit=MAX_ROWS)
    except csv.Error as exc:
        raise BadMemberFile("not_csv", f"line {reader.line_num} is not CSV ({exc})", line=reader.line_num) from None
    if not rows:
        raise BadMemberFile("no_rows", "the file has no rows under its header")
    return MemberFile(columns, rows)


def _columns(header: list[str]) -> dict[str, int]:
    found = {}
    for position, heading in enumerate(header):
        key = re.sub(r"[\s_\-]", "", unicodedata.normalize("NFKC", heading)).lower()
        field = next((field for field, names in COLUMNS.items() if key in names), None)
        if field is not None and field not in found:
            found[field] = position
    if "phone" not in found:
        shown = ", ".join(heading.strip() for heading in header if heading.strip())[:200]
        raise BadMemberFile("no_phone_column", "the first row names no phone column", columns=shown)
    return found


def read_row(member_file: MemberFile, cells: list[str], *, country: str) -> MemberRow:
    """A row of the file as a member keeps it: the number in E.164 (local numbers read in `country`) and
    phonenumbers knows it as issued; a birthday as a month and day (a year is ignored); a language we write in;
    tags split at ; | , or 、."""

    def cell(field: str) -> str:
        position = member_file.columns.get(field)
        return cells[position].strip() if position is not None and position < len(cells) else ""

    written = cell("phone")
    if not written:
        return MemberRow(written, rejection=RowRejection.NO_PHONE)
    try:
        number = phones.parse(written, country)
    except InvalidPhone:
        return MemberRow(written[:40], rejection=RowRejection.NOT_A_NUMBER)
    if not phonenumbers.is_valid_number(number):
        return MemberRow(written[:40], rejection=RowRejection.INVALID_NUMBER)
    birthday = None
    if cell("birthday"):
        birthday = read_birthday(cell("birthday"))
        if birthday is None:
            return MemberRow(written[:40], rejection=RowRejection.BIRTHDAY)
    language = None
    if cell("language"):
        language = LANGUAGES.get(unicodedata.normalize("NFKC", cell("language")).lower().replace("_", "-"))
        if language is None:
            return MemberRow(written[:40], rejection=RowRejection.LANGUAGE)
    topics = (clean_topic(tag)[:MAX_TOPIC_CHARS] for tag in _TAG_SEPARATORS.split(cell("tags")))
    tags = tuple(dict.fromkeys(topic for topic in topics if topic))
    return MemberRow(written[:40], phones.e164(number), clean_name(cell("name")), language, birthday, tags)


def read_birthday(text: str) -> tuple[int, int] | None:
    """(month, day) as a shopper's BDAY text gives it (03-08, 3月8日, 1990-03-08: `inbound.parse_birthday`), or with
    the year after it as spreadsheets write it (03/08/1990)."""
    text = unicodedata.normalize("NFKC", text).strip()
    year_last = _YEAR_LAST.match(text)
    birthday = parse_birthday(year_last.group(1) if year_last else text)
    return (birthday.month, birthday.day) if birthday else None
