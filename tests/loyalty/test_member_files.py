"""Reading member files: encodings, headings, the limits, and each row's number, birthday, language and tags."""
from __future__ import annotations

import pytest

from smscrm.errors import BadMemberFile
from smscrm.loyalty import member_files
from smscrm.models import RowRejection


def read(data: bytes):
    return member_files.parse(member_files.decode(data))


def refusal(data: bytes) -> BadMemberFile:
    with pytest.raises(BadMemberFile) as refused:
        read(data)
    return refused.value


def test_utf8_with_a_bom_and_gbk_are_read_alike():
    text = "手机号,姓名,生日,语言,标签\n138 1234 5678,张三,1990年3月8日,中文,绿茶、点心\n"
    for data in (b"\xef\xbb\xbf" + text.encode("utf-8"), text.encode("gbk")):
        member_file = read(data)
        assert member_file.columns == {"phone": 0, "name": 1, "birthday": 2, "language": 3, "tags": 4}
        (line, cells), = member_file.rows
        row = member_files.read_row(member_file, cells, country="CN")
        assert (line, row.phone, row.name, row.birthday, row.language, row.tags) == (
            2, "+8613812345678", "张三", (3, 8), "zh", ("绿茶", "点心"))


def test_semicolons_and_english_headings_in_any_case():
    member_file = read(b"Mobile Number;Full Name;Date of birth\n(415) 555-0100;Ann  Lee;03/08/1990\n")
    row = member_files.read_row(member_file, member_file.rows[0][1], country="US")
    assert (row.phone, row.name, row.birthday, row.rejection) == ("+14155550100", "Ann Lee", (3, 8), None)


@pytest.mark.parametrize("cells, rejection", [
    (["", "Ann"], RowRejection.NO_PHONE),
    (["12", "Ann"], RowRejection.NOT_A_NUMBER),
    (["call me", "Ann"], RowRejection.NOT_A_NUMBER),
    (["+1 200 555 0100", "Ann"], RowRejection.INVALID_NUMBER),  # no US area code starts with 2-0-0
    (["415 555 0100", "Ann", "31-02"], RowRejection.BIRTHDAY),
    (["415 555 0100", "Ann", "", "klingon"], RowRejection.LANGUAGE),
])
def test_a_row_is_refused_with_its_reason(cells, rejection):
    member_file = read(b"phone,name,birthday,language\n415 555 0100,x\n")
    assert member_files.read_row(member_file, cells, country="US").rejection == rejection


@pytest.mark.parametrize("data, reason", [
    (b"PK\x03\x04rest of a workbook", "spreadsheet"),
    ("phone\n4155550100\n".encode("utf-16"), "not_text"),
    (b"phone,name\n4155550100,\xff\xfe\xfa\n", "encoding"),
    (b"  \n", "empty"),
    (b"name,email\nAnn,ann@example.test\n", "no_phone_column"),
    (b"phone,name\n", "no_rows"),
    (b'phone,name\n"4155550100,Ann\n' + b"x" * (member_files.csv.field_size_limit() + 1), "not_csv"),
])
def test_files_that_cannot_be_read_say_why(data, reason):
    assert refusal(data).reason == reason


def test_the_missing_phone_column_names_the_columns_found():
    assert refusal(b"name,email\nAnn,ann@example.test\n").details == {"columns": "name, email"}


def test_too_big_and_too_many_rows(monkeypatch):
    monkeypatch.setattr(member_files, "MAX_ROWS", 2)
    assert refusal(b"phone\n4155550100\n4155550101\n4155550102\n").reason == "too_many_rows"
    monkeypatch.setattr(member_files, "MAX_BYTES", 10)
    assert refusal(b"phone\n4155550100\n").reason == "too_big"
