"""Member import, owner only: upload a CSV file, watch the scheduler's job check it, read the preview, confirm it
(declaring the members' consent, or not: then they are invited to JOIN), watch it written, read the result."""
from __future__ import annotations

from flask import abort, jsonify, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from sqlalchemy import select
from werkzeug.exceptions import RequestEntityTooLarge
from wtforms import BooleanField, TextAreaField
from wtforms.validators import Length, ValidationError

from smscrm.db.engine import utcnow
from smscrm.errors import BadMemberFile, Conflict
from smscrm.loyalty import import_previews, imports, member_files
from smscrm.models import ImportStatus, MemberImport, RowRejection
from smscrm.web.auth import protected_blueprint
from smscrm.web.formatting import number
from smscrm.web.request_db import db_session

blueprint = protected_blueprint("member_import", __name__, url_prefix="/members/import", is_owner_only=True)

FORM_OVERHEAD = 64 * 1024  # the form's other fields and multipart boundaries, around the file
RECENT = 10  # imports listed on the upload page
MIN_STATEMENT_CHARS = 20
FILE_PROBLEMS = {
    "too_big": _l("The file is larger than %(limit)s MB. Split it into smaller files and import them one by one."),
    "spreadsheet": _l("This is a spreadsheet, not a CSV file. In your spreadsheet program, save it as “CSV UTF-8” "
                      "and choose that file."),
    "not_text": _l("This is not a CSV text file. Save it as “CSV UTF-8” and choose that file."),
    "encoding": _l("We cannot read the file's characters: save it as “CSV UTF-8” (or GBK) and choose that file."),
    "empty": _l("The file is empty."),
    "not_csv": _l("Line %(line)s of the file is not CSV. Check its quotes, or save the file again as “CSV UTF-8”."),
    "no_phone_column": _l("The first row must name the columns, one of them phone (or 手机号). We found: %(columns)s."),
    "no_rows": _l("The file has a header row but no members under it."),
    "too_many_rows": _l("The file has more than %(limit)s rows. Split it into smaller files and import them one by "
                        "one."),
}
REJECTIONS = {
    RowRejection.NO_PHONE: _l("No phone number"),
    RowRejection.NOT_A_NUMBER: _l("Not a phone number"),
    RowRejection.INVALID_NUMBER: _l("Not a number in use (check the digits and the country code)"),
    RowRejection.BIRTHDAY: _l("The birthday is not a date (write it like 03-08 or 1990-03-08)"),
    RowRejection.LANGUAGE: _l("Unknown language (write en or zh)"),
}
STATUS_LABELS = {
    ImportStatus.UPLOADED: _l("Checking"),
    ImportStatus.CHECKED: _l("Waiting for you to confirm"),
    ImportStatus.CONFIRMED: _l("Importing"),
    ImportStatus.DONE: _l("Imported"),
    ImportStatus.FAILED: _l("Failed: nothing written"),
    ImportStatus.DISCARDED: _l("Discarded"),
}
FAILURES = {imports.FAILED: _l("Something went wrong while importing. Nothing was written: try again, and if it "
                               "fails again, tell us.")}


class UploadForm(FlaskForm):
    file = FileField(_l("CSV file"), validators=[FileRequired(_l("Choose a CSV file of your members."))])


class ConfirmForm(FlaskForm):
    has_consent = BooleanField(_l("These people agreed to receive marketing texts from us, and I can show how"))
    consent_statement = TextAreaField(
        _l("How and when they agreed"),
        validators=[Length(max=2000, message=_l("Keep it to %(max)d characters.", max=2000))],
        description=_l("Kept with this import as the evidence of their consent, for example: “Signed the paper "
                       "member form at the counter, 2024–2025; the forms are kept in the shop.”"),
    )

    def validate_consent_statement(self, field):
        if self.has_consent.data and len((field.data or "").strip()) < MIN_STATEMENT_CHARS:
            raise ValidationError(_l("Say how and when they agreed, in at least %(min)d characters: it is the "
                                     "evidence of their consent.", min=MIN_STATEMENT_CHARS))


@blueprint.get("")
def index():
    return _upload_page(UploadForm())


