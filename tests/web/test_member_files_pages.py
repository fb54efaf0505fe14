"""The member import and export pages (owner only): bad files answered with a clear message and nothing kept; a
file previewed (E.164, merged rows, refused rows and why), confirmed with or without a consent statement, written by
the job; the members and the consent log downloaded as streamed CSV with a header row and numbers in E.164."""
from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import func, select

from smscrm.accounts import logins
from smscrm.db.engine import make_sessionmaker
from smscrm.loyalty import imports, members
from smscrm.messaging import consent
from smscrm.models import ConsentAction, ImportStatus, MemberImport, Role
from tests.web.conftest import csrf_token

FILE = (
    "Phone,Name,Birthday,Language,Tags\n"
    "(415) 555-0101,Ann,1990-03-08,en,green tea\n"
    "415 555 0101,Ann Lee,,,cakes\n"
    "12345,Bob,,,\n"
    "415 555 0102,=HYPERLINK(\"x\"),,zh,\n"
).encode()


@pytest.fixture
def sessions(engine):
    return make_sessionmaker(engine)


def upload(client, data: bytes, filename: str = "members.csv"):
    token = csrf_token(client.get("/members/import").text)
    return client.post("/members/import", data={"csrf_token": token, "file": (io.BytesIO(data), filename)},
                       content_type="multipart/form-data")


def downloaded(client, path: str) -> list[list[str]]:
    """The rows of a CSV download, which must be streamed; closing the response ends its request (and the
    transaction its cursor reads in), as a server does."""
    with client.get(path) as response:
        assert response.is_streamed and response.mimetype == "text/csv"
        assert response.headers["Content-Disposition"].startswith('attachment; filename="')
        return list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))


def test_staff_reach_neither_import_nor_export(client, session, merchant, now, sign_in):
    logins.create_staff_user(session, merchant, email="mei@tea.example", password="jasmine ladder quietly",
                             role=Role.STAFF, now=now)
    session.commit()
    sign_in("mei@tea.example", "jasmine ladder quietly")
    for path in ("/members/import", "/members/export", "/members/export/members.csv", "/members/export/consent-log.csv"):
        assert client.get(path).status_code == 403, path
    assert "Import members" not in client.get("/members").text


@pytest.mark.parametrize("data, message", [
    (b"PK\x03\x04workbook", "This is a spreadsheet, not a CSV file."),
    ("phone\n4155550100\n".encode("utf-16"), "This is not a CSV text file."),
    (b"phone\n\xff\xfe\xfa\n", "We cannot read the file&#39;s characters"),
    (b"email,name\nann@example.test,Ann\n", "We found: email, name."),
    (b"phone,name\n", "The file has a header row but no members under it."),
    (b"", "The file is empty."),
])
def test_a_bad_file_gets_a_clear_message_and_nothing_is_kept(owner, session, data, message):
    response = upload(owner, data)
    assert response.status_code == 400
    assert message in response.text
    assert session.scalar(select(func.count(MemberImport.id))) == 0


def test_a_file_too_big_is_refused_before_it_is_read(owner, session, monkeypatch):
    monkeypatch.setattr("smscrm.loyalty.member_files.MAX_BYTES", 1024 * 1024)
    response = upload(owner, b"phone\n" + b"4155550100\n" * 100_000)
    assert response.status_code == 413 and "The file is larger than 1 MB." in response.text


def test_upload_preview_confirm_and_result(owner, session, sessions, merchant, now):
    assert 'href="/members/import"' in owner.get("/members").text
    response = upload(owner, FILE)
    assert response.status_code == 302
    page = owner.get(response.location).text
    assert "0 of 4 rows checked." in page
    imports.run_pending(sessions, now=now)

    preview = owner.get(response.location).text
    assert "+14155550101" in preview and "(415) 555-0101" in preview  # as written, and as saved
    assert "line 2" in preview  # line 3 merged into line 2
    assert "Not a phone number" in preview  # line 4, with its reason
    token = csrf_token(preview)
    refused = owner.post(response.location + "/confirm", data={"csrf_token": token, "has_consent": "y",
                                                               "consent_statement": "yes"})
    assert refused.status_code == 400 and "at least 20 characters" in refused.text
    statement = "Signed the paper member form at the counter, 2025."
    confirmed = owner.post(response.location + "/confirm", data={"csrf_token": token, "has_consent": "y",
                                                                 "consent_statement": statement})
    assert confirmed.status_code == 302
    assert "Importing the members" in owner.get(response.location).text
    assert owner.get(response.location + "/progress").json["status"] == ImportStatus.CONFIRMED
    imports.run_pending(sessions, now=now)

    result = owner.get(response.location).text
    assert "The import is done." in result and statement in result and "Not a phone number" in result

    rows = downloaded(owner, "/members/export/members.csv")
    assert rows[0] == ["phone", "name", "birthday", "language", "tags", "status", "points", "joined_at", "created_at"]
    assert sorted(row[:6] for row in rows[1:]) == [
        ["+14155550101", "Ann", "03-08", "en", "cakes;green tea", "joined"],
        ["+14155550102", "'=HYPERLINK(\"x\")", "", "zh", "", "joined"],  # shown by a spreadsheet, never run
    ] or sorted(row[:6] for row in rows[1:]) == [
        ["+14155550101", "Ann", "03-08", "en", "green tea;cakes", "joined"],
        ["+14155550102", "'=HYPERLINK(\"x\")", "", "zh", "", "joined"],
    ]


def test_the_consent_log_lists_every_event_with_an_imports_statement(owner, session, merchant, now):
    members.join(session, merchant, "+14155550100", name="", language="en", now=now)
    consent.record_consent(session, merchant_id=merchant.id, phone="+14155550100", action=ConsentAction.OPT_OUT,
                           keyword="STOP", channel="sms", now=now, source_sid="SM123")
    session.commit()
    rows = downloaded(owner, "/members/export/consent-log.csv")
    assert rows == [
        ["created_at", "phone", "action", "keyword", "channel", "source_sid", "evidence"],
        [now.isoformat(), "+14155550100", "opt_out", "STOP", "sms", "SM123", ""],
    ]


def test_another_merchants_import_is_not_found(owner, session, other_merchant, now):
    staff_id = session.scalar(select(func.min(logins.StaffUser.id)))
    theirs = imports.start(session, other_merchant, filename="theirs.csv", data=FILE, staff_user_id=staff_id, now=now)
    session.commit()
    assert owner.get(f"/members/import/{theirs.id}").status_code == 404
    assert owner.get(f"/members/import/{theirs.id}/progress").status_code == 404
