"""Journey: the owner imports a CSV file with bad rows (the upload page, the check's progress, the preview with the
numbers in E.164, the merged row and the refused rows, the confirmation with a consent statement, the result), then
downloads the consent log. Every page passes axe at 1280 and 390 px; screenshots in instance/screenshots/."""
from __future__ import annotations

import csv
import io
import re

import pytest
from playwright.sync_api import expect

from smscrm.db.engine import make_sessionmaker, utcnow
from smscrm.loyalty import imports
from tests.browser.accessibility import check_page
from tests.browser.conftest import PHONE_VIEWPORT, sign_in

pytestmark = pytest.mark.browser
FILE = (
    "\ufeffphone,name,birthday,language,tags\n"
    "(415) 555-0101,Ann Lee,1990-03-08,en,green tea\n"
    "415.555.0101,,,,cakes\n"
    "12345,Bob,,,\n"
    "415 555 0102,王芳,3月8日,zh,\n"
    "415 555 0103,Cleo,31-02,,\n"
).encode()
STATEMENT = "Signed the paper member form at the counter, 2025; the forms are kept in the shop."


@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 900}, PHONE_VIEWPORT], ids=["1280", "390"])
def test_import_a_file_with_bad_rows_then_export_the_consent_log(open_page, engine, merchant, viewport):
    width = viewport["width"]
    page = open_page(viewport=viewport)
    page.goto("/members")
    sign_in(page)
    page.get_by_role("link", name="Import members").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Import members")
    check_page(page, f"import-upload-{width}")

    page.get_by_label("CSV file").set_input_files(
        {"name": "members.xlsx", "mimeType": "application/octet-stream", "buffer": b"PK\x03\x04 a workbook"})
    page.get_by_role("button", name="Upload and check").click()
    expect(page.locator(".field-error")).to_contain_text("This is a spreadsheet, not a CSV file.")
    check_page(page, f"import-bad-file-{width}")

    page.get_by_label("CSV file").set_input_files({"name": "members.csv", "mimeType": "text/csv", "buffer": FILE})
    page.get_by_role("button", name="Upload and check").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Import of members.csv")
    expect(page.get_by_role("status")).to_have_text("0 of 5 rows checked.")
    check_page(page, f"import-checking-{width}")

    imports.run_pending(make_sessionmaker(engine), now=utcnow())  # the scheduler's job, as it runs every 5 s
    expect(page.get_by_role("heading", name="The numbers as they will be saved")).to_be_visible()  # the page reloaded
    saved = page.locator("table.import-rows").first
    expect(saved).to_contain_text("+14155550101")
    expect(saved).to_contain_text("+14155550102")
    expect(page.get_by_role("heading", name="Rows merged")).to_be_visible()
    expect(page.get_by_text("line 2", exact=True)).to_be_visible()
    expect(page.get_by_text("Not a phone number", exact=True)).to_be_visible()
    expect(page.get_by_text("The birthday is not a date (write it like 03-08 or 1990-03-08)")).to_be_visible()
    check_page(page, f"import-preview-{width}")

    page.get_by_label("These people agreed to receive marketing texts from us, and I can show how").check()
    page.get_by_role("button", name="Import the members").click()
    expect(page.locator(".field-error")).to_contain_text("at least 20 characters")
    page.get_by_label("How and when they agreed").fill(STATEMENT)
    page.get_by_role("button", name="Import the members").click()
    expect(page.get_by_role("heading", name="Importing the members")).to_be_visible()
    check_page(page, f"import-writing-{width}")

    imports.run_pending(make_sessionmaker(engine), now=utcnow())
    expect(page.get_by_text("The import is done.")).to_be_visible()
    expect(page.locator(".stats li").first).to_contain_text("2 new members")
    expect(page.locator("blockquote.statement")).to_have_text(STATEMENT)
    check_page(page, f"import-done-{width}")

    page.goto("/members")
    page.get_by_role("link", name="Export", exact=True).click()
    check_page(page, f"export-{width}")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the consent log (CSV)").click()
    assert re.fullmatch(r"consent-log-\d{4}-\d{2}-\d{2}\.csv", download.value.suggested_filename)
    rows = list(csv.reader(io.StringIO(open(download.value.path(), encoding="utf-8-sig").read())))
    assert rows[0] == ["created_at", "phone", "action", "keyword", "channel", "source_sid", "evidence"]
    assert sorted(row[1:] for row in rows[1:]) == [
        ["+14155550101", "opt_in", "IMPORT", "import", "", STATEMENT],
        ["+14155550102", "opt_in", "IMPORT", "import", "", STATEMENT],
    ]