@blueprint.post("")
def upload():
    request.max_content_length = member_files.MAX_BYTES + FORM_OVERHEAD  # the app's limit is for forms without files
    form = UploadForm()
    if not form.validate():
        return _upload_page(form), 400
    session = db_session()
    data = form.file.data.read(member_files.MAX_BYTES + 1)
    try:
        member_import = imports.start(
            session, current_user.merchant, filename=form.file.data.filename or "", data=data,
            staff_user_id=current_user.user.id, now=utcnow(),
        )
    except BadMemberFile as problem:
        form.file.errors = [file_problem(problem)]
        return _upload_page(form), 400
    session.commit()
    return redirect(url_for("member_import.show", import_id=member_import.id))


@blueprint.errorhandler(RequestEntityTooLarge)
def _too_large(_error):
    """A file far above the limit is refused as it arrives, before it is read."""
    form = UploadForm(formdata=None)
    form.file.errors = [file_problem(BadMemberFile("too_big", "the file is too big", limit=member_files.MAX_BYTES))]
    return _upload_page(form), 413


def file_problem(problem: BadMemberFile) -> str:
    details = dict(problem.details)
    if problem.reason == "too_big":
        details["limit"] = number(details["limit"] // (1024 * 1024))
    elif "limit" in details:
        details["limit"] = number(details["limit"])
    return str(FILE_PROBLEMS[problem.reason]) % details


def _upload_page(form: UploadForm):
    recent = db_session().scalars(
        select(MemberImport).where(MemberImport.merchant_id == current_user.merchant_id)
        .order_by(MemberImport.id.desc()).limit(RECENT)
    ).all()
    return render_template("members/import.html", form=form, recent=recent, status_labels=STATUS_LABELS, max_rows=member_files.MAX_ROWS,
                           max_megabytes=member_files.MAX_BYTES // (1024 * 1024))


@blueprint.get("/<id:import_id>")
def show(import_id: int):
    return _import_page(_own(import_id), ConfirmForm())


@blueprint.post("/<id:import_id>/confirm")
def confirm(import_id: int):
    member_import, form = _own(import_id), ConfirmForm()
    if not form.validate():
        return _import_page(member_import, form), 400
    session = db_session()
    try:
        imports.confirm(session, member_import,
                        consent_statement=form.consent_statement.data if form.has_consent.data else None,
                        staff_user_id=current_user.user.id, now=utcnow())
    except Conflict:
        pass  # confirmed or discarded already (a second click): its page says what became of it
    session.commit()
    return redirect(url_for("member_import.show", import_id=import_id))


@blueprint.post("/<id:import_id>/discard")
def discard(import_id: int):
    member_import, form = _own(import_id), FlaskForm()
    if form.validate():
        session = db_session()
        try:
            imports.discard(session, member_import, now=utcnow())
        except Conflict:
            pass
        session.commit()
    return redirect(url_for("member_import.show", import_id=import_id))


def _own(import_id: int) -> MemberImport:
    member_import = db_session().get(MemberImport, import_id)
    if member_import is None or member_import.merchant_id != current_user.merchant_id:
        abort(404)
    return member_import


def _import_page(member_import: MemberImport, form: ConfirmForm):
    """The page of one import, as far as it has come: checking, preview, writing, result."""
    session = db_session()
    preview = import_previews.preview(session, member_import) if member_import.status == ImportStatus.CHECKED else None
    is_done = member_import.status == ImportStatus.DONE
    rejected = preview.rejected_rows if preview else import_previews.rejected_rows(session, member_import) if is_done else []
    return render_template(
        "members/import_status.html", member_import=member_import, preview=preview, rejected=rejected, form=form,
        discard_form=FlaskForm(), statuses=ImportStatus, status_labels=STATUS_LABELS, rejections=REJECTIONS,
        failure=FAILURES.get(member_import.failure),
    )


@blueprint.get("/<id:import_id>/progress")
def progress(import_id: int):
    """For the page's script: how far the job has come (the page reloads when the status changes)."""
    member_import = _own(import_id)
    return jsonify(status=member_import.status, checked=member_import.checked_rows, total=member_import.total_rows)
