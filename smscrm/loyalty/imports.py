"""Member imports: a file is kept (`start`), its rows checked into the staging table by the scheduler's job
(`check`: numbers in E.164, rows of one number merged, refused rows with their reason), shown to the owner
(`loyalty.import_previews`), confirmed (`confirm`) and written by the job in one transaction of set-based SQL
(`write`): all of it or, when anything fails, nothing.

Business rules:
- a number the merchant has not met becomes a pending member: no marketing until they text JOIN; each pending,
  not opted-out member of the file is invited once (one text, in their language, within the sending window);
- when the owner declares the members' consent (a statement kept with the import as the evidence), the file's new
  numbers join at once, each with a consent event naming the import, and nobody is invited;
- a membership we already had keeps its state (joined, pending, opted out) and what the member told us: the file
  fills only what it lacks (name, birthday) and adds its tags;
- a number whose latest consent event is an opt-out stays opted out, whatever the file says.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import String, and_, case, cast, delete, false, func, insert, literal, or_, select, text, true, update
from sqlalchemy.orm import Session, sessionmaker

from smscrm.db import outages
from smscrm.db.conflicts import insert_on_conflict
from smscrm.errors import Conflict
from smscrm.loyalty import member_files, members
from smscrm.messaging import consent, texts
from smscrm.models import (
    DEDUPE_CONFLICT,
    Category,
    ConsentAction,
    ConsentChannel,
    ConsentEvent,
    ImportStatus,
    Language,
    Member,
    MemberImport,
    MemberImportRow,
    MemberImportTag,
    Merchant,
    OutboundMessage,
    Stage,
    Status,
)
from smscrm.sending.parts import parts_sql

log = logging.getLogger(__name__)
_rows, _tags, _members = MemberImportRow.__table__, MemberImportTag.__table__, Member.__table__

CHECK_LEASE = timedelta(minutes=10)  # far more than a check of the largest file takes
PROGRESS_EVERY = 5_000  # rows checked between two commits of the progress
INVITATION = "import_invitation"  # the text's key, and the outbox purpose of the invitations
INVITATION_KEY = "join-invite:"  # + member id: the one invitation to JOIN a pending member gets (loyalty.purchases)
FAILED = "failed"  # what `failure` says when something went wrong that the owner cannot fix


def start(session: Session, merchant: Merchant, *, filename: str, data: bytes, staff_user_id: int,
          now: datetime) -> MemberImport:
    """Keep an uploaded file for the job to check; BadMemberFile (nothing kept) when it cannot be read."""
    text = member_files.decode(data)
    member_file = member_files.parse(text)
    member_import = MemberImport(
        merchant_id=merchant.id, filename=(filename or "members.csv")[:255], status=ImportStatus.UPLOADED,
        source=text, total_rows=len(member_file.rows), uploaded_by=staff_user_id, created_at=now,
    )
    session.add(member_import)
    session.flush()
    return member_import


def run_pending(sessions: sessionmaker, *, now: datetime) -> dict[str, int]:
    """The scheduler's job: check the uploaded files and write the confirmed imports, oldest first. One that fails
    is marked failed, with nothing written; an unreachable database stops the job (the scheduler tries again)."""
    done = {"checked": 0, "written": 0, "failed": 0}
    while (due := _next_due(sessions, now=now)) is not None:
        import_id, status = due
        try:
            if status == ImportStatus.UPLOADED:
                if _lease_check(sessions, import_id, now=now):
                    check(sessions, import_id)
                    done["checked"] += 1
            else:
                with sessions() as session:
                    member_import = session.get(MemberImport, import_id, with_for_update=True)
                    if member_import.status == ImportStatus.CONFIRMED:  # not written meanwhile by a second job
                        write(session, member_import, now=now)
                        done["written"] += 1
                    session.commit()
        except outages.UNREACHABLE:
            raise
        except Exception:
            log.exception("member import %s failed; nothing of it was written", import_id)
            _fail(sessions, import_id, now=now)
            done["failed"] += 1
    return done


def _next_due(sessions: sessionmaker, *, now: datetime) -> tuple[int, str] | None:
    """The oldest import to check (not under another job's lease) or to write."""
    with sessions() as session:
        row = session.execute(
            select(MemberImport.id, MemberImport.status)
            .where(or_(and_(MemberImport.status == ImportStatus.UPLOADED, _is_free(now)),
                       MemberImport.status == ImportStatus.CONFIRMED))
            .order_by(MemberImport.id)
            .limit(1)
        ).first()
    return tuple(row) if row else None


def _is_free(now: datetime):
    return or_(MemberImport.check_started_at.is_(None), MemberImport.check_started_at < now - CHECK_LEASE)


def _lease_check(sessions: sessionmaker, import_id: int, *, now: datetime) -> bool:
    """Take the check of an uploaded file for CHECK_LEASE (a second scheduler started by mistake leaves it alone;
    a check cut short is taken again when the lease runs out)."""
    with sessions() as session:
        taken = session.execute(
            update(MemberImport)
            .where(MemberImport.id == import_id, MemberImport.status == ImportStatus.UPLOADED, _is_free(now))
            .values(check_started_at=now)
        ).rowcount
        session.commit()
    return bool(taken)


def check(sessions: sessionmaker, import_id: int) -> None:
    """Read every row of the kept file into the staging table, the progress committed as it goes (a check cut
    short starts again). A row whose number an earlier row has is merged into that row: its blanks filled, its tags
    added."""
    with sessions() as session:
        member_import = session.get(MemberImport, import_id)
        country = session.scalar(select(Merchant.country).where(Merchant.id == member_import.merchant_id))
        _clear_staging(session, import_id)
        member_file = member_files.parse(member_import.source)
        rows, tags, firsts = [], set(), {}
        for count, (line, cells) in enumerate(member_file.rows, start=1):
            read = member_files.read_row(member_file, cells, country=country)
            row = dict(
                import_id=import_id, line=line, written=read.written, phone=read.phone, name=read.name,
                language=read.language, birthday_month=read.birthday and read.birthday[0],
                birthday_day=read.birthday and read.birthday[1], rejection=read.rejection, merged_into=None,
            )
            first = firsts.setdefault(read.phone, row) if read.phone else row
            if first is not row:
                row["merged_into"] = first["line"]
                _fill_blanks(first, row)
            tags.update((first["line"], topic) for topic in read.tags)
            rows.append(row)
            if count % PROGRESS_EVERY == 0:
                member_import.checked_rows = count
                session.commit()
        session.execute(insert(_rows), rows)  # Core: the ORM's bulk INSERT takes twice as long for these rows
        if tags:
            session.execute(insert(_tags), [
                dict(import_id=import_id, line=line, topic=topic) for line, topic in sorted(tags)
            ])
        _analyze(session, MemberImportRow)
        member_import.checked_rows = len(rows)
        member_import.rejected_rows = sum(row["rejection"] is not None for row in rows)
        member_import.merged_rows = sum(row["merged_into"] is not None for row in rows)
        member_import.status, member_import.source = ImportStatus.CHECKED, None
        session.commit()


def _fill_blanks(first: dict, later: dict) -> None:
    if first["name"] is None:
        first["name"] = later["name"]
    if first["language"] is None:
        first["language"] = later["language"]
    if first["birthday_month"] is None:
        first["birthday_month"], first["birthday_day"] = later["birthday_month"], later["birthday_day"]


def confirm(session: Session, member_import: MemberImport, *, consent_statement: str | None, staff_user_id: int,
            now: datetime) -> None:
    """The owner confirms the checked import, with the statement of the members' consent when they declare one;
    the job writes it next. Conflict when it is not waiting for a confirmation (confirmed twice, discarded)."""
    confirmed = session.execute(
        update(MemberImport)
        .where(MemberImport.id == member_import.id, MemberImport.status == ImportStatus.CHECKED)
        .values(status=ImportStatus.CONFIRMED, consent_statement=(consent_statement or "").strip() or None,
                confirmed_by=staff_user_id, confirmed_at=now)
        .execution_options(synchronize_session="fetch")
    ).rowcount
    if not confirmed:
        raise Conflict("this import is not waiting for a confirmation", code="import_not_checked")


def discard(session: Session, member_import: MemberImport, *, now: datetime) -> None:
    """The owner drops a checked import: its staging rows go, nothing is written."""
    discarded = session.execute(
        update(MemberImport)
        .where(MemberImport.id == member_import.id, MemberImport.status == ImportStatus.CHECKED)
        .values(status=ImportStatus.DISCARDED, finished_at=now)
        .execution_options(synchronize_session="fetch")
    ).rowcount
    if not discarded:
        raise Conflict("this import is not waiting for a confirmation", code="import_not_checked")
    _clear_staging(session, member_import.id)


def write(session: Session, member_import: MemberImport, *, now: datetime) -> None:
    """Write a confirmed import in set-based SQL (INSERT … SELECT … ON CONFLICT from the staging table), under the
    rules of the module's docstring; the caller commits all of it at once."""
    merchant = session.get(Merchant, member_import.merchant_id)
    import_id = member_import.id
    at = Member.created_at.type
    staged = and_(_rows.c.import_id == import_id, _rows.c.rejection.is_(None), _rows.c.merged_into.is_(None))
    membership = (
        select(_members.c.id)
        .where(_members.c.merchant_id == merchant.id, _members.c.phone == _rows.c.phone)
        .scalar_subquery()
    )
    session.execute(update(_rows).where(staged).values(member_id=membership))

    opted_out = func.coalesce(consent.latest_action(merchant.id, _rows.c.phone) == ConsentAction.OPT_OUT, false())
    new_members = select(
        literal(merchant.id), _rows.c.phone, _rows.c.name, func.coalesce(_rows.c.language, merchant.default_language),
        _rows.c.birthday_month, _rows.c.birthday_day, opted_out, literal(Stage.PENDING.value), literal(0),
        literal(now, at),
    ).where(staged, _rows.c.member_id.is_(None))
    columns = ["merchant_id", "phone", "name", "language", "birthday_month", "birthday_day", "is_opted_out", "stage",
               "points_balance", "created_at"]
    created = session.execute(
        insert_on_conflict(session, _members).from_select(columns, new_members)
        .on_conflict_do_nothing(index_elements=["merchant_id", "phone"])
        .execution_options(preserve_rowcount=True)
    ).rowcount
    session.execute(update(_rows).where(staged, _rows.c.member_id.is_(None)).values(member_id=membership, is_new=true()))
    _analyze(session, Member, MemberImportRow)

    mine = and_(_members.c.id == _rows.c.member_id, _rows.c.import_id == import_id, _rows.c.member_id.is_not(None))
    has_no_birthday = _members.c.birthday_month.is_(None)
    updated = session.execute(
        update(_members).where(mine, _rows.c.is_new.is_(False)).values(
            name=func.coalesce(_members.c.name, _rows.c.name),
            birthday_month=case((has_no_birthday, _rows.c.birthday_month), else_=_members.c.birthday_month),
            birthday_day=case((has_no_birthday, _rows.c.birthday_day), else_=_members.c.birthday_day),
        ).execution_options(preserve_rowcount=True)
    ).rowcount
    if member_import.consent_statement:
        _join_with_consent(session, merchant, member_import, now=now)
    tagged = (
        select(_rows.c.member_id, _tags.c.topic)
        .select_from(_tags.join(_rows, and_(_rows.c.import_id == _tags.c.import_id, _rows.c.line == _tags.c.line)))
        .where(_tags.c.import_id == import_id, _rows.c.member_id.is_not(None))
    )
    members.write_interests(session, tagged.with_only_columns(_rows.c.member_id), tagged, now=now)
    invited = _invite(session, merchant, import_id, now=now)
    _clear_staging(session, import_id, keep_rejected=True)
    member_import.status, member_import.finished_at = ImportStatus.DONE, now
    member_import.created_members, member_import.updated_members = created, updated
    member_import.invited_members = invited
    session.flush()


def _join_with_consent(session: Session, merchant: Merchant, member_import: MemberImport, *, now: datetime) -> None:
    """The file's new numbers (not opted out) join now, each with an opt-in naming the import as its evidence."""
    at = Member.joined_at.type
    new = and_(_members.c.id == _rows.c.member_id, _rows.c.import_id == member_import.id, _rows.c.is_new.is_(True),
               _members.c.is_opted_out.is_(False))
    session.execute(update(_members).where(new).values(joined_at=now, stage=Stage.JOINED))
    evidence = select(
        literal(merchant.id), _rows.c.phone, _rows.c.member_id, literal(ConsentAction.OPT_IN.value),
        literal("IMPORT"), literal(ConsentChannel.IMPORT.value), literal(member_import.id), literal(now, at),
    ).select_from(_rows.join(_members, _members.c.id == _rows.c.member_id)).where(new)
    session.execute(insert(ConsentEvent.__table__).from_select(
        ["merchant_id", "phone", "member_id", "action", "keyword", "channel", "import_id", "created_at"], evidence,
    ))


def _invite(session: Session, merchant: Merchant, import_id: int, *, now: datetime) -> int:
    """One invitation to JOIN for each pending, not opted-out member of the file who has had none (its key is
    the one purchases use): a marketing text, so it waits for the sending window and respects the weekly cap."""
    at = OutboundMessage.send_after.type
    bodies = {language: texts.render(merchant, INVITATION, language) for language in Language}
    body = case((_members.c.language == Language.ZH.value, bodies[Language.ZH]), else_=bodies[Language.EN])
    rows = (
        select(
            literal(merchant.id), _members.c.id, _members.c.phone, literal(merchant.primary_number), body,
            parts_sql(body), literal(Category.MARKETING.value), literal(INVITATION), literal(Status.QUEUED.value),
            literal(INVITATION_KEY) + cast(_members.c.id, String), literal(now, at), literal(0), literal(now, at),
        )
        .select_from(_rows.join(_members, _members.c.id == _rows.c.member_id))
        .where(_rows.c.import_id == import_id, _members.c.joined_at.is_(None), _members.c.is_opted_out.is_(False))
    )
    columns = ["merchant_id", "member_id", "to_phone", "from_phone", "body", "parts", "category", "purpose", "status",
               "dedupe_key", "send_after", "attempts", "created_at"]
    statement = insert_on_conflict(session, OutboundMessage).from_select(columns, rows)
    return session.execute(
        statement.on_conflict_do_nothing(**DEDUPE_CONFLICT).execution_options(preserve_rowcount=True)
    ).rowcount


def _analyze(session: Session, *models) -> None:
    """Fresh planner statistics for tables that just took many rows: the next statements join them, and with the
    figures of before (no pending member, no staged row) PostgreSQL picks a nested loop that takes minutes."""
    for model in models:
        session.execute(text(f"ANALYZE {model.__tablename__}"))


def _clear_staging(session: Session, import_id: int, *, keep_rejected: bool = False) -> None:
    session.execute(delete(MemberImportTag).where(MemberImportTag.import_id == import_id))
    rows = delete(MemberImportRow).where(MemberImportRow.import_id == import_id)
    session.execute(rows.where(MemberImportRow.rejection.is_(None)) if keep_rejected else rows)


def _fail(sessions: sessionmaker, import_id: int, *, now: datetime) -> None:
    with sessions() as session:
        _clear_staging(session, import_id)
        session.execute(
            update(MemberImport).where(MemberImport.id == import_id)
            .values(status=ImportStatus.FAILED, failure=FAILED, source=None, finished_at=now)
        )
        session.commit()
